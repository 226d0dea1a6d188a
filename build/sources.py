"""Where the dense model comes from, and what its inputs and outputs are.

- a builtin model (``[model] builtin``), trained here;
- a tf-keras ``.keras`` / ``.h5`` file, used as the trained baseline as it is;
- a Keras 3 ``.keras`` / ``.h5`` file (today's TensorFlow default), rebuilt as a tf-keras model
  from its config and weights (build/keras3.py), because tfmot needs tf-keras;
- a SavedModel folder: converted to the quantisation variants, never pruned (tfmot needs Keras
  layers, and only tf-keras SavedModels load back as Keras models).

A ``.tflite`` file cannot be rebuilt or pruned: it is benched as it is, and serves as the float
reference of ``edgebench bench q.tflite --reference f.tflite``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgebench.build import keras3
from edgebench.build._tf import import_tf
from edgebench.errors import ConfigError, ModelFileError

KERAS_SUFFIXES = (".keras", ".h5")


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model: its name and the shape of one sample (no batch)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class ModelSource:
    """The dense model and its interface. ``model`` is None for a SavedModel (convert-only)."""

    kind: str  # "builtin", "tf_keras", "keras3", "saved_model"
    path: Path | None
    model: Any
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    signature: str | None = None  # the SavedModel signature converted
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def prunable(self) -> bool:
        """Whether recipes can run: tfmot needs the model's Keras layers."""
        return self.model is not None

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def describe(self) -> dict[str, Any]:
        """For the manifest: what the model came from and its interface."""
        out: dict[str, Any] = {"kind": self.kind, "path": str(self.path) if self.path else None}
        out["inputs"] = {t.name: list(t.shape) for t in self.inputs}
        out["outputs"] = {t.name: list(t.shape) for t in self.outputs}
        if self.signature:
            out["signature"] = self.signature
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def check_model_path(path: Path) -> str:
    """The kind of model file at ``path``, checked without TensorFlow (fails in a second).

    Returns "keras" (a .keras / .h5 file) or "saved_model" (a folder).
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model {path} does not exist; check [model] path or --model")
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "saved_model"
        raise ModelFileError(
            f"{path} is a folder without saved_model.pb, so not a SavedModel; give a "
            ".keras or .h5 file, or a folder written by model.export() or tf.saved_model.save"
        )
    if path.suffix == ".tflite":
        raise ModelFileError(
            f"{path} is a TFLite model, which edgebench cannot rebuild or prune; bench it as it "
            f"is (edgebench bench {path.name}), or use it as the float reference of another "
            f"variant (edgebench bench q.tflite --reference {path.name})"
        )
    if path.suffix not in KERAS_SUFFIXES:
        raise ModelFileError(
            f"{path} is neither a .keras or .h5 file nor a SavedModel folder; save the model "
            "with model.save('model.keras') or model.export('folder')"
        )
    if path.stat().st_size == 0:
        raise ModelFileError(f"model file {path} is empty (0 bytes); save the model again")
    return "keras"


def import_custom_objects(spec: str | None, base_dir: Path) -> None:
    """Import the module that registers the user's tf-keras layers (``[model] custom_objects``:
    a module name, or a .py file relative to the config)."""
    if not spec:
        return
    try:
        if spec.endswith(".py"):
            path = Path(spec) if Path(spec).is_absolute() else base_dir / spec
            if not path.is_file():
                raise ConfigError(
                    f"[model] custom_objects = {spec!r}: {path} does not exist; give a .py "
                    "file relative to the pipeline config, or an importable module"
                )
            name = f"_edgebench_layers_{path.stem}"
            if name in sys.modules:  # imported already: registering a class twice is an error
                return
            unit = importlib.util.spec_from_file_location(name, path)
            assert unit is not None and unit.loader is not None
            module = importlib.util.module_from_spec(unit)
            sys.modules[unit.name] = module
            unit.loader.exec_module(module)
        else:
            importlib.import_module(spec)
    except ConfigError:
        raise
    except Exception as exc:  # whatever the user's module raises while importing
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ConfigError(
            f"[model] custom_objects = {spec!r}: cannot import it ({type(exc).__name__}: "
            f"{first}); fix the module"
        ) from None


def load_source(path: Path, custom_objects: str | None = None,
                base_dir: Path | None = None) -> ModelSource:
    """The user's model at ``path`` (a .keras / .h5 file or a SavedModel folder)."""
    path = Path(path)
    kind = check_model_path(path)
    import_custom_objects(custom_objects, base_dir or Path.cwd())
    if kind == "saved_model":
        return saved_model_source(path)
    if (path.suffix == ".keras" and keras3.is_keras3_file(path)) or (
        path.suffix == ".h5" and keras3.is_keras3_h5(path)
    ):
        convert = keras3.keras3_to_tfkeras if path.suffix == ".keras" else (
            keras3.keras3_h5_to_tfkeras
        )
        model, report = convert(path)
        notes = tuple(f"Keras 3 option dropped: {d}" for d in report.dropped)
        return keras_source("keras3", path, model, notes)
    return keras_source("tf_keras", path, load_keras_model(path))


