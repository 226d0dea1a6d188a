"""The build stage end to end on a small real subset, and its checks and errors."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgebench.build import facts
from edgebench.build.config import BaselineConfig, load_pipeline
from edgebench.build.pipeline import build_pipeline
from edgebench.build.recipe_runs import verify_sparsity
from edgebench.errors import ConfigError, DatasetError, EdgebenchError, ModelFileError
from edgebench.files import zip_bytes
from edgebench.records import Manifest

SMALL_PIPELINE = Path(__file__).parent / "fixtures" / "small_pipeline.toml"
EXPECTED = [
    "baseline/keras",
    "baseline/float32",
    "pruned/keras",
    "pruned/float32",
    "pruned/dynamic",
    "pruned/float16",
    "pruned/int8",
    "scratch/keras",
    "scratch/float32",
    "scratch/dynamic",
    "scratch/float16",
    "scratch/int8",
]


def tiny_config(**data_limits: int):
    """The small pipeline cut further, with no recipes and no TFLite variants."""
    cfg = load_pipeline(SMALL_PIPELINE).with_overrides(
        train_limit=data_limits.get("train_limit", 300),
        test_limit=data_limits.get("test_limit", 100),
    )
    return dataclasses.replace(cfg, recipes=(), baseline=BaselineConfig(variants=()))


def assert_build_refused(
    cfg: Any, run: Path, error: type[Exception], match: str, **kwargs: Any
) -> None:
    """Building ``cfg`` into ``run`` (``kwargs`` passed on) raises ``error`` matching ``match``."""
    with pytest.raises(error, match=match):
        build_pipeline(cfg, run, progress=lambda s: None, **kwargs)


def one_recipe(
    name: str, train_limit: int, test_limit: int = 100, keep_variants: bool = False,
    **params: object,
):
    """The small pipeline cut to ``train_limit`` and ``test_limit`` samples, with its recipe
    ``name`` alone (``params`` changed; its TFLite variants dropped unless ``keep_variants``)
    and no baseline TFLite variants."""
    cfg = load_pipeline(SMALL_PIPELINE).with_overrides(
        train_limit=train_limit, test_limit=test_limit
    )
    rc = cfg.recipe(name)
    rc = dataclasses.replace(
        rc, params=dataclasses.replace(rc.params, **params),
        variants=rc.variants if keep_variants else (),
    )
    return dataclasses.replace(cfg, recipes=(rc,), baseline=BaselineConfig(variants=()))


# --------------------------------------------------------------------------- the small build


@pytest.mark.slow
def test_small_build_writes_every_artifact_and_a_manifest_that_round_trips(
    small_manifest: Path,
) -> None:
    manifest = Manifest.load(small_manifest)
    assert [a.name for a in manifest.artifacts] == EXPECTED
    assert manifest.run_id == "small-run" and manifest.baseline == "baseline/keras"
    assert manifest.config_path == str(SMALL_PIPELINE)
    assert manifest.dataset.n_train == 2000 and manifest.dataset.n_test == 500
    assert set(manifest.versions) >= {"tensorflow", "tf_keras", "tfmot", "numpy", "python"}
    raw = json.loads(small_manifest.read_text())
    assert raw["schema_version"] == 2
    assert Manifest.load(small_manifest) == manifest
    for art in manifest.artifacts:
        path = small_manifest.parent / art.path
        assert path.is_file() and path.stat().st_size == art.file_bytes
        assert art.zip_bytes == zip_bytes(path)
        assert art.host_accuracy is not None and art.host_accuracy > 0.3, art.name
    names = {a.name: a.path for a in manifest.artifacts}
    assert names["baseline/keras"] == "baseline.h5"
    assert names["pruned/int8"] == "pruned-int8.tflite"


@pytest.mark.slow
def test_eval_data_is_the_raw_test_set_with_its_preprocessing_and_reference_outputs(
    small_manifest: Path,
) -> None:
    from edgebench.bench.device.runner.evaldata import EvalData
    from edgebench.build.datasets import load_dataset

    manifest = Manifest.load(small_manifest)
    assert manifest.eval_data == "eval" and manifest.reference == "baseline-float32.tflite"
    assert manifest.reference_variant == "baseline/float32"
    data = EvalData(small_manifest.parent / manifest.eval_data, need_labels=True)
    assert data.n_total == 500 and data.preprocess == {data.inputs[0]: "unit"}
    assert data.reference_outputs == ["dense"] and data.meta["reference"] == manifest.reference
    (x, y, ref), = list(data.chunks())  # 500 small images: one shard
    ds = load_dataset("fashion_mnist", test_limit=500)
    (raw,) = x.values()
    assert raw.dtype == np.uint8 and np.array_equal(raw, ds.x_test)  # raw: the device scales
    assert np.array_equal(y, ds.y_test) and ref["dense"].shape == (500, 10)
    assert manifest.dataset.preprocess == {data.inputs[0]: "unit"}


@pytest.mark.slow
def test_dense_baseline_is_saved_before_pruning(small_manifest: Path) -> None:
    """The pitfall: prune_low_magnitude shares layers, so a late-saved baseline is sparse."""
    manifest = Manifest.load(small_manifest)
    dense, pruned = manifest.artifact("baseline/keras"), manifest.artifact("pruned/keras")
    assert dense.zip_bytes >= 2.5 * pruned.zip_bytes
    assert dense.nonzero_params == dense.params == 20_410
    from edgebench.build.sources import load_keras_model

    on_disk = facts.keras_facts(load_keras_model(small_manifest.parent / "baseline.h5"))
    assert on_disk.nonzero_params == 20_410
    assert max(on_disk.layer_sparsity.values()) < 0.01


@pytest.mark.slow
def test_a_recipe_that_prunes_the_baseline_itself_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the clone, pruning would make the in-memory dense baseline sparse."""
    from edgebench.build.recipes.base import RecipeContext

    monkeypatch.setattr(RecipeContext, "clone_baseline", lambda self: self.baseline)
    pruned = load_pipeline(SMALL_PIPELINE).recipe("pruned")
    cfg = dataclasses.replace(tiny_config(), recipes=(dataclasses.replace(pruned, variants=()),))
    assert_build_refused(
        cfg, tmp_path / "run", RuntimeError, "a recipe modified the dense baseline"
    )
    saved = facts.keras_facts(_load(tmp_path / "run" / "baseline.h5"))
    assert saved.nonzero_params == saved.params, "the file saved first is still dense"


