"""Training helpers shared by the baseline and the recipes (tf-keras, imported lazily).

What a fine-tune minimises is an :class:`Objective`: one loss per model output, weighted.
An output with labels gets the labels' cross-entropy; an output without (unlabelled data, a
detector's boxes, an embedding) is distilled from the dense model's own outputs on the same
inputs: soft cross-entropy against its class probabilities for a class vector, mean squared
error for anything else. So a model whose data has no labels can still be pruned, clustered
and QAT-fine-tuned, and the manifest says how each artifact was fine-tuned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgebench.build._tf import import_tf
from edgebench.errors import ConfigError


@dataclass(frozen=True)
class TrainingData:
    """Training inputs, preprocessed and shaped for the model (one array, or a dict by input
    name), and the targets of the fine-tune's objective (labels, or teacher outputs)."""

    x_fit: Any
    y_fit: Any
    x_val: Any
    y_val: Any


def n_samples(x: Any) -> int:
    """The number of samples of model inputs: one array, or a dict of arrays by input name."""
    if isinstance(x, Mapping):
        return len(next(iter(x.values()))) if x else 0
    return len(x)


def take(x: Any, index: Any) -> Any:
    """Rows ``index`` of model inputs or targets (one array, or a dict of arrays)."""
    if isinstance(x, Mapping):
        return {k: v[index] for k, v in x.items()}
    return x[index]


@dataclass(frozen=True)
class OutputLoss:
    """The loss on one model output."""

    output: str
    target: str  # "labels" or "teacher"
    loss: str  # "sparse_cross_entropy", "soft_cross_entropy" or "mean_squared_error"
    from_logits: bool
    weight: float

    def describe(self) -> str:
        what = "labels" if self.target == "labels" else "the dense model's outputs"
        return f"{self.output}: {self.loss.replace('_', ' ')} on {what}, weight {self.weight:g}"


@dataclass(frozen=True)
class Objective:
    """What a fine-tune minimises: one :class:`OutputLoss` per model output."""

    losses: tuple[OutputLoss, ...]
    label_output: str | None  # the output accuracy is measured on (None: no labels)

    @property
    def distills(self) -> bool:
        return any(lo.target == "teacher" for lo in self.losses)

    @property
    def labels_only(self) -> bool:
        """A single output trained on labels: what the custom training loops can run."""
        return len(self.losses) == 1 and self.losses[0].target == "labels"

    def describe(self) -> dict[str, Any]:
        """For the manifest: how the recipes' fine-tune was driven."""
        kind = "labels" if not self.distills else (
            "distilled" if all(lo.target == "teacher" for lo in self.losses) else "mixed"
        )
        return {"kind": kind, "losses": [lo.describe() for lo in self.losses]}

    def targets(self, teacher: Any, x: Any, labels: np.ndarray | None) -> Any:
        """The fit targets for inputs ``x``: labels and/or the dense model's outputs."""
        need_teacher = self.distills and n_samples(x) > 0
        predicted = teacher.predict(x, batch_size=256, verbose=0) if need_teacher else None
        if predicted is not None and not isinstance(predicted, (list, tuple)):
            predicted = [predicted]
        out = []
        for i, lo in enumerate(self.losses):
            if lo.target == "labels":
                out.append(np.asarray(labels))
            elif predicted is None:
                out.append(np.zeros((0,), np.float32))
            else:
                out.append(np.asarray(predicted[i], np.float32))
        # By position, in the model's output order: pruning wrappers rename the output layers
        # (prune_low_magnitude_cls), so targets keyed by name would match nothing.
        return out[0] if len(out) == 1 else out

    def compile(self, model: Any, learning_rate: Any) -> None:
        """Compile ``model`` with a fresh Adam and this objective's losses."""
        _, keras, _ = import_tf()
        losses, weights, metrics = [], [], []
        for lo in self.losses:  # by position: pruning wrappers rename the output layers
            if lo.loss == "sparse_cross_entropy":
                losses.append(
                    keras.losses.SparseCategoricalCrossentropy(from_logits=lo.from_logits)
                )
                metrics.append(["accuracy"])
            elif lo.loss == "soft_cross_entropy":
                losses.append(keras.losses.CategoricalCrossentropy(from_logits=lo.from_logits))
                metrics.append([])
            else:
                losses.append(keras.losses.MeanSquaredError())
                metrics.append([])
            weights.append(lo.weight)
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        if len(losses) == 1:
            model.compile(optimizer=optimizer, loss=losses[0], metrics=metrics[0])
        else:
            model.compile(optimizer=optimizer, loss=losses, loss_weights=weights, metrics=metrics)


