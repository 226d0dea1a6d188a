"""edgebench sweep with a [train] teacher, and --seed: what is refused in one line, before
anything trains (the teacher's training and its soft targets run in test_sweep_fidelity)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgebench import cli
from edgebench.build._tf import import_tf

SMALL_SWEEP = Path(__file__).parent / "fixtures" / "small_sweep.toml"


def _config(tmp_path: Path, teacher: str) -> Path:
    text = SMALL_SWEEP.read_text().replace("seed = 0\n", f'seed = 0\nteacher = "{teacher}"\n', 1)
    path = tmp_path / "teacher.toml"
    path.write_text(text)
    return path


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgebench: error: "), err
    assert re.search(message, err[0]), err[0]


def test_a_teacher_whose_outputs_are_not_the_students_is_one_line(capsys, tmp_path) -> None:
    _, keras, _ = import_tf()
    five = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(5)])
    five.save(tmp_path / "five.h5")
    out = tmp_path / "out"
    args = ["sweep", "--config", str(_config(tmp_path, "five.h5")), "--out", str(out)]
    _one_line_exit_2(capsys, args, r"outputs shape \(None, 5\), the student \(None, 10\)")
    assert not (out / "cache").exists()  # refused before the baseline trained


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.keras", None, "does not exist"),
        ("broken.keras", b"not a model", "teacher does not load"),
        ("empty.h5", b"", "teacher does not load"),
    ],
)
def test_a_teacher_file_that_does_not_load_is_one_line(capsys, tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    out = tmp_path / "out"
    args = ["sweep", "--config", str(_config(tmp_path, name)), "--out", str(out)]
    _one_line_exit_2(capsys, args, message)
    assert not (out / "cache").exists()


def test_a_teacher_that_is_neither_builtin_nor_a_file_is_one_line(capsys, tmp_path) -> None:
    args = ["sweep", "--config", str(_config(tmp_path, "teacher_cn")), "--out", str(tmp_path)]
    _one_line_exit_2(capsys, args, "neither a builtin model .*teacher_cnn")


@pytest.mark.parametrize(
    ("edit", "message", "pruner"),
    [
        ('search = "grid"', 'stops Optuna trials; set search = "optuna"', "hyperband"),
        ('search = "optuna"\npruner_reduction_factor = 1', "reduction_factor must be", "hyperband"),
        ('search = "optuna"\npruner_min_epochs = 0', "pruner_min_epochs must be", "hyperband"),
        ('search = "optuna"', "pruner must be one of", "median"),
    ],
)
def test_a_pruner_setting_out_of_range_is_one_line(
    capsys, tmp_path, edit, message, pruner
) -> None:
    text = SMALL_SWEEP.read_text().replace('search = "grid"', f'pruner = "{pruner}"\n{edit}')
    config = tmp_path / "pruner.toml"
    config.write_text(text)
    _one_line_exit_2(capsys, ["sweep", "--config", str(config), "--out", str(tmp_path)], message)


@pytest.mark.parametrize("bad", ["x", "1.5", ""])
def test_a_seed_that_is_not_an_integer_is_one_line(capsys, bad) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["sweep", "--config", str(SMALL_SWEEP), "--seed", bad])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--seed" in err[0], err
