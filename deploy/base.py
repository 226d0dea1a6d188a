"""The one small interface every target implements, its typed results and its errors."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from edgebench.errors import EdgebenchError

if TYPE_CHECKING:
    from edgebench.bench.orchestrate import BenchPlan, Flow
    from edgebench.records import BenchSettings


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


class Target(abc.ABC):
    """A place models run: this machine, a board over SSH, a phone over adb.

    Use as a context manager so that :meth:`cleanup` runs also after a failure.
    """

    #: the address the user gave, e.g. ``local`` or ``ssh://pi@raspberrypi``
    address: str

    def __init__(self, address: str) -> None:
        self.address = address

    @property
    def name(self) -> str:
        """A short name usable in file names (``results-<name>.json``)."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.address)
        return safe.strip("_") or "target"

    @abc.abstractmethod
    def push(self, paths: Sequence[Path]) -> dict[Path, str]:
        """Copy local files to the device's work folder; return each one's path there."""

    @abc.abstractmethod
    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        """Run a command (an argument list, never a shell string) with a time limit.

        Raises :class:`TargetTimeout` when the limit passes (the command is killed).
        """

    @abc.abstractmethod
    def fetch(self, remote: str, local: Path) -> Path:
        """Copy a file from the device to ``local``."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Remove everything this target put on the device. Safe to call twice."""

    @property
    @abc.abstractmethod
    def python(self) -> str:
        """The Python interpreter on the device that runs ``bench/runner.py``."""

    def flow(self, plan: BenchPlan, settings: BenchSettings) -> Flow:
        """How this target measures models: by default the self-contained runner, one
        process per model. A target that cannot run Python (a phone) overrides this."""
        from edgebench.bench.orchestrate import RunnerFlow

        return RunnerFlow(self, plan, settings)

    def __enter__(self) -> Target:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


_LIVE: set = set()  # local child processes running right now (Popen objects)
_LIVE_LOCK = __import__("threading").Lock()


def kill_running() -> None:
    """Kill every child process (group) a target is running now: Ctrl-C stops a bench at once."""
    import os
    import signal

    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run_process(
    argv: Sequence[str], timeout_s: float, missing_fix: str, cwd: Path | None = None
) -> tuple[CommandResult, bool]:
    """Run a local program in its own process group; on timeout kill the whole group.

    Returns the result and whether the time limit was hit (then ``returncode`` is 255).
    ``missing_fix`` completes the error when the program cannot start at all.
    """
    import os
    import signal
    import subprocess
    import time

    argv = tuple(str(a) for a in argv)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            cwd=cwd,
            start_new_session=True,  # so a timeout kills the whole process group
        )
    except OSError as exc:
        raise TargetError(f"cannot start {argv[0]!r} ({exc.strerror}); {missing_fix}") from None
    with _LIVE_LOCK:
        _LIVE.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        return CommandResult(argv, 255, out, err, time.monotonic() - start), True
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    return CommandResult(argv, proc.returncode, out, err, time.monotonic() - start), False


# A POSIX shell on the device enforces the time limit itself (``timeout``), so a lost
# connection never leaves a model running there; the host waits a little longer than that.
KILL_AFTER_S = 5
GRACE_S = 15


def timed_shell_script(workdir: str, argv: Sequence[str], timeout_s: float) -> str:
    """A shell line that runs ``argv`` (every word quoted) in ``workdir`` under ``timeout``.

    No ``exec``: the shell turns a crash into status 128+signal, where exec would let an SSH
    server report the signal and the client exit 255, which means "connection failed".
    """
    import math
    import shlex

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


_REGISTRY: dict[str, type[Target]] = {}


def register_target(scheme: str, cls: type[Target]) -> None:
    """Make ``cls`` handle addresses ``<scheme>://…`` (or the bare word, for ``local``)."""
    _REGISTRY[scheme] = cls


def target_for(address: str, **options: object) -> Target:
    """The target for an address such as ``local``, ``ssh://pi@host:22`` or ``adb://SERIAL``."""
    scheme = address.split("://", 1)[0] if "://" in address else address
    cls = _REGISTRY.get(scheme)
    if cls is None:
        known = ", ".join(f"{s}://…" if s != "local" else s for s in sorted(_REGISTRY))
        raise TargetError(f"unknown target {address!r}; use one of: {known}")
    return cls(address, **options)  # type: ignore[call-arg]
