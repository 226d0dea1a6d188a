"""The report's tables as text cells: the run summary and what changed since the run before,
the model's memory, and the operator profiles, shared by the HTML page and the Markdown
summary."""

from __future__ import annotations

from edgebench.bench.judgement.latency import fmt_ci
from edgebench.bench.outputs.compare_table import (
    fmt_delta_acc,
    fmt_delta_int,
    latency_words,
    memory_words,
)
from edgebench.bench.outputs.report.gather import TargetSection
from edgebench.bench.outputs.summary import COLUMNS as SUMMARY_COLUMNS
from edgebench.bench.outputs.summary import summary_rows


def table_rows(section: TargetSection) -> tuple[list[str], list[tuple[list[str], bool]]]:
    """The summary table, plus what changed since the previous run when there is one."""
    header = list(SUMMARY_COLUMNS[1:])
    rows = summary_rows([section.results])
    cmp = section.comparison
    if cmp is not None:
        header[-1:-1] = ["Δ zip", "Δ accuracy", "p50 ratio (95% CI)", "latency", "memory"]
    out = []
    for rec, row in zip(section.results.records, rows, strict=False):
        cells = list(row[1:])
        regressed = False
        if cmp is not None:
            ch = cmp.change(rec.key)
            lat = ch.latency
            extra = [
                fmt_delta_int(ch.zip_delta_bytes),
                fmt_delta_acc(ch.accuracy_delta),
                (f"{lat.ratio:.2f}× ({fmt_ci(lat.ci95)})" if lat and lat.ci95
                 else f"{lat.ratio:.2f}×" if lat else "—"),
                latency_words(lat, cmp.settings) if lat else (ch.note or "n/a"),
                memory_words(ch.memory_verdict, cmp.settings),
            ]
            cells[-1:-1] = extra
            regressed = ch.regressed
        out.append((cells, regressed))
    return header, out



OP_PROFILE_COLUMNS = ["operator", "count", "avg ms", "% of total"]


def op_profile_rows(section: TargetSection) -> list[tuple[str, list[list[str]]]]:
    """For each record with an operator profile (--op-profile): its key and one row per
    operator type, slowest first."""
    return [
        (rec.key, [[o.op, str(o.count), f"{o.avg_ms:.3f}", f"{o.percent:.1f}%"]
                   for o in rec.op_profile])
        for rec in section.results.records
        if rec.op_profile
    ]


MEMORY_COLUMNS = ["variant", "before MiB", "steady MiB", "model MiB", "mapped file MiB",
                  "anonymous MiB", "rest MiB", "PSS MiB", "USS MiB", "peak MiB"]


def _mib(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def memory_rows(section: TargetSection) -> list[list[str]]:
    """For each record with the model's memory: the process before the load and at steady
    state, the model's share and its split (the mapped file, anonymous memory: the arena and
    packed weights; the rest: the runtime's code pages the load touched), PSS, USS and peak."""
    rows = []
    for rec in section.results.records:
        m = rec.rss_mb
        if m is None or (m.model is None and m.pss is None):
            continue
        rest = None
        if m.model is not None and m.model_file is not None and m.model_anon is not None:
            rest = m.model - m.model_file - m.model_anon
        rows.append([rec.key, _mib(m.before), _mib(m.steady), _mib(m.model),
                     _mib(m.model_file), _mib(m.model_anon), _mib(rest), _mib(m.pss),
                     _mib(m.uss), _mib(m.peak)])
    return rows

