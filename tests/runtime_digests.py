"""The outputs of TFLite files as another Python's runtime computes them (the stripping tests
compare ai-edge-litert's with tflite-runtime 2.14's: ``remote_python`` from tests/ssh_devices.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np

from edgebench.bench.device.pack import runner_archive

OUTPUTS_SCRIPT = Path(__file__).parent / "runtime_outputs.py"


def runtime_digests(python: str, inputs: np.ndarray, paths: list[Path], tmp: Path) -> dict:
    """{path: digest of its outputs on ``inputs``} as the runtime of ``python`` computes them."""
    npy = tmp / "inputs.npy"
    np.save(npy, inputs.astype(np.float32))
    env = dict(os.environ, PYTHONPATH=str(runner_archive()))  # the runner's quantize, only
    proc = subprocess.run(
        [python, str(OUTPUTS_SCRIPT), str(npy), *map(str, paths)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
