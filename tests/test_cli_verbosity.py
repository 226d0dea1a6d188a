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
    import logging, os, sys
    from edgebench.commands.verbosity import native_output_hidden
    with native_output_hidden(int(sys.argv[1])):
        os.write(2, b"I0000 oneDNN custom operations are on\\n")  # what C++ writes
        logging.getLogger("tensorflow").warning(
            "Compiled the loaded model, but the compiled metrics have yet to be built.")
        logging.getLogger("tensorflow").warning("Gradients do not exist for variables ['x:0']")
        print("edgebench's own line", file=sys.stderr)
    os.write(2, b"after\\n")
""")


@pytest.mark.parametrize("level, chatter", [(0, False), (-1, False), (1, True)])
def test_native_chatter_shows_only_with_verbose(level, chatter):
    done = subprocess.run([sys.executable, "-c", NATIVE, str(level)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "edgebench's own line" in done.stderr and done.stderr.rstrip().endswith("after")
    assert "Gradients do not exist" in done.stderr  # a warning that matters is not noise
    assert ("oneDNN" in done.stderr) is chatter
    assert ("compiled metrics" in done.stderr) is chatter


def test_a_bug_shows_what_the_libraries_said_before_its_traceback():
    script = NATIVE.replace('os.write(2, b"after\\n")', "").replace(
        "print(\"edgebench's own line\", file=sys.stderr)", "raise RuntimeError('bug')")
    done = subprocess.run([sys.executable, "-c", script, "0"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "what the native libraries printed" in done.stderr and "oneDNN" in done.stderr
    assert "RuntimeError: bug" in done.stderr


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
