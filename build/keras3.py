"""Keras 3 model files rebuilt as tf-keras models, so tfmot can prune them.

TensorFlow >= 2.16 saves Keras 3 ``.keras`` zips, which ``tf_keras.models.load_model`` refuses
("Could not deserialize class 'Functional'…"), and tfmot works only with tf-keras: its
maintainers have no plan to support Keras 3 (tensorflow/model-optimization#1119) and Keras's say
that loading across Keras 2 and 3 is not supported (keras-team/keras#20081). There is no
official converter, so edgebench reads the file format itself, with no Keras 3 import:

* ``config.json`` is translated into tf-keras's legacy model config (Keras-3-only keys dropped,
  dtype policies flattened, ``batch_shape`` renamed, ``inbound_nodes`` rewritten) and built
  with ``model_from_json``;
* ``model.weights.h5`` is read with h5py and matched layer by layer: groups are named
  ``layers/<snake_case(class)>[_k]`` in ``model.layers`` order, each checked against the
  layer name Keras 3 stores beside it, sub-layers (MultiHeadAttention's query/key/value) by
  name, every shape checked.

A Keras 3 ``.h5`` takes the same config translation, then tf-keras's own ``load_weights``.
A layer that cannot be rebuilt (a custom class without a tf-keras twin, a Lambda, a raw
``keras.ops`` call, a Keras-3-only option) is a :class:`~edgebench.errors.ModelFileError` that
names the layer and the fix. Traps handled, each found on a real model: ``training=True``
recorded in the node of random layers (would flip images at inference), MultiHeadAttention's
shapes, mixed-precision policies (tfmot cannot prune them: rebuilt in float32).
"""

from __future__ import annotations

import inspect
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from edgebench.build._tf import import_tf
from edgebench.errors import ModelFileError


class ConversionError(ModelFileError):
    """A Keras 3 model that cannot be rebuilt in tf-keras; the message names layer and fix."""


#: How to get around a layer that cannot be rebuilt, appended to each such message.
EXPORT_HINT = (
    "or export the model with model.export(DIR) and give edgebench that folder (converted and "
    "benched, not pruned)"
)
# Keys Keras 3 adds to a serialized object or layer entry that tf-keras's legacy format lacks.
_K3_ENTRY_KEYS = ("module", "registered_name", "build_config", "compile_config",
                  "shared_object_id")
_MODEL_CLASSES = ("Functional", "Sequential", "Model")
_DTYPE_POLICIES = ("DTypePolicy", "FloatDTypePolicy", "Policy", "QuantizedDTypePolicy",
                   "QuantizedFloat8DTypePolicy")
# tf-keras base Layer accepts these through **kwargs (base_layer.Layer.__init__).
_BASE_LAYER_KWARGS = {"name", "trainable", "dtype", "dynamic", "input_dim", "input_shape",
                      "batch_input_shape", "batch_size", "weights", "activity_regularizer",
                      "autocast", "implementation"}
# Keys whose non-default value changes what a layer computes: dropping them is an error.
_SEMANTIC_DEFAULTS: dict[str, Any] = {"lora_rank": None, "quantization_config": None,
                                      "groups": 1, "use_gate": False, "sliding_window": None,
                                      "flash_attention": None}


@dataclass
class Keras3Archive:
    """The three members of a Keras 3 ``.keras`` zip."""

    path: Path
    config: dict[str, Any]
    metadata: dict[str, Any]
    weights_h5: bytes


@dataclass
class Report:
    """What the translation changed or dropped (for a log line), and how weights were matched."""

    dropped: list[str] = field(default_factory=list)
    float32: bool = False  # rewrite mixed_float16 / mixed_bfloat16 policies to float32
    weight_route: str = ""
    layers_with_weights: int = 0


def to_snake_case(name: str) -> str:
    """Keras 3's ``naming.to_snake_case``: how it names a layer's group in model.weights.h5."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def read_keras3_archive(path: Path) -> Keras3Archive:
    """Read config.json, metadata.json and model.weights.h5 from a ``.keras`` zip."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            missing = {"config.json", "model.weights.h5"} - names
            if missing:
                raise ConversionError(
                    f"the zip lacks {', '.join(sorted(missing))}; it is not a Keras 3 .keras "
                    "file (save it with model.save('model.keras'))"
                )
            config = json.loads(zf.read("config.json"))
            metadata = json.loads(zf.read("metadata.json")) if "metadata.json" in names else {}
            weights = zf.read("model.weights.h5")
    except zipfile.BadZipFile:
        raise ConversionError("not a zip, so not a Keras 3 .keras file; save it again") from None
    return Keras3Archive(path, config, metadata, weights)


