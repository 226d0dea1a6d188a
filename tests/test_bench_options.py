"""The options engineers reach for, on this machine's real interpreter: the threads x XNNPACK
matrix (its own records and rows everywhere), --cpu-pin, --delegate through load_delegate
(a real plugin library compiled from tests/fixtures/delegate/stub_delegate.c), and the
warnings about what skews a measurement."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from system_tools import need

from edgebench.bench.judgement.compare import compare_runs
from edgebench.bench.judgement.history import open_history
from edgebench.bench.orchestration.scheduler import stamp
from edgebench.records import BenchSettings, DeviceInfo, Record, Results, Setup

FIX = Path(__file__).parent / "fixtures"
MODELS = (FIX / "tiny_int8.tflite", FIX / "tiny_float32.tflite")


@pytest.fixture(scope="module")
def stub_delegate(tmp_path_factory) -> Path:
    """A real TFLite delegate plugin (.so) that loads and takes none of a model."""
    gcc = need("gcc")
    out = tmp_path_factory.mktemp("delegate") / "libstub_delegate.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(out),
                    str(FIX / "delegate" / "stub_delegate.c")], check=True)
    return out


def one(tmp_path: Path, name: str) -> Results:
    (path,) = (tmp_path / name).glob("results-*.json")
    return Results.load(path)


# --------------------------------------------------------------------------- the matrix


def test_the_matrix_is_its_own_records_and_rows_everywhere(cli, tmp_path):
    """--threads 1,2 --xnnpack on,off: four records per model, keyed by their settings in the
    summary, the history, compare, gate and the report; a run with other settings is never
    compared with them as if it were the same."""
    out, hist = tmp_path / "out", tmp_path / "h.sqlite"
    common = ("--runs", "3", "--repeats", "1", "--warmup", "0", "--out", out, "--history", hist)
    first = cli("bench", *MODELS, "--threads", "1,2", "--xnnpack", "on,off", "--run", "m1",
                *common)  # two models x four cells
    assert first.code == 0, first.err
    res = one(out, "m1")
    keys = [r.key for r in res.records]
    assert len(keys) == len(set(keys)) == 8
    assert "tiny_int8@threads=2,xnnpack=off" in keys
    assert res.settings.threads == (1, 2) and res.settings.xnnpack == (True, False)
    off = res.record("tiny_int8@threads=2,xnnpack=off")
    assert off.ok and off.threads == 2 and off.xnnpack is False and off.setup == Setup(2, False)
    for key in keys:
        assert sum(line.split()[1:2] == [key] for line in first.out.splitlines()) == 1, key

    second = cli("bench", MODELS[0], "--threads", "1,2", "--xnnpack", "on,off", "--run", "m2",
                 *common)
    assert second.code == 0, second.err
    with open_history(hist) as h:
        stored = h.load(h.rows_of(h.benches()[0])[0])
        assert [r.key for r in stored.records] == [r.key for r in one(out, "m2").records]
        assert len(h.runs(variant="tiny_int8@threads=2,xnnpack=off")) == 2
    cmp = cli("compare", "--out", out, "--history", hist)
    assert cmp.code == 0, cmp.err
    rows = [ln.split()[0] for ln in cmp.out.splitlines() if ln.startswith("tiny_")]
    assert sorted(rows) == sorted(keys)  # tiny_float32's four: "not in the current run"

    budgets = tmp_path / "b.toml"
    budgets.write_text('[budgets."tiny_int8"]\nmax_zip_bytes = 100000\n')
    gate = cli("gate", out / "m2", "--budgets", budgets)
    assert gate.code == 0 and "gate: PASSED, 4 checks" in gate.out  # one per cell of tiny_int8
    report = cli("report", "m2", "--out", tmp_path / "r.html", "--history", hist)
    assert report.code == 0, report.err
    html = (tmp_path / "r.html").read_text()
    assert all(r.key in html for r in one(out, "m2").records)

    # One thread only: the 2-thread and no-XNNPACK cells are not compared with anything.
    third = cli("bench", MODELS[0], "--threads", "1", "--run", "m3", *common)
    assert third.code == 0
    comparison = compare_runs(one(out, "m2"), one(out, "m3"))
    compared = {c.variant for c in comparison.changes if c.base and c.current}
    assert compared == {"tiny_int8@threads=1,xnnpack=on"}
    gone = {c.variant for c in comparison.changes if c.note == "not in the current run"}
    assert gone == {"tiny_int8@threads=1,xnnpack=off", "tiny_int8@threads=2,xnnpack=on",
                    "tiny_int8@threads=2,xnnpack=off"}


@pytest.mark.parametrize("value", ["0", "two", "1,,2", "-1", "1.5"])
def test_bad_thread_lists_are_refused_where_they_enter(cli, tmp_path, value):
    proc = cli("bench", MODELS[0], "--threads", value, "--out", tmp_path)
    assert proc.code == 2 and "Traceback" not in proc.err
    assert "expected thread counts >= 1 separated by commas, such as 1,2,4" in proc.err
    assert not (tmp_path / "latest").exists()


def test_more_threads_than_cores_is_a_warning_not_an_error(cli, tmp_path):
    many = (os.cpu_count() or 1) + 1
    proc = cli("bench", MODELS[0], "--threads", str(many), "--runs", "2", "--repeats", "1",
               "--out", tmp_path,
               "--run", "t", "--no-history")
    assert proc.code == 0, proc.err
    (rec,) = one(tmp_path, "t").records
    assert rec.ok and f"{many} threads on {os.cpu_count()} cores" in rec.warnings
    assert f"more threads than the device's {os.cpu_count()} cores" in proc.err
    assert f"{many} threads on {os.cpu_count()} cores" in proc.out  # under the summary


def test_governor_and_hot_start_warnings_go_to_the_record():
    settings = BenchSettings(hot_start_c=60)
    rec = Record(variant="m", model_path="m", status="ok", temp_c_before=71.5)
    device = DeviceInfo(machine="aarch64", governor="ondemand", cores=4)
    stamped = stamp(rec, Setup(1, True), device, settings)
    assert "governor ondemand, not performance" in stamped.warnings
    assert any(w.startswith("started hot: 71.5 °C, above 60 °C") for w in stamped.warnings)
    cool = stamp(Record(variant="m", model_path="m", status="ok", temp_c_before=45.0),
                 Setup(1, True), DeviceInfo(governor="performance", cores=4), settings)
    assert cool.warnings == ()


# --------------------------------------------------------------------------- CPU pin


def test_cpu_pin_on_the_local_target(cli, tmp_path):
    proc = cli("bench", MODELS[0], "--cpu-pin", "0", "--runs", "2", "--repeats", "1",
               "--out", tmp_path,
               "--run", "p", "--no-history")
    assert proc.code == 0, proc.err
    (rec,) = one(tmp_path, "p").records
    assert rec.extra["cpu_affinity"] == [0]  # what the runner saw: taskset took effect
    assert rec.key == "tiny_int8@threads=1,xnnpack=on,cpus=0"


def test_cpu_pin_beyond_the_device_cores_is_one_line(cli, tmp_path):
    proc = cli("bench", MODELS[0], "--cpu-pin", "0-63", "--out", tmp_path, "--no-history")
    proc.error_line("--cpu-pin", "names CPUs the device does not have")


# --------------------------------------------------------------------------- delegates


def test_a_delegate_that_takes_none_of_the_model_is_not_run_on_the_cpu(cli, tmp_path,
                                                                          stub_delegate):
    proc = cli("bench", MODELS[1], "--delegate", stub_delegate, "--runs", "2", "--repeats", "1",
               "--out",
               tmp_path, "--run", "d", "--no-history")
    (rec,) = one(tmp_path, "d").records
    assert rec.status == "failed" and rec.extra["error_kind"] == "delegate"
    assert rec.error.startswith("the delegate libstub_delegate.so took none of the model's")
    assert rec.key.endswith(",delegate=libstub_delegate.so")
    assert proc.code == 1 and rec.latency_us is None  # no CPU numbers under its name


def test_a_delegate_that_does_not_load_is_one_line(cli, tmp_path, stub_delegate):
    proc = cli("bench", MODELS[0], "--delegate", f"{stub_delegate}:fail=1", "--out", tmp_path,
               "--run", "f", "--no-history")
    proc.error_line("cannot load the delegate", "libstub_delegate.so",
                    "no model was run (none falls back to the CPU)")
    assert [r.status for r in one(tmp_path, "f").records] == ["failed"]


def test_delegate_paths_that_cannot_be_a_delegate(cli, tmp_path):
    missing = cli("bench", MODELS[0], "--delegate", "/no/such/libdelegate.so",
                  "--out", tmp_path)
    missing.error_line("--delegate /no/such/libdelegate.so: no such file")
    text = tmp_path / "libnotes.so"
    text.write_text("not a library")
    cli("bench", MODELS[0], "--delegate", text, "--out", tmp_path).error_line(
        "is not a shared library (no ELF header)")
    arm = tmp_path / "libarm.so"  # an ELF shared object header for aarch64 (e_type 3, 183)
    arm.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + (3).to_bytes(2, "little")
                    + (183).to_bytes(2, "little") + bytes(44))
    cli("bench", MODELS[0], "--delegate", arm, "--out", tmp_path).error_line(
        "libarm.so is built for aarch64 but the device is x86_64")
    bad = cli("bench", MODELS[0], "--delegate", "lib.so:novalue", "--out", tmp_path)
    assert bad.code == 2 and "is not key=value" in bad.err


@pytest.mark.parametrize("argv, words", [
    (["--op-profile"], "cannot profile operators"),
    (["--use-gpu"], "--use-gpu picks a delegate of benchmark_model"),
    (["--benchmark-flag=--gpu_backend=cl"], "is for benchmark_model"),
])
def test_benchmark_model_options_on_the_runner_are_one_line(cli, tmp_path, argv, words):
    cli("bench", MODELS[0], *argv, "--out", tmp_path).error_line(words)
