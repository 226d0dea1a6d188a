"""Is one model faster than another, measured side by side? Paired ratios and when to stop.

Each round of an A/B measurement gives one ratio, current over base, of figures taken at the
same time (:mod:`edgebench.bench.device.runner.ab`), so the machine's drift between rounds
cancels within the ratio. The verdict comes from a bootstrap interval on the median of those
ratios, checked after every batch of rounds (sequential stopping):

- wholly above ``1 + threshold``: ``slower``; wholly below ``1 / (1 + threshold)``: ``faster``;
- wholly inside that band: ``same`` ("within ±threshold");
- otherwise more rounds, until the round or time budget is spent: ``inconclusive``.

Instruction counts are deterministic, so their one "round" is exact and its interval is the
ratio itself (:func:`exact_decision`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgebench.bench.judgement.compare_settings import Verdict

#: bootstrap resamples of the median ratio; the seed is fixed so that the same recorded
#: ratios always give the same interval and the same verdict
RESAMPLES = 2000
SEED = 0
LEVEL = 0.95
#: no verdict from fewer rounds (3 processes): with fewer ratios the bootstrap median takes few
#: values, and one process's rounds (4) alone must never decide (see docs/ab.md)
MIN_ROUNDS = 12


@dataclass(frozen=True)
class Decision:
    """What the rounds so far say: the median ratio, its interval and the verdict (None: no
    verdict yet, keep measuring)."""

    ratio: float
    ci: tuple[float, float]
    rounds: int
    verdict: Verdict | None


def median_ratio_ci(ratios: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """The median of ``ratios`` and a percentile-bootstrap interval on it (fixed seed)."""
    r = np.asarray(ratios, dtype=float)
    if r.size == 0:
        raise ValueError("no ratios")
    rng = np.random.default_rng(SEED)
    medians = np.median(r[rng.integers(0, r.size, size=(RESAMPLES, r.size))], axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(np.median(r)), float(low), float(high)


def verdict_of(ci: tuple[float, float], threshold: float) -> Verdict | None:
    """The verdict an interval on a ratio gives against ±``threshold``, or None (undecided)."""
    low, high = ci
    up, down = 1 + threshold, 1 / (1 + threshold)
    if low > up:
        return Verdict.SLOWER
    if high < down:
        return Verdict.FASTER
    if low >= down and high <= up:
        return Verdict.SAME
    return None


def decide(ratios: Sequence[float], threshold: float, min_rounds: int = MIN_ROUNDS) -> Decision:
    """The decision after these rounds' ratios (current / base, one per round)."""
    ratio, low, high = median_ratio_ci(ratios)
    verdict = verdict_of((low, high), threshold) if len(ratios) >= min_rounds else None
    return Decision(ratio, (low, high), len(ratios), verdict)


def exact_decision(base: float, current: float, threshold: float) -> Decision:
    """A deterministic figure (instructions per invoke): its ratio is its own interval."""
    ratio = current / base
    return Decision(ratio, (ratio, ratio), 1, verdict_of((ratio, ratio), threshold))


def round_ratios(rounds: Sequence[Sequence[float]]) -> list[float]:
    """Each round's ``[base, current]`` figures as current / base."""
    return [float(cur) / float(base) for base, cur in rounds if base > 0]


def within(threshold: float) -> str:
    """How ``same`` reads: ``within ±5%``."""
    return f"within ±{threshold * 100:g}%"
