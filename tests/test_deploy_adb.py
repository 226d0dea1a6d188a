"""The adb target with a stand-in `adb` first on PATH (no phone can run here).

The stand-in (tests/stand_ins/adb) records every call and answers from captured outputs in
tests/fixtures/adb/: both benchmark_model output forms, a missing operator, a crash, a phone
that is offline or unauthorized. Everything else (the host-side accuracy, the records, the
CLI) is the real thing.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from edgebench.bench.orchestrate import bench, plan_from_inputs, plan_from_manifest
from edgebench.cli import main
from edgebench.deploy import AdbTarget, TargetError, target_for
from edgebench.deploy.adb import (
    benchmark_argv,
    parse_benchmark_output,
    parse_getprop,
    parse_thermalservice,
)
from edgebench.errors import EdgebenchError
from edgebench.records import Artifact, BenchSettings, Manifest, Results

HERE = Path(__file__).parent
FIX = HERE / "fixtures"
ADB_FIX = FIX / "adb"
STAND_IN = HERE / "stand_ins"
SERIAL = "1A2B3C4D5E6F"
ADDRESS = f"adb://{SERIAL}"
FAST = BenchSettings(runs=50, warmup=10, threads=4, timeout_s=60)


# --------------------------------------------------------------------------- parsing


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


def test_getprop_and_thermal():
    props = parse_getprop((ADB_FIX / "getprop.txt").read_text())
    assert props["ro.product.model"] == "Pixel 6" and props["ro.board.platform"] == "gs101"
    thermal = parse_thermalservice((ADB_FIX / "thermalservice.txt").read_text())
    assert thermal == {"status": "light", "temperature_c": 43.5}  # HAL readings, CPU type only


def test_benchmark_argv_carries_every_setting():
    s = BenchSettings(runs=7, warmup=0, threads=2, xnnpack=False, timeout_s=90)
    argv = benchmark_argv("/d/bm", "/d/m.tflite", s, "f0")
    assert argv[:3] == ["taskset", "f0", "/d/bm"]
    for flag in ("--graph=/d/m.tflite", "--num_threads=2", "--use_xnnpack=false",
                 "--num_runs=7", "--min_secs=0", "--warmup_runs=1", "--warmup_min_secs=0",
                 "--report_peak_memory_footprint=true"):
        assert flag in argv


# --------------------------------------------------------------------------- the stand-in


class Phone:
    """The stand-in's configuration and what it saw."""

    def __init__(self, root: Path, **config) -> None:
        self.root = root
        self.device_root = root / "phone"
        self.device_root.mkdir()
        self.log = root / "adb-calls.log"
        self.config_path = root / "adb-standin.json"
        self.config = {
            "state": "device",
            "serial": SERIAL,
            "device_root": str(self.device_root),
            "fixtures": str(ADB_FIX),
            "log": str(self.log),
            "benchmark": {
                "default": {"file": "benchmark_inference_timings.txt"},
                "old": {"file": "benchmark_average_timings.txt"},
                "dynamic": {"file": "benchmark_missing_op.txt", "rc": 1},
                "crash": {"file": None, "rc": 139, "stderr": "Segmentation fault \n"},
            },
            **config,
        }
        self.config_path.write_text(json.dumps(self.config))

    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def leftovers(self) -> list[str]:
        return sorted(str(p.relative_to(self.device_root)) for p in self.device_root.rglob("*"))


@pytest.fixture
def phone(tmp_path, monkeypatch):
    """A stand-in phone, with the stand-in adb first on PATH."""
    monkeypatch.setenv("PATH", f"{STAND_IN}{os.pathsep}{os.environ['PATH']}")
    p = Phone(tmp_path)
    monkeypatch.setenv("EDGEBENCH_ADB_STANDIN", str(p.config_path))
    assert shutil.which("adb") == str(STAND_IN / "adb")
    return p


def configure(phone: Phone, **changes) -> None:
    phone.config.update(changes)
    phone.config_path.write_text(json.dumps(phone.config))


@pytest.fixture
def arm64_binary(tmp_path) -> Path:
    """A file with an aarch64 ELF header, as --benchmark-binary (the stand-in runs nothing)."""
    p = tmp_path / "benchmark_model"
    header = b"\x7fELF\x02\x01\x01" + bytes(11) + (183).to_bytes(2, "little")
    p.write_bytes(header + bytes(44))
    return p


@pytest.fixture
def labelled_plan(tmp_path):
    """A manifest of the tiny fixtures with eval data, so accuracy comes from the host."""
    folder = tmp_path / "build"
    folder.mkdir()
    names = {"baseline/float32": "tiny_float32.tflite", "old/int8": "tiny_int8.tflite",
             "crash/int8": "tiny_int8.tflite", "pruned/dynamic": "tiny_dynamic.tflite",
             "pruned/int8": "tiny_int8.tflite"}
    arts = []
    for name, src in names.items():
        rel = name.replace("/", "_") + ".tflite"
        shutil.copyfile(FIX / src, folder / rel)
        size = (folder / rel).stat().st_size
        arts.append(Artifact(name=name, recipe=name.split("/")[0], kind=name.split("/")[1],
                             path=rel, file_bytes=size, zip_bytes=size, params=0,
                             nonzero_params=0, compression_ratio=1.0, host_accuracy=None))
    shutil.copyfile(FIX / "tiny_eval.npz", folder / "eval.npz")
    Manifest(run_id="r1", created_at="2025-01-01T00:00:00+00:00", config_path=None,
             config_sha256=None, dataset=None, eval_data="eval.npz",
             baseline="baseline/float32", artifacts=tuple(arts)).save(folder / "manifest.json")
    return plan_from_manifest(folder / "manifest.json")


