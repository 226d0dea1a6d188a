"""Movement pruning (Sanh, Wolf & Rush 2020, "Movement pruning: adaptive sparsity by fine-tuning").

For fine-tuning a pretrained model on a new task: a weight's score is the accumulated
``-W * dL/dW`` over the fine-tuning steps, i.e. how far it moved away from zero, not how large
it was before. This is the first-order, hard-mask variant: the dense weights are kept, the
forward pass uses ``W * M``, the pruned weights get no update (straight-through for the scores),
and every ``frequency`` steps the mask keeps the top-scoring weights of each layer on a cubic
schedule that reaches ``sparsity`` after ``prune_fraction`` of the steps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgebench.build import training
from edgebench.build._tf import import_tf
from edgebench.build.recipes import masks as mk
from edgebench.build.recipes.base import RecipeContext, RecipeOutput, RecipeParams, check_count
from edgebench.errors import ConfigError


@dataclass(frozen=True)
class MovementParams(RecipeParams):
    """Fine-tune ``epochs`` on the new task ([data]) while pruning by movement."""

    sparsity: float = 0.8
    frequency: int = 10
    prune_fraction: float = 0.7
    learning_rate: float | None = None
    layers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        mk.check_fraction("sparsity", self.sparsity)
        check_count("frequency", self.frequency)
        if not 0.0 < self.prune_fraction <= 1.0:
            raise ConfigError(f"prune_fraction must be in (0, 1]; got {self.prune_fraction}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0; got {self.learning_rate}")

    def with_sparsity(self, sparsity: float) -> MovementParams:
        return replace(self, sparsity=sparsity)


def movement(ctx: RecipeContext, params: MovementParams) -> RecipeOutput:
    """Prune by movement while fine-tuning the given pretrained model on [data]."""
    if ctx.history is not None:
        raise ConfigError(
            f"recipes.{ctx.name}: movement pruning needs a fine-tuning task, a model pretrained "
            "elsewhere that is fine-tuned onto [data]; this baseline was just trained on [data] "
            "itself. Give the pretrained model with [model] path or --model, or use "
            'recipe = "gradual"'
        )

    ctx.require_labels("movement pruning")
    tf, keras, _ = import_tf()
    model = ctx.clone_baseline()
    layers = mk.prunable_layers(model, params.layers, ctx.name)
    kernels = [layer.kernel for layer in layers.values()]
    dense = [tf.Variable(k.numpy(), trainable=False) for k in kernels]
    masks = [tf.Variable(np.ones(k.shape, np.float32), trainable=False) for k in kernels]
    scores = [tf.Variable(np.zeros(k.shape, np.float32), trainable=False) for k in kernels]
    kernel_ids = {id(k) for k in kernels}
    others = [v for v in model.trainable_variables if id(v) not in kernel_ids]
    optimizer = keras.optimizers.Adam(learning_rate=params.learning_rate or ctx.learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=ctx.from_logits)
    n = len(kernels)

    @tf.function
    def step(x: Any, y: Any) -> Any:
        for k, w, m in zip(kernels, dense, masks, strict=True):
            k.assign(w * m)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, kernels + others)
        for s, w, g in zip(scores, dense, grads[:n], strict=True):
            s.assign_add(-w * g)  # movement: positive when W moves away from zero
        masked = [g * m for g, m in zip(grads[:n], masks, strict=True)]
        optimizer.apply_gradients(zip(masked + list(grads[n:]), dense + others, strict=True))
        return loss

    x, y = ctx.data.x_fit, np.asarray(ctx.data.y_fit)
    steps_per_epoch = ctx.steps_per_epoch()
    total = steps_per_epoch * params.epochs
    end_step = max(1, int(total * params.prune_fraction))
    rng = np.random.default_rng(ctx.seed)
    ctx.progress(
        f"{ctx.name}: movement pruning of {', '.join(layers)} to {params.sparsity:.0%} while "
        f"fine-tuning {params.epochs} epochs ({total} steps, mask every {params.frequency})"
    )
    t = 0
    for epoch in range(params.epochs):
        order = rng.permutation(len(x))
        losses = []
        for b in range(steps_per_epoch):
            idx = order[b * ctx.batch_size : (b + 1) * ctx.batch_size]
            losses.append(float(step(x[idx], y[idx])))
            t += 1
            if t % params.frequency == 0 or t == end_step:
                done = min(1.0, t / end_step)
                target = params.sparsity * (1.0 - (1.0 - done) ** 3)
                for s, m in zip(scores, masks, strict=True):
                    m.assign(mk.topk_mask(s.numpy(), target))
        ctx.progress(f"{ctx.name} epoch {epoch + 1}/{params.epochs}: loss {np.mean(losses):.3f}")

    final = {}
    for name, k, w, s in zip(layers, kernels, dense, scores, strict=True):
        final[name] = mk.topk_mask(s.numpy(), params.sparsity)
        k.assign(w.numpy() * final[name])

    training.compile_model(model, ctx.learning_rate, ctx.from_logits)
    return RecipeOutput(
        model=model,
        target_sparsity=mk.mask_sparsity(final),
        extra={
            "recipe_type": "movement",
            "target_sparsity": params.sparsity,
            "epochs": params.epochs,
            "weights": mk.weight_facts(model),
        },
    )
