"""Benchmark: the runner's own timed loop against a bare ``invoke()`` loop, same process.

    tox -e bench        (pytest tests/benchmarks --benchmark-enable)

Collected only with benchmarks enabled (tests/conftest.py). pytest-benchmark times
``time_invokes`` (the loop ``runner.pyz run`` uses) and, interleaved with it in the same
test, a bare loop of ``invoke()`` calls over the same model; the test fails when the runner's
loop costs more than :data:`MAX_OVERHEAD` times the bare loop. Both sides see the same machine
at the same moment, so the ratio holds on a noisy machine where absolute times do not.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import pytest

from edgebench.bench.device.runner.measure import make_interpreter, random_inputs, time_invokes

MODEL = Path(__file__).parents[1] / "fixtures" / "tiny_float32.tflite"
CALLS = 200  # invoke() calls per round
ROUNDS = 200
#: The runner adds two clock reads and an append per call to a ~7 µs invoke(); measured 1.02×
#: on the development VM. 1.5× means the loop grew real work.
MAX_OVERHEAD = 1.5


@pytest.fixture(scope="module")
def interp():
    it, _ = make_interpreter(str(MODEL), threads=1, xnnpack=True)
    for index, arr in random_inputs(it, np.random.default_rng(0)):
        it.set_tensor(index, arr)
    for _ in range(200):
        it.invoke()
    return it


def bare_loop(invoke, calls: int) -> None:
    for _ in range(calls):
        invoke()


def test_runner_timed_loop_overhead(benchmark, interp) -> None:
    invoke = interp.invoke
    bare: list[int] = []

    def bare_round() -> None:
        # pytest-benchmark runs this untimed before every timed round, so the two loops
        # alternate and share whatever the machine is doing at that moment.
        t = time.perf_counter_ns()
        bare_loop(invoke, CALLS)
        bare.append(time.perf_counter_ns() - t)

    samples = benchmark.pedantic(
        time_invokes, args=(invoke, CALLS), setup=bare_round, rounds=ROUNDS,
        warmup_rounds=5,
    )
    assert len(samples) == CALLS and min(samples) > 0
    runner_median_ns = benchmark.stats.stats.median * 1e9
    bare_median_ns = statistics.median(bare[-ROUNDS:])  # without the warm-up rounds
    ratio = runner_median_ns / bare_median_ns
    benchmark.extra_info.update(
        bare_invoke_ns=round(bare_median_ns / CALLS, 1),
        runner_step_ns=round(runner_median_ns / CALLS, 1),
        overhead_ratio=round(ratio, 3),
    )
    print(f"\nrunner overhead: {ratio:.3f}x a bare invoke() loop "
          f"({runner_median_ns / CALLS:,.0f} ns against {bare_median_ns / CALLS:,.0f} ns a call)")
    assert ratio < MAX_OVERHEAD, (
        f"the runner's timed loop costs {ratio:.2f}x a bare invoke() loop (limit {MAX_OVERHEAD}x)"
    )
