"""Energy meters the runner reads on the device, for ``--power METER``.

A meter is one of two kinds:

- a *counter* of energy (RAPL's ``energy_uj``, an external program that prints joules): the
  energy of an interval is the difference of two readings, RAPL's wrap at
  ``max_energy_range_uj`` included;
- a *power* sensor (a Pi 5's PMIC, an INA219/226/260 through hwmon, a battery's
  ``current_now`` x ``voltage_now``): a `Sampler` thread reads watts every ``period_s`` and
  integrates them (trapezoids).

Energy per inference is ``(energy during the run - idle power x run time) / invokes``, with the
idle power measured just before the run (`measure_energy`). A meter that cannot be found or
stops answering raises `MeterError`, whose message names what was looked for.

The host reuses `Sampler` and `measure_energy` with meters of its own (a phone's battery read
over adb): a meter is anything with ``spec``, ``kind``, ``period_s`` and ``energy_j()`` (a
counter) or ``watts()`` (a power sensor).

Standard library only: this module ships to devices (Python >= 3.9).
"""

import glob
import os
import re
import shlex
import subprocess
import threading
import time

POWERCAP = "/sys/class/powercap"
HWMON = "/sys/class/hwmon"
POWER_SUPPLY = "/sys/class/power_supply"
#: The meters ``--power`` takes (edgebench.values.POWER_METERS is the host's copy; a test
#: holds them equal).
METERS = ("rapl", "pi5-pmic", "hwmon:NAME", "android", "cmd:PROGRAM")


class MeterError(Exception):
    """A meter that is missing, unreadable, or stopped answering; the message says which."""


def _read_text(path):
    with open(path) as fh:
        return fh.read().strip()


def _read_int(path):
    try:
        return int(_read_text(path))
    except PermissionError:
        raise MeterError("%s is not readable by this user (Linux >= 5.10 keeps RAPL counters "
                         "for root); run the bench as root, or make it readable: sudo chmod "
                         "o+r %s" % (path, path)) from None
    except (OSError, ValueError) as exc:
        raise MeterError("cannot read %s: %s" % (path, exc)) from None


def _run(argv, timeout_s, failed):
    """A meter's program, run to its end; MeterError("``failed``: why") when it cannot run."""
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MeterError("%s: %s" % (failed, exc)) from None


# --------------------------------------------------------------------------- counters


class RaplCounter(object):
    """The Linux powercap RAPL package counters, summed over packages, in joules.

    Each top-level ``intel-rapl:N`` (AMD's too: the kernel names them the same) counts
    microjoules up to ``max_energy_range_uj`` and wraps to 0; `energy_j` carries each
    domain's wraps, and the `Sampler` reads it every second so that no wrap goes unseen.
    Sub-domains (``intel-rapl:0:0``, core, dram) are parts of their package and are not
    added again; a ``psys`` domain (the whole platform, package included) is left out when
    there are packages.
    """

    kind = "counter"
    period_s = 1.0

    def __init__(self, root=POWERCAP):
        self.spec = "rapl"
        pattern = os.path.join(root, "intel-rapl:*")
        tops = sorted(d for d in glob.glob(pattern)
                      if re.match(r"intel-rapl:\d+$", os.path.basename(d)))
        if not tops:
            raise MeterError("no RAPL energy counters on this machine: looked for %s/energy_uj "
                             "(a VM, an ARM board or a CPU without RAPL has none)" % pattern)
        names = {}
        for d in tops:
            try:
                names[d] = _read_text(os.path.join(d, "name"))
            except OSError:
                names[d] = ""
        packages = [d for d in tops if names[d].startswith("package")]
        self.domains = packages or tops
        self.names = [names[d] or os.path.basename(d) for d in self.domains]
        self.max_uj = [_read_int(os.path.join(d, "max_energy_range_uj")) for d in self.domains]
        self._last = [self._raw(i) for i in range(len(self.domains))]
        self._total_uj = 0

    def _raw(self, i):
        return _read_int(os.path.join(self.domains[i], "energy_uj"))

    def energy_j(self):
        """Energy counted since this counter was made, wraps included (at most one a domain
        between two readings: the Sampler reads far more often than the fastest wrap)."""
        for i in range(len(self.domains)):
            now = self._raw(i)
            delta = now - self._last[i]
            if delta < 0:  # wrapped since the last reading
                delta += self.max_uj[i] + 1
            self._total_uj += delta
            self._last[i] = now
        return self._total_uj / 1e6


