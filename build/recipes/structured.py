"""m:n structured sparsity (2:4 by default) with tfmot's ``sparsity_m_by_n``.

Every group of ``n`` consecutive input-channel weights (the last axis of the TFLite layout:
a Dense kernel's inputs, a Conv2D kernel's input channels) keeps at most ``n - m`` non-zeros.
The artifacts are exported with ``Optimize.EXPERIMENTAL_SPARSITY`` (``sparse_export``), which
stores the sparse weights in TFLite's compressed format; docs/guides/recipes.md says when that
runs faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgebench.build import training
from edgebench.build._tf import import_tf
from edgebench.build.recipes import masks as mk
from edgebench.build.recipes.base import RecipeContext, RecipeOutput, RecipeParams, check_count
from edgebench.errors import ConfigError


@dataclass(frozen=True)
class StructuredParams(RecipeParams):
    """``m`` zeros in every ``n`` consecutive input-channel weights of each named layer."""

    m: int = 2
    n: int = 4
    frequency: int = 100
    layers: tuple[str, ...] = ()
    sparse_export: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.m < self.n:
            raise ConfigError(f"m must be in [1, n); got m = {self.m}, n = {self.n}")
        check_count("frequency", self.frequency)


def input_channels(kernel_shape: tuple[int, ...]) -> int:
    """The axis m:n groups run along: a Dense kernel's inputs, a Conv2D's input channels."""
    return int(kernel_shape[-2])


def tflite_layout(kernel: np.ndarray) -> np.ndarray:
    """A kernel as TFLite stores it, flattened to (everything else, input channels)."""
    k = np.asarray(kernel)
    if k.ndim == 2:  # Dense [in, out] -> [out, in]
        return k.T
    if k.ndim == 4:  # Conv2D [h, w, in, out] -> [out, h, w, in]
        return np.transpose(k, (3, 0, 1, 2)).reshape(-1, k.shape[2])
    raise ValueError(f"no m:n layout for a kernel of rank {k.ndim}")


def follows_m_by_n(kernel: np.ndarray, m: int, n: int) -> bool:
    """True when every group of ``n`` consecutive input-channel weights has >= ``m`` zeros."""
    rows = tflite_layout(kernel)
    if rows.shape[-1] % n:
        return False
    groups = rows.reshape(rows.shape[0], -1, n)
    return bool(np.all(np.sum(groups == 0, axis=-1) >= m))


def structured(ctx: RecipeContext, params: StructuredParams) -> RecipeOutput:
    """Fine-tune the baseline under an m:n mask (tfmot), then strip the wrappers."""
    _, keras, tfmot = import_tf()
    sp = tfmot.sparsity.keras
    model = ctx.clone_baseline()
    layers = mk.prunable_layers(model, params.layers, ctx.name)
    for name, layer in layers.items():
        channels = input_channels(tuple(layer.kernel.shape))
        if channels % params.n:
            fits = [
                n
                for n, lay in layers.items()
                if input_channels(tuple(lay.kernel.shape)) % params.n == 0
            ]
            hint = f"e.g. layers = {fits!r}" if fits else "or use an unstructured recipe"
            raise ConfigError(
                f"recipes.{ctx.name}: layer {name} has {channels} input channel(s), which "
                f"cannot hold a {params.m}:{params.n} pattern (it groups {params.n} consecutive "
                f"input channels); list only layers whose inputs are a multiple of "
                f"{params.n} in recipes.{ctx.name}.layers, {hint}"
            )
    schedule = sp.ConstantSparsity(params.m / params.n, begin_step=0, frequency=params.frequency)

    def wrap(layer: Any) -> Any:
        if layer.name in layers:
            return sp.prune_low_magnitude(
                layer, pruning_schedule=schedule, sparsity_m_by_n=(params.m, params.n)
            )
        return layer

    pruned = keras.models.clone_model(model, clone_function=wrap)
    ctx.progress(
        f"{ctx.name}: {params.m}:{params.n} structured pruning of {', '.join(layers)}, "
        f"{params.epochs} epochs"
    )
    ctx.fit(pruned, params.epochs, [sp.UpdatePruningStep()])
    stripped = sp.strip_pruning(pruned)

    training.compile_model(stripped, ctx.learning_rate, ctx.from_logits)
    by_name = {layer.name: layer for layer in stripped.layers}
    broken = [
        n for n in layers if not follows_m_by_n(by_name[n].kernel.numpy(), params.m, params.n)
    ]
    if broken:
        raise ConfigError(
            f"recipes.{ctx.name}: layers {', '.join(broken)} do not follow {params.m}:"
            f"{params.n} after training; lower frequency so the mask is applied"
        )
    return RecipeOutput(
        model=stripped,
        target_sparsity={n: params.m / params.n for n in layers},
        extra={
            "recipe_type": "structured",
            "m_by_n": [params.m, params.n],
            "epochs": params.epochs,
            "sparse_export": params.sparse_export,
            "weights": mk.weight_facts(stripped),
        },
        sparse_export=params.sparse_export,
    )
