"""What the report shows, gathered and not yet drawn: each target's run, the comparison with the
run before it on the same device, and its recent history with the regressions in it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from edgebench.bench.compare import CompareSettings, Comparison, Verdict, compare_runs
from edgebench.bench.history import History
from edgebench.records import Results

DEFAULT_LAST_N = 20


@dataclass(frozen=True)
class TargetSection:
    """What the report shows about one target: its run, the comparison, its recent history."""

    results: Results
    comparison: Comparison | None = None
    series: tuple[Results, ...] = ()  # oldest first, ending with ``results``
    trend_regressions: tuple[tuple[str, str, str], ...] = ()  # (run_id, variant, metric)


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
        comparison, series, marks = None, (), ()
        row = history.find(res) if history else None
        if row is not None:
            series = tuple(history.series(row, last_n))
            if len(series) >= 2:
                comparison = compare_runs(series[-2], series[-1], settings)
            marks = tuple(trend_regressions(series, settings))
        sections.append(TargetSection(res, comparison, series, marks))
    return ReportData(tuple(sections), settings)


def trend_regressions(series: Sequence[Results], settings: CompareSettings):
    """(run_id, variant, metric) wherever a run regressed against the run before it."""
    for prev, cur in zip(series, series[1:], strict=False):
        for c in compare_runs(prev, cur, settings).changes:
            if c.latency is not None and c.latency.verdict is Verdict.SLOWER:
                yield cur.run_id, c.variant, "p50"
                yield cur.run_id, c.variant, "p90"
            if (c.zip_delta_bytes or 0) > 0:
                yield cur.run_id, c.variant, "zip"
            if (c.accuracy_delta or 0) < 0:
                yield cur.run_id, c.variant, "accuracy"
            if c.memory_verdict is Verdict.LARGER:
                yield cur.run_id, c.variant, "peak"