class CommandCounter(object):
    """An external meter: a program that prints the joules its meter has counted so far (the
    last word of its output). It runs where the runner runs; it may reach a meter anywhere
    (a USB meter's tool, a smart plug's API)."""

    kind = "counter"
    period_s = None  # read at the start and the end only: each reading is a process

    def __init__(self, program):
        self.spec = "cmd:" + program
        self.argv = shlex.split(program)
        if not self.argv:
            raise MeterError("cmd: needs a program, e.g. --power 'cmd:./read-meter.sh'")
        self.energy_j()

    def energy_j(self):
        out = _run(self.argv, 10, "the meter program %s did not answer" % self.argv[0])
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["no message"])[-1]
            raise MeterError("the meter program %s exited %d: %s" % (
                self.argv[0], out.returncode, last[:200]))
        try:
            return float(out.stdout.split()[-1])
        except (IndexError, ValueError):
            raise MeterError("the meter program %s printed %r; it must print joules, e.g. "
                             "'12.5'" % (self.argv[0], out.stdout.strip()[:80])) from None


# --------------------------------------------------------------------------- power sensors


_PMIC_LINE = re.compile(r"^\s*(\S+?)_([AV])\s+(?:current|volt)\(\d+\)=([-\d.]+)[AV]\s*$")


def parse_pmic_read_adc(text):
    """Watts from ``vcgencmd pmic_read_adc``: the sum of volts x amps over the rails that
    report both (EXT5V and BATT report volts only). None when no rail has both.

    The PMIC's rails are the board's regulated supplies after conversion, so the sum is what
    the SoC, memory and I/O draw, not what the 5 V input delivers (the converters' losses and
    USB devices are not in it)."""
    volts, amps = {}, {}
    for line in text.splitlines():
        m = _PMIC_LINE.match(line)
        if m:
            (amps if m.group(2) == "A" else volts)[m.group(1)] = float(m.group(3))
    rails = sorted(set(volts) & set(amps))
    if not rails:
        return None
    return sum(volts[r] * amps[r] for r in rails)


class PmicSensor(object):
    """A Raspberry Pi 5's PMIC, through ``vcgencmd pmic_read_adc``."""

    kind = "power"
    period_s = 0.25  # each reading starts vcgencmd: a few ms of a core on a Pi

    def __init__(self, vcgencmd="vcgencmd"):
        self.spec = "pi5-pmic"
        self.argv = [vcgencmd, "pmic_read_adc"]
        self.watts()

    def watts(self):
        out = _run(self.argv, 5, "pi5-pmic reads `vcgencmd pmic_read_adc` (a Raspberry Pi 5 "
                                 "with its firmware tools has it), which failed")
        watts = parse_pmic_read_adc(out.stdout) if out.returncode == 0 else None
        if watts is None:
            raise MeterError("`vcgencmd pmic_read_adc` gave no rail with volts and amps (%s); "
                             "only a Raspberry Pi 5 has this PMIC" % (
                                 (out.stdout + out.stderr).strip()[:120] or "no output"))
        return watts


def find_hwmon(name, root=HWMON):
    """The hwmon folder whose ``name`` file says ``name`` (hwmon numbers change at boot)."""
    seen = []
    for folder in sorted(glob.glob(os.path.join(root, "hwmon*"))):
        try:
            here = _read_text(os.path.join(folder, "name"))
        except OSError:
            continue
        seen.append(here)
        if here == name:
            return folder
    raise MeterError("no hwmon sensor named %r under %s (found: %s)" % (
        name, root, ", ".join(seen) or "none"))


class HwmonSensor(object):
    """An INA219/INA226/INA260 (or any hwmon power sensor): ``power1_input`` in microwatts,
    else ``curr1_input`` (mA) x ``in1_input`` (mV, the bus voltage)."""

    kind = "power"
    period_s = 0.05  # a sysfs read; the INA's own conversion takes 1-10 ms

    def __init__(self, name, root=HWMON):
        self.spec = "hwmon:" + name
        self.folder = find_hwmon(name, root)
        self.power = os.path.join(self.folder, "power1_input")
        if not os.path.exists(self.power):
            self.power = None
            for f in ("curr1_input", "in1_input"):
                if not os.path.exists(os.path.join(self.folder, f)):
                    raise MeterError("hwmon sensor %r has neither power1_input nor %s in %s"
                                     % (name, f, self.folder))
        self.watts()

    def watts(self):
        if self.power:
            return _read_int(self.power) / 1e6
        milliamps = _read_int(os.path.join(self.folder, "curr1_input"))
        millivolts = _read_int(os.path.join(self.folder, "in1_input"))
        return abs(milliamps) * millivolts / 1e6


def battery_watts(micro_amps, micro_volts):
    """A battery's power from the kernel's ``current_now`` (uA; negative while discharging
    on many phones) and ``voltage_now`` (uV)."""
    return abs(micro_amps) * micro_volts / 1e12


class BatterySensor(object):
    """A battery through the kernel's power_supply class (``--power android`` where the runner
    itself runs on the battery-powered device; a phone is read from the host over adb)."""

    kind = "power"
    period_s = 0.1  # fuel gauges update current_now a few times a second at best

    def __init__(self, root=POWER_SUPPLY):
        self.spec = "android"
        self.folder = os.path.join(root, "battery")
        if not os.path.isdir(self.folder):
            raise MeterError("no battery at %s (looked for current_now and voltage_now)"
                             % self.folder)
        self.watts()

    def watts(self):
        return battery_watts(_read_int(os.path.join(self.folder, "current_now")),
                             _read_int(os.path.join(self.folder, "voltage_now")))


