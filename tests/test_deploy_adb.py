"""The adb target (transport only) through the stand-in adb (tests/adb_standin.py): device
facts, every way a phone can be unreachable, and what it leaves behind."""

from __future__ import annotations

from dataclasses import replace

import pytest
from adb_standin import ADB_FIX, ADDRESS, FIX, SERIAL, configure

from edgebench.bench.orchestration.plan import plan_from_inputs
from edgebench.bench.orchestration.scheduler import bench_targets
from edgebench.cli import main
from edgebench.deploy import AdbTarget, TargetError
from edgebench.deploy.adb import parse_getprop, parse_thermalservice
from edgebench.errors import EdgebenchError
from edgebench.records import BenchSettings, Results

FAST = BenchSettings(runs=50, warmup=10, threads=4, timeout_s=60, repeats=1)


def test_getprop_and_thermal():
    props = parse_getprop((ADB_FIX / "getprop.txt").read_text())
    assert props["ro.product.model"] == "Pixel 6" and props["ro.board.platform"] == "gs101"
    thermal = parse_thermalservice((ADB_FIX / "thermalservice.txt").read_text())
    assert thermal == {"status": "light", "temperature_c": 43.5}  # HAL readings, CPU type only


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
    settings = replace(FAST, benchmark_binary=str(arm64_binary))
    with pytest.raises(EdgebenchError, match="no phone with serial 'NOPE'.*adb devices"):
        bench_targets(plan, tmp_path, settings, ["adb://NOPE"], lambda s: None)
    with pytest.raises(EdgebenchError, match="install adb.*--adb PATH"):
        bench_targets(plan, tmp_path, settings, [ADDRESS], lambda s: None,
                      {ADDRESS: {"adb": tmp_path / "no-adb"}})


def test_phone_goes_offline_mid_run_keeps_the_first_record(phone, arm64_binary, tmp_path):
    configure(phone, offline_after=1)
    plan = plan_from_inputs([FIX / "tiny_float32.tflite", FIX / "tiny_int8.tflite"], run_id="r")
    with pytest.raises(EdgebenchError, match="offline"):
        bench_targets(plan, tmp_path, replace(FAST, benchmark_binary=str(arm64_binary)),
                      [ADDRESS], lambda s: None)
    res = Results.load(tmp_path / f"results-adb-{SERIAL}.json")
    assert [r.status for r in res.records] == ["ok", "failed"]
    assert res.records[0].latency_us.n == 50 and "offline" in res.records[1].error


def test_adb_address_forms(phone, arm64_binary):
    assert AdbTarget("adb://").serial is None and AdbTarget("adb://").name == "adb-device"
    assert AdbTarget("adb://10.0.0.7:5555").serial == "10.0.0.7:5555"
    with pytest.raises(TargetError, match="not a device serial"):
        AdbTarget("adb://-s")
