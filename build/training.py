"""Training helpers shared by the baseline and the recipes (tf-keras, imported lazily)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgebench.build._tf import import_tf


@dataclass(frozen=True)
class TrainingData:
    """Training inputs already scaled to [0, 1] and shaped for the model."""

    x_fit: Any
    y_fit: Any
    x_val: Any
    y_val: Any


def learning_rate_schedule(
    kind: str, learning_rate: float, *, total_steps: int, start_step: int = 0
) -> Any:
    """A constant rate, or cosine decay over ``total_steps`` seen from ``start_step`` on.

    ``start_step`` > 0 replays the tail of the schedule, as learning-rate rewinding does.
    """
    if kind == "constant":
        return learning_rate
    if kind != "cosine":
        raise ValueError(f"unknown learning-rate schedule {kind!r}")
    _, keras, _ = import_tf()
    cosine = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=max(1, total_steps), alpha=0.02
    )
    if start_step == 0:
        return cosine

    class Replayed(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step: Any) -> Any:
            return cosine(step + start_step)

        def get_config(self) -> dict[str, Any]:
            return {"start_step": start_step, **cosine.get_config()}

    return Replayed()


def compile_model(model: Any, learning_rate: Any, from_logits: bool) -> None:
    """Compile with Adam and sparse categorical cross-entropy, as the pruning guide does.

    ``learning_rate`` is a float or a Keras learning-rate schedule.
    """
    _, keras, _ = import_tf()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        metrics=["accuracy"],
    )


def fit_model(
    model: Any,
    data: TrainingData,
    *,
    epochs: int,
    batch_size: int,
    label: str,
    progress: Callable[[str], None],
    callbacks: list[Any] | None = None,
) -> None:
    """Train a compiled model, printing one progress line per epoch."""
    validation = (data.x_val, data.y_val) if len(data.x_val) else None
    model.fit(
        data.x_fit,
        data.y_fit,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=validation,
        shuffle=True,
        verbose=0,
        callbacks=[*(callbacks or []), epoch_progress(label, epochs, progress)],
    )


def epoch_progress(label: str, epochs: int, progress: Callable[[str], None]) -> Any:
    """A Keras callback that reports "<label> epoch 2/4: loss 0.41, accuracy 0.86 (11.2 s)"."""
    _, keras, _ = import_tf()

    class EpochProgress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            line = (
                f"{label} epoch {epoch + 1}/{epochs}: loss {logs.get('loss', float('nan')):.3f}, "
                f"accuracy {logs.get('accuracy', float('nan')):.3f}"
            )
            if "val_accuracy" in logs:
                line += f", val_accuracy {logs['val_accuracy']:.3f}"
            progress(f"{line} ({time.perf_counter() - self._t0:.1f} s)")

    return EpochProgress()


def clone_with_weights(model: Any) -> Any:
    """A copy that shares no layers with ``model``.

    ``prune_low_magnitude`` wraps the layers of the model it is given, so pruning the
    baseline itself would silently make the dense baseline sparse.
    """
    _, keras, _ = import_tf()
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def fresh_clone(model: Any, seed: int) -> Any:
    """The same architecture with freshly initialised weights (``clone_model`` re-initialises)."""
    _, keras, _ = import_tf()
    keras.utils.set_random_seed(seed)
    return keras.models.clone_model(model)


def keras_accuracy(model: Any, x: Any, y: Any, batch_size: int = 256) -> float:
    """Top-1 accuracy of a tf_keras model on inputs already scaled and shaped."""
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return float((np.argmax(logits, axis=-1) == np.asarray(y)).mean()) if len(y) else float("nan")
