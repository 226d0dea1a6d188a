"""What a comparison may conclude, and how sure and how big a change must be to conclude it.

The errors of comparing, the verdicts (:class:`Verdict`), the thresholds a person can set
(:class:`CompareSettings`) and the latency floors they fall back on, each floor backed by the
measurement that chose it. :mod:`~edgebench.bench.judgement.latency` applies them to latency,
:mod:`~edgebench.bench.judgement.compare` to two whole runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edgebench.bench.judgement.evidence import UNLEARNT_DRIFT_FLOOR, DeviceSpread
from edgebench.errors import EdgebenchError

MIN_SAMPLES = 5  # fewer raw samples than this on either side: no latency verdict


class CompareError(EdgebenchError):
    """Two runs that must not be compared, or a run that cannot be found."""


class NothingToCompare(CompareError):
    """The latest run is the first of its target and device: nothing to compare it with yet
    (a nightly job's first night). ``edgebench compare`` says so and exits 0."""


class Verdict(StrEnum):
    """What a comparison concluded for one metric of one variant."""

    FASTER = "faster"
    SLOWER = "slower"
    SMALLER = "smaller"  # peak memory went down
    LARGER = "larger"  # peak memory went up
    SAME = "same"
    # latency moved by more than the effect floor, but the evidence cannot tell it from noise:
    # one process per side and no learnt spread that the change is beyond, or not significant
    INCONCLUSIVE = "inconclusive"
    NA = "n/a"


@dataclass(frozen=True)
class CompareSettings:
    """How sure and how big a latency or memory change must be before it is called one.

    The defaults come from benching the same models again and again on the 2-core development
    VM (about 225 runner processes of the tiny guide-model variants, 100-3000 samples each,
    at load averages from 0.1 to 10):

    - the Mann-Whitney U test alone gave p < 0.01 for 44-59% of same-vs-same run pairs;
    - most pairs kept their median ratio within 0.89-1.12, but about 5% of processes ran
      in a slow state for their whole life, 1.2-1.6x the usual median (quiet machine too,
      with address randomisation off as well): a property of the shared host, not of the
      model, and no statistic inside one process can tell it from a regression;
    - peak RSS stayed within 0.5%.

    So a latency verdict needs evidence from several processes: with fewer than
    :data:`MIN_PROCESSES` per side it is ``inconclusive`` unless the change is beyond the
    device's learnt spread (:mod:`edgebench.bench.judgement.evidence`); with more, the median of
    per-process medians must move by the floor (learnt, else 25%) with a bootstrap interval
    over processes that excludes 1. ``min_effect`` raises the floor of repeated comparisons;
    gate rules carry their own limit, never below the device's floor.
    """

    alpha: float = 0.01  # Mann-Whitney U p-value below which the distributions differ
    # latency: median ratio >= 1 + this, or <= 1 / (1 + this); None = the learnt floor, else
    # REPEATED_MIN_EFFECT (see latency_floor)
    min_effect: float | None = None
    min_memory_effect: float = 0.10  # peak RSS: |ratio - 1| at least this

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise CompareError(f"alpha must be in (0, 1); got {self.alpha}")
        for name in ("min_effect", "min_memory_effect"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < 10:
                raise CompareError(
                    f"{name} must be a fraction in [0, 10) such as 0.1 (10%); got {value}"
                )


#: one process per model: ~5% of runner processes on the development VM ran 1.2-1.6x slow,
#: and two single-process benches of the same files gave ratios from 0.47x to 1.95x; without a
#: learnt spread such a pair gets no faster/slower verdict at all (``inconclusive``)
SINGLE_PROCESS_MIN_EFFECT = 1.0
#: --repeats >= REPEATED_PROCESSES on both sides, no learnt spread: the median of the
#: per-process medians. 12 benches of the same three files with 5+ processes each, on the 2-core
#: development VM under a load of 11, moved by up to 1.21x between benches (docs/measure_repeats.py)
REPEATED_MIN_EFFECT = 0.25
REPEATED_PROCESSES = 5
#: fewer processes than this on a side: a median of medians is not robust, so the comparison
#: counts as single-process (a median of two is their mean: one slow process moves it)
MIN_PROCESSES = 3


def latency_floor(
    settings: CompareSettings, k_base: int, k_current: int, spread: DeviceSpread | None
) -> tuple[float | None, str]:
    """The effect a latency change must reach for a faster/slower verdict, and where it came
    from. None: no verdict is possible (one process on a side and no learnt spread)."""
    single = min(k_base, k_current) < MIN_PROCESSES
    learnt = spread.floor(k_base, k_current) if spread is not None else None
    # learnt strays, but the bench-to-bench drift not yet: the floor is the drift floor
    held = spread is not None and not spread.log_drifts and learnt == UNLEARNT_DRIFT_FLOOR
    where = "drift floor" if held else "learnt"
    if single:
        if learnt is None:
            return None, "one process per side, no learnt spread"
        if settings.min_effect is not None and settings.min_effect > learnt:
            return settings.min_effect, "--min-effect"
        return learnt, where
    if settings.min_effect is not None:
        return settings.min_effect, "--min-effect"
    if learnt is not None:
        return learnt, where
    if min(k_base, k_current) >= REPEATED_PROCESSES:
        return REPEATED_MIN_EFFECT, "default"
    return SINGLE_PROCESS_MIN_EFFECT, "default"
