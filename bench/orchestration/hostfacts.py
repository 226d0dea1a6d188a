"""Facts about the machine edgebench itself runs on (the host), and the commit of the user's
code it measured."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

import psutil

from edgebench import records
from edgebench.bench.device.runner.facts import cpu_model, governor, temperature_c
from edgebench.bench.device.runner.runtime import load_runtime
from edgebench.records import DeviceInfo


def host_info() -> DeviceInfo:
    """This machine, where edgebench itself runs (psutil on the host; the runner on devices)."""
    try:
        _, _, rt_name, rt_version = load_runtime()
    except RuntimeError:
        rt_name = rt_version = None
    return DeviceInfo(
        hostname=socket.gethostname(),
        os=" ".join(platform.uname()),
        machine=platform.machine(),
        cpu=cpu_model(),
        cores=os.cpu_count(),
        mem_total_mb=round(psutil.virtual_memory().total / 2**20, 1),
        python=platform.python_version(),
        runtime_name=rt_name,
        runtime_version=rt_version,
        governor=governor(),
        temperature_c=temperature_c(),
    )


#: Environment variables CI systems set to the commit a job builds, in the order they are read.
COMMIT_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA")
_HEX = set("0123456789abcdefABCDEF")
#: edgebench's own folders: a config or model found there is edgebench's, not the user's. The
#: package folder, and the rooms it links to in a checkout (src/edgebench/models -> models/).
_PACKAGE = Path(records.__file__).parent  # the kernel sits at the package's top
_EDGEBENCH_FOLDERS = (_PACKAGE.resolve(), (_PACKAGE / "models").resolve())


def is_commit_sha(text: str) -> bool:
    """A git commit as hex: 7 (abbreviated) to 64 (SHA-256 repositories) digits."""
    return 7 <= len(text) <= 64 and set(text) <= _HEX


def git_commit(folder: Path) -> str | None:
    """``git rev-parse HEAD`` of the repository that holds ``folder``, or None outside one."""
    folder = Path(folder)
    while not folder.is_dir():
        if folder.parent == folder:
            return None
        folder = folder.parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and is_commit_sha(sha) else None


def user_commit(explicit: str | None, near: Sequence[Path] = ()) -> str | None:
    """The commit of the user's code that was measured: ``explicit`` (``--commit``), else the
    CI's own variable (``GITHUB_SHA``, ``CI_COMMIT_SHA``), else ``git rev-parse HEAD`` in the
    first of ``near`` (the config's folder, the models' folder) that is inside a repository,
    skipping files that ship with edgebench itself; else None."""
    if explicit:
        return explicit.lower()
    for name in COMMIT_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value and is_commit_sha(value):
            return value.lower()
    for place in near:
        place = Path(place).resolve()
        if any(place.is_relative_to(folder) for folder in _EDGEBENCH_FOLDERS):
            continue  # the shipped pipeline: edgebench's files, not the user's
        sha = git_commit(place if place.is_dir() else place.parent)
        if sha is not None:
            return sha
    return None
