"""Two runs compared, as a table a person reads: one row per variant, the verdicts in words,
the floors and the device's spread, then the notes and the verdict line."""

from __future__ import annotations

import math

from edgebench.bench.judgement.compare import Comparison, VariantChange
from edgebench.bench.judgement.compare_settings import (
    MIN_PROCESSES,
    REPEATED_MIN_EFFECT,
    REPEATED_PROCESSES,
    CompareSettings,
    Verdict,
)
from edgebench.bench.judgement.evidence import DeviceSpread
from edgebench.bench.judgement.history import describe_device
from edgebench.bench.judgement.latency import LatencyChange, fmt_ci, fmt_p
from edgebench.bench.outputs.table import format_table
from edgebench.records import Record, format_snr, worst_fidelity


def effect_text(s: CompareSettings) -> str:
    """The latency floor in words, for the report and compare's footer."""
    if s.min_effect is not None:
        return f"±{s.min_effect:.0%} (single-process pairs: beyond the device's learnt spread)"
    return (
        f"the device's spread learnt from --repeats runs, else ±{REPEATED_MIN_EFFECT:.0%} "
        f"with --repeats {REPEATED_PROCESSES}+ on both sides; single-process pairs need the "
        "learnt spread"
    )


def fmt_delta_int(x: int | None) -> str:
    return "—" if x is None else f"{x:+,}"


def fmt_delta_acc(x: float | None) -> str:
    return "—" if x is None else f"{x:+.4f}"


def fmt_worst_snr(rec: Record | None) -> str:
    worst = worst_fidelity(rec.fidelity) if rec is not None else None
    return format_snr(worst.snr_db if worst else None)


def fmt_delta_snr(x: float | None) -> str:
    if x is None:
        return "—"
    return format_snr(x) if math.isinf(x) else f"{x:+.2f}"


def fmt_floor(lat: LatencyChange | None) -> str:
    """The floor a latency verdict needed, and where it came from: ``±23% learnt``."""
    if lat is None:
        return "—"
    if lat.floor is None:
        return "none (1 process)"
    return f"±{lat.floor:.0%} {lat.floor_source}"


def latency_words(lat: LatencyChange, s: CompareSettings) -> str:
    """A latency verdict for people. ``same`` says how close it rests on: ``within ±25%`` (the
    floor column beside it says where that floor came from, the 95% CI column the interval)."""
    if lat.verdict is not Verdict.SAME:
        return lat.verdict.value
    effect = s.min_effect if s.min_effect is not None else REPEATED_MIN_EFFECT
    if lat.floor is not None:
        effect = min(effect, lat.floor)
    return f"within ±{effect:.0%}"


def memory_words(verdict: Verdict, s: CompareSettings) -> str:
    """A peak-memory verdict for people: ``same`` is ``within ±10%`` (its floor)."""
    return f"within ±{s.min_memory_effect:.0%}" if verdict is Verdict.SAME else verdict.value


COLUMNS = (
    "variant",
    "zip bytes",
    "Δ zip",
    "accuracy",
    "Δ acc",
    "SNR dB",
    "Δ SNR",
    "p50 µs",
    "p50 ratio",
    "95% CI",
    "p90 ratio",
    "p",
    "floor",
    "latency",
    "peak MB ratio",
    "memory",
)


def latency_cell(c: VariantChange, s: CompareSettings) -> str:
    """The latency verdict in words (``latency_words``); a side-by-side one (``--rebench``)
    with its ratio and rounds, its ``same`` as ``within ±x%`` of the ab threshold."""
    ab = c.ab
    if ab is None or ab.ratio is None:
        return latency_words(c.latency, s) if c.latency else c.latency_verdict.value
    said = (f"within ±{ab.threshold:.0%}" if ab.verdict is Verdict.SAME
            else ab.verdict.value)
    return f"{said} (ab {ab.ratio:.3f}×, {ab.rounds} rounds)"


def comparison_rows(cmp: Comparison) -> list[tuple[str, ...]]:
    """One row per variant, with the verdicts in words."""
    rows: list[tuple[str, ...]] = []
    for c in cmp.changes:
        cur = c.record
        lat = c.latency
        rows.append(
            (
                c.variant,
                f"{cur.zip_bytes:,}" if cur and cur.zip_bytes is not None else "—",
                fmt_delta_int(c.zip_delta_bytes),
                f"{cur.accuracy:.4f}" if cur and cur.accuracy is not None else "—",
                fmt_delta_acc(c.accuracy_delta),
                fmt_worst_snr(cur),
                fmt_delta_snr(c.snr_delta_db),
                f"{lat.base_p50_us:,.1f} → {lat.current_p50_us:,.1f}" if lat else "—",
                f"{lat.ratio:.2f}×" if lat else "—",
                fmt_ci(lat.ci95) if lat else "—",
                f"{lat.p90_ratio:.2f}×" if lat else "—",
                fmt_p(lat.p_value) if lat else "—",
                fmt_floor(lat),
                latency_cell(c, cmp.settings),
                f"{c.memory_ratio:.2f}×" if c.memory_ratio is not None else "—",
                memory_words(c.memory_verdict, cmp.settings),
            )
        )
    return rows


def describe_spread(spread: DeviceSpread | None) -> str:
    if spread is None:
        return (
            f"not learnt yet (needs --repeats {MIN_PROCESSES}+ runs of this device in the "
            "history)"
        )
    return (
        f"processes on this device stray up to {spread.worst_ratio:.2f}x from their siblings "
        f"({spread.describe()})"
    )


def format_comparison(cmp: Comparison) -> str:
    """A heading naming both runs and the device, the table, then notes."""
    b, c = cmp.base, cmp.current
    s = cmp.settings
    lines = [
        f"compare {c.target} on {describe_device(c.device)}",
        f"  base     {b.run_id}  {b.created_at}",
        f"  current  {c.run_id}  {c.created_at}",
        f"  verdicts: Mann-Whitney U p < {s.alpha:g}, a 95% CI over processes that excludes 1, "
        f"and a median ratio beyond the floor: {effect_text(s)}; peak memory beyond "
        f"±{s.min_memory_effect:.0%}",
        f"  spread: {describe_spread(cmp.spread)}",
        "",
        format_table(comparison_rows(cmp), COLUMNS),
    ]
    notes = [f"{ch.variant}: {ch.note}" for ch in cmp.changes if ch.note] + list(cmp.notes)
    if notes:
        lines += [""] + [f"note: {n}" for n in notes]
    regressed = list(cmp.regressed)
    lines.append("")
    n = len(cmp.changes)
    lines.append(
        f"compare: {len(regressed)} of {n} variants regressed: {', '.join(regressed)}"
        if regressed
        else f"compare: no regressions in {n} variants"
    )
    return "\n".join(lines)
