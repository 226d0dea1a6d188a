"""What the report shows, gathered and not yet drawn: each target's run, the comparison with the
run before it on the same device, and its recent history with the regressions in it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise

from edgebench.bench.judgement.compare import (
    Comparison,
    Regression,
    compare_runs,
    spread_from_history,
)
from edgebench.bench.judgement.compare_settings import CompareSettings
from edgebench.bench.judgement.history import History
from edgebench.records import Results

DEFAULT_LAST_N = 20


@dataclass(frozen=True)
class TargetSection:
    """What the report shows about one target: its run, the comparison, its recent history."""

    results: Results
    comparison: Comparison | None = None
    series: tuple[Results, ...] = ()  # oldest first, ending with ``results``
    # (run_id, variant, what regressed): compare's verdicts on each run against the one before
    trend_regressions: tuple[tuple[str, str, Regression], ...] = ()


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, gathered once for the HTML page and the Markdown."""

    sections: tuple[TargetSection, ...]
    settings: CompareSettings
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def regressions(self) -> list[tuple[str, str]]:
        """(target, variant) of every variant that regressed against the previous run."""
        return [
            (s.results.target, c.variant)
            for s in self.sections
            if s.comparison
            for c in s.comparison.changes
            if c.regressed
        ]


def gather(
    current: Sequence[Results],
    history: History | None,
    last_n: int = DEFAULT_LAST_N,
    settings: CompareSettings | None = None,
) -> ReportData:
    """For each target of the run: the previous run on that device and the last N runs."""
    settings = settings or CompareSettings()
    sections = []
    for res in current:
        comparison: Comparison | None = None
        series: tuple[Results, ...] = ()
        marks: tuple[tuple[str, str, Regression], ...] = ()
        row = history.find(res) if history else None
        if history is not None and row is not None:
            series = tuple(history.series(row, last_n))
            steps = [  # the floors compare itself would use: the device's learnt spread
                compare_runs(prev, cur, settings, spread_from_history(history, [prev, cur]))
                for prev, cur in pairwise(series)
            ]
            comparison = steps[-1] if steps else None
            marks = trend_regressions(steps)
        sections.append(TargetSection(res, comparison, series, marks))
    return ReportData(tuple(sections), settings)


def trend_regressions(
    comparisons: Sequence[Comparison],
) -> tuple[tuple[str, str, Regression], ...]:
    """(run_id, variant, metric) for every regression compare found, run after run."""
    return tuple(
        (cmp.current.run_id, change.variant, metric)
        for cmp in comparisons
        for change in cmp.changes
        for metric in change.regressed_metrics
    )
