"""A real convnet end to end: Keras' MobileNetV2 (alpha 0.35) on an image folder written from
Fashion-MNIST, pruned (pointwise, depthwise and dense kernels) and quantised to int8, benched
and gated. A tiny subset and one training step here; the real-size run is
models/examples/mobilenet_v2.toml, with its figures in docs/results.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgebench.models.examples.fashion_images import write_image_folder
from edgebench.records import Manifest, Results

PIPELINE = """schema_version = 1
[data]
dataset = "images"
image_size = [32, 32]
preprocess = "symmetric"
calibration_samples = 8
[model]
builtin = "mobilenet_v2"
options = { alpha = 0.35 }
[train]
epochs = 1
batch_size = 20
validation_split = 0.0
[baseline]
variants = ["float32"]
[recipes.pruned]
recipe = "prune_after_training"
epochs = 1
schedule = "constant_sparsity"
target_sparsity = 0.5
frequency = 1
variants = ["int8"]
[bench]
runs = 3
warmup = 1
repeats = 1
eval_batch = 10
[gate]
budgets = "budgets.toml"
"""
BUDGETS = """schema_version = 1
[budgets."*"]
max_peak_rss_mb = 1000
[budgets."pruned/int8"]
max_zip_bytes = 700000
min_cosine = -1
"""


def test_the_builtin_mobilenet_v2_has_no_pretrained_weights_and_short_training_bn() -> None:
    from edgebench.build._tf import import_tf
    from edgebench.models.mobilenet import mobilenet_v2

    _, keras, _ = import_tf()
    model = mobilenet_v2(keras, (96, 96, 3), 10)
    assert model.count_params() == 423_018 and model.output_shape == (None, 10)
    bns = [la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)]
    assert len(bns) == 52 and {la.momentum for la in bns} == {0.9}
    depthwise = [la for la in model.layers if type(la) is keras.layers.DepthwiseConv2D]
    assert len(depthwise) == 17
    with pytest.raises(ValueError, match="at least 32x32"):
        mobilenet_v2(keras, (28, 28, 1), 10)


# ~140 s of the converter's SavedModel tracing and tf-keras's training-step tracing on a
# 2-core machine, whatever the data size: its own tier (tox -e heavy), outside the 10 minutes.
@pytest.mark.slow
@pytest.mark.heavy
def test_mobilenet_v2_on_an_image_folder_is_pruned_with_its_depthwise_kernels_and_benched(
    cli, tmp_path: Path
) -> None:
    written = write_image_folder(tmp_path / "images", size=32, train_per_class=2,
                                 test_per_class=1)
    assert written == {"train": 20, "test": 10}
    (tmp_path / "pipeline.toml").write_text(PIPELINE)
    (tmp_path / "budgets.toml").write_text(BUDGETS)
    run = cli("run", "--config", tmp_path / "pipeline.toml", "--out", tmp_path / "out",
              "--no-history")
    assert run.code in (0, 1), run.err  # the gate gave a verdict
    assert "gate: PASSED" in run.out, run.out
    manifest = Manifest.load(tmp_path / "out" / "latest")
    assert manifest.dataset.num_classes == 10 and manifest.dataset.n_test == 10
    assert list(manifest.dataset.preprocess.values()) == ["symmetric"]
    pruned = manifest.artifact("pruned/keras").layer_sparsity
    depthwise = {k: v for k, v in pruned.items() if "depthwise" in k}
    pointwise = {k: v for k, v in pruned.items() if k.endswith(("_project", "_expand"))}
    assert len(depthwise) == 17 and len(pointwise) == 33
    assert all(abs(v - 0.5) <= 0.01 for v in [*depthwise.values(), *pointwise.values()])
    assert abs(pruned["predictions"] - 0.5) <= 0.01
    int8 = manifest.artifact("pruned/int8")
    assert int8.input_dtype == "int8" and int8.fidelity
    assert manifest.artifact("baseline/float32").zip_bytes > 3 * int8.zip_bytes
    (res,) = [Results.load(p) for p in (tmp_path / "out" / "latest").glob("results-*.json")]
    assert [r.variant for r in res.records] == ["baseline/float32", "pruned/int8"]
    for rec in res.records:
        assert rec.ok and rec.eval_n == 10 and rec.accuracy is not None
        (fid,) = rec.fidelity
        assert fid.output == "predictions" and fid.top1_agreement is not None
    assert res.record("baseline/float32").fidelity[0].max_abs == 0.0
