"""What ``edgebench ab`` prints: a table (ratio, interval, rounds, wall time per pair) or a
JSON document shaped like ``compare --format json`` (``comparisons[].variants[]``, each with
``latency_verdict``, ``ratio``, ``ci``, ``rounds``, ``measure`` and ``wall_s``)."""

from __future__ import annotations

from typing import Any

from edgebench.bench.judgement.ab_result import AbReport, PairResult
from edgebench.bench.judgement.ab_stats import within
from edgebench.bench.judgement.compare_settings import Verdict
from edgebench.bench.judgement.history import describe_device
from edgebench.bench.outputs.export import _doc, dumps, to_csv, to_markdown
from edgebench.bench.outputs.table import format_table

AB_COLUMNS = ("variant", "measure", "base", "current", "ratio", "95% CI", "rounds", "wall s",
              "verdict")


def _value(x: float | None, unit: str) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f} instr" if unit == "instructions" else f"{x:,.1f} us"


def verdict_text(r: PairResult) -> str:
    """``slower``, or ``same (within ±5%)``, or ``inconclusive: why``."""
    if r.verdict is Verdict.SAME:
        return f"same ({within(r.threshold)})"
    if r.verdict is Verdict.INCONCLUSIVE and r.note:
        return f"inconclusive: {r.note}"
    return r.verdict.value


def ab_rows(report: AbReport) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for r in report.results:
        ci = f"[{r.ci[0]:.3f}, {r.ci[1]:.3f}]" if r.ci else "—"
        ratio = "—" if r.ratio is None else f"{r.ratio:.4f}" if r.measure == "instructions" \
            else f"{r.ratio:.3f}"
        rows.append((r.pair.name, r.measure, _value(r.base_value, r.unit),
                     _value(r.current_value, r.unit), ratio, ci, str(r.rounds),
                     f"{r.wall_s:.1f}", verdict_text(r)))
    return rows


def format_ab(report: AbReport) -> str:
    head = (f"ab on {report.target} ({describe_device(report.device)}), {report.measure}, "
            f"{report.wall_s:.1f} s" + (", interrupted" if report.interrupted else ""))
    regressed = report.regressed
    tail = (f"ab: {len(regressed)} of {len(report.results)} pairs slower: {', '.join(regressed)}"
            if regressed else f"ab: no pair slower of {len(report.results)}")
    return "\n".join([head, format_table(ab_rows(report), AB_COLUMNS), tail])


AB_FIELDS = ("variant", "base_model", "current_model", "latency_verdict", "ratio", "ci",
             "rounds", "measure", "wall_s", "threshold", "base_value", "current_value", "unit",
             "regressed", "note")


def pair_record(r: PairResult) -> dict[str, Any]:
    """One pair as ``compare --format json`` writes a variant, with the A/B's own fields."""
    return {
        "variant": r.pair.name,
        "base_model": str(r.pair.base),
        "current_model": str(r.pair.current),
        "latency_verdict": r.verdict.value,
        "ratio": None if r.ratio is None else round(r.ratio, 5),
        "ci": None if r.ci is None else [round(r.ci[0], 5), round(r.ci[1], 5)],
        "rounds": r.rounds,
        "measure": r.measure,
        "wall_s": r.wall_s,
        "threshold": r.threshold,
        "base_value": r.base_value,
        "current_value": r.current_value,
        "unit": r.unit,
        "regressed": r.regressed,
        "note": r.note,
    }


def ab_doc(report: AbReport, base: str, current: str) -> dict[str, Any]:
    return _doc(
        "ab",
        regressed=[{"target": report.target, "variant": v} for v in report.regressed],
        comparisons=[{
            "target": report.target,
            "device": describe_device(report.device),
            "base": {"ref": base},
            "current": {"ref": current},
            "measure": report.measure,
            "interrupted": report.interrupted,
            "wall_s": report.wall_s,
            "variants": [pair_record(r) for r in report.results],
        }],
    )


def format_ab_as(report: AbReport, fmt: str, base: str = "", current: str = "") -> str:
    if fmt == "json":
        return dumps(ab_doc(report, base, current))
    if fmt == "markdown":
        return to_markdown(AB_COLUMNS, ab_rows(report))
    if fmt == "csv":
        return to_csv([pair_record(r) for r in report.results], AB_FIELDS)
    return format_ab(report)
