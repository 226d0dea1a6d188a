"""Facts about the device the runner runs on: what it is (CPU, memory, Python, runtime) and
its state (governor, temperature, memory in use, CPU emulation), for a record and for
``edgebench doctor``."""

import os
import platform
import re
import socket
import sys
import threading

from .errors import first_line, type_and_line
from .runtime import (
    RUNTIMES,
    glibc_version,
    install_hint,
    installed,
    load_runtime,
    package_version,
    runtime_traps,
)

#: The first CPU's frequency governor (``performance`` keeps the clock still under a bench).
GOVERNOR = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"


def _read(path):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def governor():
    """The first CPU's frequency governor, or None where cpufreq cannot be read."""
    return _read(GOVERNOR)


def _proc_status_mb(key):
    """VmRSS / VmHWM from /proc/self/status in MB, or None off Linux."""
    text = _read("/proc/self/status")
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024.0, 2)
    return None


def peak_rss_mb():
    peak = _proc_status_mb("VmHWM")
    if peak is not None:
        return peak
    try:
        import resource

        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(ru / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0), 2)
    except Exception:
        return None


def temperature_c():
    """The hottest thermal zone in °C (SoC temperature on a Pi), or None."""
    base = "/sys/class/thermal"
    try:
        zones = [z for z in os.listdir(base) if z.startswith("thermal_zone")]
    except OSError:
        return None
    temps = []
    for z in zones:
        raw = _read(os.path.join(base, z, "temp"))
        try:
            temps.append(int(raw) / 1000.0)
        except (TypeError, ValueError):
            continue
    return round(max(temps), 1) if temps else None


def cpu_model():
    text = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Model", "Hardware", "Processor"):
        for line in text.splitlines():
            if line.startswith(key) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def mem_total_mb():
    text = _read("/proc/meminfo") or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024.0, 1)
    return None


def emulation_evidence():
    """One line of evidence that this Python runs under CPU emulation (qemu-user), else None.

    qemu-user fakes /proc/self/{exe,cmdline,stat,maps} for its guest but not the per-thread
    entries: /proc/thread-self/exe is the qemu binary (with or without binfmt_misc), and comm is
    qemu's name when it was started by hand. Last, qemu < 8 shows the host's /proc/cpuinfo, so
    x86 fields under an arm machine give it away (unless a fake cpuinfo hides them).
    """
    for link in ("/proc/thread-self/exe", "/proc/self/task/%d/exe" % threading.get_native_id()):
        try:
            target = os.readlink(link)
        except OSError:
            continue
        if os.path.basename(target).startswith("qemu-"):
            return "%s is %s (qemu-user)" % (link, target)
        break
    comm = _read("/proc/self/comm") or ""
    if comm.startswith("qemu-"):
        return "/proc/self/comm is %s (qemu-user)" % comm
    machine = platform.machine().lower()
    if machine.startswith(("aarch64", "arm")):
        if re.search(r"^(vendor_id|flags)\s*:", _read("/proc/cpuinfo") or "", re.M):
            return "/proc/cpuinfo describes an x86 CPU while the machine is %s" % machine
    return None


def cpu_affinity():
    """The CPUs this process may run on (a taskset pin shows here), or None off Linux."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def device_info():
    """Facts about this device, in the shape of edgebench.records.DeviceInfo."""
    try:
        _, _, rt_name, rt_version = load_runtime()
    except RuntimeError:
        rt_name, rt_version = None, None
    try:
        import numpy

        np_version = numpy.__version__
    except ImportError:
        np_version = None
    evidence = emulation_evidence()
    return {
        "hostname": socket.gethostname(),
        "os": " ".join(platform.uname()),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "mem_total_mb": mem_total_mb(),
        "python": platform.python_version(),
        "runtime_name": rt_name,
        "runtime_version": rt_version,
        "governor": governor(),
        "temperature_c": temperature_c(),
        "emulated": evidence is not None,
        "emulation_evidence": evidence,
        "extra": {"numpy": np_version, "executable": sys.executable,
                  "cpu_affinity": cpu_affinity(), "glibc": glibc_version(),
                  "runtime_traps": runtime_traps(), "install_hint": install_hint()},
    }


def doctor_facts():
    """What ``edgebench doctor`` checks, as found on this device: Python, numpy, each runtime
    (installed? imports? version), glibc, free disk in this (the temporary) folder, the
    frequency governor, a readable temperature, and the known runtime traps with their fixes."""
    import shutil

    facts = {
        "python": platform.python_version(),
        "executable": sys.executable,
        "machine": platform.machine(),
        "glibc": glibc_version(),
        "hostname": socket.gethostname(),
    }
    try:
        import numpy

        facts["numpy"], facts["numpy_error"] = numpy.__version__, None
    except Exception as exc:
        facts["numpy"], facts["numpy_error"] = None, type_and_line(exc)
    try:
        _, _, name, version = load_runtime()
        facts["runtime"] = {"name": name, "version": version}
    except RuntimeError as exc:
        facts["runtime"], facts["runtime_error"] = None, first_line(exc)
    facts["runtimes"] = [
        {"name": dist, "installed": installed(module),
         "version": package_version("tensorflow" if module == "tensorflow" else dist)}
        for dist, module in RUNTIMES if dist != "tensorflow.lite" or installed(module)
    ]
    try:
        usage = shutil.disk_usage(os.getcwd())
        facts["tmp"] = {"path": os.getcwd(), "free_mb": round(usage.free / 2**20, 1)}
    except OSError:
        facts["tmp"] = {"path": os.getcwd(), "free_mb": None}
    facts["governor"] = governor()
    facts["temperature_c"] = temperature_c()
    facts["install_hint"] = install_hint()
    facts["traps"] = runtime_traps()
    return facts
