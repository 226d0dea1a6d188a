"""The runner flow: the command line that measures one model on a device."""

import sys

from edgebench.bench.orchestration.flows import runner_flow
from edgebench.records import BenchSettings


def test_runner_argv_is_a_list_with_every_setting():
    s = BenchSettings(runs=7, warmup=2, threads=3, xnnpack=False, eval_limit=100)
    argv = runner_flow.runner_argv(sys.executable, "runner.py", "m.tflite", ["s0.npz", "s1.npz"],
                                   s)
    assert argv[:4] == [sys.executable, "runner.py", "run", "--model"]
    joined = " ".join(argv)
    for part in ("--runs 7", "--warmup 2", "--threads 3", "--no-xnnpack", "--eval s0.npz s1.npz",
                 "--eval-limit 100"):
        assert part in joined
