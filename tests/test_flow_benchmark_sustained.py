"""--sustained and --power android on a phone, through the stand-in adb (tests/adb_standin.py):
windows as back-to-back benchmark_model processes, the thermal service and the cores' clocks
read over adb after each, the battery sampled over adb while the windows run (its current moves
with the load), and the refusals: a phone without a readable battery, a meter the phone cannot
have, files SELinux denies (null with the reason, never a failure)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from adb_standin import ADDRESS, FIX, configure
from fake_sysfs import write

from edgebench.bench.orchestration.flows.benchmark_sustained import (
    parse_cooling,
    parse_frequencies,
)
from edgebench.bench.orchestration.plan import plan_from_inputs
from edgebench.bench.orchestration.scheduler import bench_targets
from edgebench.records import BenchSettings

FAST = BenchSettings(runs=50, warmup=10, threads=4, timeout_s=60, repeats=1)
BATTERY = "/sys/class/power_supply/battery"
COOL, HOT = "benchmark_window_cool.txt", "benchmark_window_hot.txt"



def phone_sysfs(phone, status: str = "Discharging", cores: int = 8) -> None:
    """The phone's sysfs as adb shell's cat reads it: every core's clock, the battery."""
    root = phone.device_root
    for cpu in range(cores):
        write(root / f"sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_cur_freq",
              "1803000\n" if cpu < 4 else "2802000\n")
    write(root / "sys/class/power_supply/battery/current_now", "-350000\n")  # µA, discharging
    write(root / "sys/class/power_supply/battery/voltage_now", "3900000\n")  # µV
    write(root / "sys/class/power_supply/battery/status", status + "\n")
    write(root / "sys/class/power_supply/usb/online", "0\n")


def bench(phone, tmp_path, arm64_binary, **settings):
    s = replace(FAST, benchmark_binary=str(arm64_binary), **settings)
    plan = plan_from_inputs([FIX / "tiny_float32.tflite"], run_id="r")
    (res,) = bench_targets(plan, tmp_path / "run", s, [ADDRESS], lambda line: None)
    return res


def test_the_thermal_services_cooling_devices_and_the_clocks():
    hot = (FIX / "adb" / "thermalservice_hot.txt").read_text()
    assert parse_cooling(hot) == ["thermal-cpufreq-2=2"]
    assert parse_cooling((FIX / "adb" / "thermalservice.txt").read_text()) == []
    assert parse_frequencies("1803000\n2802000\n") == 2302.5 and parse_frequencies("") is None


def test_sustained_windows_on_a_phone(phone, arm64_binary, tmp_path):
    """Three windows: one cool, two hot (the thermal service reads severe after the first);
    the ratio is the last window's median over the first's."""
    phone_sysfs(phone)
    # thermal service calls: describe, before and after the timed run, then one per window
    configure(phone, windows=[COOL, HOT],
              thermal=["thermalservice.txt"] * 4 + ["thermalservice_hot.txt"])
    res = bench(phone, tmp_path, arm64_binary, sustained_s=3)
    (rec,) = res.records
    s = rec.sustained
    assert rec.ok and rec.energy is None and s.statistic == "p50" and s.seconds == 3
    assert [w.count for w in s.windows] == [652, 468, 468]
    assert [w.p50_us for w in s.windows] == [1531, 2118, 2118]
    assert s.ratio == round(2118 / 1531, 4)
    assert [w.temp_c for w in s.windows] == [43.5, 71.2, 71.2]
    assert s.windows[0].throttled == ("thermal_light",)
    assert s.windows[1].throttled == ("thermal-cpufreq-2=2", "thermal_severe")
    assert {w.freq_mhz for w in s.windows} == {2302.5} and s.unreadable == {}
    assert 0 < s.busy_share < 1  # process starts and adb round trips between windows
    assert any("throttled during the sustained run" in w for w in rec.warnings)
    assert rec.rss_mb.model == 2.61719  # benchmark_model's footprint delta
    windows = [c[-1] for c in phone.calls() if c[2] == "shell" and "--min_secs=1" in c[-1]]
    assert len(windows) == 3 and all("--num_runs=1" in w and "--warmup_runs=1" in w
                                     and "report_peak_memory" not in w for w in windows)


