"""Progress: plain lines in CI logs and pipes; a live line (with escape codes) on a terminal."""

from __future__ import annotations

import io

from history_helpers import TINY

from edgebench.bench.orchestration.plan import plan_from_inputs
from edgebench.bench.orchestration.progress import Progress, is_live
from edgebench.bench.orchestration.scheduler import bench_targets
from edgebench.records import BenchSettings


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_ci_and_pipes_get_plain_lines(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("CI", "true")
    assert not is_live(FakeTTY())
    monkeypatch.delenv("CI")
    assert is_live(FakeTTY()) and not is_live(io.StringIO())
    buf = io.StringIO()
    with Progress(buf) as p:
        p.started("local", 1, 2, "a")
        p("[1/2] local a: ok")
    assert buf.getvalue() == "[1/2] local a: ok\n"


def test_a_terminal_gets_a_live_line_that_names_the_running_model():
    buf = FakeTTY()
    p = Progress(buf, live=True)
    p.started("local", 2, 8, "pruned/int8")
    assert p.status().startswith("running local [2/8] pruned/int8 · ")
    p("[1/8] local base/int8: ok")
    p.close()
    out = buf.getvalue()
    assert "\r\x1b[2K" in out and "[1/8] local base/int8: ok\n" in out
    assert "running local [2/8] pruned/int8" in out
    assert out.endswith("\r\x1b[2K")  # the live line is gone when the bench ends


def test_the_orchestrator_reports_each_model_as_it_starts(tmp_path):
    buf = io.StringIO()
    p = Progress(buf, live=False)
    seen = []
    p.started = lambda target, i, n, variant: seen.append((target, i, n, variant))
    plan = plan_from_inputs(TINY[:2], run_id="p1")
    bench_targets(plan, tmp_path / "p1", BenchSettings(runs=5, warmup=1, repeats=1), ["local"],
                  progress=p)
    assert seen == [("local", 1, 2, "tiny_float32@threads=1,xnnpack=on"),
                    ("local", 2, 2, "tiny_dynamic@threads=1,xnnpack=on")]
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("[1/2] local tiny_float32@threads=1,xnnpack=on: ok")
    assert "elapsed" in lines[0]
