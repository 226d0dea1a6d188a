"""Keras' MobileNetV2, built without pretrained weights, for short trainings on small images."""

from __future__ import annotations

from typing import Any

#: BatchNormalization momentum for short trainings. Keras' default, 0.999, barely moves the
#: moving statistics in a few hundred steps: trained 126 steps on 2,000 Fashion-MNIST images
#: at 96x96, every test image got one class (accuracy 0.100) although training accuracy was
#: 0.556; with 0.9 the same training gave 0.634 (measured while building issue 9).
BN_MOMENTUM = 0.9


def mobilenet_v2(
    keras: Any,
    input_shape: tuple[int, ...] = (96, 96, 3),
    num_classes: int = 10,
    alpha: float = 0.35,
    bn_momentum: float = BN_MOMENTUM,
) -> Any:
    """``keras.applications.MobileNetV2(alpha, weights=None)`` with ``num_classes`` outputs.

    ``input_shape`` is (height, width, channels), at least 32x32. The model expects inputs in
    [-1, 1] (``preprocess = "symmetric"``) and ends in a softmax. ``keras`` is the Keras
    module to build with (the build stage passes tf-keras, which tfmot needs). edgebench ships
    no weights and downloads none: the model is initialised at random and trained by the build.
    """
    if len(input_shape) != 3 or min(input_shape[:2]) < 32:
        raise ValueError(
            f"MobileNetV2 needs (height, width, channels) of at least 32x32; got {input_shape}"
        )
    model = keras.applications.MobileNetV2(
        input_shape=tuple(input_shape), alpha=alpha, weights=None, classes=num_classes
    )
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum
    return model
