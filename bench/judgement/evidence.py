"""How much evidence a latency verdict has: the process-to-process spread of a device, learnt
from its ``--repeats`` runs, and a bootstrap confidence interval on a median ratio.

On a shared machine one runner process can run in a slow (or fast) state for its whole life,
so samples inside one process say nothing about the next process. What does say something is
how far each process's median strays from the median of its siblings (the other processes of
the same model in the same bench). A device's :class:`DeviceSpread` keeps those strays, and
:meth:`DeviceSpread.floor` turns them into the smallest change of a median of per-process
medians that noise alone does not reach, for any number of processes on each side.

Everything here is deterministic (fixed seeds), so the same records always give the same
floor, interval and verdict.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: A record needs at least this many processes to teach the spread (a median of two is
#: their mean, so each stray would be half the other's).
MIN_PROCESSES_TO_LEARN = 3
#: A spread is learnt from at least this many processes; fewer and no floor is learnt.
MIN_LEARNT_PROCESSES = 15
#: Bench-to-bench drift is learnt from at least this many re-benches of unchanged model files
#: (fewer underestimate it: the floor then stays at UNLEARNT_DRIFT_FLOOR or above).
MIN_LEARNT_DRIFTS = 20
#: The share of same-model comparisons the learnt floor keeps quiet: 999 in 1000.
FLOOR_QUANTILE = 0.999
#: The floor while the bench-to-bench drift is not learnt yet. On the 2-core development VM
#: under a load of 11, 12 benches of the same three files with 5+ processes each moved by up to
#: 1.21x between benches (whole benches ran ~17% fast or slow), while processes inside one bench
#: agreed to a few percent: a spread learnt inside benches alone would call that a change.
UNLEARNT_DRIFT_FLOOR = 0.25
#: Never a floor below this, however quiet the device has been.
MIN_LEARNT_FLOOR = 0.03
_SIMULATIONS = 20_000
_BOOTSTRAPS = 4_000
CI_LEVEL = 0.95


@dataclass(frozen=True)
class DeviceSpread:
    """What noise alone does to latency on one target and device, learnt from its history.

    ``log_strays``: ``log(process median / median of its record's process medians)`` for every
    process of every repeated record (how far one process strays from its siblings).
    ``log_drifts``: ``log(record's median of medians / that model file's median over benches)``
    for model files benched more than once unchanged (how far a whole bench drifts), or empty.
    """

    log_strays: tuple[float, ...]
    n_records: int
    log_drifts: tuple[float, ...] = ()

    @property
    def n_processes(self) -> int:
        return len(self.log_strays)

    @property
    def worst_ratio(self) -> float:
        """The slowest process against its siblings' median, as a ratio (e.g. 1.45)."""
        return math.exp(max(abs(s) for s in self.log_strays))

    @property
    def worst_drift(self) -> float | None:
        """The bench that drifted furthest from its model file's usual median, as a ratio."""
        return math.exp(max(abs(d) for d in self.log_drifts)) if self.log_drifts else None

    def floor(self, k_base: int, k_current: int) -> float:
        """The smallest change (0.25 = 25%) of a median of ``k_current`` process medians
        against a median of ``k_base`` that noise alone reaches less than once in a thousand
        same-model comparisons on this device. Without a learnt bench-to-bench drift it is at
        least :data:`UNLEARNT_DRIFT_FLOOR`; never below :data:`MIN_LEARNT_FLOOR`."""
        share = _simulated_floor(
            self.log_strays, self.log_drifts, max(1, k_base), max(1, k_current)
        )
        lowest = MIN_LEARNT_FLOOR if self.log_drifts else UNLEARNT_DRIFT_FLOOR
        return max(lowest, share)

    def describe(self) -> str:
        text = f"learnt from {self.n_processes} processes in {self.n_records} records"
        if self.log_drifts:
            text += f" and {len(self.log_drifts)} re-benches (drift up to {self.worst_drift:.2f}x)"
        else:
            text += (
                f"; bench-to-bench drift not learnt yet, so at least ±{UNLEARNT_DRIFT_FLOOR:.0%}"
            )
        return text


@lru_cache(maxsize=256)
def _simulated_floor(
    strays: tuple[float, ...], drifts: tuple[float, ...], k_a: int, k_b: int
) -> float:
    """Draw a bench drift and k strays for each side, take each side's median, and return the
    FLOOR_QUANTILE of how far apart the two sides land (as a share)."""
    rng = np.random.default_rng(0)
    pool = np.asarray(strays, dtype=np.float64)
    a = np.median(pool[rng.integers(0, pool.size, (_SIMULATIONS, k_a))], axis=1)
    b = np.median(pool[rng.integers(0, pool.size, (_SIMULATIONS, k_b))], axis=1)
    if drifts:
        d = np.asarray(drifts, dtype=np.float64)
        a = a + d[rng.integers(0, d.size, _SIMULATIONS)]
        b = b + d[rng.integers(0, d.size, _SIMULATIONS)]
    return float(math.expm1(np.quantile(np.abs(b - a), FLOOR_QUANTILE)))


def learn_spread(
    records: Iterable[Sequence[float]],
    rebenched: Iterable[tuple[str, Sequence[float]]] = (),
) -> DeviceSpread | None:
    """A device's spread from the per-process medians of its repeated ``records``, or None
    when they hold fewer than :data:`MIN_LEARNT_PROCESSES` processes in records of at least
    :data:`MIN_PROCESSES_TO_LEARN`.

    ``rebenched`` are (model file identity, process medians) of past benches: files benched
    more than once teach the bench-to-bench drift (kept when there are
    :data:`MIN_LEARNT_DRIFTS` or more).
    """
    strays: list[float] = []
    n_records = 0
    for medians in records:
        values = _positive(medians)
        if len(values) < MIN_PROCESSES_TO_LEARN:
            continue
        centre = float(np.median(values))
        strays += [math.log(v / centre) for v in values]
        n_records += 1
    if len(strays) < MIN_LEARNT_PROCESSES:
        return None
    by_file: dict[str, list[float]] = {}
    for key, medians in rebenched:
        values = _positive(medians)
        if len(values) >= MIN_PROCESSES_TO_LEARN:
            by_file.setdefault(key, []).append(float(np.median(values)))
    drifts: list[float] = []
    for centres in by_file.values():
        if len(centres) >= 2:
            usual = float(np.median(centres))
            drifts += [math.log(c / usual) for c in centres]
    kept = tuple(round(d, 6) for d in drifts) if len(drifts) >= MIN_LEARNT_DRIFTS else ()
    return DeviceSpread(tuple(round(s, 6) for s in strays), n_records, kept)


def _positive(medians: Sequence[float]) -> list[float]:
    return [float(v) for v in medians if v is not None and float(v) > 0]


def bootstrap_ratio_ci(
    base: Sequence[float], current: Sequence[float], level: float = CI_LEVEL
) -> tuple[float, float] | None:
    """A percentile bootstrap interval on ``median(current) / median(base)``, resampling
    processes (not samples: samples of one process share its state). None with fewer than two
    processes on either side, where there is nothing to resample."""
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(current, dtype=np.float64)
    if a.size < 2 or b.size < 2 or np.any(a <= 0) or np.any(b <= 0):
        return None
    rng = np.random.default_rng(0)
    med_a = np.median(a[rng.integers(0, a.size, (_BOOTSTRAPS, a.size))], axis=1)
    med_b = np.median(b[rng.integers(0, b.size, (_BOOTSTRAPS, b.size))], axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(med_b / med_a, [tail, 100 - tail])
    return float(low), float(high)