def output_ends_in_softmax(model: Any, output: str) -> bool:
    """Whether the layer that makes ``output`` is a softmax (probabilities, not logits)."""
    try:
        layer = model.get_layer(output)
    except ValueError:
        return False
    config = layer.get_config()
    return type(layer).__name__ == "Softmax" or config.get("activation") == "softmax"


def make_objective(
    model: Any,
    output_names: Sequence[str],
    output_shapes: Sequence[tuple[int | None, ...]],
    label_output: str | None,
    fine_tune: str,
    weights: Mapping[str, float],
) -> Objective:
    """The fine-tune objective for ``model``: ``fine_tune`` is "auto" (labels on the labelled
    output, distillation for the others), "labels" (needs labels; every other output is
    distilled) or "distill" (every output from the dense model, as if there were no labels:
    they only measure). A distilled softmax output matches the dense model's probabilities
    (soft cross-entropy); any other output its values (mean squared error: logits, boxes,
    embeddings alike, since which of those a linear output is cannot be told)."""
    unknown = [k for k in weights if k not in output_names]
    if unknown:
        raise ConfigError(
            f"[train] output_weights names {unknown}, but the model's outputs are "
            f"{list(output_names)}"
        )
    if fine_tune == "labels" and label_output is None:
        raise ConfigError(
            "[train] fine_tune = \"labels\" needs labelled data (y_train, y_test, or an image "
            "folder); set fine_tune = \"distill\" or \"auto\" to distil from the dense "
            "model's outputs"
        )
    losses = []
    for name, shape in zip(output_names, output_shapes, strict=True):
        softmax = output_ends_in_softmax(model, name)
        weight = float(weights.get(name, 1.0))
        if name == label_output and fine_tune != "distill":
            losses.append(OutputLoss(name, "labels", "sparse_cross_entropy", not softmax, weight))
        elif softmax and len(shape) == 1:
            losses.append(OutputLoss(name, "teacher", "soft_cross_entropy", False, weight))
        else:  # logits, boxes, embeddings: reproduce the values themselves
            losses.append(OutputLoss(name, "teacher", "mean_squared_error", False, weight))
    return Objective(tuple(losses), label_output)


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

    # Declared Any, so that mypy takes it as a base class (TensorFlow has no types).
    schedule_base: Any = keras.optimizers.schedules.LearningRateSchedule

    class Replayed(schedule_base):
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
    validation = (data.x_val, data.y_val) if n_samples(data.x_val) else None
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
    callback_base: Any = keras.callbacks.Callback  # declared Any: mypy takes it as a base

    class EpochProgress(callback_base):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            line = f"{label} epoch {epoch + 1}/{epochs}: loss {logs.get('loss', float('nan')):.3f}"
            for key in sorted(logs):  # accuracy, cls_accuracy, val_accuracy, …
                if key.endswith("accuracy"):
                    line += f", {key} {logs[key]:.3f}"
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


def keras_accuracy(
    model: Any, x: Any, y: Any, batch_size: int = 256, output: int = 0, k: int = 1
) -> float:
    """Top-``k`` accuracy of a tf_keras model on inputs already preprocessed and shaped,
    measured on output number ``output`` (for a model with several)."""
    scores = model.predict(x, batch_size=batch_size, verbose=0)
    if isinstance(scores, (list, tuple)):
        scores = scores[output]
    y = np.asarray(y)
    if not len(y):
        return float("nan")
    scores = np.asarray(scores).reshape(len(y), -1)
    if k == 1:
        return float((np.argmax(scores, axis=-1) == y).mean())
    top = np.argpartition(-scores, min(k, scores.shape[1]) - 1, axis=1)[:, :k]
    return float((top == y[:, None]).any(axis=1).mean())
