"""A larger dense model to distil from: two convolutions and a hidden layer, ~225k parameters.

Trained once by the sweep (``[train] teacher = "teacher_cnn"``) on the same training data as
the baseline, it reaches about 92% on Fashion-MNIST's validation split where the pruning
guide's model reaches about 91%; its softened outputs are the targets of every distilled
fine-tune (pruning, clustering, QAT).
"""

from __future__ import annotations

from typing import Any


def teacher_cnn(
    keras: Any, input_shape: tuple[int, ...] = (28, 28), num_classes: int = 10
) -> Any:
    """Reshape -> Conv2D(32) -> MaxPool -> Conv2D(64) -> MaxPool -> Dropout -> Dense(128)
    -> Dense(num_classes), logits out. ``input_shape`` is (height, width[, channels])."""
    if len(input_shape) not in (2, 3):
        raise ValueError(f"input_shape must be (height, width[, channels]); got {input_shape}")
    height, width, channels = (*input_shape, 1)[:3]
    layers = keras.layers
    return keras.Sequential(
        [
            layers.InputLayer(input_shape=tuple(input_shape)),
            layers.Reshape(target_shape=(height, width, channels), name="reshape"),
            layers.Conv2D(32, 3, activation="relu", name="conv2d"),
            layers.MaxPooling2D(name="max_pooling2d"),
            layers.Conv2D(64, 3, activation="relu", name="conv2d_1"),
            layers.MaxPooling2D(name="max_pooling2d_1"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.3, name="dropout"),
            layers.Dense(128, activation="relu", name="hidden"),
            layers.Dense(num_classes, name="dense"),
        ],
        name="teacher_cnn",
    )
