"""Running a plan: one process per model, a failure costs only its own record, results
after every model, Ctrl-C stops at once."""

import sys
from pathlib import Path

import pytest

from edgebench.bench.orchestration.flows import runner_flow
from edgebench.bench.orchestration.plan import plan_from_inputs
from edgebench.bench.orchestration.scheduler import bench_targets
from edgebench.records import BenchSettings, Results

FIX = Path(__file__).parent / "fixtures"
FAST = BenchSettings(runs=10, warmup=1, timeout_s=60, repeats=1)


def test_unlabelled_models_get_latency_memory_and_null_accuracy(tmp_path):
    plan = plan_from_inputs([FIX / "tiny_float32.tflite", FIX / "tiny_int8.tflite"], run_id="r")
    (res,) = bench_targets(plan, tmp_path, FAST, progress=lambda s: None)
    assert [r.status for r in res.records] == ["ok", "ok"]
    for r in res.records:
        assert r.accuracy is None
        assert r.latency_us.n == 10 and r.latency_us.p50 > 0 and len(r.samples_us) == 10
        assert r.rss_mb.peak >= r.rss_mb.after_init > 0
        assert r.runtime_name == "ai-edge-litert"
    assert res.device.cores and res.host.cores
    assert Results.load(tmp_path / "results-local.json") == res


def test_bad_files_fail_alone_and_the_rest_survive(tmp_path):
    inputs = [FIX / "truncated.tflite", FIX / "tiny_int8.tflite", FIX / "not_a_model.tflite",
              tmp_path / "missing.tflite"]
    empty = tmp_path / "empty.tflite"
    empty.touch()
    plan = plan_from_inputs(inputs + [empty], run_id="r")
    (res,) = bench_targets(plan, tmp_path, FAST, progress=lambda s: None)
    by = {r.variant: r for r in res.records}
    assert by["tiny_int8"].ok
    assert "not a valid Flatbuffer" in by["truncated"].error
    assert "no TFL3 identifier" in by["not_a_model"].error
    assert "no such file" in by["missing"].error
    assert "empty (0 bytes)" in by["empty"].error
    assert all(by[v].extra["error_kind"] == "input" for v in by if v != "tiny_int8")


def test_crash_and_hang_cost_only_their_own_record(tmp_path, monkeypatch):
    """A model whose process crashes or hangs becomes a failed record; the others run."""
    real = runner_flow.runner_argv

    def argv(python, runner, model, eval_path, s, *more, **kw):
        if "crash" in Path(model).name:
            return [python, "-c", "import os; os.abort()"]
        if "hang" in Path(model).name:
            return [python, "-c", "import signal; signal.pause()"]  # waits to be killed
        return real(python, runner, model, eval_path, s, *more, **kw)

    monkeypatch.setattr(runner_flow, "runner_argv", argv)
    files = []
    for name in ("crash", "ok", "hang"):
        p = tmp_path / f"{name}.tflite"
        p.write_bytes((FIX / "tiny_int8.tflite").read_bytes())
        files.append(p)
    plan = plan_from_inputs(files, run_id="r")
    settings = BenchSettings(runs=5, warmup=1, timeout_s=5, repeats=1)
    (res,) = bench_targets(plan, tmp_path / "run", settings, progress=lambda s: None)
    by = {r.variant: r for r in res.records}
    assert by["ok"].ok
    assert by["crash"].status == "failed" and "status -6" in by["crash"].error
    assert by["hang"].status == "failed" and by["hang"].extra["error_kind"] == "timeout"
    assert "longer than 5 s" in by["hang"].error
    saved = Results.load(tmp_path / "run" / "results-local.json")
    assert [r.variant for r in saved.records] == ["crash", "ok", "hang"]


def test_results_are_written_after_each_model(tmp_path, monkeypatch):
    """An interruption after the first model leaves that model's record on disk."""
    calls = []

    def progress(line):
        calls.append(line)
        if len(calls) == 1:
            raise KeyboardInterrupt

    plan = plan_from_inputs([FIX / "tiny_float32.tflite", FIX / "tiny_int8.tflite"], run_id="r")
    with pytest.raises(KeyboardInterrupt):
        bench_targets(plan, tmp_path, FAST, progress=progress)
    saved = Results.load(tmp_path / "results-local.json")
    assert [r.variant for r in saved.records] == ["tiny_float32"]


def test_benching_a_run_again_keeps_the_earlier_results(tmp_path):
    plan = plan_from_inputs([FIX / "tiny_int8.tflite"], run_id="r")
    (first,) = bench_targets(plan, tmp_path, FAST, progress=lambda s: None)
    (second,) = bench_targets(plan, tmp_path, FAST, progress=lambda s: None)
    assert Results.load(tmp_path / "results-local.json") == second
    (kept,) = (tmp_path / "previous").glob("results-local-*.json")
    assert Results.load(kept) == first
    assert [p.name for p in tmp_path.glob("results-*.json")] == ["results-local.json"]


def test_ctrl_c_stops_the_bench_at_once_and_keeps_what_was_measured(tmp_path):
    """SIGINT mid-bench: the running model is killed, the rest are `not run`, exit 130."""
    import signal
    import socket
    import subprocess

    # The local target's Python is a stand-in that execs the real one for everything but a
    # model's measurement (runner.py run): that one connects to the test and waits until the
    # test lets go, which it does only at the end. So SIGINT arrives while a model runs, and
    # the bench can end only by killing it: no sleep decides when, no clock whether it was
    # "at once".
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(120)  # a guard against a hang, not a measurement
    python = tmp_path / "python"
    python.write_text(
        f"#!{sys.executable}\n"
        "import os, socket, sys\n"
        "if sys.argv[2:3] == ['run']:\n"
        f"    socket.create_connection(('127.0.0.1', {listener.getsockname()[1]})).recv(1)\n"
        "    sys.exit(3)\n"
        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n"
    )
    python.chmod(0o755)
    edgebench_with_that_python = (  # python -m edgebench, its sys.executable the stand-in
        f"import runpy, sys; sys.executable = {str(python)!r}; "
        "runpy.run_module('edgebench', run_name='__main__', alter_sys=True)"
    )
    files = [str(FIX / "tiny_int8.tflite")] + [str(FIX / "tiny_float32.tflite")] * 3
    proc = subprocess.Popen(
        [sys.executable, "-c", edgebench_with_that_python, "bench", *files, "--repeats", "1",
         "--timeout-s", "3600", "--out", str(tmp_path), "--run", "r", "--no-history"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    with listener:
        try:
            model, _ = listener.accept()  # the first model is being measured
            with model:
                proc.send_signal(signal.SIGINT)
                _, err = proc.communicate(timeout=120)  # a guard: unkilled, it waits an hour
                model.settimeout(120)
                ended = model.recv(1) == b""  # the model's process has ended
        finally:
            proc.kill()
    assert proc.returncode == 130, err
    assert ended  # it could only end by being killed: the bench killed it
    saved = Results.load(tmp_path / "r" / "results-local.json")
    assert saved.error == "interrupted (Ctrl-C)"
    assert len(saved.records) == 4
    assert all(r.extra.get("error_kind") == "not_run" for r in saved.records)
    assert "Traceback" not in err