def is_keras3_file(path: Path) -> bool:
    """True for a .keras zip written by Keras 3 (metadata keras_version 3.x)."""
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("metadata.json"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return False
    return str(meta.get("keras_version", "")).startswith("3.")


# --------------------------------------------------------------------------- config


def _tfk() -> Any:
    return import_tf()[1]


def _layer_class(class_name: str, registered: str | None, custom: dict[str, Any]) -> Any:
    """The tf-keras class for a Keras 3 layer entry, or None when none is known."""
    for key in (registered, class_name):
        if key and key in custom:
            return custom[key]
    tfk = _tfk()
    cls = getattr(tfk.layers, class_name, None)
    if cls is None and class_name in _MODEL_CLASSES:
        cls = {"Functional": tfk.Model, "Sequential": tfk.Sequential, "Model": tfk.Model}[
            class_name
        ]
    if cls is None:
        cls = tfk.saving.get_registered_object(registered or class_name)
    return cls


def _accepted_kwargs(cls: Any) -> set[str] | None:
    """Constructor keywords of a tf-keras class (walking **kwargs up the MRO); None = any."""
    names: set[str] = set()
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names - {"self"}
        if klass.__module__.startswith("tf_keras.src.engine.base_layer"):
            return (names | _BASE_LAYER_KWARGS) - {"self"}
    return None


def _plain(obj: Any, report: Report, where: str) -> Any:
    """Strip Keras 3 serialization wrappers from a nested value (initializers, dtypes...)."""
    if isinstance(obj, list):
        return [_plain(v, report, where) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "class_name" in obj and "config" in obj and ("module" in obj or "registered_name" in obj):
        cn, cfg, module = obj["class_name"], obj["config"], obj.get("module") or ""
        if cn in _DTYPE_POLICIES:
            name = cfg["name"] if isinstance(cfg, dict) else cfg
            if report.float32 and name.startswith("mixed_"):
                report.dropped.append(f"{where}: dtype {name} -> float32")
                return "float32"
            return name
        if cn == "function" or cn == "builtins.function":  # a serialized activation function
            return cfg
        if cn == "__tensor__":  # a constant array, e.g. Normalization's mean
            return np.asarray(cfg["value"], dtype=cfg.get("dtype")).tolist()
        inner = _plain(cfg, report, where)
        if isinstance(inner, dict) and module.split(".")[1:2] in (
            ["initializers"], ["regularizers"], ["constraints"]
        ):
            inner = _filter_object_config(module, cn, inner, report, where)
        return {"class_name": cn, "config": inner}
    return {k: _plain(v, report, where) for k, v in obj.items() if k != "shared_object_id"}


def _filter_object_config(
    module: str, cn: str, cfg: dict[str, Any], report: Report, where: str
) -> dict[str, Any]:
    kind = module.split(".")[1]
    cls = getattr(getattr(_tfk(), kind), cn, None)
    allowed = _accepted_kwargs(cls) if cls is not None else None
    if allowed is None:
        return cfg
    for key in sorted(set(cfg) - allowed):
        if cfg[key] is not None:
            report.dropped.append(f"{where}: {cn}.{key}={cfg[key]!r}")
    return {k: v for k, v in cfg.items() if k in allowed}


def _translate_layer_config(
    cn: str, cls: Any, cfg: dict[str, Any], report: Report, where: str
) -> dict[str, Any]:
    cfg = _plain(cfg, report, where)
    if cn == "InputLayer":
        if "batch_shape" in cfg:
            cfg["batch_input_shape"] = cfg.pop("batch_shape")
        if "shape" in cfg:  # some Keras 3 versions write shape + batch_size
            cfg["batch_input_shape"] = [cfg.pop("batch_size", None), *cfg.pop("shape")]
        cfg.pop("optional", None)
        return cfg
    allowed = _accepted_kwargs(cls)
    if allowed is None:
        return cfg
    for key in sorted(set(cfg) - allowed):
        value = cfg.pop(key)
        if key in _SEMANTIC_DEFAULTS and value != _SEMANTIC_DEFAULTS[key]:
            raise ConversionError(
                f"layer {where!r} ({cn}) uses {key}={value!r}, which tf-keras's {cn} does not "
                "have, so edgebench cannot rebuild it for pruning; " + EXPORT_HINT
            )
        if value not in (None, False, {}, []):
            report.dropped.append(f"{where}: {key}={value!r}")
    return cfg


def _tensor_ref(t: Any) -> list[Any] | None:
    if isinstance(t, dict) and t.get("class_name") == "__keras_tensor__":
        name, node, index = t["config"]["keras_history"]
        return [name, node, index]
    return None


def _kwargs_refs(value: Any) -> Any:
    """Keras tensors inside call kwargs -> tf-keras's ``[layer, node, tensor]`` references."""
    ref = _tensor_ref(value)
    if ref is not None:
        return ref
    if isinstance(value, list):
        return [_kwargs_refs(v) for v in value]
    if isinstance(value, dict):
        return {k: _kwargs_refs(v) for k, v in value.items()}
    return value


def _translate_node(node: Any, cls: Any, layer: str) -> list[Any]:
    """Keras 3 ``{"args": […], "kwargs": {…}}`` -> tf-keras ``[[name, node, tensor, kw], …]``."""
    if isinstance(node, list):  # already the legacy form
        return node
    args, kwargs = list(node.get("args", [])), dict(node.get("kwargs", {}))
    # Keras 3 records training=True for random/dropout layers called while building the graph;
    # tf-keras would then always run them in training mode. The call context decides instead.
    kwargs.pop("training", None)
    if not args:
        raise ConversionError(f"layer {layer!r} is called without positional inputs; "
                              "edgebench cannot rebuild it in tf-keras")
    first, extra = args[0], args[1:]
    if extra:  # further positional tensors (e.g. MultiHeadAttention(query, value)) -> keywords
        params = [p.name for p in inspect.signature(cls.call).parameters.values()
                  if p.name != "self"][1:]
        kwargs.update(zip(params, extra, strict=False))
    kw = _kwargs_refs(kwargs)
    ref = _tensor_ref(first)
    if ref is not None:
        return [[*ref, kw]]
    if isinstance(first, list):
        refs = [r for r in map(_tensor_ref, first) if r is not None]
        if len(refs) == len(first):  # every item a tensor
            return [[*r, kw] for r in refs]
    raise ConversionError(
        f"layer {layer!r} takes inputs edgebench cannot rebuild in tf-keras ({str(first)[:80]}); "
        "give it a tensor or a list of tensors"
    )


def translate_config(
    entry: dict[str, Any], custom: dict[str, Any] | None = None, report: Report | None = None
) -> dict[str, Any]:
    """A Keras 3 serialized model (config.json) -> tf-keras's ``{"class_name", "config"}``."""
    custom = dict(custom or {})
    report = report if report is not None else Report()
    cn = entry["class_name"]
    if cn not in _MODEL_CLASSES:
        raise ConversionError(f"top-level object is a {cn}, not a Functional or Sequential model")
    cfg = entry["config"]
    if "layers" not in cfg:
        raise ConversionError(
            f"model {cfg.get('name')!r} is a subclassed {cn} without a layer graph in its "
            "config; edgebench can rebuild only Sequential and Functional models"
        )
    layers = []
    for le in cfg["layers"]:
        lcn, reg = le["class_name"], le.get("registered_name")
        lname = le.get("name") or le["config"].get("name")
        module = le.get("module") or ""
        if module.startswith("keras.src.ops") or module.startswith("keras.ops"):
            raise ConversionError(
                f"layer {lname!r} is the keras.ops call {lcn}, which tf-keras cannot rebuild; "
                "wrap it in a Layer subclass or use the equivalent keras.layers layer, "
                + EXPORT_HINT
            )
        if lcn in _MODEL_CLASSES:  # a nested model: translate it recursively
            new = translate_config(le, custom, report)
        else:
            cls = _layer_class(lcn, reg, custom)
            if cls is None:
                raise ConversionError(
                    f"layer {lname!r} is the custom class {reg or lcn!r}, which tf-keras "
                    "(needed by tfmot) cannot rebuild; give edgebench a tf-keras version of it, "
                    f"registered as {reg or lcn!r} with tf_keras.saving."
                    "register_keras_serializable in a module named by [model] custom_objects, "
                    + EXPORT_HINT
                )
            if lcn == "Lambda":
                raise ConversionError(
                    f"layer {lname!r} is a Lambda layer, whose Python code Keras 3 stores in a "
                    "form tf-keras cannot read; replace it with built-in layers or a registered "
                    "Layer subclass, " + EXPORT_HINT
                )
            new = {"class_name": lcn if reg is None or lcn in custom else reg,
                   "config": _translate_layer_config(lcn, cls, le["config"], report, lname)}
            if lcn == "MultiHeadAttention":  # tf-keras builds MHA from these shapes
                shapes = (le.get("build_config") or {}).get("shapes_dict") or {}
                for key in ("query_shape", "value_shape"):
                    new["config"][key] = shapes.get(key)
                new["config"]["key_shape"] = shapes.get("key_shape") or shapes.get("value_shape")
            if reg and reg in custom:
                new["class_name"] = reg
        if cn != "Sequential":
            cls = _layer_class(lcn, reg, custom) if lcn not in _MODEL_CLASSES else _tfk().Model
            new["name"] = lname
            new["inbound_nodes"] = [_translate_node(n, cls, lname)
                                    for n in le.get("inbound_nodes", [])]
        layers.append(new)
    out: dict[str, Any] = {"name": cfg["name"], "layers": layers}
    if cn == "Sequential":
        return {"class_name": "Sequential", "config": out}
    for key in ("input_layers", "output_layers"):
        out[key] = _io_refs(cfg[key])
    return {"class_name": "Functional", "config": out}


def _io_refs(value: Any) -> Any:
    """Keras 3 writes one input as ``[name, 0, 0]`` and many as a list or dict of those."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value]
    return value


# --------------------------------------------------------------------------- weights


def _h5_layer_groups(group: Any, layer_entries: list[dict[str, Any]],
                     sequential: bool) -> dict[str, Any]:
    """Map layer name -> its h5 group, as Keras 3's saving_lib named them.

    Groups are ``layers/<snake_case(class)>[_k]`` in ``model.layers`` order (Sequential leaves
    its InputLayer out). Keras >= 3.? also stores the layer's name as the ``vars`` group's
    ``name`` attribute: when present it must agree with the order-based match.
    """
    if "layers" not in group:
        return {}
    lg = group["layers"]
    used: dict[str, int] = {}
    out = {}
    for le in layer_entries:
        if sequential and le["class_name"] == "InputLayer":
            continue
        base = to_snake_case(le["class_name"])
        if base in used:
            used[base] += 1
            key = f"{base}_{used[base]}"
        else:
            used[base] = 0
            key = base
        name = le.get("name") or le["config"]["name"]
        if key not in lg:
            raise ConversionError(f"model.weights.h5 has no group layers/{key} for layer "
                                  f"{name!r}; the file is not from Keras 3 or is damaged")
        g = lg[key]
        stored = g["vars"].attrs.get("name") if "vars" in g else None
        if stored is not None and stored != name:
            raise ConversionError(f"model.weights.h5 group layers/{key} holds layer {stored!r}, "
                                  f"expected {name!r}")
        out[name] = g
    return out


def _vars(group: Any) -> list[np.ndarray]:
    """A layer's own variables (vars/0, vars/1...), then its sub-layers' in group order."""
    arrays = []
    if "vars" in group:
        v = group["vars"]
        arrays += [np.asarray(v[str(i)]) for i in range(len(v))]
    for key in group:  # e.g. a custom layer holding Dense sub-layers
        if key not in ("vars", "layers") and hasattr(group[key], "keys"):
            arrays += _vars(group[key])
    return arrays


def _sublayer_vars_by_name(layer: Any, group: Any) -> list[np.ndarray] | None:
    """For a layer made of sub-layers (MultiHeadAttention...), match them by name.

    Keras 3 writes sub-layer groups in attribute-name order (key, output, query, value), tf-keras
    lists weights in creation order (query, key, value, attention_output), and equal shapes
    would hide a mix-up. Each sub-layer's ``vars`` group carries its name (Keras >= 3.?), which
    is the middle part of the tf-keras weight name ``<layer>/<sublayer>/<var>:0``.
    """
    subs = {}
    for key in group:
        g = group[key]
        if key in ("vars", "layers") or not hasattr(g, "keys") or "vars" not in g:
            continue
        arrays = [np.asarray(g["vars"][str(i)]) for i in range(len(g["vars"]))]
        if not arrays:
            continue
        if "name" not in g["vars"].attrs:
            return None
        subs[str(g["vars"].attrs["name"])] = arrays
    if not subs:
        return None
    out, taken = [], {k: 0 for k in subs}
    for w in layer.weights:
        parts = w.name.split(":")[0].split("/")
        sub = next((p for p in parts[1:-1] if p in subs), None)
        if sub is None:
            return None
        out.append(subs[sub][taken[sub]])
        taken[sub] += 1
    return out


def assign_h5_weights(model: Any, k3_entry: dict[str, Any], group: Any, report: Report) -> None:
    """Set every tf-keras layer's weights from the Keras 3 weights file (recursively)."""
    cfg = k3_entry["config"]
    sequential = k3_entry["class_name"] == "Sequential"
    groups = _h5_layer_groups(group, cfg["layers"], sequential)
    for le in cfg["layers"]:
        name = le.get("name") or le["config"]["name"]
        if name not in groups:
            continue
        layer = model.get_layer(name)
        if le["class_name"] in _MODEL_CLASSES:
            assign_h5_weights(layer, le, groups[name], report)
            continue
        arrays = _sublayer_vars_by_name(layer, groups[name])
        if arrays is None:
            arrays = _vars(groups[name])
        _set(layer, arrays, name)
        report.layers_with_weights += bool(arrays)


def _set(layer: Any, arrays: list[np.ndarray], name: str) -> None:
    want = [tuple(w.shape) for w in layer.weights]
    got = [tuple(a.shape) for a in arrays]
    if want != got:
        raise ConversionError(
            f"layer {name!r} ({type(layer).__name__}): tf-keras expects weights {want}, the "
            f"Keras 3 file has {got}; edgebench cannot map them"
        )
    if arrays:
        layer.set_weights(arrays)


# --------------------------------------------------------------------------- entry


def keras3_to_tfkeras(
    path: Path, custom_objects: dict[str, Any] | None = None, float32: bool = True
) -> tuple[Any, Report]:
    """Rebuild a Keras 3 .keras file as a tf-keras model with the same weights.

    ``float32`` rewrites mixed-precision policies to float32 (tfmot cannot prune a
    mixed_float16 model, and the TFLite variants start from float32 anyway). Every failure is
    a ModelFileError that starts with the file's name.
    """
    path = Path(path)
    try:
        arch = read_keras3_archive(path)
        report = Report(weight_route="h5", float32=float32)
        translated = translate_config(arch.config, custom_objects, report)
        model = _build(translated, custom_objects, path)
        with h5py.File(io.BytesIO(arch.weights_h5), "r") as h5:
            assign_h5_weights(model, arch.config, h5, report)
    except ConversionError as exc:
        raise ConversionError(f"{path.name}: {exc}") from None
    return model, report


def _build(translated: dict[str, Any], custom_objects: dict[str, Any] | None, path: Path) -> Any:
    tfk = _tfk()
    try:
        with tfk.utils.custom_object_scope(dict(custom_objects or {})):
            return tfk.models.model_from_json(json.dumps(translated))
    except Exception as exc:  # tf-keras raises many types for a config it cannot build
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConversionError(
            f"tf-keras cannot rebuild the model ({first[:200]}); " + EXPORT_HINT
        ) from None


def is_keras3_h5(path: Path) -> bool:
    """True for a legacy .h5 model file written by Keras 3 (attrs keras_version 3.x)."""
    try:
        with h5py.File(path, "r") as f:
            version = f.attrs.get("keras_version", "")
    except OSError:
        return False
    version = version.decode() if isinstance(version, bytes) else str(version)
    return version.startswith("3.")


def keras3_h5_to_tfkeras(path: Path, custom_objects: dict[str, Any] | None = None
                         ) -> tuple[Any, Report]:
    """A Keras 3 legacy .h5 (``model.save("m.h5")``): translate attrs["model_config"], then
    tf-keras's own ``load_weights`` (the legacy per-layer-name layout is shared)."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        report = Report(weight_route="legacy-h5", float32=True)
        translated = translate_config(config, custom_objects, report)
        model = _build(translated, custom_objects, path)
        model.load_weights(str(path))
    except ConversionError as exc:
        raise ConversionError(f"{path.name}: {exc}") from None
    report.layers_with_weights = sum(bool(la.weights) for la in model.layers)
    return model, report
