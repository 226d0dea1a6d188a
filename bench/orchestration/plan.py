"""What the bench stage will measure: a plan from a build manifest, or from loose .tflite files.

A plan names every model with the facts the host already knows (file and zipped size,
operators, whether labelled data exists) and any host-side problem found before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edgebench.bench.device.runner.evaldata import eval_shard_paths
from edgebench.errors import EdgebenchError, ModelFileError
from edgebench.files import zip_bytes
from edgebench.records import Manifest, OpInfo


@dataclass(frozen=True)
class BenchItem:
    """One model to measure, with the facts the host already knows about it."""

    variant: str
    path: Path
    file_bytes: int
    zip_bytes: int
    compression_ratio: float | None = None
    ops: tuple[OpInfo, ...] = ()
    labelled: bool = False  # evaluated on the plan's eval data (accuracy and/or fidelity)
    problem: str | None = None  # a host-side check already failed: record it, don't run it
    # Another process of a model already measured (--repeats): it times invoke() only, with
    # no continuous run (--sustained, --power); the scheduler also drops its evaluation.
    repeat: bool = False

    def facts(self) -> dict:
        """What the host knows about this model, as Record fields."""
        return dict(
            variant=self.variant,
            model_path=str(self.path),
            file_bytes=self.file_bytes,
            zip_bytes=self.zip_bytes,
            compression_ratio=self.compression_ratio,
        )


@dataclass(frozen=True)
class BenchPlan:
    """Everything the bench stage will run: from a manifest, or from loose .tflite files."""

    run_id: str
    items: tuple[BenchItem, ...]
    eval_data: Path | None  # the folder of evaluation shards (runner/evaldata.py's format)
    manifest: Path | None = None

    def eval_shards(self) -> list[Path]:
        """The evaluation shards, in order (empty without eval data)."""
        if self.eval_data is None:
            return []
        return [Path(p) for p in eval_shard_paths(self.eval_data)]


def check_tflite_file(path: Path) -> None:
    """Cheap host-side checks that name the fix: missing, empty, or not a TFLite flatbuffer."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file; check the path")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{path}: the file is empty (0 bytes); rebuild or re-copy it")
    with path.open("rb") as fh:
        head = fh.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise ModelFileError(
            f"{path}: not a TFLite model (no TFL3 identifier); convert it with "
            "tf.lite.TFLiteConverter or pass the .tflite file, not the Keras model"
        )


def plan_from_inputs(inputs: Sequence[Path], run_id: str | None = None) -> BenchPlan:
    """Turn the command line's positional inputs into a plan.

    One manifest (or a run folder holding ``manifest.json``), or any number of ``.tflite`` files.
    """
    if not inputs:
        raise EdgebenchError("give a manifest.json (from edgebench build) or .tflite files")
    paths = [Path(p) for p in inputs]
    manifests = [p for p in paths if p.suffix == ".json" or p.is_dir()]
    if manifests:
        if len(paths) != 1:
            raise EdgebenchError("give one manifest, or .tflite files, not both")
        mpath = paths[0] / "manifest.json" if paths[0].is_dir() else paths[0]
        return plan_from_manifest(mpath)
    items: list[BenchItem] = []
    for p in paths:
        problem = None
        try:
            check_tflite_file(p)
        except ModelFileError as exc:
            problem = str(exc)
        exists = p.is_file()
        items.append(
            BenchItem(
                variant=_unique_name(p.stem, items),
                path=p.resolve() if exists else p,
                file_bytes=p.stat().st_size if exists else 0,
                zip_bytes=zip_bytes(p) if exists else 0,
                problem=problem,
            )
        )
    return BenchPlan(run_id=run_id or new_run_id(), items=tuple(items), eval_data=None)


def plan_from_manifest(path: Path) -> BenchPlan:
    """The TFLite artifacts of a build manifest, with the eval data when it has labels."""
    manifest = Manifest.load(path)
    folder = path.parent
    items = []
    for a in manifest.tflite_artifacts():
        p = folder / a.path
        problem = None
        try:
            check_tflite_file(p)
        except ModelFileError as exc:
            problem = str(exc)
        items.append(
            BenchItem(
                variant=a.name,
                path=p.resolve() if p.exists() else p,
                file_bytes=p.stat().st_size if p.exists() else a.file_bytes,
                zip_bytes=zip_bytes(p) if p.is_file() else a.zip_bytes,
                compression_ratio=a.compression_ratio,
                ops=a.ops,
                labelled=manifest.eval_data is not None,
                problem=problem,
            )
        )
    eval_path = folder / manifest.eval_data if manifest.eval_data else None
    if eval_path is not None and not (eval_path.is_dir() and eval_shard_paths(eval_path)):
        raise EdgebenchError(f"{eval_path} is missing; rerun edgebench build for this run")
    return BenchPlan(
        run_id=manifest.run_id,
        items=tuple(items),
        eval_data=eval_path,
        manifest=path.resolve(),
    )


def _unique_name(stem: str, items: Sequence[BenchItem]) -> str:
    taken = {i.variant for i in items}
    name, k = stem, 2
    while name in taken:
        name, k = f"{stem}-{k}", k + 1
    return name


def new_run_id() -> str:
    """A sortable run id from the current UTC time."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def new_build_dir(out: Path, run: str | None) -> Path:
    """The folder a build or sweep writes: ``<out>/<run>`` (default: a new run id), refused if
    it already holds a build, so nothing already written is overwritten."""
    run_dir = Path(out) / (run or new_run_id())
    if (run_dir / "manifest.json").exists():
        raise EdgebenchError(
            f"{run_dir} already holds a build; choose another --run name or delete that folder"
        )
    return run_dir
