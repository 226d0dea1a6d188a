"""The Android target: a phone over adb. Transport only: push, run, fetch, describe, clean up.

Files go to ``/data/local/tmp/edgebench/<label>/`` (the bench stage labels it with the run id)
and are removed afterwards. A phone has no Python for the runner: the bench stage measures it
with TFLite's ``benchmark_model`` (:mod:`edgebench.bench.orchestration.flows.benchmark_model`).

Uses Debian's ``adb`` client (``--adb PATH`` overrides). Every command is an argument list; the
one string ``adb shell`` hands to the phone's shell is built from :func:`shlex.quote`-d words.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from edgebench.deploy.base import (
    CommandResult,
    Target,
    TargetError,
    TargetUnreachable,
    fetch_destination,
    run_timed,
    tail,
)
from edgebench.records import DeviceInfo

DEVICE_ROOT = "/data/local/tmp/edgebench"

_THERMAL_STATUS = ["none", "light", "moderate", "severe", "critical", "emergency", "shutdown"]
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


class AdbTarget(Target):
    """A phone over adb: ``adb://SERIAL``, or ``adb://`` for the one attached device."""

    def __init__(
        self,
        address: str,
        adb: str | os.PathLike | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(address, label)
        if not address.startswith("adb://"):
            raise TargetError(f"{address!r} is not an adb address; use adb://SERIAL or adb://")
        self.serial = address[len("adb://") :].strip("/") or None
        if self.serial and (self.serial.startswith("-") or any(c.isspace() for c in self.serial)):
            raise TargetError(
                f"{address!r}: {self.serial!r} is not a device serial; see adb devices"
            )
        self.adb = str(adb) if adb else "adb"
        self._workdir: str | None = None

    @property
    def name(self) -> str:
        return "adb-" + (re.sub(r"[^A-Za-z0-9._-]+", "_", self.serial) if self.serial else "device")

    # ----------------------------------------------------------------- the Target interface

    @property
    def workdir(self) -> str:
        """``/data/local/tmp/edgebench/<label>`` on the phone (made on first use)."""
        if self._workdir is None:
            path = f"{DEVICE_ROOT}/{self.label or f'run-{os.getpid()}'}"
            res = self.shell(f"mkdir -p {shlex.quote(path)}", timeout_s=60)
            if res.returncode != 0:
                raise TargetError(
                    f"{self.address}: cannot make {path} on the phone ({_tail(res)}); "
                    "check that /data/local/tmp is writable (adb shell touch /data/local/tmp/x)"
                )
            self._workdir = path
        return self._workdir

    def push(self, paths: Sequence[Path]) -> dict[Path, str]:
        placed: dict[Path, str] = {}
        for p, remote in self.remote_names(paths, self.workdir):
            res = self._adb(["push", str(p), remote], timeout_s=max(120.0, p.stat().st_size / 2e6))
            if res.returncode != 0:
                raise adb_error(self, res, f"copying {p.name}")
            placed[p] = remote
        return placed

    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        return run_timed(self.shell, self.workdir, argv, timeout_s, self.address)

    def fetch(self, remote: str, local: Path) -> Path:
        local = fetch_destination(local)
        res = self._adb(["pull", remote, str(local)], timeout_s=300)
        if res.returncode != 0:
            raise adb_error(self, res, f"fetching {remote}")
        return local

    def describe(self) -> DeviceInfo:
        """getprop facts, core count, memory, governor and thermal status of the phone."""
        props = parse_getprop(self.shell("getprop", timeout_s=60).stdout)
        facts = self.shell("nproc; grep MemTotal /proc/meminfo; cat "
                           "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", timeout_s=60)
        cores = mem = governor = None
        for line in facts.stdout.splitlines():
            line = line.strip()
            if line.isdigit():
                cores = int(line)
            elif line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024.0, 1)
            elif line and " " not in line and not line.startswith("cat:"):
                governor = line
        thermal = self.thermal()
        release = props.get("ro.build.version.release")
        sdk = props.get("ro.build.version.sdk")
        return DeviceInfo(
            hostname=props.get("ro.product.model"),
            os=f"Android {release}" + (f" (SDK {sdk})" if sdk else "") if release else None,
            machine=props.get("ro.product.cpu.abi"),
            cpu=props.get("ro.soc.model") or props.get("ro.board.platform"),
            cores=cores,
            mem_total_mb=mem,
            governor=governor,
            temperature_c=thermal.get("temperature_c"),
            extra={
                "serial": self.serial,
                "ro.product.model": props.get("ro.product.model"),
                "ro.product.manufacturer": props.get("ro.product.manufacturer"),
                "ro.board.platform": props.get("ro.board.platform"),
                "ro.build.version.release": release,
                "ro.build.version.sdk": sdk,
                "ro.product.cpu.abi": props.get("ro.product.cpu.abi"),
                "thermal_status": thermal.get("status"),
            },
        )

    def thermal(self) -> dict:
        """``dumpsys thermalservice``: the status name and the hottest CPU reading, if any."""
        res = self.shell("dumpsys thermalservice", timeout_s=60)
        return parse_thermalservice(res.stdout) if res.returncode == 0 else {}

    def temperature_c(self) -> float | None:
        return self.thermal().get("temperature_c")

    def cleanup(self) -> None:
        if self._workdir is None:
            return
        workdir, self._workdir = self._workdir, None
        try:
            # The run's folder, then edgebench/ itself when no other run is using it.
            res = self.shell(
                f"rm -rf {shlex.quote(workdir)}; rmdir {DEVICE_ROOT} 2>/dev/null; true",
                timeout_s=60,
            )
            ok = res.returncode == 0
        except TargetError:
            ok = False
        if not ok:
            print(f"edgebench: could not remove {workdir} on {self.address}; remove it with "
                  f"adb shell rm -rf {workdir}", file=sys.stderr)

    # ----------------------------------------------------------------- adb plumbing

    def shell(self, script: str, timeout_s: float, argv: Sequence[str] = ()) -> CommandResult:
        """``adb shell SCRIPT``; adb-level failures (offline, unauthorized…) raise."""
        res = self._adb(["shell", script], timeout_s=timeout_s)
        if _adb_failed(res):
            raise adb_error(self, res, "running a command")
        return CommandResult(tuple(argv) or res.argv, res.returncode, res.stdout, res.stderr,
                             res.seconds)

    def _adb(self, args: list[str], timeout_s: float) -> CommandResult:
        argv = [self.adb, *(["-s", self.serial] if self.serial else []), *args]
        fix = "install adb (sudo apt install adb) or pass --adb PATH"
        res, _ = self.processes.run(argv, timeout_s, fix)
        return res