def test_bench_a_phone_end_to_end(phone, arm64_binary, labelled_plan, tmp_path):
    opts = {ADDRESS: {"benchmark_binary": arm64_binary, "taskset": "f0"}}
    lines = []
    (res,) = bench(labelled_plan, tmp_path / "run", FAST, [ADDRESS], lines.append, opts)
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


@pytest.mark.parametrize(
    "state, words",
    [("offline", "the phone is offline; reconnect the cable (or run adb reconnect)"),
     ("unauthorized", "accept the 'Allow USB debugging?' dialog")],
)
def test_offline_or_unauthorized_is_one_line_with_the_fix(phone, arm64_binary, tmp_path, capsys,
                                                          state, words):
    configure(phone, state=state)
    code = main(["bench", str(FIX / "tiny_int8.tflite"), "--target", ADDRESS,
                 "--benchmark-binary", str(arm64_binary), "--out", str(tmp_path), "--run", "r"])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = [ln for ln in err.splitlines() if ln.startswith("edgebench: error:")]
    assert words in line
    res = Results.load(tmp_path / "r" / f"results-adb-{SERIAL}.json")
    assert words in res.error and res.records[0].error.startswith("not run:")


def test_wrong_serial_and_no_adb(phone, arm64_binary, tmp_path):
    plan = plan_from_inputs([FIX / "tiny_int8.tflite"], run_id="r")
    with pytest.raises(EdgebenchError, match="no phone with serial 'NOPE'.*adb devices"):
        bench(plan, tmp_path, FAST, ["adb://NOPE"], lambda s: None,
              {"adb://NOPE": {"benchmark_binary": arm64_binary}})
    with pytest.raises(EdgebenchError, match="install adb.*--adb PATH"):
        bench(plan, tmp_path, FAST, [ADDRESS], lambda s: None,
              {ADDRESS: {"benchmark_binary": arm64_binary, "adb": tmp_path / "no-adb"}})


def test_phone_goes_offline_mid_run_keeps_the_first_record(phone, arm64_binary, tmp_path):
    configure(phone, offline_after=1)
    plan = plan_from_inputs([FIX / "tiny_float32.tflite", FIX / "tiny_int8.tflite"], run_id="r")
    with pytest.raises(EdgebenchError, match="offline"):
        bench(plan, tmp_path, FAST, [ADDRESS], lambda s: None,
              {ADDRESS: {"benchmark_binary": arm64_binary}})
    res = Results.load(tmp_path / f"results-adb-{SERIAL}.json")
    assert [r.status for r in res.records] == ["ok", "failed"]
    assert res.records[0].latency_us.n == 50 and "offline" in res.records[1].error


def test_missing_or_bad_benchmark_binary_is_caught_before_anything_runs(phone, tmp_path, capsys):
    text = tmp_path / "benchmark_model.txt"
    text.write_text("not a program")
    for binary, words in ((tmp_path / "nope", "no such file"), (text, "no ELF header")):
        code = main(["bench", str(FIX / "tiny_int8.tflite"), "--target", ADDRESS,
                     "--benchmark-binary", str(binary), "--out", str(tmp_path)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and words in err[-1] and "android_arm64" in err[-1]
    assert not phone.log.exists()  # adb was never called
    with pytest.raises(TargetError, match="pass --benchmark-binary"):
        with target_for(ADDRESS) as t:
            t.flow(plan_from_inputs([FIX / "tiny_int8.tflite"]), FAST).prepare()


def test_binary_for_the_wrong_cpu_or_not_executable_on_the_phone(phone, tmp_path):
    plan = plan_from_inputs([FIX / "tiny_int8.tflite"], run_id="r")
    x86 = tmp_path / "benchmark_model"
    shutil.copyfile("/bin/true", x86)  # a real x86-64 program
    with pytest.raises(EdgebenchError, match="built for x86-64 but the phone is arm64-v8a"):
        bench(plan, tmp_path / "a", FAST, [ADDRESS], lambda s: None,
              {ADDRESS: {"benchmark_binary": x86}})
    configure(phone, noexec=True)
    arm = tmp_path / "arm" / "benchmark_model"
    arm.parent.mkdir()
    arm.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(11) + (183).to_bytes(2, "little") + bytes(44))
    with pytest.raises(EdgebenchError, match="benchmark_model cannot run on the phone.*"
                                             "can't execute: Permission denied"):
        bench(plan, tmp_path / "b", FAST, [ADDRESS], lambda s: None,
              {ADDRESS: {"benchmark_binary": arm}})
    assert phone.leftovers() == ["data", "data/local", "data/local/tmp"]


def test_a_run_that_outlives_its_limit(phone, arm64_binary, tmp_path):
    configure(phone, benchmark={"default": {"hang": True}})
    plan = plan_from_inputs([FIX / "tiny_int8.tflite"], run_id="r")
    (res,) = bench(plan, tmp_path, BenchSettings(runs=5, warmup=1, timeout_s=1), [ADDRESS],
                   lambda s: None, {ADDRESS: {"benchmark_binary": arm64_binary}})
    (rec,) = res.records
    assert rec.status == "failed" and rec.extra["error_kind"] == "timeout"
    assert "took longer than 1 s" in rec.error
    assert phone.leftovers() == ["data", "data/local", "data/local/tmp"]


def test_adb_address_forms(phone, arm64_binary):
    assert AdbTarget("adb://").serial is None and AdbTarget("adb://").name == "adb-device"
    assert AdbTarget("adb://10.0.0.7:5555").serial == "10.0.0.7:5555"
    with pytest.raises(TargetError, match="not a device serial"):
        AdbTarget("adb://-s")
