"""The one small interface every target implements, its typed results and its errors.

A target is transport only: it copies files to a device, runs a command there with a time
limit, copies files back, describes the device and removes what it put there. It does not know
what is measured (that is a flow's job, in the bench stage) and imports nothing of the bench
stage.
"""

from __future__ import annotations

import abc
import contextlib
import math
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgebench.errors import EdgebenchError
from edgebench.records import DeviceInfo


class TargetError(EdgebenchError):
    """A target could not do what was asked. The message names the fix."""


class TargetUnreachable(TargetError):
    """The device cannot be reached (network, authentication, offline)."""


class TargetTimeout(TargetError):
    """A command outlived its time limit and was killed."""


class RuntimeMissing(TargetError):
    """The device has no Python or no TFLite interpreter the runner can use."""


@dataclass(frozen=True)
class CommandResult:
    """What one command on a target did."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


class ProcessGroup:
    """The local child processes (ssh, adb, the runner) one target has running right now.

    Each runs in its own process group, so :meth:`kill` (Ctrl-C) and a time limit take the
    whole tree down, never only the ssh or adb client in front of it.
    """

    def __init__(self) -> None:
        self._live: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def run(
        self,
        argv: Sequence[str],
        timeout_s: float,
        missing_fix: str,
        cwd: Path | None = None,
        stdin_path: Path | None = None,
        stdout_path: Path | None = None,
    ) -> tuple[CommandResult, bool]:
        """Run a local program; on timeout kill its whole process group.

        Returns the result and whether the time limit was hit (then ``returncode`` is 255).
        ``missing_fix`` completes the error when the program cannot start at all. Its standard
        input comes from ``stdin_path`` (else nothing) and its output goes to ``stdout_path``
        as bytes when given (a file streamed through ssh), else into the result.
        """
        argv = tuple(str(a) for a in argv)
        start = time.monotonic()
        with contextlib.ExitStack() as files:
            stdin = files.enter_context(open(stdin_path, "rb")) if stdin_path else None
            stdout = files.enter_context(open(stdout_path, "wb")) if stdout_path else None
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=stdin or subprocess.DEVNULL,
                    stdout=stdout or subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    errors="replace",
                    cwd=cwd,
                    start_new_session=True,  # so a timeout kills the whole process group
                )
            except OSError as exc:
                raise TargetError(
                    f"cannot start {argv[0]!r} ({exc.strerror}); {missing_fix}"
                ) from None
            return self._wait(proc, argv, start, timeout_s)

    def _wait(
        self, proc: subprocess.Popen, argv: tuple[str, ...], start: float, timeout_s: float
    ) -> tuple[CommandResult, bool]:
        with self._lock:
            self._live.add(proc)
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            return CommandResult(argv, 255, out or "", err, time.monotonic() - start), True
        finally:
            with self._lock:
                self._live.discard(proc)
        res = CommandResult(argv, proc.returncode, out or "", err, time.monotonic() - start)
        return res, False

    def kill(self) -> None:
        """Kill every process (group) running now."""
        with self._lock:
            procs = list(self._live)
        for proc in procs:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Target(abc.ABC):
    """A place models run: this machine, a board over SSH, a phone over adb.

    Use as a context manager so that :meth:`cleanup` runs also after a failure. ``label``
    names this session's work folder on the device (the bench stage passes the run id), so a
    person who finds it there knows where it came from.
    """

    #: the address the user gave, e.g. ``local`` or ``ssh://pi@raspberrypi``
    address: str

    def __init__(self, address: str, label: str | None = None, python: str | None = None) -> None:
        self.address = address
        self.label = safe_name(label) if label else None
        self._python = python
        self.processes = ProcessGroup()
        self._pushed = 0  # files copied so far: numbers their names on the device

    @property
    def name(self) -> str:
        """A short name usable in file names (``results-<name>.json``)."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.address)
        return safe.strip("_") or "target"

    @property
    def python(self) -> str | None:
        """The device's Python for the runner, or None where there is none (a phone)."""
        return self._python

    @abc.abstractmethod
    def push(self, paths: Sequence[Path]) -> dict[Path, str]:
        """Copy local files to the device's work folder; return each one's path there."""

    @abc.abstractmethod
    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        """Run a command (an argument list, never a shell string) in the work folder, with a
        time limit. Raises :class:`TargetTimeout` when the limit passes (it is killed)."""

    @abc.abstractmethod
    def fetch(self, remote: str, local: Path) -> Path:
        """Copy a file from the device to ``local``."""

    @abc.abstractmethod
    def describe(self) -> DeviceInfo:
        """What the device is (name, OS, CPU, cores, memory) and its state (governor,
        temperature), as far as the transport can tell without a TFLite runtime."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Remove everything this target put on the device. Safe to call twice."""

    def temperature_c(self) -> float | None:
        """The device's hottest temperature sensor now, in °C, or None if it has none."""
        return None

    def facts(self) -> dict[str, object]:
        """What the transport learnt about the connection (how files were copied, say), for
        the device's ``extra``; empty by default."""
        return {}

    def remote_names(self, paths: Sequence[Path], workdir: str) -> list[tuple[Path, str]]:
        """Each local file with the path it gets in ``workdir`` on the device: a name this
        target picks (``03-model.tflite``), so spaces, quotes or ``;`` in the user's names never
        reach a shell. A missing local file is an error that names it."""
        placed = []
        for p in map(Path, paths):
            if not p.is_file():
                raise TargetError(f"{p}: no such file to copy to {self.address}; check the path")
            self._pushed += 1
            placed.append((p, f"{workdir}/{self._pushed:02d}-{safe_name(p.name)}"))
        return placed

    def kill(self) -> None:
        """Kill whatever this target is running now (Ctrl-C): the rest of the run stops."""
        self.processes.kill()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.cleanup()


