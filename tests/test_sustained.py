"""The sustained protocol on the device side: the Pi's vcgencmd outputs, the device state read
from fake sysfs trees (readable, missing, permission denied), the windows of a loop driven by
a clock the test moves, and a real 3 s run of the runner on this machine, checked by its shape
(window count, fields, the ratio computed from the windows), never by its speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fake_sysfs import write

from edgebench.bench.device.pack import runner_archive
from edgebench.bench.device.runner import sustained
from edgebench.bench.device.runner.cli import MARKER

FIX = Path(__file__).parent / "fixtures"



# --------------------------------------------------------------------------- vcgencmd


def test_get_throttled_gives_the_flags_that_are_true_now() -> None:
    # 0x50005: under-voltage and throttled now (bits 0, 2), and both since boot (16, 18)
    assert sustained.parse_get_throttled("throttled=0x50005\n") == ["throttled",
                                                                      "under_voltage"]
    assert sustained.parse_get_throttled("throttled=0x0") == []
    assert sustained.parse_get_throttled("throttled=0xa") == ["arm_freq_capped",
                                                               "soft_temp_limit"]
    assert sustained.parse_get_throttled('error=1 error_msg="Command not registered"') is None


def test_measure_temp_and_the_arm_clock() -> None:
    assert sustained.parse_measure_temp("temp=48.3'C\n") == 48.3
    assert sustained.parse_measure_temp("") is None
    assert sustained.parse_measure_clock("frequency(48)=1500398464\n") == 1500.4
    assert sustained.parse_measure_clock("frequency(48)=0") == 0.0
    assert sustained.parse_measure_clock("nonsense") is None


# --------------------------------------------------------------------------- device state


def pi_tree(root: Path, capped: bool = False) -> None:
    """A Pi-like sysfs: one thermal zone, four cores in one cpufreq policy."""
    write(root / "sys/class/thermal/thermal_zone0/temp", "61250\n")
    for cpu in range(4):
        write(root / f"sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_cur_freq", "1800000\n")
    policy = root / "sys/devices/system/cpu/cpufreq/policy0"
    write(policy / "cpuinfo_max_freq", "2400000\n")
    write(policy / "scaling_max_freq", "1500000\n" if capped else "2400000\n")


def no_vcgencmd(*args: str) -> None:
    return None


def test_a_readable_tree_gives_temperature_clock_and_no_flags(tmp_path: Path) -> None:
    pi_tree(tmp_path)
    state, why = sustained.DeviceState(str(tmp_path), vcgencmd=no_vcgencmd).read()
    assert state == {"temp_c": 61.2, "freq_mhz": 1800.0, "throttled": []} and why == {}


def test_a_capped_cpufreq_policy_is_a_throttling_flag(tmp_path: Path) -> None:
    pi_tree(tmp_path, capped=True)
    state, _ = sustained.DeviceState(str(tmp_path), vcgencmd=no_vcgencmd).read()
    assert state["throttled"] == ["max_freq_capped"]


def test_a_pi_reads_the_firmware(tmp_path: Path) -> None:
    """With vcgencmd the ARM clock is the firmware's (it throttles behind cpufreq's back) and
    get_throttled's flags join the list; the thermal zone still gives the temperature."""
    pi_tree(tmp_path)
    answers = {("version",): "Oct 17 2023", ("measure_clock", "arm"): "frequency(48)=1000000000",
               ("get_throttled",): "throttled=0x4", ("measure_temp",): "temp=70.1'C"}
    state, why = sustained.DeviceState(str(tmp_path), vcgencmd=lambda *a: answers[a]).read()
    assert state == {"temp_c": 61.2, "freq_mhz": 1000.0, "throttled": ["throttled"]}
    assert why == {}


def test_a_machine_without_sensors_says_why_each_figure_is_null(tmp_path: Path) -> None:
    state, why = sustained.DeviceState(str(tmp_path), vcgencmd=no_vcgencmd).read()
    assert state == {"temp_c": None, "freq_mhz": None, "throttled": None}
    assert "no thermal zone" in why["temp_c"] and "no cpufreq" in why["freq_mhz"]
    assert "get_throttled" in why["throttled"]


