"""Benchmark: the model's memory as edgebench records it (``rss_mb.model``) against a bare
LiteRT process, for two float32 MLPs with 4 MiB and 16 MiB of weights (1 and 4 Dense
1024x1024 layers without bias, built here with TensorFlow, never committed).

    tox -e bench -- -k model_memory

The bare process imports the interpreter and numpy, makes its input, reads VmRSS, loads the
model, invokes it 20 times and reads VmRSS again: the issue's "RSS after 20 invokes minus RSS
before the load". ``edgebench bench`` runs as a user runs it (its own process, the runner in
one process a model) with ``--warmup 19``, so its steady figure is after 20 invokes too. Both
sides run in the same test, interleaved, on the same machine.

With ``--xnnpack-weight-cache`` the same bench measures what XNNPACK's weight cache saves
(through CompiledModel): at least 90% of the float weights, the packed copy it maps from a file
instead of keeping in anonymous memory.

It fails when ``rss_mb.model`` strays from the bare figure by more than 1.5 MiB or 5%
(:data:`TOLERANCE_MB`, :data:`TOLERANCE_SHARE`), when the runner's own memory before the load
exceeds the bare process's by more than :data:`MAX_RUNNER_OWN_MB` (the runner grew an import
that belongs elsewhere), or when the anonymous memory the model adds is smaller than its float
weights: XNNPACK keeps a packed copy of them, which the docs explain
(docs/memory-sustained-energy.md); if that ever stops, the docs must change.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import edgebench_process

from edgebench.records import Results

LAYERS = {"mlp-4mib": 1, "mlp-16mib": 4}  # Dense 1024x1024 float32: 4 MiB of weights each
TOLERANCE_MB = 1.5
TOLERANCE_SHARE = 0.05
#: The runner's memory before the load against a bare process's: measured 2.0 MiB on the
#: development VM (numpy's random generator, the runner's modules, its JSON); 8 leaves room
#: for another numpy or runtime, not for an import of something big.
MAX_RUNNER_OWN_MB = 8.0
BARE_ROUNDS = 3

BARE = """
import json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0

x = np.random.default_rng(0).random((1, 1024)).astype(np.float32)
before = rss_mb()
interp = Interpreter(model_path=sys.argv[1], num_threads=1)
interp.allocate_tensors()
interp.set_tensor(interp.get_input_details()[0]["index"], x)
for _ in range(20):
    interp.invoke()
print(json.dumps({"before": before, "after": rss_mb()}))
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from edgebench.build._tf import import_tf

    tf, _, _ = import_tf()
    keras = tf.keras
    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("mlps")
    out = {}
    for name, layers in LAYERS.items():
        model = keras.Sequential([keras.layers.InputLayer(input_shape=(1024,))]
                                 + [keras.layers.Dense(1024, use_bias=False)
                                    for _ in range(layers)])
        path = folder / f"{name}.tflite"
        path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        out[name] = path
    return out


def bare(path: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", BARE, str(path)], capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def edgebench_bench(paths: list[Path], out: Path) -> Results:
    run = edgebench_process("bench", *paths, "--runs", "20", "--warmup", "19", "--repeats", "1",
                            "--xnnpack-weight-cache", "--out", out, "--no-history",
                            "--run", "memory")
    assert run.code == 0, run.err
    return Results.load(out / "memory" / "results-local.json")


def test_model_memory_matches_a_bare_litert_process(benchmark, models, tmp_path) -> None:
    bare_runs = {name: [bare(path)] for name, path in models.items()}
    res = benchmark.pedantic(edgebench_bench, args=(list(models.values()), tmp_path / "out"),
                             rounds=1, iterations=1)
    for _ in range(BARE_ROUNDS - 1):  # after the bench too: both sides see the same machine
        for name, path in models.items():
            bare_runs[name].append(bare(path))
    lines, info = [], {}
    for name, rec in zip(models, res.records, strict=True):
        rss = rec.rss_mb
        bare_model = statistics.median(r["after"] - r["before"] for r in bare_runs[name])
        bare_before = statistics.median(r["before"] for r in bare_runs[name])
        weights_mib = LAYERS[name] * 4.0
        runner_own = rss.before - bare_before
        cache = rec.weight_cache
        info[name] = {"model_mb": rss.model, "bare_mb": round(bare_model, 2),
                      "weight_cache_saved_mb": cache.saved_mb,
                      "compiled_model_mb": cache.without_mb, "with_cache_mb": cache.with_mb,
                      "model_file_mb": rss.model_file, "model_anon_mb": rss.model_anon,
                      "runner_before_mb": rss.before, "bare_before_mb": round(bare_before, 2),
                      "peak_mb": rss.peak, "pss_mb": rss.pss, "uss_mb": rss.uss}
        lines.append(
            f"{name}: rss_mb.model {rss.model:.2f} MiB, bare {bare_model:.2f} MiB "
            f"(mapped file {rss.model_file:.2f}, anonymous {rss.model_anon:.2f}); runner before "
            f"the load {rss.before:.2f} MiB, bare {bare_before:.2f}; peak {rss.peak:.2f}, "
            f"PSS {rss.pss:.2f}, USS {rss.uss:.2f}; weight cache (CompiledModel) "
            f"{cache.without_mb:.2f} -> {cache.with_mb:.2f} MiB, saves {cache.saved_mb:.2f}")
        allowed = max(TOLERANCE_MB, TOLERANCE_SHARE * bare_model)
        assert abs(rss.model - bare_model) <= allowed, (
            f"{name}: rss_mb.model {rss.model:.2f} MiB against a bare process's "
            f"{bare_model:.2f} MiB (allowed ±{allowed:.2f})")
        assert runner_own <= MAX_RUNNER_OWN_MB, (
            f"{name}: the runner holds {runner_own:.2f} MiB more than a bare process before "
            f"the load (limit {MAX_RUNNER_OWN_MB})")
        assert rss.model_file == pytest.approx(weights_mib, abs=0.1)
        assert rss.model_anon >= 0.95 * weights_mib, (
            f"{name}: {rss.model_anon:.2f} MiB of anonymous memory for {weights_mib} MiB of "
            "float weights: XNNPACK no longer keeps a packed copy? update the docs")
        assert cache.error is None and cache.saved_mb >= 0.9 * weights_mib, cache
    benchmark.extra_info.update(info)
    print("\n" + "\n".join(lines))
