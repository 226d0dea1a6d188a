"""Quiet by default: native libraries' stderr chatter stays out below -v, -q leaves errors and
the final table, and --format beside -q or -v is refused in one line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FIX = Path(__file__).parent / "fixtures"

NATIVE = textwrap.dedent("""
    import logging, os, subprocess, sys
    from edgebench.commands.verbosity import native_output_hidden
    with native_output_hidden(int(sys.argv[1])):
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on. You may see\\n")
        os.write(2, b"F0000 a native failure that matters\\n")  # unknown: never dropped
        logging.getLogger("tensorflow").warning(
            "Compiled the loaded model, but the compiled metrics have yet to be built.")
        logging.getLogger("tensorflow").warning("Gradients do not exist for variables ['x:0']")
        print("edgebench's own line", file=sys.stderr)
        subprocess.run([sys.executable, "-c", "import sys; "
                        "print('INFO: Created TensorFlow Lite XNNPACK delegate for CPU.', "
                        "file=sys.stderr); print('a worker says hello', file=sys.stderr)"])
    os.write(2, b"after\\n")
""")


@pytest.mark.parametrize("level, chatter", [(0, False), (-1, False), (1, True)])
def test_library_chatter_shows_only_with_verbose(level, chatter):
    done = subprocess.run([sys.executable, "-c", NATIVE, str(level)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "edgebench's own line" in err and err.rstrip().endswith("after")
    assert "Gradients do not exist" in err  # a warning that matters is not noise
    assert "a native failure that matters" in err  # nor is a line nobody listed
    assert "a worker says hello" in err  # a worker process's lines pass through
    for noise in ("oneDNN", "compiled metrics", "XNNPACK delegate"):
        assert (noise in err) is chatter, (noise, err)


@pytest.mark.parametrize("flag", ["-q", "-v", "--quiet", "--verbose"])
def test_format_with_quiet_or_verbose_is_one_line_exit_2(cli, flag):
    run = cli("history", "--format", "json", flag)
    run.error_line("--format", "do not go together")
    assert run.out == ""


def test_quiet_bench_prints_only_the_table(cli, tmp_path):
    run = cli("bench", FIX / "tiny_int8.tflite", "--runs", "3", "--warmup", "0", "--repeats",
              "1", "--no-history", "--out", tmp_path, "-q")
    assert run.code == 0, run.err
    assert run.err == ""
    assert "tiny_int8" in run.out and "status" in run.out


def test_quiet_still_says_errors(cli, tmp_path):
    run = cli("bench", FIX / "not_a_model.tflite", "--runs", "3", "--repeats", "1",
              "--no-history", "--out", tmp_path, "-q")
    assert run.code != 0
    assert "not_a_model" in run.err and not run.err.startswith("bench:")