def test_files_selinux_denies_are_null_with_the_reason(phone, arm64_binary, tmp_path):
    phone_sysfs(phone)
    denied = [f"/sys/devices/system/cpu/cpu{i}/cpufreq/scaling_cur_freq" for i in range(8)]
    configure(phone, windows=[COOL], window_s_scale=0.1, denied=denied)
    (rec,) = bench(phone, tmp_path, arm64_binary, sustained_s=2).records
    assert rec.ok and len(rec.sustained.windows) == 2
    assert all(w.freq_mhz is None for w in rec.sustained.windows)
    assert rec.sustained.unreadable["freq_mhz"].endswith("scaling_cur_freq: Permission denied")
    assert rec.sustained.windows[0].temp_c == 43.5  # the rest was read


def test_energy_from_the_phones_battery(phone, arm64_binary, tmp_path):
    """Idle: 0.35 A x 3.9 V = 1.365 W; while a window runs the stand-in's current_now reads
    1.35 A (5.265 W); J per inference is the energy above idle over every invoke."""
    phone_sysfs(phone)
    configure(phone, windows=[COOL], window_s_scale=0.6,
              busy={f"{BATTERY}/current_now": "-1350000"})
    (rec,) = bench(phone, tmp_path, arm64_binary, sustained_s=2, power="android",
                   power_idle_s=0.6).records
    e = rec.energy
    assert rec.ok and e.meter == "android" and e.meter_kind == "power"
    assert e.idle_w == pytest.approx(1.365)
    assert e.idle_w < e.mean_w < 5.265 + 1e-6 and e.j_per_inference > 0
    assert e.invokes == 2 * 652 + 2  # the windows' timed runs and their warm-up runs
    assert not any("USB" in w or "cable" in w for w in rec.warnings)


def test_a_phone_on_usb_power_is_warned_about(phone, arm64_binary, tmp_path):
    phone_sysfs(phone, status="Charging")
    configure(phone, windows=[COOL], window_s_scale=0.1)
    (rec,) = bench(phone, tmp_path, arm64_binary, sustained_s=1, power="android",
                   power_idle_s=0.3).records
    assert any("the battery's status is Charging: the phone draws from the cable" in w
               for w in rec.warnings)


def test_a_phone_without_a_readable_battery_is_one_line(cli, phone, arm64_binary, tmp_path):
    phone_sysfs(phone)
    configure(phone, windows=[COOL], denied=[f"{BATTERY}/current_now"])
    cli("bench", FIX / "tiny_float32.tflite", "--target", ADDRESS, "--benchmark-binary",
        arm64_binary, "--power", "android", "--out", tmp_path / "out", "--no-history"
        ).error_line(f"{ADDRESS}: --power android: cannot read the battery",
                     "current_now: Permission denied", "no model was run")


@pytest.mark.parametrize("meter", ["rapl", "hwmon:ina226", "pi5-pmic"])
def test_meters_a_phone_cannot_have_are_refused_before_anything_runs(cli, phone, arm64_binary,
                                                                     tmp_path, meter):
    cli("bench", FIX / "tiny_float32.tflite", "--target", ADDRESS, "--benchmark-binary",
        arm64_binary, "--power", meter, "--out", tmp_path / "out").error_line(
        f"--power {meter}: {ADDRESS} is measured by benchmark_model", "--power android")
    assert not phone.log.exists()  # not one adb call


def test_the_weight_cache_option_names_benchmark_models_own_flag(cli, phone, arm64_binary,
                                                                 tmp_path):
    cli("bench", FIX / "tiny_float32.tflite", "--target", ADDRESS, "--benchmark-binary",
        arm64_binary, "--xnnpack-weight-cache", "--out", tmp_path / "out").error_line(
        "--xnnpack-weight-cache is measured by edgebench's runner",
        "--benchmark-flag=--xnnpack_weight_cache_file_path=")
