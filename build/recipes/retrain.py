"""Retraining a pruned model, optionally distilled from the dense baseline or a teacher.

Distillation (Hinton et al. 2015, "Distilling the knowledge in a neural network") blends the
label loss with the KL divergence to the dense baseline's softened outputs. On the pruning
guide's model at 92% sparsity it is worth about half a point of test accuracy. A sweep with
``[train] teacher`` hands the teacher's outputs in as ``ctx.soft_targets`` (precomputed once,
:mod:`edgebench.build.sweep.teacher`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgebench.build import training
from edgebench.build._tf import import_tf
from edgebench.build.recipes.base import RecipeContext
from edgebench.errors import ConfigError


@dataclass(frozen=True)
class Distill:
    """``alpha`` = weight of the teacher's term (0 = plain labels); ``temperature`` > 0."""

    alpha: float = 0.0
    temperature: float = 4.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"distill_alpha must be in [0, 1]; got {self.alpha}")
        if not self.temperature > 0:
            raise ConfigError(f"distill_temperature must be > 0; got {self.temperature}")


def retrain(
    ctx: RecipeContext,
    model: Any,
    epochs: int,
    callbacks: list[Any],
    learning_rate: Any = None,
    distill: Distill | None = None,
) -> None:
    """Train ``model`` for ``epochs`` with a fresh Adam; distil from the baseline if asked."""
    if distill is None or distill.alpha == 0.0 or (
        ctx.objective is not None and not ctx.objective.labels_only
    ):
        # Without labels the objective already distils from the dense model, on every output.
        ctx.fit(model, epochs, callbacks, learning_rate=learning_rate)
        return

    tf, keras, _ = import_tf()
    t, alpha, from_logits = distill.temperature, distill.alpha, ctx.from_logits

    def packed(x: np.ndarray, y: np.ndarray, part: str) -> np.ndarray:
        if ctx.soft_targets is not None:
            teacher = np.asarray(ctx.soft_targets[part], np.float32)
            assert len(teacher) == len(x), f"soft targets for {part} are for other samples"
        elif len(x):
            teacher = ctx.baseline.predict(x, batch_size=1024, verbose=0)
        else:
            teacher = np.zeros((0, 1), np.float32)
        return np.concatenate([np.asarray(y, np.float32).reshape(-1, 1), teacher], axis=1)

    def logits(out: Any) -> Any:
        return out if from_logits else tf.math.log(tf.clip_by_value(out, 1e-7, 1.0))

    def loss(y: Any, out: Any) -> Any:
        labels = tf.cast(y[:, 0], tf.int32)
        student, teacher = logits(out), logits(y[:, 1:])
        ce = keras.losses.sparse_categorical_crossentropy(labels, student, from_logits=True)
        kl = keras.losses.kl_divergence(tf.nn.softmax(teacher / t), tf.nn.softmax(student / t))
        return (1.0 - alpha) * ce + alpha * kl * t * t

    def accuracy(y: Any, out: Any) -> Any:
        return tf.cast(tf.equal(tf.cast(y[:, 0], tf.int64), tf.argmax(out, axis=-1)), tf.float32)

    rate = ctx.learning_rate if learning_rate is None else learning_rate
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate), loss=loss, metrics=[accuracy]
    )
    data = ctx.data
    distilled = type(data)(
        data.x_fit,
        packed(data.x_fit, data.y_fit, "fit"),
        data.x_val,
        packed(data.x_val, data.y_val, "val"),
    )
    training.fit_model(
        model,
        distilled,
        epochs=epochs,
        batch_size=ctx.batch_size,
        label=ctx.name,
        progress=ctx.progress,
        callbacks=[*callbacks, *ctx.callbacks],
    )
    # Leave the model compiled as every other recipe leaves it: labels in, accuracy out.
    training.compile_model(model, ctx.learning_rate, from_logits)
