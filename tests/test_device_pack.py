"""runner.pyz: the runner package as one file, built on the host, the same bytes every time,
and runnable by a Python that has nothing of edgebench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from edgebench.bench.device.pack import (
    FIXED_TIME,
    PACKAGE,
    runner_archive,
    runner_sources,
    write_runner_archive,
)
from edgebench.bench.device.runner.cli import MARKER


def test_the_archive_holds_the_runner_package_and_a_main(tmp_path: Path) -> None:
    names = zipfile.ZipFile(write_runner_archive(tmp_path / "runner.pyz")).namelist()
    assert names == ["__main__.py", *(f"{PACKAGE}/{p.name}" for p in runner_sources())]
    assert f"{PACKAGE}/cli.py" in names and f"{PACKAGE}/__init__.py" in names
    # the host's half of the device side stays on the host
    assert not any(n.endswith(("/shards.py", "/pack.py")) for n in names)


def test_the_same_sources_give_the_same_bytes(tmp_path: Path) -> None:
    first = write_runner_archive(tmp_path / "a.pyz")
    second = write_runner_archive(tmp_path / "b.pyz")
    assert first.read_bytes() == second.read_bytes()
    assert runner_archive().read_bytes() == first.read_bytes()
    for info in zipfile.ZipFile(first).infolist():
        assert info.date_time == FIXED_TIME and info.compress_type == zipfile.ZIP_STORED
    assert os.access(first, os.X_OK)


def test_the_archive_runs_without_site_packages(tmp_path: Path) -> None:
    """``python -S``: no site-packages, so neither edgebench nor numpy nor a runtime; the runner
    still starts and says what the device lacks (what ``info`` and ``doctor`` are for)."""
    archive = write_runner_archive(tmp_path / "03-runner.pyz")  # as a target names it
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run([sys.executable, "-S", str(archive), "info"], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    info = json.loads(line[len(MARKER):])
    assert info["runtime_name"] is None and info["extra"]["numpy"] is None
    assert info["python"] == ".".join(map(str, sys.version_info[:3]))
