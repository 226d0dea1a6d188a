"""``compare --rebench`` and ``gate --against REF --rebench``: latency judged by measuring the
base run's stored model files and the current files side by side, now, on the current run's
target (:mod:`edgebench.bench.orchestration.ab`), instead of from two records taken hours
apart. Sizes, accuracy and fidelity stay exact, from the records.

Only runs of the same target and device are compared (``compare_runs`` refuses the others
before this runs), and the base run's files must still be in the history's model store.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from edgebench.bench.judgement.ab_result import AbPair
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.judgement.compare import Comparison
from edgebench.bench.judgement.history import open_history
from edgebench.bench.orchestration.ab import Progress, run_ab
from edgebench.bench.orchestration.ab_inputs import stored_models
from edgebench.errors import EdgebenchError


def rebench_pairs(cmp: Comparison, history_path: Path) -> list[AbPair]:
    """The variants both runs measured successfully: the base's stored file against the
    current's file (on disk, else stored)."""
    with open_history(history_path, create=False) as history:
        base_files = stored_models(history, cmp.base)
        try:
            current_files = stored_models(history, cmp.current)
        except EdgebenchError:
            current_files = {}
    pairs = []
    for c in cmp.changes:
        if c.base is None or c.current is None or not (c.base.ok and c.current.ok):
            continue
        name = c.record.variant
        on_disk = Path(c.current.model_path)
        current = on_disk if on_disk.is_file() else current_files.get(name)
        if name in base_files and current is not None:
            pairs.append(AbPair(name, base_files[name], current))
    return list({p.name: p for p in pairs}.values())


def rebench(comparisons: list[Comparison], history_path: Path,
            settings: AbSettings | None = None,
            progress: Progress | None = None) -> list[Comparison]:
    """Each comparison with its latency verdicts re-measured side by side."""
    out = []
    for cmp in comparisons:
        pairs = rebench_pairs(cmp, history_path)
        if not pairs:
            out.append(cmp)
            continue
        s = replace(settings or AbSettings(), target=cmp.current.target)
        report = run_ab(pairs, s, progress)
        by_name = {r.pair.name: r for r in report.results}
        changes = tuple(replace(c, ab=by_name.get(c.record.variant)) for c in cmp.changes)
        notes = (*cmp.notes, f"latency re-measured side by side on {report.target} "
                 f"({report.measure}, {report.wall_s:.0f} s)")
        out.append(replace(cmp, changes=changes, notes=notes))
    return out
