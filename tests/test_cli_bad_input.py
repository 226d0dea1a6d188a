"""Bad input on the command line: one line that names the fix, exit 2, no traceback, and
nothing already written is lost."""

from pathlib import Path

import pytest
from cli_runner import edgebench_process

FIX = Path(__file__).parent / "fixtures"
SMALL = (FIX / "small_pipeline.toml").read_text()


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
def test_bad_pipeline_config(cli, tmp_path, old, new, fragments):
    assert old in SMALL
    proc = cli("build", "--config", config(tmp_path, SMALL.replace(old, new, 1)),
                     "--out", tmp_path / "out")
    proc.error_line(*fragments)
    assert not (tmp_path / "out" / "latest").exists()


def test_missing_dataset_names_every_place_and_the_fix(cli, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("EDGEBENCH_DEBIAN_DATASETS", str(empty))
    monkeypatch.setenv("KERAS_HOME", str(empty))
    monkeypatch.setenv("EDGEBENCH_NO_DOWNLOAD", "1")
    proc = cli("build", "--config", FIX / "small_pipeline.toml", "--out", tmp_path / "o")
    proc.error_line("apt-get install dataset-fashion-mnist", str(empty))


def test_user_model_that_does_not_fit_the_dataset(cli, tmp_path):
    import os

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tf_keras as keras

    m = keras.Sequential([keras.layers.InputLayer(input_shape=(32, 32, 3)),
                          keras.layers.Flatten(), keras.layers.Dense(10)])
    path = tmp_path / "cifar.h5"
    m.save(path)
    proc = cli("build", "--config", FIX / "small_pipeline.toml", "--model", path,
                     "--out", tmp_path / "o")
    proc.error_line("cifar.h5")


def test_corrupt_user_model_file(cli, tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    proc = cli("build", "--config", FIX / "small_pipeline.toml", "--model", path,
                     "--out", tmp_path / "o")
    proc.error_line("broken.keras")


def test_bad_budgets_file_in_gate(cli, tmp_path):
    results = tmp_path / "run"
    ok = cli("bench", FIX / "tiny_int8.tflite", "--runs", "3", "--repeats", "1", "--out", tmp_path,
                   "--run", "run")
    assert ok.code == 0, ok.err
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."*"]\nmax_zip = 1\n')
    cli("gate", results, "--budgets", budgets).error_line("max_zip")
    budgets.write_text('[budgets."nothing/*"]\nmax_zip_bytes = 1\n')
    cli("gate", results, "--budgets", budgets).error_line("matches no variant")
    assert (results / "results-local.json").is_file()  # nothing already written is lost


@pytest.fixture(scope="module")
def benched(tmp_path_factory):
    out = tmp_path_factory.mktemp("benched")
    ok = edgebench_process("bench", FIX / "tiny_int8.tflite", FIX / "tiny_float32.tflite",
                           "--runs", "3", "--repeats", "1", "--out", out, "--run", "r")
    assert ok.code == 0, ok.err
    return out


def test_a_file_of_the_wrong_kind_is_one_line(cli, benched, tmp_path):
    results = benched / "r" / "results-local.json"
    cli("bench", results, "--out", tmp_path).error_line("is a results file")
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"schema_version": 1, "run_id": "x", "artifacts": [], '
                        '"baseline": "baseline/keras"}')
    gated = cli("gate", manifest, "--budgets", FIX / "small_budgets.toml")
    gated.error_line("is a build manifest", "edgebench bench")


def test_junit_path_that_is_a_folder(cli, benched, tmp_path):
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."*"]\nmax_zip_bytes = 100000\n')
    cli("gate", benched / "r", "--budgets", budgets, "--junit", tmp_path).error_line("is a folder")


def test_same_target_twice_runs_once(cli, benched, tmp_path):
    ok = cli("bench", FIX / "tiny_int8.tflite", "--runs", "3", "--repeats", "1", "--out", tmp_path,
                   "--run", "d", "--target", "local", "--target", "local")
    assert ok.code == 0, ok.err
    assert ok.err.count("[1/1] local tiny_int8") == 1


def test_unusable_history_is_refused_before_benching(cli, tmp_path):
    proc = cli("bench", FIX / "tiny_int8.tflite", "--runs", "3", "--repeats", "1",
               "--out", tmp_path / "o",
                     "--history", tmp_path)
    proc.error_line("is a folder")
    assert "[1/1]" not in proc.err  # nothing was measured first


def test_run_checks_the_budgets_before_building(cli, tmp_path):
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."*"]\nmax_zip_byte = 1\n')
    proc = cli("run", "--config", FIX / "small_pipeline.toml", "--budgets", budgets,
                     "--out", tmp_path / "o")
    proc.error_line("max_zip_byte")
    assert "baseline epoch" not in proc.err and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_failed_build_leaves_no_half_made_run_folder(cli, tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    proc = cli("build", "--config", FIX / "small_pipeline.toml", "--model", path,
                     "--out", tmp_path / "o", "--run", "r")
    proc.error_line("broken.keras")
    assert not (tmp_path / "o" / "r").exists()


def test_report_refuses_to_overwrite_its_html_with_markdown(cli, benched, tmp_path):
    proc = cli("report", "--history", benched / "history.sqlite",
                     "--out", tmp_path / "r.md")
    proc.error_line("--markdown")
    assert not (tmp_path / "r.md").exists()


def test_a_config_variable_that_names_no_file(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEBENCH_CONFIG", str(tmp_path / "nope.toml"))
    proc = cli("run", "--out", tmp_path / "o")
    proc.error_line("$EDGEBENCH_CONFIG", "nope.toml", "unset it")
    assert not (tmp_path / "o").exists()


def test_the_config_variable_is_the_default_and_the_flag_wins(cli, tmp_path, monkeypatch):
    """build, run and gate read $EDGEBENCH_CONFIG when no --config is given."""

    def pipeline_with_bad_budgets(key: str) -> Path:
        (tmp_path / f"{key}.toml").write_text(f'[budgets."*"]\n{key} = 1\n')
        path = tmp_path / f"pipeline-{key}.toml"
        path.write_text((FIX / "small_pipeline.toml").read_text().replace(
            'budgets = "small_budgets.toml"', f'budgets = "{tmp_path / key}.toml"'))
        return path

    monkeypatch.setenv("EDGEBENCH_CONFIG", str(pipeline_with_bad_budgets("max_zip_byte")))
    cli("run", "--out", tmp_path / "o").error_line("max_zip_byte")  # the variable's budgets
    flag = pipeline_with_bad_budgets("min_acuracy")
    proc = cli("run", "--config", flag, "--out", tmp_path / "o")
    assert "'max_zip_byte'" not in proc.error_line("'min_acuracy'")  # the flag's rules