def load_keras_model(path: Path) -> Any:
    """Load a tf-keras .keras / .h5 model (uncompiled); a broken file is a ModelFileError."""
    _, keras, _ = import_tf()
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist; check [model] path or --model")
    if path.stat().st_size == 0:
        raise ModelFileError(f"model file {path} is empty (0 bytes); save the model again")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # h5py, zipfile and Keras raise many types for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(
            f"cannot load {path} as a Keras model ({first[:200]}); save it again with "
            "model.save('model.keras')"
        ) from None


def keras_source(kind: str, path: Path | None, model: Any,
                 notes: tuple[str, ...] = ()) -> ModelSource:
    """A tf-keras model's interface: its input and output names and sample shapes."""
    inputs = tuple(
        TensorSpec(name, _shape(t.shape), t.dtype.name)
        for name, t in zip(model.input_names, model.inputs, strict=True)
    )
    outputs = tuple(
        TensorSpec(name, _shape(t.shape), t.dtype.name)
        for name, t in zip(model.output_names, model.outputs, strict=True)
    )
    return ModelSource(kind, path, model, inputs, outputs, notes=notes)


def _shape(shape: Any) -> tuple[int | None, ...]:
    dims = list(shape)[1:]
    return tuple(None if d is None else int(d) for d in dims)


# --------------------------------------------------------------------------- SavedModel


def saved_model_source(path: Path, signature_key: str | None = None) -> ModelSource:
    """A SavedModel's signature to convert: ``serving_default``, else the only one."""
    tf, _, _ = import_tf()
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:  # protobuf and TensorFlow raise many types for a bad folder
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelFileError(f"cannot load SavedModel {path} ({first}); export it again") from None
    keys = sorted(loaded.signatures.keys())
    if not keys:
        raise ModelFileError(
            f"SavedModel {path} has no signatures; export it with model.export(path) or "
            "tf.saved_model.save(model, path, signatures=...)"
        )
    if signature_key is None:
        if "serving_default" in keys:
            signature_key = "serving_default"
        elif len(keys) == 1:
            signature_key = keys[0]
        else:
            raise ModelFileError(
                f"SavedModel {path} has signatures {keys} and none is serving_default; "
                "export the one to bench as serving_default"
            )
    fn = loaded.signatures[signature_key]
    _, specs = fn.structured_input_signature
    outs = fn.structured_outputs
    inputs = tuple(
        TensorSpec(name, _shape(s.shape), s.dtype.name) for name, s in sorted(specs.items())
    )
    outputs = tuple(
        TensorSpec(name, _shape(s.shape), s.dtype.name) for name, s in sorted(outs.items())
    )
    return ModelSource("saved_model", path, None, inputs, outputs, signature=signature_key)


def saved_model_outputs(path: Path, signature_key: str,
                        feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The SavedModel's own outputs on ``feeds`` (the guard against a broken conversion)."""
    tf, _, _ = import_tf()
    fn = tf.saved_model.load(str(path)).signatures[signature_key]
    out = fn(**{k: tf.constant(v) for k, v in feeds.items()})
    return {k: np.asarray(v.numpy(), dtype=np.float32) for k, v in out.items()}
