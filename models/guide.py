"""The model of TensorFlow's pruning guide (pruning_with_keras): 20,410 parameters."""

from __future__ import annotations

from typing import Any


def pruning_guide_model(
    keras: Any, input_shape: tuple[int, ...] = (28, 28), num_classes: int = 10
) -> Any:
    """InputLayer -> Reshape(h, w, 1) -> Conv2D(12, 3x3, relu) -> MaxPool(2) -> Flatten -> Dense.

    ``input_shape`` is (height, width) or (height, width, channels). The Dense layer outputs
    logits (train with ``from_logits=True``). Layers have fixed names (conv2d, dense, ...), so
    ``layers = [...]`` in a config and the manifest's per-layer sparsity do not depend on how
    many models the process built before. ``keras`` is the Keras module to build with (the
    build stage passes tf-keras, which tfmot needs). Returns a Sequential model.
    """
    if len(input_shape) not in (2, 3):
        raise ValueError(f"input_shape must be (height, width[, channels]); got {input_shape}")
    height, width, channels = (*input_shape, 1)[:3]
    return keras.Sequential(
        [
            keras.layers.InputLayer(input_shape=tuple(input_shape)),
            keras.layers.Reshape(target_shape=(height, width, channels), name="reshape"),
            keras.layers.Conv2D(12, kernel_size=(3, 3), activation="relu", name="conv2d"),
            keras.layers.MaxPooling2D(pool_size=(2, 2), name="max_pooling2d"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(num_classes, name="dense"),
        ],
        name="pruning_guide",
    )
