"""Energy meters, tested where no meter exists: each parser on a real recorded output (a Pi 5's
``vcgencmd pmic_read_adc``) and each sampler on a fake sysfs tree whose counters move (RAPL
with a wrap, an INA226 through hwmon, an Android battery); ``cmd:`` end to end with a script
that integrates a known power."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fake_sysfs import write

from edgebench.bench.device.runner import power

FIX = Path(__file__).parent / "fixtures"



# --------------------------------------------------------------------------- Pi 5 PMIC


def test_the_pi5_pmic_output_sums_volts_times_amps_over_the_rails_with_both() -> None:
    text = (FIX / "pi5" / "pmic_read_adc.txt").read_text()
    watts = power.parse_pmic_read_adc(text)
    # 12 rails report both; EXT5V and BATT report volts only and add nothing.
    assert watts == pytest.approx(5.9216, abs=1e-4)
    core_only = "  VDD_CORE_A current(7)=5.03652000A\n  VDD_CORE_V volt(15)=0.89369880V\n"
    assert power.parse_pmic_read_adc(core_only) == pytest.approx(5.03652 * 0.8936988)


def test_a_board_without_the_pmic_gives_no_reading() -> None:
    assert power.parse_pmic_read_adc('error=1 error_msg="Command not registered"') is None
    assert power.parse_pmic_read_adc("     EXT5V_V volt(24)=4.92450000V\n") is None


# --------------------------------------------------------------------------- RAPL


def rapl_tree(root: Path, energy_uj: int, max_uj: int = 1_000_000) -> Path:
    domain = root / "sys" / "class" / "powercap" / "intel-rapl:0"
    write(domain / "name", "package-0")
    write(domain / "max_energy_range_uj", str(max_uj))
    write(domain / "energy_uj", str(energy_uj))
    write(domain.parent / "intel-rapl:0:0" / "energy_uj", "5")  # a sub-domain: not summed
    return domain


def test_rapl_counts_joules_across_the_counter_wrap(tmp_path: Path) -> None:
    domain = rapl_tree(tmp_path, energy_uj=900_000)
    meter = power.open_meter("rapl", root=str(tmp_path))
    assert meter.domains == [str(domain)]
    (domain / "energy_uj").write_text("950000")
    assert meter.energy_j() == pytest.approx(0.05)
    (domain / "energy_uj").write_text("150000")  # wrapped at 1,000,000 uJ
    assert meter.energy_j() == pytest.approx(0.05 + (1_000_000 - 950_000 + 1 + 150_000) / 1e6)


def test_rapl_on_a_machine_without_it_names_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(power.MeterError, match=r"no RAPL energy counters.*intel-rapl:\*"):
        power.open_meter("rapl", root=str(tmp_path))


def test_an_unreadable_rapl_counter_says_who_may_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rapl_tree(tmp_path, 1)

    def denied(path: str) -> str:  # what a kernel that keeps energy_uj for root answers
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(power, "_read_text", denied)
    with pytest.raises(power.MeterError, match=r"intel-rapl:0/\w+ is not readable by this user"):
        power.open_meter("rapl", root=str(tmp_path))


# --------------------------------------------------------------------------- hwmon, Android


def test_an_ina226_through_hwmon_is_found_by_name_and_read_in_watts(tmp_path: Path) -> None:
    hwmon = tmp_path / "sys" / "class" / "hwmon"
    write(hwmon / "hwmon0" / "name", "acpitz")
    write(hwmon / "hwmon3" / "name", "ina226")
    write(hwmon / "hwmon3" / "power1_input", "2150000")  # microwatts
    meter = power.open_meter("hwmon:ina226", root=str(tmp_path))
    assert meter.watts() == pytest.approx(2.15)
    (hwmon / "hwmon3" / "power1_input").write_text("3000000")
    assert meter.watts() == pytest.approx(3.0)


def test_an_ina219_without_power1_input_multiplies_current_and_bus_voltage(
    tmp_path: Path,
) -> None:
    hwmon = tmp_path / "sys" / "class" / "hwmon"
    write(hwmon / "hwmon1" / "name", "ina219")
    write(hwmon / "hwmon1" / "curr1_input", "400")  # mA
    write(hwmon / "hwmon1" / "in1_input", "5100")  # mV
    assert power.open_meter("hwmon:ina219", root=str(tmp_path)).watts() == pytest.approx(2.04)


def test_a_missing_hwmon_sensor_lists_the_ones_there(tmp_path: Path) -> None:
    write(tmp_path / "sys" / "class" / "hwmon" / "hwmon0" / "name", "acpitz")
    with pytest.raises(power.MeterError, match=r"no hwmon sensor named 'ina260'.*acpitz"):
        power.open_meter("hwmon:ina260", root=str(tmp_path))


def test_an_android_battery_is_current_times_voltage(tmp_path: Path) -> None:
    battery = tmp_path / "sys" / "class" / "power_supply" / "battery"
    write(battery / "current_now", "-512000")  # uA, negative while discharging on many phones
    write(battery / "voltage_now", "3900000")  # uV
    assert power.open_meter("android", root=str(tmp_path)).watts() == pytest.approx(1.9968)


def test_an_unknown_meter_lists_the_known_ones() -> None:
    with pytest.raises(power.MeterError, match=r"unknown meter 'joulescope'.*rapl.*cmd:PROGRAM"):
        power.open_meter("joulescope")


# --------------------------------------------------------------------------- integrating


class FakeClock:
    """Seconds that move only when the test says (a sampler's clock)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class SteppedSensor:
    kind = "power"

    def __init__(self, clock: FakeClock, watts_at) -> None:
        self.clock, self.watts_at = clock, watts_at

    def watts(self) -> float:
        return self.watts_at(self.clock.t)


def test_a_power_sensor_is_integrated_by_trapezoids() -> None:
    clock = FakeClock()
    sensor = SteppedSensor(clock, lambda t: 2.0 + t)  # a ramp: 2 W at 0 s, 4 W at 2 s
    sampler = power.Sampler(sensor, period_s=3600, clock=clock).start()
    clock.t = 1.0
    sampler._sample()
    clock.t = 2.0
    joules, seconds = sampler.stop()
    assert seconds == 2.0 and joules == pytest.approx(6.0)  # exact for a ramp
    assert sampler.samples == 3


def test_a_meter_that_stops_answering_fails_the_measurement() -> None:
    clock = FakeClock()

    def dies(t: float) -> float:
        if t > 0.5:
            raise power.MeterError("/sys/class/hwmon/hwmon3/power1_input: No such device")
        return 1.0

    sampler = power.Sampler(SteppedSensor(clock, dies), period_s=3600, clock=clock).start()
    clock.t = 1.0
    with pytest.raises(power.MeterError, match="No such device"):
        sampler.stop()


def test_energy_per_inference_subtracts_the_idle_power() -> None:
    clock = FakeClock()
    busy = {"on": False}
    sensor = SteppedSensor(clock, lambda t: 3.5 if busy["on"] else 1.5)

    def sleep(s: float) -> None:
        clock.t += s

    def run() -> int:
        busy["on"] = True
        clock.t += 4.0
        return 2000

    out = power.measure_energy(sensor, run, idle_s=2.0, sleep=sleep, period_s=3600,
                               clock=clock)
    # the trapezoids see 1.5 W at the start of the run and 3.5 W at its end: 10 J over 4 s
    assert out["idle_w"] == pytest.approx(1.5)
    assert out["energy_j"] == pytest.approx(10.0) and out["mean_w"] == pytest.approx(2.5)
    assert out["j_per_inference"] == pytest.approx((10.0 - 1.5 * 4.0) / 2000)


def test_cmd_integrates_a_known_power_end_to_end(tmp_path: Path) -> None:
    """A real meter program, run as a process at each reading, that integrates 1.5 W while idle
    and 3.5 W while busy over time the test moves (two files hold the seconds of each)."""
    idle, busy = write(tmp_path / "idle_s", "0"), write(tmp_path / "busy_s", "0")
    script = write(tmp_path / "meter.py", (
        f"idle = float(open({str(idle)!r}).read())\n"
        f"busy = float(open({str(busy)!r}).read())\n"
        "print(1.5 * idle + 3.5 * busy)\n"
    ))

    def add(path: Path, seconds: float) -> None:
        path.write_text(repr(float(path.read_text()) + seconds))

    def run() -> int:
        add(busy, 4.0)
        return 2000

    meter = power.open_meter(f"cmd:{sys.executable} {script}")
    out = power.measure_energy(
        meter, run, idle_s=2.0, sleep=lambda s: add(idle, s),
        clock=lambda: float(idle.read_text()) + float(busy.read_text()),
    )
    assert out["meter_kind"] == "counter" and out["samples"] == 4
    assert out["idle_w"] == pytest.approx(1.5) and out["mean_w"] == pytest.approx(3.5)
    assert out["energy_j"] == pytest.approx(14.0)
    assert out["j_per_inference"] == pytest.approx((14.0 - 1.5 * 4.0) / 2000)


def test_a_cmd_meter_that_fails_names_the_program_and_its_message(tmp_path: Path) -> None:
    script = write(tmp_path / "meter.py", "import sys; sys.exit('meter unplugged')\n")
    with pytest.raises(power.MeterError, match=r"exited 1: meter unplugged"):
        power.open_meter(f"cmd:{sys.executable} {script}")


def test_a_cmd_meter_that_prints_no_number_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(power.MeterError, match="must print joules"):
        power.open_meter(f"cmd:{sys.executable} -c \"print('ok')\"")


# --------------------------------------------------------------------------- more trees


def test_rapl_sums_the_packages_and_leaves_out_psys(tmp_path: Path) -> None:
    """A two-socket server has package-0 and package-1; a laptop's psys domain is the whole
    platform, package included, and would count the package twice."""
    root = tmp_path / "sys" / "class" / "powercap"
    for n, name in enumerate(("package-0", "package-1", "psys")):
        write(root / f"intel-rapl:{n}" / "name", name)
        write(root / f"intel-rapl:{n}" / "max_energy_range_uj", "262143328850")
        write(root / f"intel-rapl:{n}" / "energy_uj", "1000000")
    meter = power.open_meter("rapl", root=str(tmp_path))
    assert meter.names == ["package-0", "package-1"]
    for n in range(3):
        (root / f"intel-rapl:{n}" / "energy_uj").write_text("3500000")
    assert meter.energy_j() == pytest.approx(5.0)  # 2.5 J a package; psys's 2.5 J left out


def test_the_sampler_reads_rapl_often_enough_to_carry_each_wrap(tmp_path: Path) -> None:
    """Two wraps between the start and the end: read only then, a counter loses one of them;
    the sampler's readings in between carry both."""
    domain = rapl_tree(tmp_path, energy_uj=800_000, max_uj=1_000_000)
    meter = power.open_meter("rapl", root=str(tmp_path))
    clock = FakeClock()
    sampler = power.Sampler(meter, period_s=3600, clock=clock).start()
    for uj in ("300000", "900000", "100000"):  # +500k (a wrap), +600k, +200k (a wrap)
        (domain / "energy_uj").write_text(uj)
        sampler._sample()
    (domain / "energy_uj").write_text("400000")  # +300k
    clock.t = 4.0
    joules, seconds = sampler.stop()
    assert joules == pytest.approx(1.600002) and seconds == 4.0


def test_a_rapl_counter_that_vanishes_mid_run_stops_the_measurement(tmp_path: Path) -> None:
    domain = rapl_tree(tmp_path, energy_uj=10)
    sampler = power.Sampler(power.open_meter("rapl", root=str(tmp_path)), period_s=0.01)
    sampler.start()
    (domain / "energy_uj").unlink()  # the driver went away
    with pytest.raises(power.MeterError, match="stopped answering.*energy_uj"):
        sampler.stop()


def test_an_ina260_whose_power_moves_is_integrated_over_the_run(tmp_path: Path) -> None:
    """An INA260 through hwmon (power1_input in µW) read by the sampler while its value moves:
    2 W idle, then 5 W while busy."""
    hwmon = tmp_path / "sys" / "class" / "hwmon"
    write(hwmon / "hwmon2" / "name", "ina260")
    reading = write(hwmon / "hwmon2" / "power1_input", "2000000")
    meter = power.open_meter("hwmon:ina260", root=str(tmp_path))
    clock = FakeClock()

    def sleep(s: float) -> None:
        clock.t += s

    def run() -> int:
        reading.write_text("5000000")
        clock.t += 3.0
        return 600

    out = power.measure_energy(meter, run, idle_s=1.0, sleep=sleep, period_s=3600, clock=clock)
    # trapezoids: 2 W at the start of the run, 5 W at its end: 10.5 J over 3 s
    assert out["idle_w"] == pytest.approx(2.0) and out["energy_j"] == pytest.approx(10.5)
    assert out["j_per_inference"] == pytest.approx((10.5 - 6.0) / 600)
    assert out["meter"] == "hwmon:ina260" and out["meter_kind"] == "power"


def test_pi5_pmic_end_to_end_through_a_stand_in_vcgencmd(tmp_path: Path) -> None:
    """The Pi 5's recorded output, answered by a stand-in vcgencmd program: the sensor runs it
    and sums the rails."""
    program = write(tmp_path / "vcgencmd", (
        f"#!{sys.executable}\nimport sys\n"
        f"assert sys.argv[1:] == ['pmic_read_adc']\n"
        f"sys.stdout.write(open({str(FIX / 'pi5' / 'pmic_read_adc.txt')!r}).read())\n"
    ))
    program.chmod(0o755)
    assert power.PmicSensor(str(program)).watts() == pytest.approx(5.9216, abs=1e-4)
    with pytest.raises(power.MeterError, match="only a Raspberry Pi 5 has this PMIC"):
        power.PmicSensor(sys.executable)  # a program that prints no rails (python -c …)


def test_a_machine_without_a_battery_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(power.MeterError, match=r"no battery at .*power_supply/battery"):
        power.open_meter("android", root=str(tmp_path))


def test_the_host_and_the_runner_agree_on_the_meters_and_the_energy_run() -> None:
    from edgebench.bench.device.runner.measure import ENERGY_S as runner_energy_s
    from edgebench.records.bench_settings import ENERGY_S
    from edgebench.values import POWER_METERS, meter_problem

    assert power.METERS == POWER_METERS and runner_energy_s == ENERGY_S
    for spec in ("rapl", "pi5-pmic", "hwmon:ina226", "android", "cmd:./m.sh", "joulescope",
                 "hwmon:", "cmd:"):
        try:
            power.check_meter_spec(spec)
            device_ok = True
        except power.MeterError:
            device_ok = False
        assert device_ok == (meter_problem(spec) is None), spec
