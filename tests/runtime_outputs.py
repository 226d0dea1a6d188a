"""Print a digest of every output of each model on the same inputs, in whatever runtime runs it.

    python runtime_outputs.py INPUTS.npy MODEL.tflite [MODEL.tflite ...]

A standalone script (numpy and a TFLite interpreter only, Python >= 3.9), so the tests can
run it in a second Python with tflite-runtime 2.14 as well as in this one. INPUTS holds float
samples in [0, 1]; an int8 input is quantised by the runner's own ``quantize``, imported from
the runner archive on PYTHONPATH (tests/runtime_digests.py puts it there). Prints one JSON object:
{model path: sha256 of all output bytes, sample by sample} or {model path: "error: ..."} for
a model the runtime cannot load.
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:
    from tflite_runtime.interpreter import Interpreter
from edgebench_runner.tensors import quantize  # runner.pyz's package: stdlib and numpy only


def digest(path: str, inputs: np.ndarray) -> str:
    try:
        interp = Interpreter(model_path=path, num_threads=1)
        interp.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        return f"error: {str(exc).splitlines()[0]}"
    inp = interp.get_input_details()[0]
    outs = interp.get_output_details()
    shape = [int(s) for s in inp["shape"]]
    h = hashlib.sha256()
    for x in inputs:
        x = np.asarray(x, np.float32).reshape(shape)
        interp.set_tensor(inp["index"], quantize(x, inp["dtype"], *inp["quantization"]))
        interp.invoke()
        for o in outs:
            h.update(interp.get_tensor(o["index"]).tobytes())
    return h.hexdigest()


if __name__ == "__main__":
    samples = np.load(sys.argv[1])
    print(json.dumps({path: digest(path, samples) for path in sys.argv[2:]}))
