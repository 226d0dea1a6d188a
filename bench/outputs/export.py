"""Machine-readable output: what ``--format json|csv|markdown`` prints for the run summary,
``compare``, ``gate`` and ``history`` (``table``, the default, is each command's own text).

JSON documents carry ``schema_version`` (:data:`OUTPUT_SCHEMA_VERSION`) and ``kind``, so a CI
step can check what it reads; numbers are plain numbers in their units (µs, bytes, MB,
fractions), never formatted text. CSV has one row per variant (or check, or run) with the
same field names as the JSON rows. Markdown is the text table as a pipe table, for CI comments.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from edgebench._version import __version__
from edgebench.bench.judgement.compare import Comparison, VariantChange
from edgebench.bench.judgement.gate import GateReport
from edgebench.bench.judgement.history import RunRow, describe_device
from edgebench.bench.orchestration.doctor import DoctorReport, format_doctor
from edgebench.bench.outputs.compare_table import COLUMNS as COMPARE_COLUMNS
from edgebench.bench.outputs.compare_table import (
    comparison_rows,
    describe_spread,
    format_comparison,
)
from edgebench.bench.outputs.continuous_table import CONTINUOUS_COLUMNS, continuous_rows
from edgebench.bench.outputs.gate_table import format_report
from edgebench.bench.outputs.summary import COLUMNS as SUMMARY_COLUMNS
from edgebench.bench.outputs.summary import format_summary, summary_rows
from edgebench.bench.outputs.table import format_table
from edgebench.records import Results, to_dict, worst_fidelity

#: The version of every JSON document this module writes; bump it when a field changes meaning
#: or goes away (adding fields keeps it).
OUTPUT_SCHEMA_VERSION = 1
FORMATS = ("table", "json", "csv", "markdown")


def _doc(kind: str, **body: Any) -> dict[str, Any]:
    return {"schema_version": OUTPUT_SCHEMA_VERSION, "kind": kind,
            "edgebench_version": __version__, **body}


def dumps(doc: Mapping[str, Any]) -> str:
    """JSON text of a document: indented, UTF-8 as is, never NaN."""
    return json.dumps(to_dict(dict(doc)), indent=2, ensure_ascii=False, allow_nan=False)


def to_csv(rows: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> str:
    """One CSV line per row, with a header; lists are joined with ';', None is empty."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(row.get(k)) for k in fields})
    return buf.getvalue().rstrip("\n")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return value


