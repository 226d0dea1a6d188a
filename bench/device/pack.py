"""Builds ``runner.pyz``: the runner package as one file that ``python3 runner.pyz MODE …`` runs.

Host only, never shipped. Why the runner ships as an archive is said in
:mod:`edgebench.bench.device`. The archive holds a ``__main__.py`` and the runner package's
modules (every ``*.py`` of :mod:`edgebench.bench.device.runner`, nothing else), stored without
compression and with fixed timestamps and modes: the same sources give the same bytes, and
reading it needs no zlib on the device.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import zipfile
from pathlib import Path

from edgebench.bench.device import runner
from edgebench.files import atomic_path

ARCHIVE_NAME = "runner.pyz"
#: The runner package's name inside the archive. Its modules import each other relatively, so
#: the name is free; this one cannot meet another package on a device's ``sys.path``.
PACKAGE = "edgebench_runner"
#: ZIP's earliest date, for every entry: a build's time never reaches the bytes.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SHEBANG = b"#!/usr/bin/env python3\n"
MAIN = (
    f'"""python3 {ARCHIVE_NAME} MODE ...: edgebench\'s on-device runner."""\n\n'
    "import sys\n\n"
    f"from {PACKAGE}.cli import main\n\n"
    "sys.exit(main())\n"
)


def runner_sources() -> list[Path]:
    """The files that ship: every module of the runner package, in name order."""
    return sorted(Path(runner.__file__).parent.glob("*.py"))


def write_runner_archive(path: Path) -> Path:
    """Write the runner archive to ``path`` (atomically, executable) and return ``path``."""
    with atomic_path(Path(path), mode=0o755) as tmp, tmp.open("wb") as fh:
        fh.write(SHEBANG)  # zipimport finds the archive from its end: a prefix is allowed
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as archive:
            _add(archive, "__main__.py", MAIN.encode())
            for source in runner_sources():
                _add(archive, f"{PACKAGE}/{source.name}", source.read_bytes())
    return Path(path)


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3  # Unix, whatever builds it
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


@functools.cache
def runner_archive() -> Path:
    """This process's runner archive: built on first use into a private temporary folder,
    which is removed when the process exits."""
    folder = Path(tempfile.mkdtemp(prefix="edgebench-runner-"))
    atexit.register(shutil.rmtree, folder, True)
    return write_runner_archive(folder / ARCHIVE_NAME)
