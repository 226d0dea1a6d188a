"""The local target: a private temporary folder on this machine, a child process per command."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from edgebench.deploy.base import (
    DESCRIBE_SCRIPT,
    CommandResult,
    Target,
    TargetTimeout,
    fetch_destination,
    parse_describe,
)
from edgebench.records import DeviceInfo


class LocalTarget(Target):
    """Runs models on this machine, in a throw-away work folder, with this Python."""

    def __init__(
        self, address: str = "local", python: str | None = None, label: str | None = None
    ) -> None:
        super().__init__(address, label, python or sys.executable)
        self._workdir: Path | None = None

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            prefix = f"edgebench-{self.label}-" if self.label else "edgebench-"
            self._workdir = Path(tempfile.mkdtemp(prefix=prefix))
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
        res, timed_out = self.processes.run(argv, timeout_s, "check the path", cwd=self.workdir)
        if timed_out:
            raise TargetTimeout(
                f"{Path(res.argv[0]).name} took longer than {timeout_s:g} s and was killed; "
                "raise --timeout-s if the model is really that slow"
            )
        return res

    def fetch(self, remote: str, local: Path) -> Path:
        local = fetch_destination(local)
        shutil.copyfile(remote, local)
        return local

    def describe(self) -> DeviceInfo:
        out = subprocess.run(
            ["/bin/sh", "-c", DESCRIBE_SCRIPT], capture_output=True, text=True, timeout=30
        )
        return parse_describe(out.stdout)

    def temperature_c(self) -> float | None:
        return self.describe().temperature_c

    def cleanup(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
