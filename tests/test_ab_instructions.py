"""``--measure instructions``: valgrind's per-invoke instruction counts are deterministic, so
these tests assert verdicts and ratios on live counts. They need valgrind (.ci/run installs it)
and take about a minute each on the 2-core VM, so they are in the slow tier, which CI runs."""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace

import pytest
from history_helpers import FIXTURES

from edgebench.bench.judgement.ab_result import AbPair
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.judgement.compare_settings import Verdict
from edgebench.bench.orchestration.ab import run_ab
from edgebench.bench.orchestration.ab_instructions import (
    INVOKES,
    count_argv,
    parse_irefs,
)
from edgebench.deploy import SshTarget

CONV5, CONV6 = FIXTURES / "conv5_float32.tflite", FIXTURES / "conv6_float32.tflite"
INSTRUCTIONS = AbSettings(measure="instructions")


def test_the_count_command_quiets_what_varies_between_runs() -> None:
    a = count_argv("python3", "/w/01-r.pyz", "/w/02-a.tflite", INVOKES, INSTRUCTIONS, True)
    b = count_argv("python3", "/w/01-r.pyz", "/w/03-model_b.tflite", INVOKES, INSTRUCTIONS, True)
    assert a[:4] == b[:4] and a[-2:] == b[-2:] == ["python3", "01-r.pyz"]  # only $1 differs
    script = a[2]
    for part in ("setarch -R", "env -i", "PYTHONHASHSEED=0", "OPENBLAS_NUM_THREADS=1",
                 "--cache-sim=no", f"--invokes {INVOKES} --threads 1"):
        assert part in script


def test_valgrinds_summary_is_read() -> None:
    text = "==12== Cachegrind, a cache profiler\n==12== \n==12== I   refs:      41,912,345\n"
    assert parse_irefs(text) == 41_912_345
    assert parse_irefs("no summary") is None


@pytest.mark.slow
def test_a_one_more_layer_pair_is_slower_and_a_copy_the_same(tmp_path) -> None:
    copy = tmp_path / "conv5_copy.tflite"
    shutil.copyfile(CONV5, copy)
    report = run_ab([AbPair("6 layers", CONV5, CONV6), AbPair("copy", CONV5, copy)],
                    INSTRUCTIONS)
    heavier, same = report.results
    # 6 identical layers against 5: 1.2x the convolutions, less the invoke's fixed cost
    assert heavier.verdict is Verdict.SLOWER and 1.19 <= heavier.ratio <= 1.21
    # the same bytes counted in other processes: deterministic to well within 0.1%
    assert same.verdict is Verdict.SAME and abs(same.ratio - 1) < 0.001


@pytest.mark.slow
def test_instructions_over_ssh(sshd) -> None:
    with SshTarget(sshd.address, python=sys.executable, **sshd.options()) as t:
        report = run_ab([AbPair("6 layers", CONV5, CONV6)], replace(
            INSTRUCTIONS, target=sshd.address), target=t)
    (r,) = report.results
    assert r.verdict is Verdict.SLOWER and 1.19 <= r.ratio <= 1.21
    assert sshd.leftovers() == []