_ADB_SIGNS = ("device offline", "unauthorized", "not found", "no devices", "more than one device",
              "cannot connect to daemon", "device still authorizing", "closed")


def _adb_failed(res: CommandResult) -> bool:
    """True when adb itself failed (as opposed to the command on the phone)."""
    text = res.stderr.splitlines()
    first = next((ln for ln in text if ln.strip()), "")
    return res.returncode != 0 and (
        first.startswith(("error:", "adb: error:", "adb: device", "* daemon"))
        and any(s in res.stderr for s in _ADB_SIGNS)
    )


def adb_error(target: AdbTarget, res: CommandResult, doing: str) -> TargetError:
    """One line naming the fix for what adb printed."""
    text = res.stderr + res.stdout
    who = target.address
    if "unauthorized" in text or "still authorizing" in text:
        return TargetUnreachable(
            f"{who}: the phone has not authorized this computer; unlock it, accept the "
            "'Allow USB debugging?' dialog, then check that adb devices lists it as 'device'"
        )
    if "offline" in text:
        return TargetUnreachable(
            f"{who}: the phone is offline; reconnect the cable (or run adb reconnect) and check "
            "that adb devices lists it as 'device'"
        )
    if "more than one device" in text:
        return TargetError(
            f"{who}: more than one phone is attached; name one with adb://SERIAL "
            "(serials from adb devices)"
        )
    if "no devices" in text:
        return TargetUnreachable(
            f"{who}: no phone is attached; connect one with USB debugging on "
            "(adb devices lists it)"
        )
    if re.search(r"device '.*' not found", text):
        return TargetUnreachable(
            f"{who}: no phone with serial {target.serial!r} is attached; pick one from adb devices"
        )
    if "cannot connect to daemon" in text or "closed" in text:
        return TargetUnreachable(
            f"{who}: the adb server lost the phone ({_tail(res)}); reconnect it and run "
            "adb devices"
        )
    return TargetError(f"{who}: adb failed while {doing}: {_tail(res)}")


def parse_getprop(text: str) -> dict[str, str]:
    """``[key]: [value]`` lines of ``adb shell getprop``."""
    props = {}
    for m in re.finditer(r"^\[([^\]]+)\]: \[(.*)\]\s*$", text, re.M):
        props[m.group(1)] = m.group(2)
    return props


def parse_thermalservice(text: str) -> dict:
    """Thermal status (by name) and the hottest CPU temperature from ``dumpsys thermalservice``.

    Prefers "Current temperatures from HAL" over the "Cached temperatures" section.
    """
    out: dict = {}
    m = re.search(r"Thermal Status:\s*(\d+)", text)
    if m:
        n = int(m.group(1))
        out["status"] = _THERMAL_STATUS[n] if n < len(_THERMAL_STATUS) else str(n)
    section = text
    current = re.search(r"Current temperatures from HAL:(.*?)(?:\n\S|\Z)", text, re.S)
    if current:
        section = current.group(1)
    temps = [float(v) for v, kind in re.findall(
        r"Temperature\{mValue=(" + _NUM + r"), mType=(\d+)", section) if kind == "0"]
    if temps:
        out["temperature_c"] = round(max(temps), 1)
    return out


def _tail(res: CommandResult) -> str:
    return tail(res.stderr + "\n" + res.stdout)
