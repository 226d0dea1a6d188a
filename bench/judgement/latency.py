"""Is a latency change real? Two records' raw samples, tested against the floor.

The ratio of medians must reach the floor
(:func:`~edgebench.bench.judgement.compare_settings.latency_floor`), a two-sided Mann-Whitney U
test on the raw samples must say p < alpha, and with several processes a side the bootstrap
interval over them must exclude 1; a change beyond the effect floor without that evidence is
``inconclusive``. Also the two formats its reasons use: a p-value and an interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgebench.bench.judgement.compare_settings import (
    MIN_PROCESSES,
    MIN_SAMPLES,
    REPEATED_MIN_EFFECT,
    REPEATED_PROCESSES,
    CompareSettings,
    Verdict,
    latency_floor,
)
from edgebench.bench.judgement.evidence import DeviceSpread, bootstrap_ratio_ci
from edgebench.records import Record


def process_medians(rec: Record) -> list[float]:
    """Each process's median latency when the record pools several (``--repeats``)."""
    return [float(v) for v in rec.extra.get("process_p50_us") or []]


@dataclass(frozen=True)
class LatencyChange:
    """Latency of one variant in two runs, from the raw samples."""

    base_p50_us: float
    current_p50_us: float
    base_p90_us: float
    current_p90_us: float
    ratio: float  # current median / base median
    p90_ratio: float
    p_value: float
    n_base: int
    n_current: int
    verdict: Verdict
    #: 95% bootstrap interval on ``ratio``, resampling processes; None with < 2 processes
    ci95: tuple[float, float] | None = None
    #: the effect this verdict needed (0.2 = 20%), None when no verdict was possible
    floor: float | None = None
    # "learnt", "drift floor" (strays learnt, drift not yet), "default", "--min-effect", or why
    # there is none
    floor_source: str = ""
    processes: tuple[int, int] = (1, 1)  # processes behind the base and current medians

    @property
    def why_inconclusive(self) -> str | None:
        """One line saying what evidence was missing, for an ``inconclusive`` verdict."""
        if self.verdict is not Verdict.INCONCLUSIVE:
            return None
        if self.floor is None:
            return (
                f"latency moved {self.ratio:.2f}x with one process per side; bench with "
                f"--repeats {REPEATED_PROCESSES} for a verdict"
            )
        return (
            f"latency moved {self.ratio:.2f}x but the evidence cannot tell it from noise "
            f"(p={fmt_p(self.p_value)}, 95% CI {fmt_ci(self.ci95)}); bench with more --repeats"
        )


def latency_change(
    base: Record,
    current: Record,
    settings: CompareSettings,
    spread: DeviceSpread | None = None,
) -> LatencyChange | None:
    """Compare two latency distributions.

    The ratio is that of the medians of per-process medians when both records pool several
    processes (``--repeats``), else of the pooled medians. A change is ``faster``/``slower``
    when it reaches the floor (:func:`latency_floor`), the Mann-Whitney U test on the raw
    samples says p < alpha, and the bootstrap interval over processes (when there is one)
    excludes 1. A change beyond the effect floor without that evidence is ``inconclusive``.
    """
    from scipy.stats import mannwhitneyu

    a = np.asarray(base.samples_us, dtype=np.float64)
    b = np.asarray(current.samples_us, dtype=np.float64)
    if a.size < MIN_SAMPLES or b.size < MIN_SAMPLES:
        return None
    med_a, med_b = float(np.median(a)), float(np.median(b))
    p90_a, p90_b = (float(np.percentile(x, 90)) for x in (a, b))
    if med_a <= 0 or p90_a <= 0:
        return None
    p = float(mannwhitneyu(b, a, alternative="two-sided").pvalue)
    if not math.isfinite(p):  # every sample identical on both sides
        p = 1.0
    ratio = med_b / med_a
    pa, pb = process_medians(base), process_medians(current)
    ka, kb = max(1, len(pa)), max(1, len(pb))
    if min(len(pa), len(pb)) >= MIN_PROCESSES:  # one slow process cannot move this
        ratio = float(np.median(pb)) / float(np.median(pa))
    ci = bootstrap_ratio_ci(pa, pb) if min(len(pa), len(pb)) >= 2 else None
    floor, source = latency_floor(settings, ka, kb, spread)
    effect = settings.min_effect if settings.min_effect is not None else REPEATED_MIN_EFFECT
    effect = min(effect, floor) if floor is not None else effect
    ci_excludes_1 = ci is None or ci[0] > 1.0 or ci[1] < 1.0
    if floor is not None and p < settings.alpha and ci_excludes_1 and ratio >= 1.0 + floor:
        verdict = Verdict.SLOWER
    elif floor is not None and p < settings.alpha and ci_excludes_1 and ratio <= 1 / (1 + floor):
        verdict = Verdict.FASTER
    elif 1.0 / (1.0 + effect) < ratio < 1.0 + effect:
        verdict = Verdict.SAME
    else:
        verdict = Verdict.INCONCLUSIVE
    return LatencyChange(
        base_p50_us=round(med_a, 1),
        current_p50_us=round(med_b, 1),
        base_p90_us=round(p90_a, 1),
        current_p90_us=round(p90_b, 1),
        ratio=ratio,
        p90_ratio=p90_b / p90_a,
        p_value=p,
        n_base=int(a.size),
        n_current=int(b.size),
        verdict=verdict,
        ci95=ci,
        floor=floor,
        floor_source=source,
        processes=(ka, kb),
    )


def fmt_p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.0e}"


def fmt_ci(ci: tuple[float, float] | None) -> str:
    return "—" if ci is None else f"{ci[0]:.2f}–{ci[1]:.2f}×"
