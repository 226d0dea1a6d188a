"""The report as Markdown: a verdict line and one table per target, for a CI comment."""

from __future__ import annotations

from edgebench.bench.judgement.history import describe_device
from edgebench.bench.outputs.continuous_table import CONTINUOUS_COLUMNS, continuous_rows
from edgebench.bench.outputs.report.gather import ReportData
from edgebench.bench.outputs.report.tables import OP_PROFILE_COLUMNS, op_profile_rows, table_rows


def render_markdown(data: ReportData) -> str:
    """The summary for a CI comment: a verdict line, then one table per target."""
    regressions = data.regressions
    first = data.sections[0].results
    lines = [f"## edgebench: run `{first.run_id}`", ""]
    if regressions:
        lines.append(
            f"**{len(regressions)} regressed** since the previous run: "
            + ", ".join(f"`{v}` on {t}" for t, v in regressions)
        )
    elif any(s.comparison for s in data.sections):
        lines.append("No regressions since the previous run.")
    else:
        lines.append("First run on this device: nothing to compare with yet.")
    for s in data.sections:
        res = s.results
        lines += ["", f"### {res.target} on {describe_device(res.device)}", ""]
        header, rows = table_rows(s)
        lines.append("| " + " | ".join(header) + " |")
        lines.append(
            "|" + "|".join("---" if h in ("variant", "status") else "---:" for h in header) + "|"
        )
        for cells, regressed in rows:
            if regressed:
                cells = [f"**{cells[0]}** ⚠"] + cells[1:]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if res.device.emulated:
            lines += ["", f"_CPU emulated ({res.device.emulation_evidence}): latencies are the "
                          "emulator's, not the device's._"]
        continuous = [row[1:] for row in continuous_rows([res])]
        if continuous:
            lines += ["", "Sustained speed and energy per inference:", "",
                      "| " + " | ".join(CONTINUOUS_COLUMNS[1:]) + " |",
                      "|" + "|".join("---" if h in ("variant", "throttling", "meter")
                                     else "---:" for h in CONTINUOUS_COLUMNS[1:]) + "|"]
            lines += ["| " + " | ".join(row) + " |" for row in continuous]
        for key, op_rows in op_profile_rows(s):
            lines += ["", f"Operators of `{key}`:", "",
                      "| " + " | ".join(OP_PROFILE_COLUMNS) + " |", "|---|---:|---:|---:|"]
            lines += ["| " + " | ".join(row) + " |" for row in op_rows]
    return "\n".join(lines) + "\n"
