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
        [sys.executable, "-m", "edgebench", *map(str, args)],
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


# --------------------------------------------------------------------------- found in review


@pytest.fixture(scope="module")
def benched(tmp_path_factory):
    out = tmp_path_factory.mktemp("benched")
    ok = edgebench("bench", FIX / "tiny_int8.tflite", FIX / "tiny_float32.tflite", "--runs", "3",
                   "--out", out, "--run", "r")
    assert ok.returncode == 0, ok.stderr
    return out


def test_a_file_of_the_wrong_kind_is_one_line(benched, tmp_path):
    results = benched / "r" / "results-local.json"
    one_line_error(edgebench("bench", results, "--out", tmp_path), "is a results file")
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"schema_version": 1, "run_id": "x", "artifacts": [], '
                        '"baseline": "baseline/keras"}')
    one_line_error(edgebench("gate", manifest, "--budgets", FIX / "small_budgets.toml"),
                   "is a build manifest", "edgebench bench")


def test_junit_path_that_is_a_folder(benched, tmp_path):
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."*"]\nmax_zip_bytes = 100000\n')
    one_line_error(edgebench("gate", benched / "r", "--budgets", budgets, "--junit", tmp_path),
                   "is a folder")


def test_same_target_twice_runs_once(benched, tmp_path):
    ok = edgebench("bench", FIX / "tiny_int8.tflite", "--runs", "3", "--out", tmp_path,
                   "--run", "d", "--target", "local", "--target", "local")
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr.count("[1/1] local tiny_int8") == 1


def test_unusable_history_is_refused_before_benching(tmp_path):
    proc = edgebench("bench", FIX / "tiny_int8.tflite", "--runs", "3", "--out", tmp_path / "o",
                     "--history", tmp_path)
    one_line_error(proc, "is a folder")
    assert "[1/1]" not in proc.stderr  # nothing was measured first


def test_run_checks_the_budgets_before_building(tmp_path):
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."*"]\nmax_zip_byte = 1\n')
    proc = edgebench("run", "--config", FIX / "small_pipeline.toml", "--budgets", budgets,
                     "--out", tmp_path / "o")
    one_line_error(proc, "max_zip_byte")
    assert "baseline epoch" not in proc.stderr and not (tmp_path / "o").exists()


def test_a_failed_build_leaves_no_half_made_run_folder(tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    proc = edgebench("build", "--config", FIX / "small_pipeline.toml", "--model", path,
                     "--out", tmp_path / "o", "--run", "r")
    one_line_error(proc, "broken.keras")
    assert not (tmp_path / "o" / "r").exists()


def test_report_refuses_to_overwrite_its_html_with_markdown(benched, tmp_path):
    proc = edgebench("report", "--history", benched / "history.sqlite",
                     "--out", tmp_path / "r.md")
    one_line_error(proc, "--markdown")
    assert not (tmp_path / "r.md").exists()
