"""Benchmark (pytest-benchmark, not a timed test): the runner's timing overhead.

    pytest tests/test_bench_overhead.py --benchmark-enable --benchmark-columns=median,iqr,rounds

compares, on the same model in the same process, a bare ``invoke()`` against the runner's
timed step (clock, invoke, clock, append), and records the full runner's own p50 for the
same model in ``extra_info``. In the normal suite (benchmarks disabled) each runs once.
"""

import argparse
import time
from pathlib import Path

import pytest

from edgebench.bench import runner
from edgebench.records import LatencyStats

MODEL = Path(__file__).parent / "fixtures" / "tiny_float32.tflite"


@pytest.fixture(scope="module")
def interp():
    it = runner.make_interpreter(str(MODEL), threads=1, xnnpack=True)
    for index, arr in runner.random_inputs(it, __import__("numpy").random.default_rng(0)):
        it.set_tensor(index, arr)
    for _ in range(50):
        it.invoke()
    return it


@pytest.mark.benchmark(group="runner-overhead")
def test_bare_invoke(benchmark, interp):
    benchmark.pedantic(interp.invoke, rounds=2000, iterations=1, warmup_rounds=50)
    assert benchmark.stats is None or benchmark.stats.stats.median > 0


@pytest.mark.benchmark(group="runner-overhead")
def test_runner_timed_step(benchmark, interp):
    samples = []
    clock = time.perf_counter_ns
    invoke = interp.invoke

    def step():  # exactly the runner's inner loop body
        t = clock()
        invoke()
        samples.append(clock() - t)

    benchmark.pedantic(step, rounds=2000, iterations=1, warmup_rounds=50)
    assert samples and min(samples) > 0


@pytest.mark.benchmark(group="runner-overhead")
def test_runner_measure_p50(benchmark):
    args = argparse.Namespace(
        model=str(MODEL), eval=None, runs=2000, warmup=50, threads=1, xnnpack=True,
        eval_batch=256, eval_limit=0, seed=0,
    )
    rec = benchmark.pedantic(runner.measure, args=(args,), rounds=1, iterations=1)
    stats = LatencyStats.from_samples(rec["samples_ns"])
    benchmark.extra_info["runner_p50_us"] = stats.p50
    benchmark.extra_info["runner_rss_before_mb"] = rec["rss_mb"]["before"]
    assert stats.n == 2000 and stats.p50 > 0
