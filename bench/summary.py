"""The one summary table a person reads after a run (also fine in a CI log)."""

from __future__ import annotations

from collections.abc import Sequence

from edgebench.records import Results

COLUMNS = ("target", "variant", "zip bytes", "ratio", "accuracy", "p50 µs", "p90 µs", "peak RSS MB",
           "status")


def summary_rows(results: Sequence[Results]) -> list[tuple[str, ...]]:
    """One row per record, in the order they ran."""
    rows = []
    for res in results:
        for r in res.records:
            lat = r.latency_us
            rows.append(
                (
                    res.target,
                    r.variant,
                    f"{r.zip_bytes:,}" if r.zip_bytes else "—",
                    f"{r.compression_ratio:.2f}×" if r.compression_ratio else "—",
                    f"{r.accuracy:.4f}" if r.accuracy is not None else "—",
                    f"{lat.p50:,.1f}" if lat and lat.p50 is not None else "—",
                    f"{lat.p90:,.1f}" if lat and lat.p90 is not None else "—",
                    f"{r.rss_mb.peak:.1f}" if r.rss_mb and r.rss_mb.peak is not None else "—",
                    r.status + (" (no XNNPACK)" if r.delegate_fallback else ""),
                )
            )
    return rows


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str] = COLUMNS) -> str:
    """Fixed-width text table: text columns left-aligned, numbers right-aligned."""
    all_rows = [tuple(header)] + [tuple(r) for r in rows]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(header))]
    numeric = [i for i in range(len(header)) if header[i] not in ("target", "variant", "status")]

    def fmt(row: Sequence[str]) -> str:
        cells = [
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(all_rows[0]), rule] + [fmt(r) for r in all_rows[1:]])


def format_summary(results: Sequence[Results]) -> str:
    return format_table(summary_rows(results))
