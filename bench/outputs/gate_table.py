"""The gate's verdict as a table a person and a CI log can both read."""

from __future__ import annotations

from edgebench.bench.judgement.gate import GateReport


def format_report(report: GateReport, failures_only: bool = False) -> str:
    """A table a person and a CI log can both read, then one verdict line."""
    shown = report.failures if failures_only else report.checks
    rows = [("", "target", "variant", "check")]
    for c in shown:
        rows.append(("PASS" if c.passed else "FAIL", c.target, c.variant, c.describe()))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
        for r in rows
    ]
    n_fail = len(report.failures)
    n = len(report.checks)
    checks = f"{n} check" + ("" if n == 1 else "s")
    verdict = (
        f"gate: PASSED, {checks}" if report.passed else f"gate: FAILED, {n_fail} of {checks} failed"
    )
    return "\n".join((lines if shown else []) + [verdict])
