"""Facts about the machine edgebench itself runs on (the host), and the code it measured."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from pathlib import Path

import psutil

from edgebench.bench import runner
from edgebench.records import DeviceInfo


def host_info() -> DeviceInfo:
    """This machine, where edgebench itself runs (psutil on the host; the runner on devices)."""
    try:
        _, _, rt_name, rt_version = runner.load_runtime()
    except RuntimeError:
        rt_name = rt_version = None
    return DeviceInfo(
        hostname=socket.gethostname(),
        os=" ".join(platform.uname()),
        machine=platform.machine(),
        cpu=runner.cpu_model(),
        cores=os.cpu_count(),
        mem_total_mb=round(psutil.virtual_memory().total / 2**20, 1),
        python=platform.python_version(),
        runtime_name=rt_name,
        runtime_version=rt_version,
        governor=runner._read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        temperature_c=runner.temperature_c(),
    )


def git_commit() -> str | None:
    """The commit of the edgebench checkout, when there is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