def _load(path: Path):
    from edgebench.build.sources import load_keras_model

    return load_keras_model(path)


@pytest.mark.slow
def test_each_pruned_layer_reaches_its_target(small_manifest: Path) -> None:
    manifest = Manifest.load(small_manifest)
    for recipe in ("pruned", "scratch"):
        art = manifest.artifact(f"{recipe}/keras")
        assert set(art.layer_sparsity) == {"conv2d", "dense"}
        for layer, got in art.layer_sparsity.items():
            assert abs(got - 0.85) <= 0.01, (recipe, layer, got)
        assert art.nonzero_params < 0.2 * art.params
        assert art.extra["target_sparsity"] == 0.85


@pytest.mark.slow
def test_tflite_variants_have_the_documented_formats(small_manifest: Path) -> None:
    manifest = Manifest.load(small_manifest)
    int8 = manifest.artifact("pruned/int8")
    assert (int8.input_dtype, int8.output_dtype) == ("int8", "int8")
    op_names = {op.name for op in int8.ops}
    assert {"CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D"} <= op_names
    assert "DEQUANTIZE" not in op_names
    assert manifest.artifact("pruned/float32").input_dtype == "float32"
    assert manifest.artifact("baseline/float32").params == 20_410
    f16 = manifest.artifact("pruned/float16")
    assert "DEQUANTIZE" in {op.name for op in f16.ops}
    sizes = {a.kind: a.file_bytes for a in manifest.artifacts if a.recipe == "pruned"}
    assert sizes["float32"] > sizes["float16"] > sizes["dynamic"]
    for art in manifest.tflite_artifacts():
        assert art.extra["eval_method"] == "batched(128)" and art.extra["eval_n"] == 500


@pytest.mark.slow
def test_quantised_variants_are_much_smaller_than_the_dense_baseline(
    small_manifest: Path,
) -> None:
    manifest = Manifest.load(small_manifest)
    dense = manifest.artifact("baseline/keras")
    best = max(manifest.tflite_artifacts(), key=lambda a: a.compression_ratio)
    assert best.compression_ratio == pytest.approx(dense.zip_bytes / best.zip_bytes, rel=1e-3)
    assert best.compression_ratio >= 8.0, best


@pytest.mark.slow
def test_progress_reports_each_epoch_and_conversion(small_manifest: Path) -> None:
    text = (small_manifest.parent / "progress.txt").read_text()
    assert "baseline epoch 1/1: loss " in text and "pruned epoch 1/1: loss" in text
    assert "scratch/int8: " in text and "zipped" in text
    assert "build done in" in text


# --------------------------------------------------------------------------- sparsity check


def test_verify_sparsity_names_the_layer_and_both_numbers() -> None:
    verify_sparsity("pruned", {"conv2d": 0.795, "dense": 0.8}, {"conv2d": 0.8, "dense": 0.8})
    with pytest.raises(EdgebenchError) as err:
        verify_sparsity("pruned", {"conv2d": 0.8, "dense": 0.713}, {"conv2d": 0.8, "dense": 0.8})
    msg = str(err.value)
    assert "recipes.pruned: layer dense reached 71.3% sparsity, target 80.0%" in msg
    assert "(more than 1 point off)" in msg
    assert "conv2d" not in msg and "end_step" in msg


@pytest.mark.slow
def test_a_schedule_that_ends_after_training_fails_the_build(tmp_path: Path) -> None:
    cfg = one_recipe("pruned", train_limit=600, end_step=500)
    assert_build_refused(
        cfg, tmp_path / "run", EdgebenchError,
        r"recipes\.pruned: layer conv2d reached .* sparsity, target 85\.0%.*layer dense reached",
    )
    assert not (tmp_path / "run" / "manifest.json").exists()
    assert (tmp_path / "run" / "baseline.h5").is_file(), "what was built before is kept"


