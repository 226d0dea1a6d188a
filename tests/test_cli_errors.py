"""Every user mistake of the first slice: one line naming the fix, exit 2, no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures"
SMALL = (FIX / "small_pipeline.toml").read_text()


def edgebench(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *map(str, args)],
        capture_output=True, text=True, timeout=600, cwd=cwd or ROOT,
    )


def one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("edgebench: error:")]
    assert len(errors) == 1, proc.stderr
    for f in fragments:
        assert f in errors[0], errors[0]
    return errors[0]


def config(tmp_path, text):
    p = tmp_path / "pipeline.toml"
    p.write_text(text)
    (tmp_path / "small_budgets.toml").write_text((FIX / "small_budgets.toml").read_text())
    return p


@pytest.mark.parametrize(
    "old, new, fragments",
    [
        ('dataset = "fashion_mnist"', 'dataset = "fashion-mnst"',
         ["fashion-mnst", "fashion_mnist"]),
        ('dataset = "fashion_mnist"', 'dataset = "no/such/folder"', ["no/such/folder"]),
        ("epochs = 1\nbatch_size", "epoch = 1\nbatch_size", ["unknown key 'epoch'", "epochs"]),
        ('recipe = "prune_after_training"', 'recipe = "prune_everything"',
         ["prune_everything", "prune_after_training"]),
        ('variants = ["float32"]', 'variants = ["float64"]', ["float64", "int8"]),
        ("final_sparsity = 0.85", "final_sparsity = 1.2", ["final_sparsity", "1.2"]),
        ("[data]", "[data", ["pipeline.toml"]),
    ],
)
def test_bad_pipeline_config(tmp_path, old, new, fragments):
    assert old in SMALL
    proc = edgebench("build", "--config", config(tmp_path, SMALL.replace(old, new, 1)),
                     "--out", tmp_path / "out")
    one_line_error(proc, *fragments)
    assert not (tmp_path / "out" / "latest").exists()


def test_missing_dataset_names_every_place_and_the_fix(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("EDGEBENCH_DEBIAN_DATASETS", str(empty))
    monkeypatch.setenv("KERAS_HOME", str(empty))
    monkeypatch.setenv("EDGEBENCH_NO_DOWNLOAD", "1")
    proc = edgebench("build", "--config", FIX / "small_pipeline.toml", "--out", tmp_path / "o")
    one_line_error(proc, "apt-get install dataset-fashion-mnist", str(empty))


def test_user_model_that_does_not_fit_the_dataset(tmp_path):
    import os

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tf_keras as keras

    m = keras.Sequential([keras.layers.InputLayer(input_shape=(32, 32, 3)),
                          keras.layers.Flatten(), keras.layers.Dense(10)])
    path = tmp_path / "cifar.h5"
    m.save(path)
    proc = edgebench("build", "--config", FIX / "small_pipeline.toml", "--model", path,
                     "--out", tmp_path / "o")
    one_line_error(proc, "cifar.h5")


def test_corrupt_user_model_file(tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    proc = edgebench("build", "--config", FIX / "small_pipeline.toml", "--model", path,
                     "--out", tmp_path / "o")
    one_line_error(proc, "broken.keras")


def test_bad_budgets_file_in_gate(tmp_path):
    results = tmp_path / "run"
    ok = edgebench("bench", FIX / "tiny_int8.tflite", "--runs", "3", "--out", tmp_path,
                   "--run", "run")
    assert ok.returncode == 0, ok.stderr
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."*"]\nmax_zip = 1\n')
    one_line_error(edgebench("gate", results, "--budgets", budgets), "max_zip")
    budgets.write_text('[budgets."nothing/*"]\nmax_zip_bytes = 1\n')
    one_line_error(edgebench("gate", results, "--budgets", budgets), "matches no variant")
    assert (results / "results-local.json").is_file()  # nothing already written is lost
