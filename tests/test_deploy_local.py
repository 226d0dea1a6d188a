"""The local target: private work folder, argument lists, time limits, cleanup."""

import sys

import pytest

from edgebench.deploy import LocalTarget, TargetError, TargetTimeout, target_for


def test_push_run_fetch_cleanup(tmp_path):
    src = tmp_path / "a b;'c.txt"  # awkward names are fine: no shell is involved
    src.write_text("hello")
    with target_for("local") as t:
        placed = t.push([src])
        res = t.run([sys.executable, "-c", "import sys; print(open(sys.argv[1]).read())",
                     placed[src]], timeout_s=30)
        assert res.returncode == 0 and res.stdout.strip() == "hello"
        assert res.seconds > 0 and res.argv[0] == sys.executable
        back = t.fetch(placed[src], tmp_path / "back.txt")
        assert back.read_text() == "hello"
        workdir = t.workdir
        assert workdir.is_dir()
    assert not workdir.exists()


def test_timeout_kills_the_command(tmp_path):
    t = LocalTarget()
    with pytest.raises(TargetTimeout, match="raise --timeout-s"):
        t.run([sys.executable, "-c", "import signal; signal.pause()"], timeout_s=0.5)
    t.cleanup()


def test_unknown_scheme_names_the_choices():
    with pytest.raises(TargetError, match="use one of"):
        target_for("ftp://box")


def test_missing_program_is_a_target_error():
    with LocalTarget() as t, pytest.raises(TargetError, match="cannot start"):
        t.run(["/nonexistent/python"], timeout_s=5)
