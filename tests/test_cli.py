"""The command line: --help teaches, bad input is one line and exit 2, bench/gate need no TF."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgebench.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures"


def edgebench(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "edgebench", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd or ROOT,
        env=env,
    )


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: edgebench {command}" in out
    assert "--out" in out or command == "gate"
    assert len(out.splitlines()) > 5


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for c in COMMANDS:
        assert c.name in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bench", "x.tflite", "--runs", "0"], "expected a whole number >= 1"),
        (["bench", "x.tflite", "--target", "raspberrypi"], "is not a target"),
        (["bench", "x.tflite", "--timeout-s", "-1"], "expected a number > 0"),
    ],
)
def test_bad_option_values_are_refused_where_they_enter(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bench_bad_file_is_one_line_exit_2_and_good_records_survive(tmp_path):
    proc = edgebench("bench", FIX / "tiny_int8.tflite", FIX / "not_a_model.tflite",
                     "--runs", "5", "--out", tmp_path, "--run", "r1")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("edgebench:")]
    assert len(errors) == 1 and "not_a_model" in errors[0] and "convert it" in errors[0]
    saved = json.loads((tmp_path / "r1" / "results-local.json").read_text())
    assert [r["status"] for r in saved["records"]] == ["ok", "failed"]
    assert (tmp_path / "latest").resolve() == (tmp_path / "r1").resolve()


def test_gate_on_missing_results_is_one_line(tmp_path):
    proc = edgebench("gate", tmp_path / "nope", "--budgets", tmp_path / "b.toml")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_gate_exit_status_and_junit(tmp_path):
    proc = edgebench("bench", FIX / "tiny_int8.tflite", "--runs", "5", "--out", tmp_path,
                     "--run", "r")
    assert proc.returncode == 0, proc.stderr
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."tiny_*"]\nmax_zip_bytes = 100000\nmax_peak_rss_mb = 500\n')
    ok = edgebench("gate", "--budgets", budgets, "--out", tmp_path, "--junit", tmp_path / "j.xml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "gate: PASSED, 2 checks" in ok.stdout and (tmp_path / "j.xml").is_file()
    budgets.write_text('[budgets."tiny_*"]\nmax_zip_bytes = 1000\n')
    bad = edgebench("gate", tmp_path / "r", "--budgets", budgets)
    assert bad.returncode == 1 and "FAIL" in bad.stdout


BLOCKER = textwrap.dedent(
    """
    import sys

    class _NoTensorFlow:
        BLOCKED = ("tensorflow", "tf_keras", "tensorflow_model_optimization", "keras")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ImportError(f"TensorFlow is blocked in this test: {name}")
            return None

    sys.meta_path.insert(0, _NoTensorFlow())
    """
)


def test_bench_and_gate_work_without_tensorflow(tmp_path):
    """Decision 1: the runner, bench and gate never import TensorFlow (it is blocked here)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{ROOT}")
    check = subprocess.run([sys.executable, "-c", "import tensorflow"], env=env,
                           capture_output=True, text=True)
    assert check.returncode != 0 and "blocked" in check.stderr  # the blocker works
    proc = edgebench("bench", FIX / "tiny_float32.tflite", FIX / "tiny_int8.tflite",
                     "--runs", "5", "--out", tmp_path / "out", "--run", "r", env=env)
    assert proc.returncode == 0, proc.stderr
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."*"]\nmax_zip_bytes = 100000\n')
    gate = edgebench("gate", "--budgets", budgets, "--out", tmp_path / "out", env=env)
    assert gate.returncode == 0, gate.stderr
    records = json.loads((tmp_path / "out" / "r" / "results-local.json").read_text())["records"]
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert records[0]["runtime_name"] == "ai-edge-litert"


def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    """`edgebench history | head -1` must not end in a BrokenPipeError traceback."""
    ok = edgebench("bench", FIX / "tiny_int8.tflite", "--runs", "3", "--out", tmp_path)
    assert ok.returncode == 0, ok.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgebench", "history",
         "--history", tmp_path / "history.sqlite"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    proc.stdout.close()  # the reader is gone before edgebench writes a byte
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err
