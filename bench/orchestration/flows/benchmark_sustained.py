"""The continuous run of the benchmark_model flow (a phone): ``--sustained`` windows and
``--power android``, read from the host through the target's shell.

benchmark_model prints one summary per process, never a time series, so each 1 s window is a
benchmark_model process of its own (``--num_runs=1 --min_secs=1``), run back to back; its
statistics line gives the window's count and median (the mean where an older build prints no
median). After each window the host reads the device's state over adb: Android's thermal
service (``dumpsys thermalservice``: the hottest CPU sensor, the thermal status and the
cooling devices at work) and every core's ``scaling_cur_freq``. Between windows the phone
starts a process and loads the model, so ``busy_share`` says how much of the wall time it
invoked.

``--power android`` reads the battery's ``current_now`` x ``voltage_now`` over adb every
quarter second from a thread of the host (:class:`BatteryMeter` is a meter of the runner's
``power`` module, so the same :func:`measure_energy` integrates it). On USB power the phone
draws from the cable, not the battery: the record warns when the battery says it is charging
or full, or USB is online.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from edgebench.bench.device.runner.power import MeterError, battery_watts, measure_energy
from edgebench.bench.device.runner.sustained import summarize
from edgebench.bench.orchestration.flows.benchmark_output import parse_benchmark_output
from edgebench.deploy import Target, target_scheme
from edgebench.deploy.adb import parse_thermalservice

BATTERY = "/sys/class/power_supply/battery"
USB_ONLINE = "/sys/class/power_supply/usb/online"
CPUFREQ = "/sys/devices/system/cpu/cpu{}/cpufreq/scaling_cur_freq"
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def parse_cooling(text: str) -> list[str]:
    """The cooling devices at work in ``dumpsys thermalservice`` ("Current cooling devices
    from HAL"): ``name=level`` for each with a level above 0."""
    section = re.search(r"Current cooling devices from HAL:(.*?)(?:\n\S|\Z)", text, re.S)
    found = re.findall(r"CoolingDevice\{mValue=(" + _NUM + r"), mType=\d+, mName=([^,}]+)",
                       section.group(1) if section else "")
    return [f"{name}={float(v):g}" for v, name in found if float(v) > 0]


def parse_frequencies(text: str) -> float | None:
    """The mean of the kHz numbers ``cat`` printed (one a core that could be read), in MHz."""
    khz = [int(line) for line in text.split() if line.isdigit()]
    return round(sum(khz) / len(khz) / 1000.0, 1) if khz else None


class ShellState:
    """The device's state read through the target: ``read() -> (state, reasons)``, as the
    runner's ``DeviceState`` gives it on a device."""

    def __init__(self, target: Target, cores: int | None) -> None:
        self.target = target
        self.android = target_scheme(target.address) == "adb"
        self.freq_paths = [CPUFREQ.format(i) for i in range(cores or 1)]

    def read(self) -> tuple[dict, dict[str, str]]:
        state: dict = {"temp_c": None, "freq_mhz": None, "throttled": None}
        why: dict[str, str] = {}
        if self.android:
            res = self.target.run(["dumpsys", "thermalservice"], timeout_s=30)
            thermal = parse_thermalservice(res.stdout) if res.returncode == 0 else {}
            state["temp_c"] = thermal.get("temperature_c")
            if "status" in thermal:
                flags = [] if thermal["status"] == "none" else [f"thermal_{thermal['status']}"]
                state["throttled"] = sorted(flags + parse_cooling(res.stdout))
            else:
                why["throttled"] = "dumpsys thermalservice gave no thermal status"
            if state["temp_c"] is None:
                why["temp_c"] = "dumpsys thermalservice gave no CPU temperature"
        else:
            state["temp_c"] = self.target.temperature_c()
            if state["temp_c"] is None:
                why["temp_c"] = "no thermal zone could be read"
            why["throttled"] = "throttling is read from Android's thermal service only"
        res = self.target.run(["cat", *self.freq_paths], timeout_s=30)
        state["freq_mhz"] = parse_frequencies(res.stdout)
        if state["freq_mhz"] is None:
            lines = res.stderr.strip().splitlines()
            why["freq_mhz"] = lines[-1] if lines else f"no cpufreq ({self.freq_paths[0]})"
        return state, why


class BatteryMeter:
    """``--power android``: the phone's battery, read over the target's shell."""

    spec = "android"
    kind = "power"
    period_s = 0.25  # each reading is an adb round trip

    def __init__(self, target: Target) -> None:
        self.target = target
        self.watts()

    def _cat(self, *paths: str) -> list[str]:
        res = self.target.run(["cat", *paths], timeout_s=30)
        lines = res.stdout.split()
        if res.returncode != 0 or len(lines) != len(paths):
            why = (res.stderr.strip().splitlines() or ["no output"])[-1]
            raise MeterError(f"cannot read the battery ({', '.join(paths)}): {why}")
        return lines

    def watts(self) -> float:
        current, voltage = self._cat(f"{BATTERY}/current_now", f"{BATTERY}/voltage_now")
        try:
            return battery_watts(int(current), int(voltage))
        except ValueError:
            raise MeterError(f"the battery gave {current!r} and {voltage!r}, not "
                             "microamps and microvolts") from None

    def external_power(self) -> str | None:
        """Why the battery's current is not the phone's draw (charging, full, USB online), or
        None when it runs on its battery."""
        res = self.target.run(["cat", f"{BATTERY}/status", USB_ONLINE], timeout_s=30)
        words = res.stdout.split()
        if words and words[0] in ("Charging", "Full"):
            return f"the battery's status is {words[0]}"
        if len(words) > 1 and words[1] == "1":
            return "USB power is online"
        return None


def run_windows(run_window: Callable[[], str], seconds: float, state: ShellState,
                window_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> dict:
    """``seconds`` of windows, each one ``run_window()`` (a benchmark_model process's output),
    then the device's state; summarised as the runner summarises its own (``summarize``)."""
    n = max(1, round(seconds / window_s))
    windows: list[dict] = []
    reasons: dict[str, str] = {}
    averages: list[float] = []
    busy_s, warmups = 0.0, 0
    start = clock()
    for _ in range(n):
        t_s = clock() - start
        parsed = parse_benchmark_output(run_window())
        stat = parsed.get("inference_stat") or {}
        if not stat.get("count"):
            raise WindowError(parsed)
        busy_s += stat["count"] * stat.get("avg", 0.0) / 1e6
        warmups += (parsed.get("warmup_stat") or {}).get("count", 0)
        averages.append(float(stat.get("avg", 0.0)))
        now, why = state.read()
        reasons.update(why)
        windows.append({"t_s": round(t_s, 3), "count": stat["count"],
                        "p50_us": stat.get("median"), **now})
    # One statistic for the whole series, so the ratio compares like with like: the medians,
    # or the means where a build prints no median.
    means = any(w["p50_us"] is None for w in windows)
    for w, avg in zip(windows, averages, strict=True):
        w["p50_us"] = round(avg if means else w["p50_us"], 2)
    out = summarize(windows, seconds, window_s, reasons, "mean" if means else "p50",
                    busy_s=busy_s, wall_s=clock() - start)
    out["warmup_invokes"] = warmups
    return out


class WindowError(Exception):
    """A window's benchmark_model printed no timed runs."""

    def __init__(self, parsed: dict) -> None:
        super().__init__("a sustained window's benchmark_model printed no timed runs")
        self.parsed = parsed


def sustained_and_energy(run_window: Callable[[], str], seconds: float, state: ShellState,
                         meter: BatteryMeter | None, idle_s: float) -> tuple[dict, dict | None]:
    """The windows, under the battery meter (after its idle reading) when there is one."""
    if meter is None:
        return run_windows(run_window, seconds, state), None
    result: dict = {}

    def loop() -> int:
        result.update(run_windows(run_window, seconds, state))
        return sum(w["count"] for w in result["windows"]) + result["warmup_invokes"]

    return result, measure_energy(meter, loop, idle_s=idle_s)
