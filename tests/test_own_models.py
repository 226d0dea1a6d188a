"""Your own model and data through edgebench run: a Keras 3 .keras file with unlabelled data, a
SavedModel (convert-only), a model with two inputs and two outputs; and the models edgebench
cannot take, each one line that names the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgebench.records import Manifest, Results

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def keras3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keras 3 files made by Keras 3 itself, in a process without TF_USE_LEGACY_KERAS."""
    out = tmp_path_factory.mktemp("keras3")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    proc = subprocess.run([sys.executable, str(HERE / "keras3_models.py"), str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def unlabelled_npz(path: Path) -> Path:
    """16x16 grey images without labels: field data nobody labelled."""
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (96, 16, 16, 1), dtype=np.uint8),
             x_test=rng.integers(0, 256, (40, 16, 16, 1), dtype=np.uint8))
    return path


def write_pipeline(folder: Path, dataset: str, recipes: str, budgets: str,
                   data: str = 'preprocess = "unit"', baseline: str = '["float32", "int8"]'
                   ) -> Path:
    (folder / "budgets.toml").write_text(f"schema_version = 1\n{budgets}\n")
    path = folder / "pipeline.toml"
    path.write_text(f"""schema_version = 1
[data]
dataset = "{dataset}"
calibration_samples = 16
{data}
[train]
batch_size = 16
validation_split = 0.0
[baseline]
variants = {baseline}
{recipes}
[bench]
runs = 5
warmup = 1
eval_batch = 16
[gate]
budgets = "budgets.toml"
""")
    return path


PRUNED = """[recipes.pruned]
recipe = "prune_after_training"
epochs = 1
schedule = "constant_sparsity"
target_sparsity = 0.5
frequency = 1
"""


def results_of(out: Path) -> Results:
    (res,) = [Results.load(p) for p in (out / "latest").glob("results-*.json")]
    return res


# --------------------------------------------------------------------------- Keras 3


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnn.keras", "cnn.h5"])
def test_a_keras3_file_is_rebuilt_in_tf_keras_with_keras3s_own_outputs(
    keras3_dir: Path, name: str
) -> None:
    from edgebench.build import sources

    src = sources.load_source(keras3_dir / name)
    assert src.kind == "keras3"
    assert [(t.name, t.shape) for t in src.outputs] == [("logits", (10,))]
    ref = np.load(keras3_dir / "cnn.ref.npz")
    got = src.model.predict(ref["x"], verbose=0)
    assert np.abs(got - ref["y"]).max() < 1e-5  # BatchNormalization's statistics included


@pytest.mark.slow
def test_a_keras3_model_with_unlabelled_data_is_pruned_clustered_and_qat_tuned(
    cli, keras3_dir: Path, tmp_path: Path
) -> None:
    """No labels: every fine-tune distils from the dense model, the manifest says so, and
    every record carries fidelity figures instead of an accuracy."""
    unlabelled_npz(tmp_path / "field.npz")
    recipes = PRUNED + 'variants = ["int8"]\n' + """
[recipes.clustered]
recipe = "cluster"
start_from = "pruned"
clusters = 8
epochs = 1
variants = ["int8"]
[recipes.qat]
recipe = "pqat"
start_from = "pruned"
epochs = 1
variants = ["int8"]
"""
    config = write_pipeline(tmp_path, "field.npz", recipes,
                            '[budgets."*/int8"]\nmin_snr_db = -20\nmin_cosine = -1\n')
    run = cli("run", "--config", config, "--model", keras3_dir / "cnn.keras",
              "--out", tmp_path / "out", "--no-history")
    assert run.code == 0, run.err
    manifest = Manifest.load(tmp_path / "out" / "latest")
    assert manifest.model_source["kind"] == "keras3"
    assert manifest.dataset.labelled is False and manifest.dataset.num_classes is None
    for name in ("pruned", "clustered", "qat"):
        fine_tune = manifest.artifact(f"{name}/keras").extra["fine_tune"]
        assert fine_tune["kind"] == "distilled", fine_tune
        assert "the dense model's outputs" in fine_tune["losses"][0]
    assert "fine-tune: distilled" in run.err
    assert manifest.artifact("pruned/keras").layer_sparsity["depthwise"] == pytest.approx(0.5)
    res = results_of(tmp_path / "out")
    assert [r.variant for r in res.records] == [
        "baseline/float32", "baseline/int8", "pruned/int8", "clustered/int8", "qat/int8"]
    for rec in res.records:
        assert rec.ok and rec.accuracy is None and rec.eval_n == 40
        (fid,) = rec.fidelity
        assert fid.output == "logits" and fid.n == 40 and rec.reference == manifest.reference
    assert res.record("baseline/float32").fidelity[0].max_abs == 0.0  # the reference itself
    assert 20 < res.record("baseline/int8").fidelity[0].snr_db < 80
    assert "output fidelity against the float32 reference" in run.out
    assert "gate: PASSED" in run.out


