"""Sustained speed: invoke continuously for a fixed time and keep one summary per window.

Phones and Pis throttle after tens of seconds, so a bench of a few hundred invokes measures a
cold device. ``--sustained SECONDS`` invokes back to back for that long; each window (1 s)
gets its invoke count and median, and the device's temperature, CPU frequency and throttling
state read at its end where they can be read. A file that exists but cannot be read is
recorded as null with the reason; it never fails the run.

`summarize` turns windows into the record's figures; the host uses it too, for the windows it
builds from benchmark_model's output on a phone.

Standard library only: this module ships to devices (Python >= 3.9).
"""

import glob
import subprocess
import time

THERMAL = "/sys/class/thermal/thermal_zone*/temp"
CPUFREQ = "/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq"
POLICIES = "/sys/devices/system/cpu/cpufreq/policy[0-9]*"
#: ``vcgencmd get_throttled`` bits that are true *now* (the ones from 16 up say "since boot").
THROTTLE_BITS = {0: "under_voltage", 1: "arm_freq_capped", 2: "throttled",
                 3: "soft_temp_limit"}


def _read(path):
    """(text, None) or (None, reason)."""
    try:
        with open(path) as fh:
            return fh.read().strip(), None
    except PermissionError:
        return None, "%s: permission denied" % path
    except OSError as exc:
        return None, "%s: %s" % (path, exc.strerror or exc)


def _numbers(files, scale):
    """Each file's integer / scale; with the reasons of the ones that could not be read."""
    values, reasons = [], []
    for f in files:
        text, why = _read(f)
        try:
            values.append(int(text) / scale)
        except (TypeError, ValueError):
            reasons.append(why or "%s: %r is not a number" % (f, text))
    return values, reasons


def parse_get_throttled(text):
    """The flags that are true now, from ``vcgencmd get_throttled`` (``throttled=0x50005``);
    None when the text is not that."""
    text = (text or "").strip()
    if not text.startswith("throttled="):
        return None
    try:
        value = int(text.split("=", 1)[1], 16)
    except ValueError:
        return None
    return sorted(name for bit, name in THROTTLE_BITS.items() if value & (1 << bit))


def parse_measure_temp(text):
    """Degrees C from ``vcgencmd measure_temp`` (``temp=48.3'C``), else None."""
    text = (text or "").strip()
    if not text.startswith("temp="):
        return None
    try:
        return float(text[5:].split("'")[0])
    except ValueError:
        return None


def parse_measure_clock(text):
    """MHz from ``vcgencmd measure_clock arm`` (``frequency(48)=1500398464``), else None.
    The firmware's real ARM clock: a Pi throttles behind cpufreq's back, so
    ``scaling_cur_freq`` keeps saying what the kernel asked for."""
    text = (text or "").strip()
    if not text.startswith("frequency(") or "=" not in text:
        return None
    try:
        return round(int(text.split("=", 1)[1]) / 1e6, 1)
    except ValueError:
        return None


def _vcgencmd(*args):
    try:
        out = subprocess.run(("vcgencmd",) + args, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=2)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


