"""What the build stage made (``manifest.json``): the bench stage's input."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebench.errors import SchemaError
from edgebench.files import write_json_atomic
from edgebench.records.kinds import VariantKind
from edgebench.records.serial import NOT_SAVED, from_dict, read_versioned, to_dict
from edgebench.records.stats import OutputFidelity

MANIFEST_SCHEMA_VERSION = 2  # 2: evaluation shards with preprocessing and reference outputs


@dataclass(frozen=True)
class OpInfo:
    """One operator a TFLite model needs, with the version the converter wrote."""

    name: str
    version: int


@dataclass(frozen=True)
class Artifact:
    """One built file: a Keras model or a TFLite variant, with the facts the guide measures."""

    name: str  # "<recipe>/<kind>", e.g. "pruned/int8"; globbed by budgets
    recipe: str
    kind: str  # a VariantKind value
    path: str  # relative to the manifest's folder
    file_bytes: int
    zip_bytes: int
    params: int
    nonzero_params: int
    compression_ratio: float  # dense baseline Keras zip bytes / this zip bytes
    host_accuracy: float | None
    layer_sparsity: dict[str, float] = field(default_factory=dict)
    ops: tuple[OpInfo, ...] = ()
    input_dtype: str | None = None
    output_dtype: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Output fidelity against the reference model on the host (TFLite variants only).
    fidelity: tuple[OutputFidelity, ...] = ()

    @property
    def is_tflite(self) -> bool:
        return self.kind != VariantKind.KERAS.value


@dataclass(frozen=True)
class DatasetInfo:
    """Where the data came from and how much of it was used."""

    name: str
    source: str
    n_train: int
    n_test: int
    num_classes: int | None  # None: the data has no labels
    labelled: bool = True
    preprocess: dict[str, str] = field(default_factory=dict)  # input name -> mode
    metric: str | None = "top1"  # the accuracy metric, where there are labels
    inputs: tuple[str, ...] = ()  # the model's input names, in order
    outputs: tuple[str, ...] = ()  # the model's output names, in order


@dataclass(frozen=True)
class Manifest:
    """What the build stage made. The bench stage's input."""

    run_id: str
    created_at: str
    config_path: str | None
    config_sha256: str | None
    dataset: DatasetInfo | None
    # The evaluation shards' folder, relative to the manifest folder (see bench/runner.py).
    eval_data: str | None
    baseline: str  # name of the dense baseline Keras artifact
    artifacts: tuple[Artifact, ...]
    versions: dict[str, str] = field(default_factory=dict)
    schema_version: int = MANIFEST_SCHEMA_VERSION
    # edgebench sweep: the chosen variant's file (relative to the manifest's folder), and the
    # search itself: floor, every trial, the Pareto front, wall times.
    chosen: str | None = None
    sweep: dict[str, Any] | None = None
    # The float32 reference model every variant's outputs are held to (relative path), and
    # the variant name it has among the artifacts, if any.
    reference: str | None = None
    reference_variant: str | None = None
    # What the model came from: {"kind": builtin | tf_keras | keras3 | saved_model, "path": …}
    model_source: dict[str, Any] = field(default_factory=dict)
    # Recipes that did not run, and why (a SavedModel cannot be pruned: no Keras layers).
    skipped_recipes: dict[str, str] = field(default_factory=dict)
    #: where this manifest was loaded from or saved to; not part of the file
    path: Path | None = field(default=None, compare=False, repr=False, metadata=NOT_SAVED)

    def artifact(self, name: str) -> Artifact:
        for a in self.artifacts:
            if a.name == name:
                return a
        known = ", ".join(a.name for a in self.artifacts)
        raise KeyError(f"no artifact named {name!r}; known: {known}")

    def tflite_artifacts(self) -> list[Artifact]:
        return [a for a in self.artifacts if a.is_tflite]

    @property
    def folder(self) -> Path:
        """The run folder the artifacts' paths are relative to."""
        if self.path is None:
            raise ValueError(f"manifest {self.run_id} was neither loaded nor saved; no folder")
        return self.path.parent

    def save(self, path: Path) -> Manifest:
        """Write the manifest atomically; returns it with :attr:`path` set."""
        write_json_atomic(path, to_dict(self))
        return dataclasses.replace(self, path=Path(path).resolve())

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """A manifest.json, or the run folder that holds one."""
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        data = read_versioned(path, "manifest", MANIFEST_SCHEMA_VERSION, _MANIFEST_UPGRADES)
        return dataclasses.replace(from_dict(cls, data), path=path.resolve())


# Old schema versions are migrated by small functions: {from_version: upgrade_from_N}.


def manifest_upgrade_from_1(data: dict) -> dict:
    """Schema 1 shipped one eval.npz (x, y, x_scale) that the runner loaded whole; schema 2
    streams shards with preprocessing and reference outputs. The shards need the models'
    outputs, which only a build can make, so an old manifest is refused with the fix."""
    raise SchemaError(
        f"manifest {data.get('run_id', '')!r} was built by an older edgebench (manifest schema "
        "1, one eval.npz); rebuild it with edgebench build (the evaluation data is now sharded "
        "with reference outputs)"
    )


_MANIFEST_UPGRADES: dict[int, Callable[[dict], dict]] = {1: manifest_upgrade_from_1}