@pytest.mark.slow
def test_only_the_named_layers_are_pruned(tmp_path: Path) -> None:
    cfg = one_recipe("pruned", train_limit=600, layers=("dense",))
    manifest = Manifest.load(build_pipeline(cfg, tmp_path / "run", progress=lambda s: None))
    sparsity = manifest.artifact("pruned/keras").layer_sparsity
    assert abs(sparsity["dense"] - 0.85) <= 0.01
    assert sparsity["conv2d"] < 0.05


@pytest.mark.slow
def test_an_unknown_layer_name_lists_the_model_layers(tmp_path: Path) -> None:
    cfg = one_recipe("pruned", train_limit=300, keep_variants=True, layers=("fc1",))
    assert_build_refused(
        cfg, tmp_path / "run", ConfigError,
        r"recipes\.pruned\.layers: no layer with weights named 'fc1'; the model's layers with "
        r"weights are: conv2d, dense",
    )


def test_tensorboard_without_tensorboard_fails_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorboard" else real(name, *a),
    )
    cfg = load_pipeline(SMALL_PIPELINE)
    scratch = cfg.recipe("scratch")
    tb = dataclasses.replace(scratch, params=dataclasses.replace(scratch.params, tensorboard=True))
    cfg = dataclasses.replace(cfg, recipes=(tb,))
    assert_build_refused(
        cfg, tmp_path / "run", ConfigError,
        r"recipes\.scratch\.tensorboard = true needs TensorBoard.*pip install tensorboard",
    )
    assert not (tmp_path / "run" / "eval").exists()


@pytest.mark.slow
def test_tensorboard_true_writes_pruning_summaries(tmp_path: Path) -> None:
    """PruningSummaries writes event files with the pruning step and sparsity for TensorBoard."""
    cfg = one_recipe("pruned", train_limit=400, test_limit=50, tensorboard=True)
    build_pipeline(cfg, tmp_path / "run", progress=lambda s: None)
    events = list((tmp_path / "run" / "tensorboard" / "pruned").rglob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for e in events:
        acc = EventAccumulator(str(e))
        acc.Reload()
        tags |= set(acc.Tags().get("scalars", [])) | set(acc.Tags().get("tensors", []))
    assert any("sparsity" in t for t in tags), tags


# --------------------------------------------------------------------------- user models


def _save_model(path: Path, input_shape: tuple[int, ...], classes: int = 10) -> Path:
    from edgebench.build._tf import import_tf

    _, keras, _ = import_tf()
    model = keras.Sequential(
        [
            keras.layers.InputLayer(input_shape=input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(classes, activation="softmax", name="dense"),
        ]
    )
    model.save(path)
    return path


def test_a_user_model_whose_input_does_not_fit_is_a_dataset_error(tmp_path: Path) -> None:
    path = _save_model(tmp_path / "cifar.keras", (32, 32, 3))
    with pytest.raises(DatasetError) as err:
        build_pipeline(tiny_config(), tmp_path / "run", model_path=path, progress=lambda s: None)
    msg = str(err.value)
    assert "takes input (32, 32, 3)" in msg and "samples (28, 28)" in msg
    assert str(path) in msg


def test_a_user_model_with_the_wrong_number_of_classes_is_a_dataset_error(tmp_path: Path) -> None:
    path = _save_model(tmp_path / "three.h5", (28, 28), classes=3)
    assert_build_refused(
        tiny_config(), tmp_path / "run", DatasetError,
        r"outputs \[3\] \(\w+\) but the dataset fashion_mnist has 10 classes", model_path=path,
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"", r"is empty \(0 bytes\)"),
        (b"\x89HDF\r\n\x1a\n garbage" * 3, "cannot load .* as a Keras model"),
    ],
)
def test_missing_empty_or_corrupt_model_file(tmp_path: Path, content, message: str) -> None:
    path = tmp_path / "model.h5"
    if content is not None:
        path.write_bytes(content)
    assert_build_refused(tiny_config(), tmp_path / "run", ModelFileError, message, model_path=path)


@pytest.mark.slow
def test_a_user_model_is_the_baseline_as_it_is(tmp_path: Path) -> None:
    path = _save_model(tmp_path / "mine.keras", (28, 28, 1))
    from edgebench.build.sources import load_keras_model

    weights = load_keras_model(path).get_weights()
    cfg = dataclasses.replace(tiny_config(), baseline=BaselineConfig(variants=()))
    pruned = load_pipeline(SMALL_PIPELINE).recipe("pruned")
    cfg = dataclasses.replace(cfg, recipes=(dataclasses.replace(pruned, variants=()),))
    manifest = Manifest.load(
        build_pipeline(cfg, tmp_path / "run", model_path=path, progress=lambda s: None)
    )
    base = manifest.artifact("baseline/keras")
    assert base.extra["source"] == str(path) and base.params == 28 * 28 * 10 + 10
    saved = load_keras_model(tmp_path / "run" / "baseline.h5").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(weights, saved, strict=True)), "not retrained"
    assert abs(manifest.artifact("pruned/keras").layer_sparsity["dense"] - 0.85) <= 0.01