class DeviceState(object):
    """Reads temperature, CPU frequency and throttling; says why a figure cannot be read.

    Temperature: the hottest thermal zone, else ``vcgencmd measure_temp``. Frequency: a Pi's
    firmware clock (``vcgencmd measure_clock arm``), else the mean of the cores'
    ``scaling_cur_freq``. Throttling: a Pi's ``get_throttled`` flags, and ``max_freq_capped``
    wherever a cpufreq policy's ``scaling_max_freq`` sits below ``cpuinfo_max_freq`` (what
    the kernel's thermal cooling does to a policy).
    """

    def __init__(self, root="", vcgencmd=_vcgencmd):
        self.root = root
        self.vcgencmd = vcgencmd
        self.zones = sorted(glob.glob(root + THERMAL))
        self.freqs = sorted(glob.glob(root + CPUFREQ))
        self.policies = sorted(glob.glob(root + POLICIES))
        self.has_vcgencmd = vcgencmd("version") is not None

    def temperature(self):
        if self.zones:
            temps, reasons = _numbers(self.zones, 1000.0)
            if temps:
                return round(max(temps), 1), None
            why = "; ".join(reasons)
        else:
            why = "no thermal zone (%s)" % THERMAL
        if self.has_vcgencmd:
            temp = parse_measure_temp(self.vcgencmd("measure_temp"))
            if temp is not None:
                return temp, None
        return None, why

    def frequency(self):
        if self.has_vcgencmd:
            mhz = parse_measure_clock(self.vcgencmd("measure_clock", "arm"))
            if mhz is not None:
                return mhz, None
        if not self.freqs:
            return None, "no cpufreq (%s)" % CPUFREQ
        khz, reasons = _numbers(self.freqs, 1.0)
        if khz:
            return round(sum(khz) / len(khz) / 1000.0, 1), None
        return None, "; ".join(reasons)

    def throttling(self):
        flags, found = [], False
        if self.has_vcgencmd:
            now = parse_get_throttled(self.vcgencmd("get_throttled"))
            if now is not None:
                flags += now
                found = True
        for policy in self.policies:
            cap, _ = _read(policy + "/scaling_max_freq")
            top, _ = _read(policy + "/cpuinfo_max_freq")
            if cap and top and cap.isdigit() and top.isdigit():
                found = True
                if int(cap) < int(top) and "max_freq_capped" not in flags:
                    flags.append("max_freq_capped")
        if not found:
            return None, "no vcgencmd get_throttled and no readable cpufreq policy (%s)" % (
                POLICIES)
        return sorted(flags), None

    def read(self):
        """({"temp_c", "freq_mhz", "throttled"}, {figure: why it is None})."""
        state, reasons = {}, {}
        for key, reader in (("temp_c", self.temperature), ("freq_mhz", self.frequency),
                            ("throttled", self.throttling)):
            state[key], why = reader()
            if why:
                reasons[key] = why
        return state, reasons


def _median(values):
    s = sorted(values)
    n = len(s)
    return (s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0) if n else None


def summarize(windows, seconds, window_s, unreadable=None, statistic="p50", busy_s=None,
              wall_s=None):
    """The record's sustained figures from its windows (each with ``count`` and ``p50_us``;
    ``throttled`` and ``freq_mhz`` where they were read).

    ``ratio`` is the last window's median over the first's: above 1, the device slowed down
    as it worked. ``busy_share`` is the share of the wall time (``wall_s``, else the windows'
    length) spent invoking: below 1 where the windows have gaps (a phone's windows are
    separate benchmark_model processes).
    """
    measured = [w for w in windows if w.get("count")]
    ratio = None
    if len(measured) >= 2 and measured[0]["p50_us"]:
        ratio = round(measured[-1]["p50_us"] / measured[0]["p50_us"], 4)
    flags = sorted({f for w in windows for f in (w.get("throttled") or ())})
    wall = wall_s if wall_s is not None else len(windows) * window_s
    return {
        "seconds": seconds,
        "window_s": window_s,
        "windows": windows,
        "ratio": ratio,
        "throttle_flags": flags,
        "statistic": statistic,
        "busy_share": round(min(1.0, busy_s / wall), 4) if busy_s is not None and wall else None,
        "unreadable": dict(unreadable or {}),
    }


def run_sustained(invoke, seconds, window_s=1.0, state=None, clock=time.perf_counter_ns):
    """Invoke back to back for ``seconds`` (rounded to whole windows); return the windows and
    their summary (`summarize`).

    Each window: its start (s), invoke count, median latency (us) and the device state read
    at its end (the read is not timed, and costs the next window a few ms). A window that one
    invoke overruns closes with that invoke, and the next starts at the next boundary.
    """
    state = state or DeviceState()
    window_ns = int(window_s * 1e9)
    n = max(1, int(round(seconds / window_s)))
    start = clock()
    end = start + n * window_ns
    edge = start + window_ns
    windows, reasons, samples = [], {}, []
    append = samples.append
    busy = 0
    while True:
        t0 = clock()
        invoke()
        t1 = clock()
        append(t1 - t0)
        if t1 < edge:
            continue
        busy += sum(samples)
        now, why = state.read()
        reasons.update(why)
        window = {"t_s": round((edge - window_ns - start) / 1e9, 3), "count": len(samples),
                  "p50_us": round(_median(samples) / 1000.0, 2)}
        window.update(now)
        windows.append(window)
        del samples[:]
        if t1 >= end:
            break
        edge += window_ns * (1 + (t1 - edge) // window_ns)
        edge = min(edge, end)
    return summarize(windows, seconds, window_s, reasons, busy_s=busy / 1e9)
