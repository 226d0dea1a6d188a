"""SynFlow (Tanaka, Kunin, Yamins & Ganguli 2020, "Pruning neural networks without any data by
iteratively conserving synaptic flow").

Data-free pruning at initialisation: replace every weight by its absolute value, zero the
biases, feed an all-ones input, and score each weight by ``W * dR/dW`` where ``R`` is the sum of
the outputs (the "synaptic flow"). Prune globally over the chosen layers in ``iterations``
rounds on an exponential schedule (which avoids layer collapse), then train the masked
initialisation for ``epochs`` with the mask fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgebench.build._tf import import_tf
from edgebench.build.recipes import masks as mk
from edgebench.build.recipes.base import RecipeContext, RecipeOutput, RecipeParams, check_count
from edgebench.errors import ConfigError


@dataclass(frozen=True)
class SynflowParams(RecipeParams):
    """Prune a fresh initialisation to ``sparsity`` without data, then train ``epochs``."""

    sparsity: float = 0.8
    iterations: int = 100
    epochs: int = 4
    layers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        mk.check_fraction("sparsity", self.sparsity)
        check_count("iterations", self.iterations)

    def with_sparsity(self, sparsity: float) -> SynflowParams:
        return replace(self, sparsity=sparsity)


def synflow_masks(model: Any, layers: dict, sparsity: float, iterations: int) -> mk.Masks:
    """Iterative SynFlow masks for ``layers`` of ``model`` (weights restored afterwards)."""
    tf, _, _ = import_tf()
    original = model.get_weights()
    for w_var in model.weights:
        w_var.assign(tf.abs(w_var) if len(w_var.shape) >= 2 else tf.zeros_like(w_var))
    absolute = {n: np.abs(layer.kernel.numpy()) for n, layer in layers.items()}
    ones = tf.ones((1, *model.input_shape[1:]))
    masks = {n: np.ones_like(a) for n, a in absolute.items()}
    for i in range(1, iterations + 1):
        for n, layer in layers.items():
            layer.kernel.assign(absolute[n] * masks[n])
        kernels = [layer.kernel for layer in layers.values()]
        with tf.GradientTape() as tape:
            flow = tf.reduce_sum(model(ones, training=False))
        grads = tape.gradient(flow, kernels)
        scores = {
            n: (g.numpy() * k.numpy()) for n, g, k in zip(layers, grads, kernels, strict=True)
        }
        masks = mk.global_masks(scores, 1.0 - (1.0 - sparsity) ** (i / iterations))
    model.set_weights(original)
    return masks


def synflow(ctx: RecipeContext, params: SynflowParams) -> RecipeOutput:
    """Prune the initialisation by synaptic flow, then train it with the mask fixed."""
    model = ctx.fresh_model()
    last = model.layers[-1]
    if last.get_config().get("activation") == "softmax" or type(last).__name__ == "Softmax":
        raise ConfigError(
            f"recipes.{ctx.name}: SynFlow needs a model that outputs logits (the flow through "
            "a softmax is constant); drop the final softmax or use another recipe"
        )
    layers = mk.prunable_layers(model, params.layers, ctx.name)
    masks = synflow_masks(model, layers, params.sparsity, params.iterations)
    mk.apply_masks(model, masks)
    achieved = mk.mask_sparsity(masks)
    ctx.progress(
        f"{ctx.name}: SynFlow at initialisation, {params.iterations} iterations: "
        + ", ".join(f"{n} {s:.1%}" for n, s in achieved.items())
        + f"; training {params.epochs} epochs"
    )
    ctx.fit(model, params.epochs, [mk.mask_enforcer(masks)])
    return RecipeOutput(
        model=model,
        target_sparsity=achieved,
        extra={
            "recipe_type": "synflow",
            "target_sparsity": params.sparsity,
            "iterations": params.iterations,
            "epochs": params.epochs,
            "weights": mk.weight_facts(model),
        },
    )
