"""One record from the same model measured in several processes (``--repeats N``)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace

from edgebench.records import LatencyStats, Record


def merge_repeats(recs: Sequence[Record]) -> Record:
    """One record from the same model measured in several processes.

    Latency statistics come from the pooled samples; ``extra["process_p50_us"]`` keeps each
    process's median, so a comparison can use their median, which one process that ran in a
    slow state for its whole life cannot move. Memory is the worst process's (all of its
    figures, so that ``model`` and its split stay one process's); accuracy, the sustained run
    and the energy (only the first process runs them) are the first process's; load times
    the median.
    """
    first = recs[0]
    if len(recs) == 1 or not all(r.ok for r in recs):
        return next((r for r in recs if not r.ok), first)
    samples = tuple(s for r in recs for s in r.samples_us)
    latency = first.latency_us
    if samples:
        latency = LatencyStats.from_samples([s * 1000 for s in samples])
    p50s = [r.latency_us.p50 for r in recs if r.latency_us and r.latency_us.p50 is not None]
    with_peak = [r.rss_mb for r in recs if r.rss_mb and r.rss_mb.peak is not None]

    def median_of(name: str) -> float | None:
        values = [getattr(r, name) for r in recs if getattr(r, name) is not None]
        return round(statistics.median(values), 3) if values else None

    rss = max(with_peak, key=lambda m: m.peak or 0.0) if with_peak else first.rss_mb
    extra = dict(first.extra, repeats=len(recs), process_p50_us=p50s)
    return replace(
        first,
        latency_us=latency,
        samples_us=samples,
        rss_mb=rss,
        init_ms=median_of("init_ms"),
        first_inference_us=median_of("first_inference_us"),
        temp_c_after=recs[-1].temp_c_after,
        extra=extra,
    )
