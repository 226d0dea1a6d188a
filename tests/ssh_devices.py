"""Device Pythons with the runtimes Raspberry Pis really have, for the SSH tests (a plugin of
tests/conftest.py; the server itself is tests/ssh_server.py). Each is a virtualenv built once
with pip and cached in the suite's cache folder (tests/suite_pip.py; seconds on a fresh machine):

- ``remote_python``: tflite-runtime 2.14 and numpy < 2 (what works on many Pis);
- ``numpy2_python``: tflite-runtime 2.14 and numpy 2 (what a plain ``pip install
  tflite-runtime`` gives in a fresh venv: tflite-runtime does not cap numpy);
- ``no_runtime_python``: numpy, no TFLite runtime;
- ``broken_runtime_python``: tflite-runtime installed, but its shared object damaged, so
  importing it fails for real (built per session from ``remote_python``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from suite_pip import pip_install, suite_cache

FIX = Path(__file__).parent / "fixtures"
RUNTIME_PIN = ("tflite-runtime==2.14.0", "numpy==1.26.4")
NUMPY2_PIN = ("tflite-runtime==2.14.0", "numpy==2.2.6")
NO_RUNTIME_PIN = ("numpy==1.26.4",)
WRAPPER = "_pywrap_tensorflow_interpreter_wrapper"  # tflite-runtime's compiled interpreter


def cached_venv(name: str, pins: tuple[str, ...]) -> Path:
    """A virtualenv with exactly ``pins``, built once and cached; returns its python."""
    if sys.version_info[:2] != (3, 11):
        pytest.fail("tflite-runtime 2.14.0 has wheels up to CPython 3.11; run the tests on 3.11")
    cache = suite_cache()
    venv = cache / name
    python = venv / "bin" / "python"
    if not python.exists():
        # Built beside the cache and renamed into place, so an interrupted build is never used.
        # (A moved venv still works as `python -m …`; only its scripts' #! lines go stale.)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".build-{name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(tmp)], check=True)
        # A device's pins, not the host's tested set: no constraints file (tests/suite_pip.py).
        pip_install(tmp / "bin" / "python", *pins)
        try:
            os.rename(tmp, venv)
        except OSError:  # another test run got there first
            shutil.rmtree(tmp, ignore_errors=True)
    return python


def versions(python: Path | str) -> dict[str, str | None]:
    """numpy's and tflite-runtime's versions in a device Python (None when missing)."""
    code = ("import importlib.metadata as m\n"
            "for d in ('numpy', 'tflite-runtime'):\n"
            "    try: print(d, m.version(d))\n"
            "    except m.PackageNotFoundError: print(d, '-')\n")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    found = dict(zip(out[::2], out[1::2], strict=True))
    return {k: (None if v == "-" else v) for k, v in found.items()}


def pinned_python(name: str, pins: tuple[str, ...]) -> str:
    """The cached venv ``name`` with ``pins`` (:func:`cached_venv`), checked: numpy and
    tflite-runtime are at their pinned versions, and missing where not pinned."""
    python = cached_venv(name, pins)
    pinned = dict(pin.split("==") for pin in pins)
    assert versions(python) == {dist: pinned.get(dist) for dist in ("numpy", "tflite-runtime")}
    return str(python)


@pytest.fixture(scope="session")
def remote_python() -> str:
    """A Python with tflite-runtime 2.14 and numpy < 2 and no ai-edge-litert (cached)."""
    return pinned_python("tflite-runtime-2.14.0-cp311", RUNTIME_PIN)


@pytest.fixture(scope="session")
def numpy2_python() -> str:
    """tflite-runtime 2.14 with numpy 2: every model fails in CreateWrapperFromFile (cached)."""
    return pinned_python("tflite-runtime-2.14.0-numpy2-cp311", NUMPY2_PIN)


@pytest.fixture(scope="session")
def no_runtime_python() -> str:
    """numpy and no TFLite runtime at all (cached)."""
    return pinned_python("numpy-only-cp311", NO_RUNTIME_PIN)


@pytest.fixture(scope="session")
def broken_runtime_python(remote_python, tmp_path_factory) -> str:
    """tflite-runtime 2.14 installed, but its compiled interpreter damaged (its ELF header
    overwritten), so ``import tflite_runtime.interpreter`` fails in the dynamic loader: a
    venv whose own site-packages hold the damaged copy, with numpy from ``remote_python``'s."""
    root = tmp_path_factory.mktemp("broken-runtime")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    site = next((root / "venv" / "lib").glob("python3*/site-packages"))
    good = Path(subprocess.run(
        [remote_python, "-c", "import tflite_runtime, os; "
         "print(os.path.dirname(os.path.dirname(tflite_runtime.__file__)))"],
        capture_output=True, text=True, check=True).stdout.strip())
    shutil.copytree(good / "tflite_runtime", site / "tflite_runtime")
    for dist in good.glob("tflite_runtime-*.dist-info"):
        shutil.copytree(dist, site / dist.name)
    (so,) = (site / "tflite_runtime").glob(f"{WRAPPER}*.so")
    so.write_bytes(b"\0" * 64 + so.read_bytes()[64:])  # its ELF header overwritten
    (site / "device-numpy.pth").write_text(str(good) + "\n")  # numpy (and nothing first)
    python = root / "venv" / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import tflite_runtime.interpreter"],
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "ImportError" in probe.stderr, probe.stderr
    return str(python)
