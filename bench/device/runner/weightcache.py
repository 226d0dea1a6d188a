"""XNNPACK's weight cache: how much of the model's memory it saves (``--xnnpack-weight-cache``).

For float weights XNNPACK keeps a packed copy beside the mapped model file (anonymous memory,
about the size of the weights). With a weight cache it writes the packed weights to a file
once and maps that file afterwards: the packed copy becomes file-backed, shared between
processes and reclaimable, and the original weights in the model file are no longer touched.

ai-edge-litert's ``Interpreter`` (what the runner times) takes no weight cache; its
``CompiledModel`` API does (``CpuOptions.xnnpack_weight_cache_path``). So the saving is
measured through CompiledModel, in processes of their own (``runner.pyz weight-cache-probe``,
each loading the model and invoking it 20 times, as a bare process does): without a cache,
with one being built, and with the built one loaded, which is what a deployed app that keeps
its cache file sees. Where the runtime has no such API the record says why.

Standard library (and, in the probe, numpy and ai-edge-litert) only: this module ships to
devices (Python >= 3.9).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .memory import snapshot

PROBE_RUNS = 20
PROBE_MODE = "weight-cache-probe"
MARKER = "EDGEBENCH_JSON "


def unavailable():
    """None when this Python's ai-edge-litert takes a weight cache path, else why not."""
    try:
        import dataclasses

        from ai_edge_litert.compiled_model import CompiledModel  # noqa: F401
        from ai_edge_litert.options import CpuOptions
    except Exception as exc:  # not installed, or an ai-edge-litert without CompiledModel
        return ("this runtime has no XNNPACK weight cache in its Python API (ai-edge-litert's "
                "CompiledModel has one; %s: %s)" % (type(exc).__name__, exc))
    if "xnnpack_weight_cache_path" not in [f.name for f in dataclasses.fields(CpuOptions)]:
        return "this ai-edge-litert's CpuOptions has no xnnpack_weight_cache_path"
    return None


def probe(model, threads, cache):
    """In a probe process: the model's memory through CompiledModel (with ``cache`` as the
    weight cache file, or none), after PROBE_RUNS invokes. A dict of MiB and ms."""
    import numpy as np
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    from ai_edge_litert.options import CpuOptions, Options

    options = Options(HardwareAccelerator.CPU, cpu_options=CpuOptions(
        num_threads=threads, xnnpack_weight_cache_path=cache or ""))
    before = snapshot()
    t0 = time.perf_counter_ns()
    compiled = CompiledModel.from_file(model, options=options)
    inputs = compiled.create_input_buffers(0)
    outputs = compiled.create_output_buffers(0)
    init_ns = time.perf_counter_ns() - t0
    signature = list(compiled.get_signature_list())[0]
    details = compiled.get_input_tensor_details(signature)
    names = compiled.get_signature_list()[signature]["inputs"]
    for buf, name in zip(inputs, names):  # noqa: B905 (Python 3.9: no strict=)
        d = details[name]
        buf.write(np.zeros([max(1, int(s)) for s in d["shape"]], dtype=np.dtype(d["dtype"])))
    for _ in range(PROBE_RUNS):
        compiled.run_by_index(0, inputs, outputs)
    steady = snapshot()
    grew = {k: round(steady[k] - before[k], 2) if None not in (steady[k], before[k]) else None
            for k in ("rss", "anon")}
    return {"model_mb": grew["rss"], "anon_mb": grew["anon"], "init_ms": round(init_ns / 1e6, 3)}


def _run_probe(model, threads, cache):
    argv = [sys.executable, sys.argv[0], PROBE_MODE, "--model", model, "--threads",
            str(threads)] + (["--cache", cache] if cache else [])
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=600)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER):])
            if data.get("error"):
                raise RuntimeError(data["error"])
            return data
    tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
    raise RuntimeError("the probe exited %d: %s" % (out.returncode, tail))


def measure_weight_cache(model, threads):
    """The weight cache's saving for ``model``: probes without a cache, building one, and
    loading it; {"error": why} where it cannot be measured (never fails the record)."""
    why = unavailable()
    if why:
        return {"error": why}
    folder = tempfile.mkdtemp(prefix="edgebench-weights-")
    cache = os.path.join(folder, "weights.xnnpack_cache")
    try:
        without = _run_probe(model, threads, None)
        built = _run_probe(model, threads, cache)
        loaded = _run_probe(model, threads, cache)
        cache_mb = round(os.path.getsize(cache) / 2.0 ** 20, 2) if os.path.exists(cache) else None
    except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return {"error": "the weight cache could not be measured: %s" % exc}
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def less(key):
        a, b = without.get(key), loaded.get(key)
        return None if a is None or b is None else round(a - b, 2)

    return {
        "api": "CompiledModel",
        "without_mb": without["model_mb"],
        "with_mb": loaded["model_mb"],
        "saved_mb": less("model_mb"),
        "anon_saved_mb": less("anon_mb"),
        "cache_mb": cache_mb,
        "init_ms_without": without["init_ms"],
        "init_ms_build": built["init_ms"],
        "init_ms_with": loaded["init_ms"],
        "error": None,
    }
