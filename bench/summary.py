"""The one summary table a person reads after a run (also fine in a CI log)."""

from __future__ import annotations

from collections.abc import Sequence

from edgebench.records import Results

COLUMNS = ("target", "variant", "zip bytes", "ratio", "accuracy", "p50 µs", "p90 µs", "peak RSS MB",
           "status")


def latency_cell(value: float | None, emulated: bool | None) -> str:
    """A latency figure for a table; one measured under CPU emulation says so."""
    if value is None:
        return "—"
    return f"{value:,.1f}" + (" (emulated)" if emulated else "")


def summary_rows(results: Sequence[Results]) -> list[tuple[str, ...]]:
    """One row per record (each model in each cell of the threads x XNNPACK matrix), in the
    order they ran, named by its key."""
    rows = []
    for res in results:
        for r in res.records:
            lat = r.latency_us
            emulated = r.emulated or res.device.emulated
            rows.append(
                (
                    res.target,
                    r.key,
                    f"{r.zip_bytes:,}" if r.zip_bytes else "—",
                    f"{r.compression_ratio:.2f}×" if r.compression_ratio else "—",
                    f"{r.accuracy:.4f}" if r.accuracy is not None else "—",
                    latency_cell(lat.p50 if lat else None, emulated),
                    latency_cell(lat.p90 if lat else None, emulated),
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


def summary_notes(results: Sequence[Results]) -> list[str]:
    """Lines under the table: emulated targets, and every warning of a record."""
    notes = []
    for res in results:
        if res.device.emulated:
            notes.append(f"note: {res.target} ran under CPU emulation "
                         f"({res.device.emulation_evidence}); its latencies are the emulator's, "
                         "not the device's")
        for r in res.records:
            notes += [f"warning: {res.target} {r.key}: {w}" for w in r.warnings]
    return notes


def format_summary(results: Sequence[Results]) -> str:
    """The table, then a line per emulated target and per warning."""
    notes = summary_notes(results)
    return format_table(summary_rows(results)) + ("\n" + "\n".join(notes) if notes else "")
