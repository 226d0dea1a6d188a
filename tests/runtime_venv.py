"""A second Python with tflite-runtime 2.14 and numpy < 2 (no ai-edge-litert), as on a Pi.

Built once as a virtualenv under ~/.cache/edgebench-tests (a few seconds on a fresh machine)
and shared by the tests that need a different runtime: the SSH target's (it runs the runner
there) and the stripping test's (a stripped model must answer byte-identically there too).
tests/conftest.py loads it as a plugin: ask for the ``remote_python`` fixture.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

RUNTIME_PIN = ("tflite-runtime==2.14.0", "numpy==1.26.4")
OUTPUTS_SCRIPT = Path(__file__).parent / "runtime_outputs.py"


@pytest.fixture(scope="session")
def remote_python() -> str:
    """A Python with tflite-runtime 2.14 and numpy < 2 and no ai-edge-litert (cached)."""
    if sys.version_info[:2] != (3, 11):
        pytest.fail("tflite-runtime 2.14.0 has wheels up to CPython 3.11; run the tests on 3.11")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgebench-tests"
    venv = cache / "tflite-runtime-2.14.0-cp311"
    python = venv / "bin" / "python"
    if not python.exists():
        # Built beside the cache and renamed into place, so an interrupted build is never used.
        # (A moved venv still works as `python -m …`; only its scripts' #! lines go stale.)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".build-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(tmp)], check=True)
        subprocess.run([str(tmp / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", *RUNTIME_PIN], check=True)
        try:
            os.rename(tmp, venv)
        except OSError:  # another test run got there first
            shutil.rmtree(tmp, ignore_errors=True)
    out = subprocess.run(
        [str(python), "-c", "import tflite_runtime, numpy; "
         "print(tflite_runtime.__version__, numpy.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert out[0] == "2.14.0" and out[1].startswith("1.")
    return str(python)


def runtime_digests(python: str, inputs: np.ndarray, paths: list[Path], tmp: Path) -> dict:
    """{path: digest of its outputs on ``inputs``} as the runtime of ``python`` computes them."""
    npy = tmp / "inputs.npy"
    np.save(npy, inputs.astype(np.float32))
    proc = subprocess.run(
        [python, str(OUTPUTS_SCRIPT), str(npy), *map(str, paths)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
