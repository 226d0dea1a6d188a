"""The suite's pip calls and the suite's own cache folder, in one place.

Every Python the suite builds for a *device* (the SSH tests' virtualenvs in tests/ssh_devices.py,
the emulated Pi's aarch64 wheels in tests/pi_sysroot.py) is pip-installed with pins of its own
(numpy 1.26, tflite-runtime 2.14) that are not the host's tested set. tox exports
``PIP_CONSTRAINT=constraints.txt`` (numpy 2.x) to everything it runs, so a pip call that inherits
it cannot resolve a device's pins. `device_pip_env` states what such a call needs instead.

The cache folder: ``$EDGEBENCH_TEST_CACHE`` if set (``.ci/run`` points it at a new, empty folder
for each run, so a cache made by an older suite never makes CI pass), else
``$XDG_CACHE_HOME/edgebench-tests`` (else ``~/.cache/edgebench-tests``), kept between local runs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

CACHE_ENV = "EDGEBENCH_TEST_CACHE"


def suite_cache() -> Path:
    """The folder the suite keeps device virtualenvs and emulated-Pi sysroots in."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgebench-tests"


def device_pip_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """pip's environment for a device's Python: the user's index, proxy and certificates stay;
    the host's constraints file and find-links do not (a constraint such as numpy==2.x would make
    a device's numpy<2 pin unresolvable), nor does a requirement to run inside a virtualenv (the
    foreign-platform downloads run with the host's interpreter)."""
    env = dict(os.environ if base is None else base)
    env.update(PIP_CONSTRAINT="", PIP_FIND_LINKS="", PIP_REQUIRE_VIRTUALENV="false",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def _run_pip(argv: Sequence[str], *, device: bool, timeout: float,
             check: bool) -> subprocess.CompletedProcess[str]:
    """Run one pip command line; ``device`` picks `device_pip_env`, else tox's own environment
    (the tested set through ``PIP_CONSTRAINT``). ``check`` raises with pip's output on failure."""
    env = device_pip_env() if device else None
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return proc


def pip_install(python: str | Path, *args: str, device: bool = True,
                timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``python -m pip install ARGS``: the suite's one install call.

    ``device=True`` (the default) builds a device's Python with its own pins and no host
    constraints; ``device=False`` installs into a host-side virtualenv with the tested set.
    """
    argv = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args]
    return _run_pip(argv, device=device, timeout=timeout, check=True)


def pip_download(python: str | Path, *args: str,
                 timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``python -m pip download ARGS`` for a device (foreign-platform wheels); the caller reads
    the return code (pip's messages name what could not be had)."""
    argv = [str(python), "-m", "pip", "download", "-q", "--disable-pip-version-check", *args]
    return _run_pip(argv, device=True, timeout=timeout, check=False)
