"""The one summary table a person reads after a run (also fine in a CI log), and beneath it the
output fidelity table and the sustained speed and energy table when the records have them.

Memory is the model's own (``rss_mb.model``: what the process grew by from just before the
model was loaded to after warm-up), not the runner's whole process, most of which is Python
and numpy."""

from __future__ import annotations

from collections.abc import Sequence

from edgebench.bench.outputs.continuous_table import CONTINUOUS_COLUMNS, continuous_rows
from edgebench.bench.outputs.table import format_table
from edgebench.bench.outputs.weight_cache_table import (
    WEIGHT_CACHE_COLUMNS,
    WEIGHT_CACHE_TITLE,
    weight_cache_rows,
)
from edgebench.records import Record, Results, format_snr, worst_fidelity

COLUMNS = ("target", "variant", "zip bytes", "ratio", "accuracy", "SNR dB", "top-1 agr",
           "p50 µs", "p90 µs", "model MiB", "status")
FIDELITY_COLUMNS = ("target", "variant", "output", "n", "max |Δ|", "mean |Δ|", "cosine",
                    "SNR dB", "top-1 agr")


def _accuracy(value: float | None, metric: str | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" + (f" {metric}" if metric and metric != "top1" else "")


def latency_cell(value: float | None, emulated: bool | None) -> str:
    """A latency figure for a table; one measured under CPU emulation says so."""
    if value is None:
        return "—"
    return f"{value:,.1f}" + (" (emulated)" if emulated else "")


def model_memory_cell(rec: Record) -> str:
    """The model's memory (MiB) for a table, or — where the flow could not measure it."""
    model = rec.rss_mb.model if rec.rss_mb else None
    return "—" if model is None else f"{model:.1f}"


def summary_rows(results: Sequence[Results]) -> list[tuple[str, ...]]:
    """One row per record (each model in each cell of the threads x XNNPACK matrix), in the
    order they ran, named by its key. SNR and top-1 agreement are the worst over the record's
    outputs, against the float32 reference."""
    rows: list[tuple[str, ...]] = []
    for res in results:
        for r in res.records:
            lat = r.latency_us
            worst = worst_fidelity(r.fidelity)
            emulated = r.emulated or res.device.emulated
            rows.append(
                (
                    res.target,
                    r.key,
                    f"{r.zip_bytes:,}" if r.zip_bytes else "—",
                    f"{r.compression_ratio:.2f}×" if r.compression_ratio else "—",
                    _accuracy(r.accuracy, r.accuracy_metric),
                    format_snr(worst.snr_db if worst else None),
                    f"{worst.top1_agreement:.4f}"
                    if worst and worst.top1_agreement is not None else "—",
                    latency_cell(lat.p50 if lat else None, emulated),
                    latency_cell(lat.p90 if lat else None, emulated),
                    model_memory_cell(r),
                    r.status + (" (no XNNPACK)" if r.delegate_fallback else ""),
                )
            )
    return rows


def fidelity_rows(results: Sequence[Results]) -> list[tuple[str, ...]]:
    """One row per output of every record that has fidelity figures."""
    rows: list[tuple[str, ...]] = []
    for res in results:
        for r in res.records:
            for f in r.fidelity:
                rows.append(
                    (
                        res.target,
                        r.key,
                        f.output,
                        str(f.n),
                        f"{f.max_abs:.4g}",
                        f"{f.mean_abs:.4g}",
                        "—" if f.cosine is None else f"{f.cosine:.6f}",
                        format_snr(f.snr),
                        "—" if f.top1_agreement is None else f"{f.top1_agreement:.4f}",
                    )
                )
    return rows


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
    """The summary table; then, when any record has them, the fidelity figures per output
    and which reference they are measured against; then a line per emulated target and per
    warning."""
    text = format_table(summary_rows(results), COLUMNS)
    fid = fidelity_rows(results)
    if fid:
        refs = sorted({r.reference for res in results for r in res.records if r.reference})
        text += (
            f"\n\noutput fidelity against the float32 reference ({', '.join(refs) or '?'}; "
            "quantised outputs dequantised; SNR ∞ = identical):\n"
            + format_table(fid, FIDELITY_COLUMNS)
        )
    continuous = continuous_rows(results)
    if continuous:
        text += ("\n\nsustained speed (p50 of the first and last 1 s windows) and energy per "
                 "inference (net of idle power):\n" + format_table(continuous,
                                                                   CONTINUOUS_COLUMNS))
    cache = weight_cache_rows(results)
    if cache:
        text += f"\n\n{WEIGHT_CACHE_TITLE}:\n" + format_table(cache, WEIGHT_CACHE_COLUMNS)
    notes = summary_notes(results)
    return text + ("\n" + "\n".join(notes) if notes else "")
