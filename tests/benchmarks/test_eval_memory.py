"""Benchmark: the runner's peak memory while it evaluates 10,000 images of 224x224x3 against
100 of them. The evaluation shards are streamed one at a time, so the peak must not grow with
the test set.

    tox -e bench -- -k eval_memory        (writes ~1.5 GB of shards to a temporary folder)

Each evaluation runs ``runner.pyz run`` in a process of its own, as on a device, and the peak
is that process's VmHWM after the evaluation, as the runner reports it (``rss_mb.eval_peak``).
The test fails when the 10,000-image peak exceeds the 100-image peak by more than
:data:`MAX_GROWTH`. Before the shards the runner loaded the whole eval.npz: 1,517 MB at 10,000
images against 96 MB at 100 (measured while designing the shards, on the development VM).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgebench.bench.device.pack import runner_archive
from edgebench.bench.device.runner.cli import MARKER
from edgebench.bench.device.shards import write_eval_data

MODEL = Path(__file__).parents[1] / "fixtures" / "tiny224_float32.tflite"
SIZES = (100, 10_000)
MAX_GROWTH = 1.10  # the bound: within 10% of the peak at 100 images
CHUNK = 500  # images generated at a time, so the writer never holds the whole set either


def write_shards(folder: Path, n: int) -> list[str]:
    """n random 224x224x3 uint8 images, labels and reference outputs, as evaluation shards,
    through a memmap (the writer slices it shard by shard)."""
    rng = np.random.default_rng(n)
    images = np.lib.format.open_memmap(folder.with_suffix(".npy"), mode="w+", dtype=np.uint8,
                                       shape=(n, 224, 224, 3))
    for s in range(0, n, CHUNK):
        images[s:s + CHUNK] = rng.integers(0, 256, (min(CHUNK, n - s), 224, 224, 3), np.uint8)
    images.flush()
    labels = rng.integers(0, 10, n)
    reference = {"scores": rng.random((n, 10), dtype=np.float32)}
    return write_eval_data(folder, {"image": images}, {"image": "unit"}, labels=labels,
                                  reference=reference, label_output="scores")


def peak_rss_mb(shards: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, str(runner_archive()), "run", "--model", str(MODEL), "--runs", "1",
         "--warmup", "0", "--eval-batch", "32", "--eval", *shards],
        capture_output=True, text=True, timeout=3600,
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)][-1]
    rec = json.loads(line[len(MARKER):])
    assert rec["status"] == "ok", rec
    return rec


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[str]]:
    root = tmp_path_factory.mktemp("eval-memory")
    return {n: write_shards(root / f"n{n}", n) for n in SIZES}


def test_streamed_evaluation_memory_does_not_grow_with_the_test_set(benchmark, shards) -> None:
    small = peak_rss_mb(shards[SIZES[0]])
    big = benchmark.pedantic(peak_rss_mb, args=(shards[SIZES[1]],), rounds=1, iterations=1)
    assert small["eval_n"] == SIZES[0] and big["eval_n"] == SIZES[1]
    assert big["fidelity"][0]["n"] == SIZES[1] and big["accuracy"] is not None
    small_mb, big_mb = small["rss_mb"]["eval_peak"], big["rss_mb"]["eval_peak"]
    ratio = big_mb / small_mb
    benchmark.extra_info.update(
        shards=len(shards[SIZES[1]]), peak_rss_mb_100=small_mb, peak_rss_mb_10000=big_mb,
        ratio=round(ratio, 3),
    )
    assert ratio <= MAX_GROWTH, (
        f"peak RSS {big_mb} MB at {SIZES[1]} images against {small_mb} MB at {SIZES[0]} "
        f"({ratio:.2f}x, limit {MAX_GROWTH}x)"
    )
