"""What an A/B re-measurement found: one :class:`PairResult` per pair of models, and the
:class:`AbReport` of a whole job (its target, its device, whether it was interrupted)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgebench.bench.judgement.compare_settings import Verdict
from edgebench.records import DeviceInfo


@dataclass(frozen=True)
class AbPair:
    """Two model files to measure side by side, under one name (the variant)."""

    name: str
    base: Path
    current: Path


def pair_files(pairs: Sequence[AbPair]) -> list[Path]:
    """Every model file of the pairs, once each, in order."""
    return list(dict.fromkeys(p for pair in pairs for p in (pair.base, pair.current)))


@dataclass(frozen=True)
class PairResult:
    """One pair's verdict. ``ratio`` is current / base (above 1: the current model costs
    more); ``ci`` its 95% interval; ``base_value``/``current_value`` the medians in ``unit``
    (``us`` per invoke, or ``instructions`` per invoke), never mixed between measures."""

    pair: AbPair
    measure: str  # "time" or "instructions"
    verdict: Verdict
    ratio: float | None
    ci: tuple[float, float] | None
    rounds: int
    wall_s: float
    threshold: float
    base_value: float | None = None
    current_value: float | None = None
    unit: str = "us"
    ratios: tuple[float, ...] = ()  # every round's ratio, in order (time)
    note: str | None = None  # why it is inconclusive, when it is

    @property
    def regressed(self) -> bool:
        return self.verdict is Verdict.SLOWER


@dataclass(frozen=True)
class AbReport:
    """Every pair of one job on one target."""

    target: str
    device: DeviceInfo
    #: what was counted: "time" (interleaved rounds) or "instructions" (valgrind)
    measure: str
    results: tuple[PairResult, ...]
    wall_s: float
    #: Ctrl-C ended the job: the pairs still undecided are inconclusive
    interrupted: bool = False

    @property
    def regressed(self) -> tuple[str, ...]:
        """The pairs whose current side came out slower, in order."""
        return tuple(r.pair.name for r in self.results if r.regressed)
