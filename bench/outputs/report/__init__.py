"""The report: one self-contained HTML file a person opens from disk, and a Markdown summary.

One module per job: ``gather`` (what to show), ``plots`` (the figures), ``tables`` (the table
cells both renderings share), ``html`` and ``markdown`` (the two renderings) and ``write``
(the entry points). Callers import from here.
"""

from __future__ import annotations

from edgebench.bench.outputs.report.gather import ReportData, TargetSection, gather
from edgebench.bench.outputs.report.write import ReportError, make_report, write_report

__all__ = ["ReportData", "ReportError", "TargetSection", "gather", "make_report", "write_report"]
