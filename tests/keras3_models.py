"""Make Keras 3 models for the tests, the way today's TensorFlow saves them by default.

    python tests/keras3_models.py OUT_DIR       # WITHOUT TF_USE_LEGACY_KERAS (Keras 3)

Writes ``cnn.keras`` and ``cnn.h5`` (a small Sequential CNN on 16x16x1 images, 10 logits,
BatchNormalization with non-trivial moving statistics so a weight mix-up shows),
``cnn.ref.npz`` (4 random inputs ``x`` and Keras 3's own outputs ``y``), ``cnn_export/``
(``model.export``: a SavedModel) and ``custom.keras`` (a registered custom layer, which
tf-keras cannot rebuild). The test process sets TF_USE_LEGACY_KERAS for tfmot, so the tests
run this in a subprocess of its own.
"""

import os
import sys
from pathlib import Path

assert "TF_USE_LEGACY_KERAS" not in os.environ, "this script must run with Keras 3"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402


@keras.saving.register_keras_serializable(package="edgebench_demo")
class ScaledDense(keras.layers.Layer):
    """Dense with a learned per-unit scale: a layer of the user's own."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units))
        self.scale = self.add_weight(name="scale", shape=(self.units,), initializer="ones")

    def call(self, x):
        return keras.ops.matmul(x, self.kernel) * self.scale

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def cnn():
    return keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Conv2D(8, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.ReLU(name="relu"),
            keras.layers.DepthwiseConv2D(3, padding="same", name="depthwise"),
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="k3_cnn",
    )


def custom():
    inp = keras.Input((16, 16, 1))
    x = keras.layers.Flatten()(inp)
    x = ScaledDense(8, name="scaled_dense")(x)
    return keras.Model(inp, keras.layers.Dense(10, name="logits")(x), name="k3_custom")


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(1)
    model = cnn()
    bn = model.get_layer("bn")
    g, b, mean, var = bn.get_weights()
    bn.set_weights([rng.uniform(0.5, 1.5, g.shape).astype("float32"),
                    rng.normal(0, 0.1, b.shape).astype("float32"),
                    rng.normal(0, 0.1, mean.shape).astype("float32"),
                    rng.uniform(0.5, 1.5, var.shape).astype("float32")])
    x = rng.random((4, 16, 16, 1), dtype=np.float32)
    np.savez(out / "cnn.ref.npz", x=x, y=np.asarray(model(x, training=False)))
    model.save(out / "cnn.keras")
    model.save(out / "cnn.h5")  # Keras 3's legacy HDF5 format
    model.export(str(out / "cnn_export"), verbose=False)
    custom().save(out / "custom.keras")
    print("keras", keras.__version__, "->", out)


if __name__ == "__main__":
    main(sys.argv[1])