def test_unreadable_files_are_null_with_the_reason_and_never_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a kernel that keeps thermal zones for root answers: open() raises EACCES (the
    tests run as root, who may read anything, so open is replaced for the module)."""
    pi_tree(tmp_path)
    real = open

    def guarded(path, *args, **kwargs):
        if "thermal_zone" in str(path) or "scaling_cur_freq" in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sustained, "open", guarded, raising=False)
    state, why = sustained.DeviceState(str(tmp_path), vcgencmd=no_vcgencmd).read()
    assert state["temp_c"] is None and state["freq_mhz"] is None
    assert why["temp_c"].endswith("thermal_zone0/temp: permission denied")
    assert "scaling_cur_freq: permission denied" in why["freq_mhz"]
    assert state["throttled"] == []  # the policy files were still readable


# --------------------------------------------------------------------------- the loop


class Steps:
    """A nanosecond clock that moves ``step_ns`` at every reading, and an invoke that moves it
    ``invoke_ns`` more: a device whose every invoke takes a known time."""

    def __init__(self, invoke_ns) -> None:
        self.t, self.invoke_ns, self.calls = 0, invoke_ns, 0

    def clock(self) -> int:
        return self.t

    def invoke(self) -> None:
        self.calls += 1
        self.t += self.invoke_ns(self.calls)


class FixedState:
    def __init__(self) -> None:
        self.reads = 0

    def read(self):
        self.reads += 1
        return {"temp_c": 50.0 + self.reads, "freq_mhz": None, "throttled": None}, {
            "freq_mhz": "no cpufreq"}


def test_windows_count_and_median_each_second_and_the_ratio_is_last_over_first() -> None:
    # 100 µs an invoke for the first second, then 150 µs: the device slows down
    steps = Steps(lambda n: 100_000 if n <= 10_000 else 150_000)
    state = FixedState()
    out = sustained.run_sustained(steps.invoke, 4, state=state, clock=steps.clock)
    windows = out["windows"]
    assert [w["t_s"] for w in windows] == [0.0, 1.0, 2.0, 3.0]
    # an invoke that crosses a boundary closes its window; the next counts from there
    assert [w["count"] for w in windows] == [10_000, 6_667, 6_667, 6_666]
    assert [w["p50_us"] for w in windows] == [100.0, 150.0, 150.0, 150.0]
    assert out["ratio"] == 1.5 == windows[-1]["p50_us"] / windows[0]["p50_us"]
    assert [w["temp_c"] for w in windows] == [51.0, 52.0, 53.0, 54.0] and state.reads == 4
    assert out["unreadable"] == {"freq_mhz": "no cpufreq"} and out["throttle_flags"] == []
    assert out["busy_share"] == 1.0 and out["statistic"] == "p50"


def test_an_invoke_longer_than_a_window_closes_it_and_the_run_ends_on_time() -> None:
    steps = Steps(lambda n: 2_500_000_000)  # 2.5 s an invoke: windows of one invoke
    out = sustained.run_sustained(steps.invoke, 5, state=FixedState(), clock=steps.clock)
    assert [w["count"] for w in out["windows"]] == [1, 1]
    assert steps.t == 5_000_000_000 and out["ratio"] == 1.0


def test_a_single_window_has_no_ratio() -> None:
    steps = Steps(lambda n: 1_000_000)
    out = sustained.run_sustained(steps.invoke, 0.4, state=FixedState(), clock=steps.clock)
    assert len(out["windows"]) == 1 and out["ratio"] is None


def test_throttling_flags_of_every_window_are_summed_up() -> None:
    windows = [{"count": 3, "p50_us": 10.0, "throttled": []},
               {"count": 3, "p50_us": 12.0, "throttled": ["throttled"]},
               {"count": 3, "p50_us": 13.0, "throttled": ["soft_temp_limit", "throttled"]}]
    out = sustained.summarize(windows, 3, 1.0)
    assert out["throttle_flags"] == ["soft_temp_limit", "throttled"] and out["ratio"] == 1.3


# --------------------------------------------------------------------------- for real


def test_the_runner_runs_sustained_for_real_on_this_machine() -> None:
    """3 s on this machine: three windows, every field present, the ratio from the windows;
    no figure of speed is asserted (the machine is shared)."""
    proc = subprocess.run(
        [sys.executable, str(runner_archive()), "run", "--model",
         str(FIX / "tiny_float32.tflite"), "--runs", "5", "--sustained", "3"],
        capture_output=True, text=True, timeout=120,
    )
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    rec = json.loads(line[len(MARKER):])
    assert proc.returncode == 0 and rec["status"] == "ok", proc.stderr
    s = rec["sustained"]
    assert len(s["windows"]) == 3 and s["seconds"] == 3.0 and s["window_s"] == 1.0
    for w in s["windows"]:
        assert set(w) == {"t_s", "count", "p50_us", "temp_c", "freq_mhz", "throttled"}
        assert w["count"] > 0 and w["p50_us"] > 0
    assert s["ratio"] == round(s["windows"][-1]["p50_us"] / s["windows"][0]["p50_us"], 4)
    assert 0 < s["busy_share"] <= 1 and rec["energy"] is None
    # this VM has no thermal zone nor cpufreq: null, with the reason, and the run went on
    assert s["windows"][0]["temp_c"] is None and "thermal" in s["unreadable"]["temp_c"]