def check_meter_spec(spec):
    """A ``--power`` value's form: raises MeterError naming the known meters otherwise."""
    if spec in ("rapl", "pi5-pmic", "android"):
        return spec
    if (spec.startswith("hwmon:") and spec[6:]) or (spec.startswith("cmd:") and spec[4:]):
        return spec
    raise MeterError("unknown meter %r; known: %s" % (spec, ", ".join(METERS)))


def open_meter(spec, root="/"):
    """The meter ``spec`` names (see `METERS`); ``root`` prefixes the sysfs paths (tests)."""
    check_meter_spec(spec)
    sys_root = os.path.join(root, "sys", "class")
    if spec == "rapl":
        return RaplCounter(os.path.join(sys_root, "powercap"))
    if spec == "pi5-pmic":
        return PmicSensor()
    if spec.startswith("hwmon:"):
        return HwmonSensor(spec[6:], os.path.join(sys_root, "hwmon"))
    if spec == "android":
        return BatterySensor(os.path.join(sys_root, "power_supply"))
    return CommandCounter(spec[4:])


# --------------------------------------------------------------------------- integrating


class Sampler(object):
    """Integrates a meter over an interval.

    A power sensor is read every ``period_s`` by a thread and its watts integrated by
    trapezoids; a counter is the difference of its readings at the start and the end, read
    in between too when its ``period_s`` says so (RAPL: so that no wrap is missed). A reading
    that fails stops the thread; `stop` then raises its `MeterError`.
    """

    def __init__(self, meter, period_s=None, clock=time.monotonic):
        self.meter, self.clock = meter, clock
        self.period_s = period_s if period_s is not None else meter.period_s
        self._stop = threading.Event()
        self._error = None
        self._joules = 0.0
        self._thread = None
        self.samples = 0

    def _read(self):
        """(the reading's time, the reading): the middle of the read, which may take a while
        (a process, an adb round trip)."""
        before = self.clock()
        value = self.meter.energy_j() if self.meter.kind == "counter" else self.meter.watts()
        return (before + self.clock()) / 2.0, value

    def start(self):
        self._t0, value = self._read()
        self._last = (self._t0, value)
        self._first = value
        self.samples = 1
        if self.period_s:
            self._thread = threading.Thread(target=self._run, name="edgebench-power")
            self._thread.daemon = True
            self._thread.start()
        return self

    def _sample(self):
        t, value = self._read()
        if self.meter.kind == "power":
            t0, w0 = self._last
            self._joules += (t - t0) * (value + w0) / 2.0
        self._last = (t, value)  # a counter's reading carries a wrap; stop takes the difference
        self.samples += 1

    def _run(self):
        while not self._stop.wait(self.period_s):
            try:
                self._sample()
            except MeterError as exc:
                self._error = exc
                return

    def stop(self):
        """Joules and seconds from the first reading to the last (one taken now)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise MeterError("the meter stopped answering during the run: %s" % self._error)
        try:
            self._sample()
        except MeterError as exc:
            raise MeterError("the meter stopped answering during the run: %s" % exc) from None
        t, value = self._last
        joules = value - self._first if self.meter.kind == "counter" else self._joules
        return joules, t - self._t0

    def stop_quietly(self):
        """Stop the thread and forget its result (the run it measured failed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def measure_energy(meter, run, idle_s=2.0, sleep=time.sleep, period_s=None,
                   clock=time.monotonic):
    """Idle power for ``idle_s`` just before, then ``run()`` (which returns its invoke count)
    under the meter. Returns a dict of J per inference, mean W, idle W, seconds and samples."""
    idle = Sampler(meter, period_s, clock).start()
    sleep(idle_s)
    idle_j, idle_time = idle.stop()
    idle_w = idle_j / idle_time if idle_time > 0 else 0.0
    busy = Sampler(meter, period_s, clock).start()
    try:
        invokes = run()
    except BaseException:
        busy.stop_quietly()
        raise
    run_j, run_s = busy.stop()
    net_j = run_j - idle_w * run_s
    return {
        "meter": getattr(meter, "spec", None),
        "meter_kind": meter.kind,
        "idle_s": round(idle_time, 4),
        "idle_w": round(idle_w, 4),
        "mean_w": round(run_j / run_s, 4) if run_s > 0 else None,
        "run_s": round(run_s, 4),
        "energy_j": round(run_j, 6),
        "net_energy_j": round(net_j, 6),
        "j_per_inference": (net_j / invokes) if invokes else None,
        "invokes": invokes,
        "samples": idle.samples + busy.samples,
    }