# --------------------------------------------------------------------------- POSIX devices

# A POSIX shell on the device enforces the time limit itself (``timeout``), so a lost
# connection never leaves a model running there; the host waits a little longer than that.
KILL_AFTER_S = 5
GRACE_S = 15


def timed_shell_script(workdir: str, argv: Sequence[str], timeout_s: float) -> str:
    """A shell line that runs ``argv`` (every word quoted) in ``workdir`` under ``timeout``.

    No ``exec``: the shell turns a crash into status 128+signal, where exec would let an SSH
    server report the signal and the client exit 255, which means "connection failed".
    """
    words = " ".join(shlex.quote(str(a)) for a in argv)
    limit = max(1, math.ceil(timeout_s))
    return (
        f"cd {shlex.quote(workdir)} || exit 97; "
        f"if command -v timeout >/dev/null 2>&1; "
        f"then timeout -k {KILL_AFTER_S} {limit} {words}; else {words}; fi; exit $?"
    )


def timed_out(returncode: int, elapsed_s: float, timeout_s: float) -> bool:
    """Whether a :func:`timed_shell_script` run hit its limit (124: timeout; 137: killed)."""
    return returncode == 124 or (returncode in (137, 255) and elapsed_s >= timeout_s)


def timeout_error(argv: Sequence[str], address: str, timeout_s: float) -> TargetTimeout:
    return TargetTimeout(
        f"{Path(argv[0]).name} on {address} took longer than {timeout_s:g} s and "
        "was killed; raise --timeout-s if the model is really that slow"
    )


#: How a POSIX target runs one shell line: (script, host-side time limit, the argv it runs).
Shell = Callable[[str, float, Sequence[str]], CommandResult]


def run_timed(
    shell: Shell, workdir: str, argv: Sequence[str], timeout_s: float, address: str
) -> CommandResult:
    """Run ``argv`` in ``workdir`` through a device's shell (ssh, adb shell) under
    :func:`timed_shell_script`, the host waiting a little longer than the device's own limit.
    Raises :class:`TargetTimeout` when the command hit the limit."""
    argv = tuple(str(a) for a in argv)
    script = timed_shell_script(workdir, argv, timeout_s)
    start = time.monotonic()
    res = shell(script, timeout_s + KILL_AFTER_S + GRACE_S, argv)
    if timed_out(res.returncode, time.monotonic() - start, timeout_s):
        raise timeout_error(argv, address, timeout_s)
    return res


def fetch_destination(local: Path) -> Path:
    """Where a file fetched from a device goes: ``local``, its folder made when missing."""
    local = Path(local)
    local.parent.mkdir(parents=True, exist_ok=True)
    return local


#: What a Linux device says about itself, one fact a line, for :func:`parse_describe`. Every
#: line is printed even when its file is missing, so the order never shifts.
DESCRIBE_SCRIPT = (
    "uname -n; uname -a; uname -m; "
    "(grep -m1 -E '^(model name|Model|Hardware|Processor)' /proc/cpuinfo 2>/dev/null "
    "| cut -d: -f2- || true); echo; "
    "(getconf _NPROCESSORS_ONLN 2>/dev/null || echo); "
    "(grep -m1 MemTotal /proc/meminfo 2>/dev/null || echo); "
    "(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo); "
    "(cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null | sort -n | tail -1 || true); echo"
)


def parse_describe(text: str) -> DeviceInfo:
    """The :class:`DeviceInfo` in :data:`DESCRIBE_SCRIPT`'s output."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines += [""] * (9 - len(lines))
    hostname, os_line, machine, cpu, _, cores, mem, governor, temp = lines[:9]
    mem_mb = None
    m = re.search(r"MemTotal:\s*(\d+)", mem)
    if m:
        mem_mb = round(int(m.group(1)) / 1024.0, 1)
    temp_c = None
    if temp.lstrip("-").isdigit():
        temp_c = round(int(temp) / 1000.0, 1)
    return DeviceInfo(
        hostname=hostname or None,
        os=os_line or None,
        machine=machine or None,
        cpu=cpu.strip() or None,
        cores=int(cores) if cores.isdigit() else None,
        mem_total_mb=mem_mb,
        governor=governor or None,
        temperature_c=temp_c,
    )


def safe_name(name: str) -> str:
    """A file name that means the same to every shell: letters, digits, '.', '_', '-'."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"
    return safe[:80]


def tail(text: str) -> str:
    """The last non-empty line of a tool's output, for a one-line message."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, type[Target]] = {}


def register_target(scheme: str, cls: type[Target]) -> None:
    """Make ``cls`` handle addresses ``<scheme>://…`` (or the bare word, for ``local``)."""
    _REGISTRY[scheme] = cls


def target_scheme(address: str) -> str:
    """``ssh`` for ``ssh://pi``, ``local`` for ``local``."""
    return address.split("://", 1)[0] if "://" in address else address


def target_for(address: str, **options: Any) -> Target:
    """The target for an address such as ``local``, ``ssh://pi@host:22`` or ``adb://SERIAL``."""
    cls = _REGISTRY.get(target_scheme(address))
    if cls is None:
        known = ", ".join(f"{s}://…" if s != "local" else s for s in sorted(_REGISTRY))
        raise TargetError(f"unknown target {address!r}; use one of: {known}")
    return cls(address, **options)