def to_markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub/GitLab pipe table; text columns left-aligned, numbers right-aligned."""
    text_cols = {"target", "variant", "status", "run", "device", "check", "reason", "bench",
                 "created_at", "commit", "config", "", "latency", "memory", "floor", "found",
                 "fix", "throttling", "meter"}

    def cell(c: str) -> str:
        return str(c).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" if h in text_cols else "---:" for h in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- run summary

SUMMARY_FIELDS = (
    "target", "run_id", "variant", "key", "status", "zip_bytes", "compression_ratio", "accuracy",
    "accuracy_metric", "snr_db", "top1_agreement", "p50_us", "p90_us", "p99_us", "peak_rss_mb",
    "model_rss_mb", "pss_mb", "uss_mb", "sustained_ratio", "j_per_inference", "mean_w",
    "processes", "runtime", "error",
)


def summary_records(results: Sequence[Results]) -> list[dict[str, Any]]:
    """One flat row per record, in the order they ran."""
    rows = []
    for res in results:
        for r in res.records:
            lat, rss = r.latency_us, r.rss_mb
            worst = worst_fidelity(r.fidelity)  # the worst output, against the float32 reference
            rows.append({
                "target": res.target,
                "run_id": res.run_id,
                "variant": r.variant,
                "key": r.key,  # the variant and how it was measured (threads, XNNPACK, …)
                "status": r.status,
                "zip_bytes": r.zip_bytes,
                "compression_ratio": r.compression_ratio,
                "accuracy": r.accuracy,
                "accuracy_metric": r.accuracy_metric,
                # null also for outputs identical to the reference (∞ dB is not JSON)
                "snr_db": worst.snr_db if worst and math.isfinite(worst.snr_db or 0) else None,
                "top1_agreement": worst.top1_agreement if worst else None,
                "p50_us": lat.p50 if lat else None,
                "p90_us": lat.p90 if lat else None,
                "p99_us": lat.p99 if lat else None,
                "peak_rss_mb": rss.peak if rss else None,
                "model_rss_mb": rss.model if rss else None,  # the model's own (MiB)
                "pss_mb": rss.pss if rss else None,
                "uss_mb": rss.uss if rss else None,
                "sustained_ratio": r.sustained.ratio if r.sustained else None,
                "j_per_inference": r.energy.j_per_inference if r.energy else None,
                "mean_w": r.energy.mean_w if r.energy else None,
                "processes": int(r.extra.get("repeats", 1)) if r.ok else None,
                "runtime": " ".join(x for x in (r.runtime_name, r.runtime_version) if x) or None,
                "error": r.error,
            })
    return rows


def summary_doc(results: Sequence[Results]) -> dict[str, Any]:
    """The run summary: one entry per target (its run, device, commit) with its records."""
    rows = summary_records(results)
    return _doc("summary", results=[
        {
            "target": res.target,
            "run_id": res.run_id,
            "created_at": res.created_at,
            "git_commit": res.git_commit,
            "device": describe_device(res.device),
            "runtime": {"name": res.device.runtime_name, "version": res.device.runtime_version},
            "error": res.error,
            "records": [r for r in rows if r["target"] == res.target],
        }
        for res in results
    ])


def format_summary_as(results: Sequence[Results], fmt: str) -> str:
    if fmt == "json":
        return dumps(summary_doc(results))
    if fmt == "csv":
        return to_csv(summary_records(results), SUMMARY_FIELDS)
    if fmt == "markdown":
        text = to_markdown(SUMMARY_COLUMNS, summary_rows(results))
        continuous = continuous_rows(results)
        if continuous:
            text += "\n\n" + to_markdown(CONTINUOUS_COLUMNS, continuous)
        return text
    return format_summary(results)


# --------------------------------------------------------------------------- compare

COMPARE_FIELDS = (
    "target", "base_run_id", "current_run_id", "variant", "key", "zip_bytes", "zip_delta_bytes",
    "accuracy", "accuracy_delta", "base_p50_us", "current_p50_us", "p50_ratio", "ci95_low",
    "ci95_high", "p90_ratio", "p_value", "processes_base", "processes_current", "floor",
    "floor_source", "latency_verdict", "memory_ratio", "memory_verdict", "regressed",
    "regressed_metrics", "note", "ratio", "ci", "rounds", "measure", "wall_s",
)


def comparison_records(cmp: Comparison) -> list[dict[str, Any]]:
    """One flat row per variant of one comparison."""
    rows = []
    for c in cmp.changes:
        cur = c.record
        lat = c.latency
        rows.append({
            "target": cmp.current.target,
            "base_run_id": cmp.base.run_id,
            "current_run_id": cmp.current.run_id,
            "variant": cur.variant if cur else c.variant,
            "key": c.variant,  # the variant and how it was measured (threads, XNNPACK, …)
            "zip_bytes": cur.zip_bytes if cur else None,
            "zip_delta_bytes": c.zip_delta_bytes,
            "accuracy": cur.accuracy if cur else None,
            "accuracy_delta": c.accuracy_delta,
            "base_p50_us": lat.base_p50_us if lat else None,
            "current_p50_us": lat.current_p50_us if lat else None,
            "p50_ratio": round(lat.ratio, 4) if lat else None,
            "ci95_low": round(lat.ci95[0], 4) if lat and lat.ci95 else None,
            "ci95_high": round(lat.ci95[1], 4) if lat and lat.ci95 else None,
            "p90_ratio": round(lat.p90_ratio, 4) if lat else None,
            "p_value": lat.p_value if lat else None,
            "processes_base": lat.processes[0] if lat else None,
            "processes_current": lat.processes[1] if lat else None,
            "floor": round(lat.floor, 4) if lat and lat.floor is not None else None,
            "floor_source": lat.floor_source if lat else None,
            "latency_verdict": c.latency_verdict.value,
            "memory_ratio": round(c.memory_ratio, 4) if c.memory_ratio is not None else None,
            "memory_verdict": c.memory_verdict.value,
            "regressed": c.regressed,
            "regressed_metrics": [m.value for m in c.regressed_metrics],
            "note": c.note,
            **rebench_fields(c),
        })
    return rows


def rebench_fields(c: VariantChange) -> dict[str, Any]:
    """What ``--rebench`` measured side by side (as ``edgebench ab`` writes it), else None."""
    ab = c.ab
    return {
        "ratio": None if ab is None or ab.ratio is None else round(ab.ratio, 5),
        "ci": None if ab is None or ab.ci is None else [round(x, 5) for x in ab.ci],
        "rounds": None if ab is None else ab.rounds,
        "measure": None if ab is None else ab.measure,
        "wall_s": None if ab is None else ab.wall_s,
    }


def _run_ref(res: Results) -> dict[str, Any]:
    return {"run_id": res.run_id, "created_at": res.created_at, "git_commit": res.git_commit}


def comparison_doc(comparisons: Sequence[Comparison]) -> dict[str, Any]:
    """Every comparison (one per target): both runs, the learnt spread, one row per variant."""
    return _doc(
        "compare",
        regressed=[
            {"target": cmp.current.target, "variant": c.record.variant,
             "key": c.variant}
            for cmp in comparisons for c in cmp.changes if c.regressed
        ],
        comparisons=[
            {
                "target": cmp.current.target,
                "device": describe_device(cmp.current.device),
                "base": _run_ref(cmp.base),
                "current": _run_ref(cmp.current),
                "settings": {
                    "alpha": cmp.settings.alpha,
                    "min_effect": cmp.settings.min_effect,
                    "min_memory_effect": cmp.settings.min_memory_effect,
                },
                "spread": None if cmp.spread is None else {
                    "worst_ratio": round(cmp.spread.worst_ratio, 4),
                    "processes": cmp.spread.n_processes,
                    "records": cmp.spread.n_records,
                },
                "variants": comparison_records(cmp),
                "notes": list(cmp.notes),
            }
            for cmp in comparisons
        ],
    )


def format_comparisons_as(comparisons: Sequence[Comparison], fmt: str) -> str:
    if fmt == "json":
        return dumps(comparison_doc(comparisons))
    if fmt == "csv":
        rows = [r for cmp in comparisons for r in comparison_records(cmp)]
        return to_csv(rows, COMPARE_FIELDS)
    if fmt == "markdown":
        parts = []
        for cmp in comparisons:
            c = cmp.current
            parts.append(
                f"### {c.target} on {describe_device(c.device)}: `{cmp.base.run_id}` → "
                f"`{c.run_id}`\n\n" + to_markdown(COMPARE_COLUMNS, comparison_rows(cmp))
                + f"\n\nspread: {describe_spread(cmp.spread)}"
            )
            regressed = cmp.regressed
            names = ", ".join(f"`{v}`" for v in regressed)
            parts.append(f"**{len(regressed)} regressed**: {names}" if regressed
                         else "No regressions.")
        return "\n\n".join(parts)
    return "\n\n".join(format_comparison(c) for c in comparisons)


# --------------------------------------------------------------------------- gate

GATE_FIELDS = ("status", "target", "variant", "check", "value", "op", "limit", "reason")


def gate_records(report: GateReport) -> list[dict[str, Any]]:
    """One flat row per check: PASS, FAIL or SKIP (not checked, or inconclusive)."""
    rows = []
    for c in report.checks:
        limit = getattr(c.rule, "limit", None)
        targets = getattr(c.rule, "targets", None)
        rows.append({
            "status": "SKIP" if c.skipped else ("PASS" if c.passed else "FAIL"),
            "target": c.target,
            "variant": c.variant,
            "check": c.metric,
            "value": c.value,
            "op": c.op,
            "limit": limit if limit is not None else (list(targets) if targets else None),
            "reason": c.reason,
        })
    return rows


def gate_doc(report: GateReport) -> dict[str, Any]:
    rows = gate_records(report)
    return _doc(
        "gate",
        passed=report.passed,
        checks_total=len(rows),
        checks_failed=sum(r["status"] == "FAIL" for r in rows),
        checks_skipped=sum(r["status"] == "SKIP" for r in rows),
        checks=rows,
    )


def format_gate_as(report: GateReport, fmt: str, failures_only: bool = False) -> str:
    if fmt == "json":
        return dumps(gate_doc(report))
    if fmt == "csv":
        return to_csv(gate_records(report), GATE_FIELDS)
    if fmt == "markdown":
        rows = [
            (r["status"], r["target"], r["variant"], c.describe())
            for r, c in zip(gate_records(report), report.checks, strict=True)
            if not failures_only or r["status"] == "FAIL"
        ]
        n_fail = len(report.failures)
        verdict = ("**gate: PASSED**" if report.passed
                   else f"**gate: FAILED**, {n_fail} of {len(report.checks)} checks failed")
        return (to_markdown(("", "target", "variant", "check"), rows) + "\n\n" if rows else "") \
            + verdict
    return format_report(report, failures_only=failures_only)


# --------------------------------------------------------------------------- history

HISTORY_FIELDS = (
    "bench", "run_id", "target", "created_at", "records", "ok", "git_commit",
    "edgebench_version", "config_sha256", "device_key", "device",
)
HISTORY_COLUMNS = ("bench", "run", "target", "created_at", "ok", "commit", "config", "device")


def history_records(rows: Sequence[RunRow]) -> list[dict[str, Any]]:
    return [
        {
            "bench": r.bench,
            "run_id": r.run_id,
            "target": r.target,
            "created_at": r.created_at,
            "records": r.n_records,
            "ok": r.n_ok,
            "git_commit": r.git_commit,
            "edgebench_version": r.edgebench_version,
            "config_sha256": r.config_sha256,
            "device_key": r.device_key,
            "device": r.device_name,
        }
        for r in rows
    ]


def history_table_rows(rows: Sequence[RunRow]) -> list[tuple[str, ...]]:
    return [
        (f"#{r.bench}", r.run_id, r.target, r.created_at, f"{r.n_ok}/{r.n_records}",
         (r.git_commit or "—")[:10], (r.config_sha256 or "—")[:12], r.device_name)
        for r in rows
    ]


def format_history_as(rows: Sequence[RunRow], fmt: str) -> str:
    if fmt == "json":
        return dumps(_doc("history", runs=history_records(rows)))
    if fmt == "csv":
        return to_csv(history_records(rows), HISTORY_FIELDS)
    if fmt == "markdown":
        return to_markdown(HISTORY_COLUMNS, history_table_rows(rows))
    table = history_table_rows(rows)
    return format_table(table, HISTORY_COLUMNS) if table else "history: no runs match"


# --------------------------------------------------------------------------- doctor

DOCTOR_FIELDS = ("status", "name", "found", "fix")


def format_doctor_as(report: DoctorReport, fmt: str) -> str:
    rows = [dict(status=c.status, name=c.name, found=c.found, fix=c.fix) for c in report.checks]
    if fmt == "json":
        return dumps(_doc("doctor", target=report.target, device=report.device,
                          ready=report.ready, checks=rows))
    if fmt == "csv":
        return to_csv(rows, DOCTOR_FIELDS)
    if fmt == "markdown":
        cells = [(c.status.upper(), c.name, c.found, c.fix or "") for c in report.checks]
        verdict = "ready to bench" if report.ready else f"{len(report.problems)} problem(s)"
        return (f"**doctor {report.target}**: {report.device}: {verdict}\n\n"
                + to_markdown(("status", "check", "found", "fix"), cells))
    return format_doctor(report)


# --------------------------------------------------------------------------- run


def format_run_as(results: Sequence[Results], report: GateReport, fmt: str) -> str:
    """``edgebench run``'s output: the summary, then the gate (its failures in the table)."""
    if fmt == "json":
        return dumps(_doc("run", summary=summary_doc(results), gate=gate_doc(report)))
    if fmt == "csv":
        return format_summary_as(results, "csv")  # the gate's checks: --junit, or edgebench gate
    return format_summary_as(results, fmt) + "\n\n" + format_gate_as(report, fmt, True)
