"""Which runs a comparison takes: results files, run folders, and references into the history
(``latest``, ``latest~N``, ``#N``, a run id), paired by target."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edgebench.bench.judgement.compare import Comparison, compare_runs, spread_from_history
from edgebench.bench.judgement.compare_settings import (
    CompareError,
    CompareSettings,
    NothingToCompare,
)
from edgebench.bench.judgement.history import History, HistoryError, open_history
from edgebench.records import Results


def load_results_paths(path: Path) -> list[Results]:
    """Results from a results file or every results-*.json of a run folder."""
    path = Path(path)
    files = sorted(path.glob("results-*.json")) if path.is_dir() else [path]
    if not files:
        raise CompareError(f"{path} holds no results-*.json; run edgebench bench first")
    return [Results.load(f) for f in files]


def resolve_ref(history: History | None, ref: str, target: str | None = None) -> list[Results]:
    """The results (one per target) a reference names.

    A reference is a results file or run folder on disk, ``latest`` or ``latest~N`` (the N-th
    bench before the newest in the history), ``#N`` (bench number N), or a run id as listed by
    ``edgebench history`` (its newest bench, when the same build was benched more than once).
    """
    if Path(ref).exists() and (Path(ref).is_dir() or ref.endswith(".json")):
        found = load_results_paths(Path(ref))
    else:
        if history is None:
            raise CompareError(
                f"{ref} is not a results file or run folder, and there is no history"
            )
        found = [history.load(row) for row in history.rows_of(_bench_of(history, ref, target))]
    if target is not None:
        found = [r for r in found if r.target == target]
        if not found:
            raise CompareError(f"{ref} has no results for target {target}; see edgebench history")
    return found


def load_ref(history_path: Path, ref: str, target: str | None = None) -> list[Results]:
    """:func:`resolve_ref`, opening the history only when the reference is not a path."""
    if Path(ref).exists() and (Path(ref).is_dir() or ref.endswith(".json")):
        return resolve_ref(None, ref, target)
    with open_history(history_path, create=False) as history:
        return resolve_ref(history, ref, target)


def _bench_of(history: History, ref: str, target: str | None) -> int:
    """The bench number a history reference names: latest~N, #N, or the newest bench of a run id."""
    if ref == "latest" or ref.startswith("latest~"):
        back = ref.partition("~")[2] or "0"
        if not back.isdigit():
            raise CompareError(f"{ref!r}: write latest~N with a whole number N, e.g. latest~1")
        benches = history.benches(target)
        if int(back) >= len(benches):
            raise CompareError(
                f"{ref}: the history {history.path} holds {len(benches)} run(s)"
                + (f" of {target}" if target else "")
                + "; bench more runs or name one from edgebench history"
            )
        return benches[int(back)]
    if ref.startswith("#") and ref[1:].isdigit():
        if not history.rows_of(int(ref[1:])):
            raise CompareError(f"no bench {ref} in {history.path}; see edgebench history")
        return int(ref[1:])
    benches = history.benches(target, run_id=ref)
    if not benches:
        raise CompareError(
            f"no run {ref!r} in {history.path}; name a run id or #N from edgebench history, "
            "latest~N, or a results file"
        )
    return benches[0]


def pair_runs(base: Sequence[Results], current: Sequence[Results]) -> list[tuple[Results, Results]]:
    """Pair results by target; targets that only one side has are an error, not a silence."""
    by_target = {r.target: r for r in base}
    pairs = [(by_target[c.target], c) for c in current if c.target in by_target]
    if not pairs:
        raise CompareError(
            f"the runs share no target (base: {', '.join(r.target for r in base)}; current: "
            f"{', '.join(r.target for r in current)}); compare runs of the same target"
        )
    return pairs


def default_pairs(history: History, target: str | None = None) -> list[tuple[Results, Results]]:
    """The latest run (each of its targets) and the run before it on the same target and device."""
    benches = history.benches(target)
    if not benches:
        raise HistoryError(
            f"the history {history.path} is empty; run edgebench bench (twice) first"
        )
    pairs, first = [], []
    for row in history.rows_of(benches[0], target):
        prev = history.previous(row)
        if prev is None:
            first.append(row)
            continue
        pairs.append((history.load(prev), history.load(row)))
    if not pairs:
        row = first[0]
        raise NothingToCompare(
            f"run {row.run_id} is the first run of {row.target} on {row.device_name} in "
            f"{history.path}: nothing to compare with yet; the next bench will be"
        )
    return pairs


def comparisons_for(
    history_path: Path,
    base_ref: str | None,
    current_ref: str | None,
    target: str | None,
    settings: CompareSettings,
) -> list[Comparison]:
    """What ``edgebench compare`` compares: defaults from the history, else the named runs."""
    needs_history = (
        base_ref is None
        or current_ref is None
        or not all(Path(r).exists() for r in (base_ref, current_ref))
    )
    history = open_history(history_path, create=False) if needs_history else None
    try:
        if base_ref is None:
            assert history is not None  # needs_history
            pairs = default_pairs(history, target)
        else:
            base = resolve_ref(history, base_ref, target)
            current = resolve_ref(history, current_ref or "latest", target)
            pairs = pair_runs(base, current)
        return [
            compare_runs(b, c, settings, spread_from_history(history, [b, c])) for b, c in pairs
        ]
    finally:
        if history is not None:
            history.close()
