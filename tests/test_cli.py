"""The command line: --help teaches, --version answers, bad option values are refused where
they enter, exit statuses, and bench/gate need no TensorFlow."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_runner import edgebench_process

import edgebench
from edgebench.cli import COMMANDS, main

FIX = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: edgebench {command}" in out
    assert "--out" in out or command == "doctor"  # doctor writes nothing here
    assert len(out.splitlines()) > 5


def test_version(cli):
    run = cli("--version")
    assert run.code == 0 and run.out.strip() == f"edgebench {edgebench.__version__}"


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for c in COMMANDS:
        assert c.name in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bench", "x.tflite", "--runs", "0", "--repeats", "1"], "expected a whole number >= 1"),
        (["bench", "x.tflite", "--target", "raspberrypi"], "is not a target"),
        (["bench", "x.tflite", "--timeout-s", "-1"], "expected a number > 0"),
    ],
)
def test_bad_option_values_are_refused_where_they_enter(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bench_bad_file_is_one_line_exit_2_and_good_records_survive(cli, tmp_path):
    proc = cli("bench", FIX / "tiny_int8.tflite", FIX / "not_a_model.tflite",
               "--runs", "5", "--repeats", "1", "--out", tmp_path, "--run", "r1")
    assert proc.code == 2, proc.err
    assert "Traceback" not in proc.err
    errors = [ln for ln in proc.err.splitlines() if ln.startswith("edgebench:")]
    assert len(errors) == 1 and "not_a_model" in errors[0] and "convert it" in errors[0]
    saved = json.loads((tmp_path / "r1" / "results-local.json").read_text())
    assert [r["status"] for r in saved["records"]] == ["ok", "failed"]
    assert (tmp_path / "latest").resolve() == (tmp_path / "r1").resolve()


def test_gate_on_missing_results_is_one_line(cli, tmp_path):
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."*"]\nmax_zip_bytes = 100000\n')
    cli("gate", tmp_path / "nope", "--budgets", budgets).error_line("does not exist")


def test_gate_exit_status_and_junit(cli, tmp_path):
    proc = cli("bench", FIX / "tiny_int8.tflite", "--runs", "5", "--repeats", "1",
               "--out", tmp_path, "--run", "r")
    assert proc.code == 0, proc.err
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."tiny_*"]\nmax_zip_bytes = 100000\nmax_peak_rss_mb = 500\n')
    ok = cli("gate", "--budgets", budgets, "--out", tmp_path, "--junit", tmp_path / "j.xml")
    assert ok.code == 0, ok.out + ok.err
    assert "gate: PASSED, 2 checks" in ok.out and (tmp_path / "j.xml").is_file()
    budgets.write_text('[budgets."tiny_*"]\nmax_zip_bytes = 1000\n')
    bad = cli("gate", tmp_path / "r", "--budgets", budgets)
    assert bad.code == 1 and "FAIL" in bad.out


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
    # the blocker first, then the checkout (or installed package) this suite runs against
    path = [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    check = subprocess.run([sys.executable, "-c", "import tensorflow"], env=env,
                           capture_output=True, text=True)
    assert check.returncode != 0 and "blocked" in check.stderr  # the blocker works
    proc = edgebench_process("bench", FIX / "tiny_float32.tflite", FIX / "tiny_int8.tflite",
                             "--runs", "5", "--repeats", "1", "--out", tmp_path / "out",
                             "--run", "r", env=env)
    assert proc.code == 0, proc.err
    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."*"]\nmax_zip_bytes = 100000\n')
    gate = edgebench_process("gate", "--budgets", budgets, "--out", tmp_path / "out", env=env)
    assert gate.code == 0, gate.err
    records = json.loads((tmp_path / "out" / "r" / "results-local.json").read_text())["records"]
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert records[0]["runtime_name"] == "ai-edge-litert"


def test_a_closed_pipe_is_not_a_traceback(cli, tmp_path):
    """`edgebench history | head -1` must not end in a BrokenPipeError traceback."""
    ok = cli("bench", FIX / "tiny_int8.tflite", "--runs", "3", "--repeats", "1", "--out", tmp_path)
    assert ok.code == 0, ok.err
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgebench", "history",
         "--history", tmp_path / "history.sqlite"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    proc.stdout.close()  # the reader is gone before edgebench writes a byte
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err
