"""Fixed pruning masks for the recipes that choose their own masks (rewinding, movement, ...).

A mask is a 0/1 array of a kernel's shape, by layer name. Training under a fixed mask uses
:class:`MaskEnforcer`, a callback that multiplies each masked kernel by its mask after every
optimizer step, so a pruned weight is exactly zero whenever the model is evaluated or saved,
whatever the optimizer's momentum does. TensorFlow is imported inside the functions only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgebench.build._tf import import_tf
from edgebench.build.recipes.prunable import check_layer_names
from edgebench.errors import ConfigError

Masks = dict[str, np.ndarray]


def check_fraction(name: str, value: float) -> None:
    """Sparsities live in [0, 1): 1.0 would remove every weight of a layer."""
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{name} must be in [0, 1); got {value}")


def prunable_layers(model: Any, names: Sequence[str], recipe: str) -> dict[str, Any]:
    """The layers with a ``kernel`` to prune: ``names``, or every such layer when empty."""
    with_kernel = {layer.name: layer for layer in model.layers if hasattr(layer, "kernel")}
    if not names:
        if not with_kernel:
            raise ConfigError(f"recipes.{recipe}: the model has no layer with a kernel to prune")
        return with_kernel
    check_layer_names(recipe, names, list(with_kernel), "with a kernel", "with kernels")
    return {n: with_kernel[n] for n in names}


def topk_mask(scores: np.ndarray, sparsity: float) -> np.ndarray:
    """Keep the ``1 - sparsity`` highest scores (exactly ``round(sparsity * n)`` zeros)."""
    flat = np.asarray(scores, dtype=np.float64).reshape(-1)
    n_zero = int(round(sparsity * flat.size))
    mask = np.ones(flat.size, dtype=np.float32)
    if n_zero:
        # A stable sort on the scores: ties (e.g. weights already zero) are cut first.
        mask[np.argsort(flat, kind="stable")[:n_zero]] = 0.0
    return mask.reshape(np.shape(scores))


def magnitude_masks(layers: Mapping[str, Any], sparsity: float) -> Masks:
    """Layer-wise magnitude masks: each kernel keeps its largest ``1 - sparsity`` weights."""
    return {
        name: topk_mask(np.abs(layer.kernel.numpy()), sparsity) for name, layer in layers.items()
    }


def global_masks(scores: Mapping[str, np.ndarray], sparsity: float) -> Masks:
    """One threshold over all layers' scores together (SynFlow ranks globally)."""
    names = list(scores)
    flat = np.concatenate([np.asarray(scores[n], dtype=np.float64).reshape(-1) for n in names])
    mask = topk_mask(flat, sparsity)
    out, at = {}, 0
    for n in names:
        size = int(np.size(scores[n]))
        out[n] = mask[at : at + size].reshape(np.shape(scores[n]))
        at += size
    return out


def apply_masks(model: Any, masks: Mapping[str, np.ndarray]) -> None:
    """Zero the pruned weights of ``model`` in place."""
    for layer in model.layers:
        if layer.name in masks:
            layer.kernel.assign(layer.kernel.numpy() * masks[layer.name])


def masks_from_zeros(model: Any, names: Sequence[str]) -> Masks:
    """The masks a model's zeros imply (1 where the kernel is non-zero)."""
    by_name = {layer.name: layer for layer in model.layers}
    return {n: (by_name[n].kernel.numpy() != 0).astype(np.float32) for n in names}


def mask_sparsity(masks: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Fraction of zeros of each mask, rounded like the manifest's layer sparsity."""
    return {n: round(float(1.0 - np.mean(m)), 6) for n, m in masks.items()}


def mask_enforcer(masks: Mapping[str, np.ndarray]) -> Any:
    """A Keras callback that re-applies ``masks`` after every training batch."""
    tf, keras, _ = import_tf()
    callback_base: Any = keras.callbacks.Callback  # declared Any: mypy takes it as a base

    class MaskEnforcer(callback_base):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self._pairs = [
                (layer.kernel, tf.constant(masks[layer.name], dtype=layer.kernel.dtype))
                for layer in self.model.layers
                if layer.name in masks
            ]
            self._apply()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self._apply()

        def _apply(self) -> None:
            for kernel, mask in self._pairs:
                kernel.assign(kernel * mask)

    return MaskEnforcer()


def weight_facts(model: Any) -> dict[str, dict[str, float | int]]:
    """Per layer with a kernel: its sparsity and its number of distinct values.

    Works through tfmot's prune and cluster wrappers (the kernel is the inner layer's). A
    quantisation-aware model's kernels are only fake-quantised in the graph, so measure those
    on the converted flatbuffer with :func:`tflite_weight_facts` instead.
    """
    out: dict[str, dict[str, float | int]] = {}
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        kernel = getattr(inner, "kernel", None)
        if kernel is None or not hasattr(kernel, "numpy"):
            continue
        out[inner.name] = _facts(np.asarray(kernel.numpy()), 0)
    return out


def tflite_weight_facts(flatbuffer: bytes) -> dict[str, dict[str, float | int]]:
    """The same facts for each constant kernel (>= 2 dims) of a TFLite flatbuffer.

    A quantised weight is zero when it equals its zero point.
    """
    # Here, not at the top: the recipe registry (and so every config load) imports this
    # module, and the interpreter takes most of a second to import.
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=flatbuffer)
    out: dict[str, dict[str, float | int]] = {}
    for d in interp.get_tensor_details():
        if len(d["shape"]) < 2 or d["shape"][0] == 1 or not _is_constant(interp, d):
            continue
        values = np.asarray(interp.get_tensor(d["index"]))
        zps = d["quantization_parameters"]["zero_points"]
        zero = int(zps[0]) if len(zps) == 1 else 0
        out[d["name"] or f"#{d['index']}"] = _facts(values, zero)  # stripped: no names
    return out


def _is_constant(interp: Any, detail: dict[str, Any]) -> bool:
    try:
        interp.get_tensor(detail["index"])
    except ValueError:  # a tensor without a buffer (an activation) before invoke()
        return False
    return True


def _facts(values: np.ndarray, zero: int) -> dict[str, float | int]:
    return {
        "sparsity": round(float(np.mean(values == zero)), 6),
        "unique_values": int(np.unique(values).size),
    }
