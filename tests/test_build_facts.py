"""Artifact facts (zip bytes, parameter counts, sparsity) and the pruning guide's model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgebench.build import facts
from edgebench.build._tf import import_tf
from edgebench.records import VariantKind


@pytest.fixture(scope="module")
def hand_made_model():
    """Dense(4) on 3 inputs: kernel with 6 of 12 zeros, bias with 1 of 4 zeros."""
    from edgebench.build._tf import import_tf

    _, keras, _ = import_tf()
    model = keras.Sequential(
        [keras.layers.InputLayer(input_shape=(3,)), keras.layers.Dense(4, name="d")]
    )
    kernel = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
    kernel[0, :] = 0
    kernel[1, :2] = 0
    model.set_weights([kernel, np.array([0.0, 1.0, 2.0, 3.0], np.float32)])
    return model


def test_keras_facts_count_zeros_and_kernel_sparsity(hand_made_model) -> None:
    wf = facts.keras_facts(hand_made_model)
    assert (wf.params, wf.nonzero_params) == (16, 9)
    assert wf.layer_sparsity == {"d": 0.5}


@pytest.mark.parametrize("kind", [VariantKind.FLOAT32, VariantKind.FLOAT16, VariantKind.DYNAMIC])
def test_tflite_facts_read_the_constants_in_the_flatbuffer(
    hand_made_model, tmp_path: Path, kind: VariantKind
) -> None:
    from edgebench.build.conversion import convert

    path = tmp_path / "m.tflite"
    path.write_bytes(convert(hand_made_model, kind, np.zeros((4, 3), np.float32)))
    wf = facts.tflite_facts(path)
    # The converter may keep a 1-D weight input for tiny dynamic models unquantised, but the
    # kernel's 6 zeros and the bias's zero must survive every variant.
    assert wf.params == 16
    assert wf.nonzero_params == 9
    assert list(wf.layer_sparsity.values()) == [0.5]


def test_tflite_facts_of_an_int8_model_compare_with_the_zero_point(tmp_path: Path) -> None:
    from edgebench.build._tf import import_tf
    from edgebench.build.conversion import convert

    _, keras, _ = import_tf()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.layers.InputLayer(input_shape=(8,)), keras.layers.Dense(16, name="d")]
    )
    kernel, bias = model.get_weights()
    kernel[:, :12] = 0.0  # 75% zeros
    model.set_weights([kernel, bias + 0.5])
    calib = np.random.default_rng(0).random((50, 8)).astype(np.float32)
    path = tmp_path / "m.tflite"
    path.write_bytes(convert(model, VariantKind.INT8, calib))
    wf = facts.tflite_facts(path)
    assert wf.params == 8 * 16 + 16
    assert wf.nonzero_params == 8 * 4 + 16
    assert list(wf.layer_sparsity.values()) == [0.75]


def test_the_pruning_guide_model_has_20410_parameters() -> None:
    from edgebench.models import BUILTIN_MODELS
    from edgebench.models.guide import pruning_guide_model

    _, keras, _ = import_tf()
    model = pruning_guide_model(keras)
    assert model.count_params() == 20_410
    assert [type(layer).__name__ for layer in model.layers] == [
        "Reshape",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
    ]
    assert model.input_shape == (None, 28, 28) and model.output_shape == (None, 10)
    assert model.layers[1].get_config()["activation"] == "relu"
    assert model.layers[-1].get_config()["activation"] == "linear"  # logits
    assert BUILTIN_MODELS["pruning_guide"] is pruning_guide_model
    assert pruning_guide_model(keras, (28, 28, 1), num_classes=3).output_shape == (None, 3)


def test_guide_layer_names_do_not_depend_on_earlier_models() -> None:
    from edgebench.models.guide import pruning_guide_model

    _, keras, _ = import_tf()
    pruning_guide_model(keras)
    names = [layer.name for layer in pruning_guide_model(keras).layers]
    assert names == ["reshape", "conv2d", "max_pooling2d", "flatten", "dense"]
