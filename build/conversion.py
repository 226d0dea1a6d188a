"""Conversion to TFLite variants, from a tf-keras model or from a SavedModel signature.

Every variant is configured the same way whatever the source (:func:`configure`): float32
plain; dynamic ``Optimize.DEFAULT`` (int8 weights); float16 DEFAULT with float16 weights; int8
full integer with int8 input and output, calibrated on a representative dataset drawn from the
user's training data. For a model with several inputs the representative dataset yields a dict
keyed by input name: a list would be matched to the TFLite input order, which is neither the
model's nor alphabetical (with two inputs of one shape, each would be calibrated on the
other's data).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgebench.build._tf import import_tf
from edgebench.records import VariantKind

Calibration = np.ndarray | Mapping[str, np.ndarray]


def representative_dataset(calibration: Calibration) -> Any:
    """The converter's representative dataset: one sample a step, a list for one input, a dict
    by input name for several."""

    def one_input() -> Iterator[list[np.ndarray]]:
        assert isinstance(calibration, np.ndarray)
        for i in range(len(calibration)):
            yield [calibration[i : i + 1]]

    def named_inputs() -> Iterator[dict[str, np.ndarray]]:
        assert isinstance(calibration, Mapping)
        n = len(next(iter(calibration.values())))
        for i in range(n):
            yield {k: v[i : i + 1] for k, v in calibration.items()}

    return one_input if isinstance(calibration, np.ndarray) else named_inputs


def configure(converter: Any, kind: VariantKind, calibration: Calibration | None,
              sparse: bool = False, dense_per_tensor: bool = False) -> Any:
    """Set a TFLiteConverter up for the variant ``kind`` (see the module docstring).

    ``sparse`` adds ``Optimize.EXPERIMENTAL_SPARSITY``: sparse weights are stored in a
    compressed (CSR-like) format that sparse kernels can use. ``dense_per_tensor`` (int8)
    quantises Dense (FULLY_CONNECTED) weights with one scale instead of one per output channel,
    as QAT does: a clustered kernel's k values then stay k int8 codes (per channel they can
    become up to k per channel, which zips worse).
    """
    tf, _, _ = import_tf()
    if kind is VariantKind.DYNAMIC:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif kind is VariantKind.FLOAT16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif kind is VariantKind.INT8:
        if calibration is None:
            raise ValueError("the int8 variant needs calibration samples")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset(calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        if dense_per_tensor:
            converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    elif kind is not VariantKind.FLOAT32:
        raise ValueError(f"not a TFLite variant: {kind}")
    if sparse:
        converter.optimizations = [
            *converter.optimizations,
            tf.lite.Optimize.EXPERIMENTAL_SPARSITY,
        ]
    return converter


def run_converter(converter: Any) -> bytes:
    with warnings.catch_warnings():
        # int8 input/output makes the converter warn about input statistics it does not need.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()


def convert(
    model: Any, kind: VariantKind, calibration: Calibration | None, sparse: bool = False,
    dense_per_tensor: bool = False,
) -> bytes:
    """One TFLite variant of a tf_keras model."""
    tf, _, _ = import_tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    return run_converter(configure(converter, kind, calibration, sparse, dense_per_tensor))


def convert_saved_model(
    path: Path, signature_key: str, kind: VariantKind, calibration: Calibration | None
) -> bytes:
    """One TFLite variant of a SavedModel signature.

    Through ``tf.saved_model.load`` + ``from_concrete_functions([fn], loaded)``, never
    ``from_saved_model``: for a Keras 3 model written by ``tf.saved_model.save`` the latter
    leaves the variables as uninitialised resource variables (every output NaN, and int8
    calibration fails in READ_VARIABLE), while this route works for every writer.
    """
    tf, _, _ = import_tf()
    loaded = tf.saved_model.load(str(path))
    fn = loaded.signatures[signature_key]
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], loaded)
    return run_converter(configure(converter, kind, calibration))
