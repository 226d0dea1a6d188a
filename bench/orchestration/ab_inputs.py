"""What ``edgebench ab BASE CURRENT`` measures: each side is a ``.tflite`` file, a manifest
(``manifest.json`` or its run folder), or a run the history knows (``latest``, ``latest~N``,
``#N``, a run id, a results file), whose models come from the history's model store. The pairs
are the variants both sides have; two single files are one pair."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgebench.bench.judgement.ab_result import AbPair
from edgebench.bench.judgement.history import History, HistoryError, open_history
from edgebench.bench.judgement.run_refs import resolve_ref
from edgebench.errors import EdgebenchError
from edgebench.records import Manifest, Results


@dataclass(frozen=True)
class Side:
    """One side of an A/B: its model files by variant, and what it was."""

    label: str
    models: dict[str, Path]
    single: bool = False  # one .tflite file given by path
    results: Results | None = None  # the run it came from, for a history reference


def is_manifest(ref: str) -> bool:
    path = Path(ref)
    return (path.is_file() and path.name == "manifest.json") or (path / "manifest.json").is_file()


def manifest_models(ref: str) -> dict[str, Path]:
    manifest = Manifest.load(Path(ref))
    return {a.name: manifest.folder / a.path for a in manifest.tflite_artifacts()}


def stored_models(history: History, results: Results) -> dict[str, Path]:
    """A run's model files from the store (HistoryError when they were collected)."""
    row = history.find(results)
    if row is None:
        raise HistoryError(f"run {results.run_id} on {results.target} is not in the history "
                           f"{history.path}; add it with edgebench history --add, then rebench")
    return history.model_files(row)


def resolve_side(ref: str, history_path: Path, target: str | None = None) -> Side:
    """One side of ``ab``."""
    if ref.endswith(".tflite"):
        return Side(ref, {Path(ref).stem: Path(ref)}, single=True)
    if is_manifest(ref):
        return Side(ref, manifest_models(ref))
    try:
        history = open_history(history_path, create=False)
    except HistoryError:
        raise EdgebenchError(f"{ref} is not a .tflite file, a manifest or a run in a history "
                             f"(none at {history_path}); pass a path or --history PATH") from None
    with history:
        runs = resolve_ref(history, ref, target)
        res = runs[0]
        return Side(f"{ref} ({res.run_id}, {res.target})", stored_models(history, res),
                    results=res)


def pair_sides(base: Side, current: Side) -> list[AbPair]:
    """The pairs: every variant in both sides (CURRENT's order); two files are one pair."""
    if base.single or current.single:
        if len(base.models) != 1 or len(current.models) != 1:
            raise EdgebenchError("a .tflite file is compared with one other model: pass two "
                                 ".tflite files, or two manifests or runs")
        (b,), (c,) = base.models.values(), current.models.values()
        return [AbPair(next(iter(current.models)), b, c)]
    pairs = [AbPair(name, base.models[name], path) for name, path in current.models.items()
             if name in base.models]
    if not pairs:
        raise EdgebenchError(f"{base.label} and {current.label} have no variant in common; "
                             f"BASE has {_names(base.models)}, CURRENT {_names(current.models)}")
    return pairs


def _names(models: dict[str, Path]) -> str:
    return ", ".join(list(models)[:5]) or "none"


def resolve_pairs(base: str, current: str, history_path: Path) -> list[AbPair]:
    """The pairs ``edgebench ab BASE CURRENT`` measures."""
    return pair_sides(resolve_side(base, history_path), resolve_side(current, history_path))
