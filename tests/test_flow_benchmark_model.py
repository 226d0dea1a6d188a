"""The benchmark_model flow: its output parser, its command line, and a phone end to end
through the stand-in adb (tests/adb_standin.py). The host-side accuracy, the records and the
CLI are the real thing."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from adb_standin import ADB_FIX, ADDRESS, FIX, SERIAL, configure

from edgebench.bench.orchestration.flows.benchmark_model import BenchmarkModelFlow, benchmark_argv
from edgebench.bench.orchestration.flows.benchmark_output import (
    parse_benchmark_output,
    parse_op_profile,
)
from edgebench.bench.orchestration.plan import plan_from_inputs
from edgebench.bench.orchestration.scheduler import bench_targets
from edgebench.cli import main
from edgebench.deploy import target_for
from edgebench.errors import EdgebenchError
from edgebench.records import BenchSettings, Results

FAST = BenchSettings(runs=50, warmup=10, threads=4, timeout_s=60, repeats=1)


def test_parse_inference_timings_form_with_percentiles():
    out = parse_benchmark_output((ADB_FIX / "benchmark_inference_timings.txt").read_text())
    assert out["output_form"] == "inference-timings"
    assert out["init_us"] == 4211 and out["first_inference_us"] == 152
    assert out["warmup_avg_us"] == 52.3 and out["inference_avg_us"] == 41.46
    assert out["inference_stat"] == {"count": 50, "first": 41, "curr": 40, "min": 38, "max": 61,
                                     "avg": 41.46, "std": 3, "p5": 38, "median": 40, "p95": 49}
    assert out["warmup_stat"]["count"] == 10
    assert (out["mem_delta_init_mb"], out["mem_delta_overall_mb"]) == (2.43359, 2.61719)
    assert out["peak_mem_mb"] == 9.85547


def test_parse_average_timings_form_leaves_the_rest_unknown():
    out = parse_benchmark_output((ADB_FIX / "benchmark_average_timings.txt").read_text())
    assert out["output_form"] == "average-inference-timings"
    assert out["init_us"] == 9933 and out["inference_avg_us"] == 66767.6
    assert out["inference_stat"]["count"] == 50 and "median" not in out["inference_stat"]
    for absent in ("first_inference_us", "peak_mem_mb", "mem_delta_init_mb"):
        assert absent not in out


def test_parse_exponents_and_logcat_prefixes():
    text = (
        "07-08 15:34:26 I/tflite  ( 5395): Running benchmark for at least 1 iterations\n"
        "07-08 15:34:26 I/tflite  ( 5395): count=1 curr=2732148\n"
        "07-08 15:34:26 I/tflite  ( 5395): Running benchmark for at least 10 iterations\n"
        "07-08 15:34:26 I/tflite  ( 5395): count=10 first=2653894 curr=2709263 min=2640862 "
        "max=3025403 avg=2.71985e+06 std=105101 p5=2640862 median=2709263 p95=3025403\n"
        "07-08 15:34:26 I/tflite  ( 5395): Inference timings in us: Init: 458883, First "
        "inference: 2732148, Warmup (avg): 2.73215e+06, Inference (avg): 2.71985e+06\n"
    )
    out = parse_benchmark_output(text)
    assert out["inference_avg_us"] == 2719850.0 and out["inference_stat"]["median"] == 2709263
    assert out["warmup_stat"] == {"count": 1, "curr": 2732148}


def test_benchmark_argv_carries_every_setting():
    s = BenchSettings(runs=7, warmup=0, threads=2, xnnpack=False, timeout_s=90, taskset="f0",
                      repeats=1)
    argv = benchmark_argv("/d/bm", "/d/m.tflite", s)
    assert argv[:3] == ["taskset", "f0", "/d/bm"]
    for flag in ("--graph=/d/m.tflite", "--num_threads=2", "--use_xnnpack=false",
                 "--num_runs=7", "--min_secs=0", "--warmup_runs=1", "--warmup_min_secs=0",
                 "--report_peak_memory_footprint=true"):
        assert flag in argv


def test_bench_a_phone_end_to_end(phone, arm64_binary, labelled_plan, tmp_path):
    settings = replace(FAST, benchmark_binary=str(arm64_binary), taskset="f0")
    lines = []
    (res,) = bench_targets(labelled_plan, tmp_path / "run", settings, [ADDRESS], lines.append)
    assert res.error is None
    d = res.device
    assert (d.hostname, d.cpu, d.machine, d.os) == ("Pixel 6", "Tensor", "arm64-v8a",
                                                    "Android 14 (SDK 34)")
    assert d.extra["ro.board.platform"] == "gs101" and d.extra["thermal_status"] == "light"
    assert d.cores == 8 and d.governor == "sched_pixel" and d.temperature_c == 43.5
    by = {r.variant: r for r in res.records}

    new = by["baseline/float32"]
    assert new.ok and new.runtime_name == "benchmark_model"
    assert (new.latency_us.n, new.latency_us.mean, new.latency_us.p50) == (50, 41.5, 40.0)
    assert (new.latency_us.p5, new.latency_us.p95, new.latency_us.p90) == (38.0, 49.0, None)
    assert new.init_ms == 4.211 and new.first_inference_us == 152 and new.warmup_runs == 10
    assert new.rss_mb.peak == 9.85547 and new.rss_mb.before is None
    assert new.extra["mem_delta_overall_mb"] == 2.61719
    assert new.accuracy_source == "host" and 0 <= new.accuracy <= 1 and new.eval_n == 64
    assert new.temp_c_before == 43.5 and new.samples_us == ()

    old = by["old/int8"]
    assert old.ok and old.first_inference_us is None and old.rss_mb is None
    assert old.latency_us.p50 is None and old.latency_us.mean == 66767.6
    assert old.init_ms == 9.933 and old.accuracy_source == "host"

    dyn = by["pruned/dynamic"]
    assert dyn.status == "incompatible" and "FULLY_CONNECTED version 12" in dyn.error
    crash = by["crash/int8"]
    assert crash.status == "failed" and "SIGSEGV" in crash.error
    assert by["pruned/int8"].ok  # after a crash, the next model still runs

    runs = [c for c in phone.calls() if c[2] == "shell" and "--graph=" in c[-1]]
    assert len(runs) == 5 and all(c[:2] == ["-s", SERIAL] for c in phone.calls())
    script = runs[0][-1]
    for part in ("taskset f0", "--num_threads=4", "--use_xnnpack=true", "--num_runs=50",
                 "--warmup_runs=10", "--report_peak_memory_footprint=true",
                 "/data/local/tmp/edgebench/r1/"):
        assert part in script
    assert phone.leftovers() == ["data", "data/local", "data/local/tmp"]  # edgebench/ is gone
    assert Results.load(tmp_path / "run" / f"results-adb-{SERIAL}.json") == res


def test_missing_or_bad_benchmark_binary_is_caught_before_anything_runs(phone, tmp_path, capsys):
    text = tmp_path / "benchmark_model.txt"
    text.write_text("not a program")
    for binary, words in ((tmp_path / "nope", "no such file"), (text, "no ELF header")):
        code = main(["bench", str(FIX / "tiny_int8.tflite"), "--target", ADDRESS,
                     "--benchmark-binary", str(binary), "--out", str(tmp_path)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and words in err[-1] and "android_arm64" in err[-1]
    assert not phone.log.exists()  # adb was never called
    with pytest.raises(EdgebenchError, match="pass --benchmark-binary"):
        BenchmarkModelFlow.check(target_for(ADDRESS), FAST)  # no binary given at all


def test_binary_for_the_wrong_cpu_or_not_executable_on_the_phone(phone, tmp_path):
    plan = plan_from_inputs([FIX / "tiny_int8.tflite"], run_id="r")
    x86 = tmp_path / "benchmark_model"
    shutil.copyfile("/bin/true", x86)  # a real x86-64 program
    with pytest.raises(EdgebenchError, match="built for x86-64 but the device is arm64-v8a"):
        bench_targets(plan, tmp_path / "a", replace(FAST, benchmark_binary=str(x86)), [ADDRESS],
                      lambda s: None)
    configure(phone, noexec=True)
    arm = tmp_path / "arm" / "benchmark_model"
    arm.parent.mkdir()
    arm.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(11) + (183).to_bytes(2, "little") + bytes(44))
    with pytest.raises(EdgebenchError, match="benchmark_model cannot run on the device.*"
                                             "can't execute: Permission denied"):
        bench_targets(plan, tmp_path / "b", replace(FAST, benchmark_binary=str(arm)), [ADDRESS],
                      lambda s: None)
    assert phone.leftovers() == ["data", "data/local", "data/local/tmp"]


def test_a_run_that_outlives_its_limit(phone, arm64_binary, tmp_path):
    configure(phone, benchmark={"default": {"hang": True}})
    plan = plan_from_inputs([FIX / "tiny_int8.tflite"], run_id="r")
    settings = BenchSettings(runs=5, warmup=1, timeout_s=1, benchmark_binary=str(arm64_binary),
                             repeats=1)
    (res,) = bench_targets(plan, tmp_path, settings, [ADDRESS], lambda s: None)
    (rec,) = res.records
    assert rec.status == "failed" and rec.extra["error_kind"] == "timeout"
    assert "took longer than 1 s" in rec.error
    assert phone.leftovers() == ["data", "data/local", "data/local/tmp"]


# --------------------------------------------------------------------------- delegates, flags,
# operator profiles


def _text(name: str) -> str:
    """A captured output without its "# " source header."""
    lines = (ADB_FIX / name).read_text().splitlines(True)
    return "".join(ln for ln in lines if not ln.startswith("# "))


def test_parse_the_operator_profile_of_a_recent_build():
    ops = parse_op_profile(_text("benchmark_op_profile.txt"))
    # The timed runs' table, not the initialisation's (AllocateTensors).
    assert [o["op"] for o in ops][:3] == ["CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D"]
    assert ops[0] == {"op": "CONV_2D", "count": 1, "avg_ms": 0.030, "percent": 60.0}
    assert {"op": "RESHAPE", "count": 2, "avg_ms": 0.002, "percent": 4.0} in ops
    assert "AllocateTensors" not in {o["op"] for o in ops} and len(ops) == 7


def test_parse_the_operator_profile_of_an_older_build():
    ops = parse_op_profile(_text("benchmark_op_profile_tabs.txt"))
    assert ops[0] == {"op": "CONV_2D", "count": 1, "avg_ms": 0.058, "percent": 54.206}
    assert [o["op"] for o in ops] == ["CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "SHAPE",
                                      "RESHAPE"]
    assert parse_op_profile(_text("benchmark_inference_timings.txt")) == []


def test_delegates_and_pass_through_flags_reach_benchmark_model():
    s = BenchSettings(runs=5, threads=4, use_gpu=True, op_profile=True,
                      benchmark_args=("--gpu_backend=cl", "--max_delegated_partitions=2"))
    argv = benchmark_argv("/d/bm", "/d/m.tflite", s)
    for flag in ("--use_gpu=true", "--enable_op_profiling=true", "--gpu_backend=cl",
                 "--max_delegated_partitions=2", "--num_threads=4"):
        assert flag in argv
    assert "--use_nnapi=true" in benchmark_argv("b", "m", BenchSettings(use_nnapi=True))
    assert s.setups()[0].delegate == "gpu"


def test_op_profile_and_gpu_on_a_phone_end_to_end(phone, arm64_binary, tmp_path, cli):
    """Through the command line: the stand-in answers with a captured profiled output; the
    record holds the per-operator table, the report shows it, the key says GPU."""
    configure(phone, benchmark={"default": {"file": "benchmark_op_profile.txt"}})
    out = tmp_path / "out"
    proc = cli("bench", FIX / "tiny_int8.tflite", "--target", ADDRESS, "--benchmark-binary",
               arm64_binary, "--op-profile", "--use-gpu", "--threads", "1,4",
               "--benchmark-flag=--gpu_backend=cl", "--runs", "50", "--repeats", "1", "--out", out,
               "--run", "p", "--history", tmp_path / "h.sqlite")
    assert proc.code == 0, proc.err
    res = Results.load(out / "p" / f"results-adb-{SERIAL}.json")
    assert [r.key for r in res.records] == ["tiny_int8@threads=1,xnnpack=on,delegate=gpu",
                                            "tiny_int8@threads=4,xnnpack=on,delegate=gpu"]
    rec = res.records[1]
    assert rec.op_profile[0].op == "CONV_2D" and rec.op_profile[0].avg_ms == 0.03
    assert rec.op_profile[0].percent == 60.0 and len(rec.op_profile) == 7
    runs = [c[-1] for c in phone.calls() if c[2] == "shell" and "--graph=" in c[-1]]
    assert len(runs) == 2 and "--num_threads=1" in runs[0] and "--num_threads=4" in runs[1]
    for flag in ("--use_gpu=true", "--enable_op_profiling=true", "--gpu_backend=cl"):
        assert all(flag in r for r in runs)
    report = cli("report", out / "p", "--out", tmp_path / "r.html",
                 "--history", tmp_path / "h.sqlite")
    assert report.code == 0, report.err
    html = (tmp_path / "r.html").read_text()
    assert "Operators of tiny_int8@threads=4,xnnpack=on,delegate=gpu" in html
    assert "FULLY_CONNECTED" in html and "60.0%" in html
    assert "| CONV_2D | 1 | 0.030 | 60.0% |" in (tmp_path / "r.md").read_text()


@pytest.mark.parametrize("argv, words", [
    (["--benchmark-flag=--num_threads=2"], "--num_threads is set by edgebench; use --threads"),
    (["--benchmark-flag=gpu"], "expected one benchmark_model flag such as --gpu_backend=cl"),
])
def test_bad_pass_through_flags_are_refused_where_they_enter(argv, words, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "x.tflite", "--target", ADDRESS, *argv])
    assert exc.value.code == 2 and words in capsys.readouterr().err


def test_gpu_and_nnapi_at_once_is_one_line(cli, phone, arm64_binary, tmp_path):
    cli("bench", FIX / "tiny_int8.tflite", "--target", ADDRESS, "--benchmark-binary",
        arm64_binary, "--use-gpu", "--use-nnapi", "--out", tmp_path).error_line(
        "use_gpu and use_nnapi each pick the delegate; pick one of them")
