"""The local target: a private temporary folder on this machine, a child process per command."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from deploy.base import CommandResult, Target, TargetError, TargetTimeout


class LocalTarget(Target):
    """Runs models on this machine, in a throw-away work folder, with this Python."""

    def __init__(self, address: str = "local", python: str | None = None) -> None:
        super().__init__(address)
        self._python = python or sys.executable
        self._workdir: Path | None = None

    @property
    def python(self) -> str:
        return self._python

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="edgebench-"))
        return self._workdir

    def push(self, paths: Sequence[Path]) -> dict[Path, str]:
        placed: dict[Path, str] = {}
        for p in paths:
            p = Path(p)
            dest = self.workdir / p.name
            if dest.exists() and p.resolve() != dest.resolve():
                # Two models with one file name: keep both.
                dest = self.workdir / f"{len(placed)}-{p.name}"
            shutil.copyfile(p, dest)
            placed[p] = str(dest)
        return placed

    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        argv = tuple(str(a) for a in argv)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=self.workdir,
                start_new_session=True,  # so a timeout kills the whole process group
            )
        except OSError as exc:
            raise TargetError(f"cannot start {argv[0]!r} ({exc}); check the path") from None
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise TargetTimeout(
                f"{Path(argv[0]).name} took longer than {timeout_s:g} s and was killed; "
                "raise --timeout-s if the model is really that slow"
            ) from None
        return CommandResult(argv, proc.returncode, out, err, time.monotonic() - start)

    def fetch(self, remote: str, local: Path) -> Path:
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(remote, local)
        return local

    def cleanup(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
