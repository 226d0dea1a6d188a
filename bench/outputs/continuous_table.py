"""The sustained speed and energy table: one row per record that ran continuously
(``--sustained``, ``--power``), for the summary, the Markdown and the report."""

from __future__ import annotations

from collections.abc import Sequence

from edgebench.records import Record, Results

CONTINUOUS_COLUMNS = ("target", "variant", "seconds", "windows", "first p50 µs",
                      "last p50 µs", "ratio", "max °C", "min MHz", "throttling", "mJ/inference",
                      "mean W", "idle W", "meter")


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def continuous_cells(rec: Record) -> tuple[str, ...] | None:
    """One record's cells after its variant, or None when it did not run continuously."""
    s, e = rec.sustained, rec.energy
    if s is None and e is None:
        return None
    first = s.windows[0] if s and s.windows else None
    last = s.windows[-1] if s and s.windows else None
    mean = " (means)" if s and s.statistic == "mean" else ""
    flags = "—"
    if s is not None:
        flags = ", ".join(s.throttle_flags) if s.throttle_flags else (
            "unknown" if all(w.throttled is None for w in s.windows) else "none")
    return (
        _num(s.seconds if s else None, "g"),
        str(len(s.windows)) if s else "—",
        _num(first.p50_us if first else None, ",.1f") + mean,
        _num(last.p50_us if last else None, ",.1f") + mean,
        _num(s.ratio if s else None, ".3f"),
        _num(s.hottest_c() if s else None, ".1f"),
        _num(s.slowest_clock_mhz() if s else None, ",.0f"),
        flags,
        _num(e.j_per_inference * 1000 if e and e.j_per_inference is not None else None, ".4g"),
        _num(e.mean_w if e else None, ".3f"),
        _num(e.idle_w if e else None, ".3f"),
        e.meter if e else "—",
    )


def continuous_rows(results: Sequence[Results]) -> list[tuple[str, ...]]:
    """A row per record with a sustained run or energy, named by its key."""
    rows = []
    for res in results:
        for r in res.records:
            cells = continuous_cells(r)
            if cells is not None:
                rows.append((res.target, r.key, *cells))
    return rows