@pytest.mark.slow
def test_a_saved_model_is_converted_and_benched_and_the_recipes_say_why_they_did_not_run(
    cli, keras3_dir: Path, tmp_path: Path
) -> None:
    unlabelled_npz(tmp_path / "field.npz")
    config = write_pipeline(tmp_path, "field.npz", PRUNED + 'variants = ["dynamic", "int8"]\n',
                            '[budgets."*"]\nmin_snr_db = 10\n', baseline='["float32"]')
    run = cli("run", "--config", config, "--model", keras3_dir / "cnn_export",
              "--out", tmp_path / "out", "--no-history")
    assert run.code == 0, run.err
    manifest = Manifest.load(tmp_path / "out" / "latest")
    assert manifest.model_source["kind"] == "saved_model"
    assert manifest.model_source["signature"] == "serving_default"
    assert [a.name for a in manifest.artifacts] == [
        "baseline/float32", "baseline/dynamic", "baseline/int8"]
    assert "no Keras layers" in manifest.skipped_recipes["pruned"]
    assert "pruned: skipped" in run.err
    res = results_of(tmp_path / "out")
    assert [r.variant for r in res.records] == [a.name for a in manifest.artifacts]
    assert all(r.ok and len(r.fidelity) == 1 for r in res.records)
    ref = np.load(keras3_dir / "cnn.ref.npz")  # the SavedModel's float32 is Keras 3's model
    from ai_edge_litert.interpreter import Interpreter

    from edgebench.bench.device.shards import model_outputs

    interp = Interpreter(model_path=str(manifest.folder / manifest.reference))
    (out,) = model_outputs(interp, {"x": ref["x"]}).values()
    assert np.abs(out - ref["y"]).max() < 1e-5


@pytest.mark.slow
def test_a_keras3_custom_layer_is_one_line_that_names_it_and_the_fix(
    cli, keras3_dir: Path, tmp_path: Path
) -> None:
    unlabelled_npz(tmp_path / "field.npz")
    config = write_pipeline(tmp_path, "field.npz", "", '[budgets."*"]\nmin_snr_db = 0\n')
    earlier = tmp_path / "out" / "earlier" / "manifest.json"  # a run made before: kept
    earlier.parent.mkdir(parents=True)
    earlier.write_text("{}")
    run = cli("build", "--config", config, "--model", keras3_dir / "custom.keras",
              "--out", tmp_path / "out")
    run.error_line("custom.keras: layer 'scaled_dense' is the custom class "
                   "'edgebench_demo>ScaledDense'", "[model] custom_objects", "model.export(DIR)")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["earlier"]
    assert earlier.read_text() == "{}"


# --------------------------------------------------------------------------- two outputs


def two_io_model(keras):
    image = keras.Input((8, 8, 1), name="image")
    meta = keras.Input((3,), name="meta")
    x = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu", name="conv")(image))
    h = keras.layers.Concatenate()([x, keras.layers.Dense(4, name="meta_dense")(meta)])
    h = keras.layers.Dense(16, activation="relu", name="hidden")(h)
    cls = keras.layers.Dense(4, activation="softmax", name="cls")(h)
    box = keras.layers.Dense(2, name="box")(h)
    return keras.Model([image, meta], [cls, box])


@pytest.mark.slow
def test_a_model_with_two_inputs_and_two_outputs_is_built_benched_and_gated(
    cli, tmp_path: Path
) -> None:
    """Inputs by name everywhere (data, representative dataset, runner); the labels train and
    measure the class output, the box output is distilled; fidelity for both outputs."""
    from edgebench.build._tf import import_tf

    _, keras, _ = import_tf()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n_train, n_test = 160, 48
    y = rng.integers(0, 4, n_train + n_test)
    image = rng.integers(0, 60, (n_train + n_test, 8, 8, 1)).astype(np.uint8)
    image[np.arange(len(y)), y * 2, y * 2, 0] = 255  # the class is visible in the image
    meta = rng.random((n_train + n_test, 3)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x_train_image=image[:n_train], x_train_meta=meta[:n_train],
             y_train=y[:n_train], x_test_image=image[n_train:], x_test_meta=meta[n_train:],
             y_test=y[n_train:])
    model = two_io_model(keras)
    model.compile("adam", ["sparse_categorical_crossentropy", "mse"])
    model.fit([image[:n_train] / 255.0, meta[:n_train]],
              [y[:n_train], np.zeros((n_train, 2))], epochs=30, verbose=0)
    model.save(tmp_path / "two.keras")
    config = write_pipeline(
        tmp_path, "data.npz", PRUNED + 'variants = ["float32", "int8"]\n',
        '[budgets."*"]\nmin_accuracy = 0.5\n[budgets."*/int8"]\nmin_top1_agreement = 0.8\n',
        data='preprocess = { image = "unit", meta = "none" }',
    )
    run = cli("run", "--config", config, "--model", tmp_path / "two.keras",
              "--out", tmp_path / "out", "--no-history")
    assert run.code == 0, run.out + run.err
    manifest = Manifest.load(tmp_path / "out" / "latest")
    assert manifest.dataset.inputs == ("image", "meta")
    assert manifest.dataset.preprocess == {"image": "unit", "meta": "none"}
    assert manifest.dataset.outputs == ("cls", "box")
    fine_tune = manifest.artifact("pruned/keras").extra["fine_tune"]
    assert fine_tune["kind"] == "mixed" and "cls: sparse cross entropy on labels" in str(fine_tune)
    res = results_of(tmp_path / "out")
    assert [r.variant for r in res.records] == [
        "baseline/float32", "baseline/int8", "pruned/float32", "pruned/int8"]
    for rec in res.records:
        fid = {f.output: f for f in rec.fidelity}
        assert sorted(fid) == ["box", "cls"] and rec.accuracy is not None
        assert fid["cls"].top1_agreement is not None and fid["box"].top1_agreement is None
    base = res.record("baseline/float32")
    assert base.accuracy == manifest.artifact("baseline/float32").host_accuracy > 0.5
    assert res.record("baseline/int8").fidelity[0].snr_db > 15
    assert "gate: PASSED" in run.out


# --------------------------------------------------------------------------- refused models


LAYERS = '''
import tf_keras


@tf_keras.saving.register_keras_serializable(package="mine")
class Scale(tf_keras.layers.Layer):
    def build(self, shape):
        self.w = self.add_weight(name="w", shape=(int(shape[-1]),), initializer="ones")

    def call(self, x):
        return x * self.w
'''


@pytest.mark.slow
def test_a_layer_tfmot_cannot_prune_is_one_line_naming_it_before_anything_is_built(
    cli, tmp_path: Path
) -> None:
    from edgebench.build import sources
    from edgebench.build._tf import import_tf

    _, keras, _ = import_tf()
    (tmp_path / "my_layers.py").write_text(LAYERS)
    sources.import_custom_objects("my_layers.py", tmp_path)
    scale = sys.modules["_edgebench_layers_my_layers"].Scale
    inp = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    x = scale(name="scale")(x)
    out = keras.layers.Dense(10, name="logits")(keras.layers.Flatten()(x))
    keras.Model(inp, out).save(tmp_path / "mine.keras")
    unlabelled_npz(tmp_path / "field.npz")
    config = write_pipeline(tmp_path, "field.npz", PRUNED, '[budgets."*"]\nmin_snr_db = 0\n',
                            data='preprocess = "unit"\n[model]\ncustom_objects = "my_layers.py"')
    earlier = tmp_path / "out" / "earlier" / "manifest.json"  # a run made before: kept
    earlier.parent.mkdir(parents=True)
    earlier.write_text("{}")
    run = cli("build", "--config", config, "--model", tmp_path / "mine.keras",
              "--out", tmp_path / "out", "--run", "r")
    run.error_line("recipes.pruned: layer 'scale' (Scale) cannot be pruned by tfmot",
                   "recipes.pruned.layers = [...]", "prunable layers: conv, logits")
    assert "reference:" not in run.err  # refused before converting anything
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["earlier"]
    assert earlier.read_text() == "{}"
    # Naming the prunable layers is the fix the line gives:
    fixed = config.read_text().replace("frequency = 1", 'frequency = 1\nlayers = ["conv"]')
    config.write_text(fixed)
    ok = cli("build", "--config", config, "--model", tmp_path / "mine.keras",
             "--out", tmp_path / "out", "--run", "r")
    assert ok.code == 0, ok.err
    sparsity = Manifest.load(tmp_path / "out" / "r").artifact("pruned/keras").layer_sparsity
    assert sparsity["conv"] == pytest.approx(0.5) and sparsity["logits"] == 0.0


def test_a_tflite_file_as_model_points_to_bench_reference(cli, tmp_path: Path) -> None:
    run = cli("build", "--model", HERE / "fixtures" / "tiny_float32.tflite",
              "--out", tmp_path / "out")
    run.error_line("cannot rebuild or prune", "--reference tiny_float32.tflite")


def test_a_layer_tfmot_cannot_cluster_is_one_line_naming_it(tmp_path: Path) -> None:
    """The cluster recipe's check, on a model with a custom layer that has a kernel."""
    from edgebench.build import sources
    from edgebench.build._tf import import_tf
    from edgebench.build.recipes import masks, prunable
    from edgebench.errors import ConfigError

    _, keras, _ = import_tf()
    (tmp_path / "kernels.py").write_text(
        LAYERS.replace("class Scale", "class Kerneled").replace("self.w", "self.kernel")
    )
    sources.import_custom_objects("kernels.py", tmp_path)
    kerneled = sys.modules["_edgebench_layers_kernels"].Kerneled
    inp = keras.Input((4,))
    x = keras.layers.Dense(4, name="dense")(inp)
    model = keras.Model(inp, kerneled(name="mine")(x))
    layers = masks.prunable_layers(model, (), "clustered")
    assert sorted(layers) == ["dense", "mine"]
    with pytest.raises(ConfigError, match=r"recipes.clustered: layer 'mine' \(Kerneled\) cannot "
                                          r"be clustered by tfmot; list the layers to cluster in "
                                          r"recipes.clustered.layers = \[...\] without it "
                                          r"\(clusterable: dense\)"):
        prunable.check_clusterable(model, list(layers), "clustered")
