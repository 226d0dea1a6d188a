"""Evidence for a latency verdict: the spread learnt from a device's --repeats runs, the floor it
gives for any number of processes, the bootstrap interval over processes, and the verdicts
that follow. Synthetic and recorded samples only: which verdict is right must be known."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from history_helpers import make_record, make_results, process_record

from edgebench.bench.judgement.compare import compare_runs
from edgebench.bench.judgement.compare_settings import CompareSettings, Verdict
from edgebench.bench.judgement.evidence import (
    MIN_LEARNT_FLOOR,
    UNLEARNT_DRIFT_FLOOR,
    bootstrap_ratio_ci,
    learn_spread,
)
from edgebench.bench.judgement.history import append_results
from edgebench.bench.judgement.latency import latency_change
from edgebench.bench.judgement.run_refs import comparisons_for
from edgebench.records import Record

# Per-process medians (µs) recorded on the development VM (load average 14.5): the three tiny
# models benched twice with --repeats 7. One process of tiny_dynamic ran 1.58x slow.
RECORDED = [
    [28.1, 28.0, 28.2, 28.1, 28.1, 28.1, 28.1],
    [23.1, 23.2, 23.0, 23.9, 22.9, 23.1, 22.9],
    [71.4, 71.3, 71.4, 71.4, 71.4, 71.5, 71.4],
    [28.1, 28.6, 28.1, 28.1, 28.1, 28.1, 28.3],
    [23.1, 23.1, 22.9, 23.0, 36.3, 22.9, 22.9],
    [71.3, 71.3, 71.4, 72.0, 71.4, 71.6, 71.4],
]


def single(variant: str, median: float, seed: int) -> Record:
    return make_record(variant, median, seed=seed, processes=1)


def test_a_spread_needs_enough_repeated_processes():
    assert learn_spread([[10.0, 10.1, 9.9]] * 4) is None  # 12 processes: too few
    assert learn_spread([[10.0, 10.1]] * 20) is None  # a median of two teaches nothing
    spread = learn_spread(RECORDED)
    assert spread.n_processes == 42 and spread.n_records == 6
    assert spread.worst_ratio == pytest.approx(36.3 / 23.0, rel=0.01)


def test_the_floor_shrinks_with_processes_and_never_drops_below_the_drift_floor():
    spread = learn_spread(RECORDED)
    one, five = spread.floor(1, 1), spread.floor(5, 5)
    assert one > 0.5  # the one slow process alone moves a pair by 1.58x
    assert five == UNLEARNT_DRIFT_FLOOR  # medians of five agree; the drift floor is what holds
    # re-benches of unchanged files that agree teach a small drift: the floor may go lower
    rebenched = [(f"m{i % 4}", [50.0 + 0.1 * (i % 3)] * 5) for i in range(24)]
    quiet = learn_spread(RECORDED + [m for _, m in rebenched], rebenched)
    assert len(quiet.log_drifts) == 24
    assert MIN_LEARNT_FLOOR <= quiet.floor(5, 5) < UNLEARNT_DRIFT_FLOOR
    assert quiet.floor(1, 1) > quiet.floor(5, 5)
    # too few re-benches are not trusted
    few = learn_spread(RECORDED, rebenched[:8])
    assert few.log_drifts == () and few.floor(5, 5) == UNLEARNT_DRIFT_FLOOR


def test_bootstrap_interval_over_processes():
    assert bootstrap_ratio_ci([10.0], [20.0, 21.0]) is None  # nothing to resample on one side
    low, high = bootstrap_ratio_ci([10.0, 10.2, 9.9, 10.1, 10.0], [20.1, 19.8, 20.0, 20.3, 20.2])
    assert 1.9 < low <= high < 2.1
    low, high = bootstrap_ratio_ci([10.0, 10.2, 9.9, 10.1, 10.0], [10.1, 9.9, 16.0, 10.0, 10.2])
    assert low < 1.0 < high  # one slow process of five: the interval still holds 1
    again = bootstrap_ratio_ci([10.0, 10.2, 9.9, 10.1, 10.0], [10.1, 9.9, 16.0, 10.0, 10.2])
    assert again == (low, high)  # deterministic: the same records give the same interval


def test_single_process_pairs_are_inconclusive_without_a_learnt_spread():
    """The 0.47x and 1.95x that two single-process benches of the same files gave on the VM:
    no verdict, and the note says what would give one."""
    for ratio in (0.47, 1.65, 1.95, 5.0):
        base, cur = single("m", 10.0, 1), single("m", 10.0 * ratio, 2)
        lat = latency_change(base, cur, CompareSettings())
        assert lat.verdict is Verdict.INCONCLUSIVE, ratio
        assert lat.floor is None and lat.ci95 is None
        assert "--repeats" in lat.why_inconclusive
    same = latency_change(single("m", 10.0, 1), single("m", 10.3, 2), CompareSettings())
    assert same.verdict is Verdict.SAME


def test_single_process_pairs_get_a_verdict_beyond_the_learnt_spread():
    spread = learn_spread(RECORDED)
    floor = spread.floor(1, 1)
    base = single("m", 10.0, 1)
    beyond = latency_change(base, single("m", 10.0 * (1 + floor) * 1.2, 2), CompareSettings(),
                            spread)
    assert beyond.verdict is Verdict.SLOWER and beyond.floor_source == "learnt"
    within = latency_change(base, single("m", 10.0 * (1 + floor) * 0.9, 2), CompareSettings(),
                            spread)
    assert within.verdict is Verdict.INCONCLUSIVE
    # --min-effect cannot lower a single-process floor below the learnt spread
    low = CompareSettings(min_effect=0.05)
    assert latency_change(base, single("m", 13.0, 2), low, spread).verdict is not Verdict.SLOWER


def test_compare_learns_the_spread_from_the_history(tmp_path):
    """Repeated nightly runs teach the device's spread; then a single-process run that is 5x
    slower is `slower`, one 1.15x slower is `same`, and one 3x faster is `faster`."""
    path = tmp_path / "h.sqlite"
    for i in range(1, 4):
        recs = [make_record(f"v{k}", 20.0 * (k + 1), seed=10 * i + k) for k in range(3)]
        append_results(path, [make_results(f"run{i:02d}", recs)])
    base = [single(f"v{k}", 20.0 * (k + 1), 90 + k) for k in range(3)]
    cur = [single("v0", 100.0, 95), single("v1", 46.0, 96), single("v2", 20.0, 97)]
    append_results(path, [make_results("run04", base)])
    append_results(path, [make_results("run05", cur)])
    (cmp,) = comparisons_for(path, None, None, None, CompareSettings())
    assert cmp.spread is not None and cmp.spread.n_processes >= 45
    assert cmp.change("v0").latency.verdict is Verdict.SLOWER
    assert cmp.change("v1").latency.verdict is Verdict.SAME
    assert cmp.change("v2").latency.verdict is Verdict.FASTER
    assert cmp.regressed == ("v0",)
    # the same pair with nothing learnt: no verdict either way
    plain = compare_runs(make_results("run04", base), make_results("run05", cur))
    assert plain.spread is None
    assert plain.change("v0").latency.verdict is Verdict.INCONCLUSIVE


def test_repeated_pairs_report_their_interval_and_floor():
    base, cur = make_record("m", 100.0, seed=1), make_record("m", 180.0, seed=2)
    lat = latency_change(base, cur, CompareSettings())
    assert lat.verdict is Verdict.SLOWER and lat.processes == (5, 5)
    assert lat.ci95[0] > 1.0 and lat.ci95[0] <= lat.ratio <= lat.ci95[1]
    assert lat.floor == pytest.approx(0.25) and lat.floor_source == "default"


def test_one_slow_process_of_five_keeps_a_real_move_inconclusive_not_slower():
    """A 1.3x move whose processes disagree (one at 1.0x, one at 1.9x): the interval over
    processes includes 1, so the floor alone does not make it `slower`."""

    base = process_record([10.0, 10.1, 10.0, 9.9, 10.05])
    mixed = process_record([10.0, 13.0, 13.2, 19.0, 13.1])
    lat = latency_change(base, mixed, CompareSettings())
    assert lat.ratio == pytest.approx(1.31, abs=0.01)
    assert lat.ci95[0] <= 1.0 and lat.verdict is Verdict.INCONCLUSIVE


def test_gate_latency_rule_passes_inconclusive_changes_and_says_so():
    from edgebench.bench.judgement.gate_rules import RegressionRule

    rule = RegressionRule("*", "max_latency_regression", 0.10)
    base, cur = single("m", 10.0, 1), single("m", 19.0, 2)
    check = rule.check(cur, base, "local", 0.01)
    assert check.passed and check.skipped and check.reason.startswith("inconclusive")
    repeated = rule.check(make_record("m", 19.0, seed=2), make_record("m", 10.0, seed=1),
                          "local", 0.01)
    assert not repeated.passed and not repeated.skipped


def test_process_medians_come_from_make_record_chunks():
    rec = make_record("m", 50.0, seed=3, processes=4)
    assert len(rec.extra["process_p50_us"]) == 4
    assert np.median(rec.extra["process_p50_us"]) == pytest.approx(50.0, rel=0.05)
    assert dataclasses.replace(rec, extra={}).extra == {}


def test_a_gate_limit_below_the_noise_floor_cannot_fail_on_noise():
    """max_latency_regression = 10% on a device whose drift is not learnt: a 15% move of five
    processes is over the limit but within the 25% floor, so it passes as inconclusive; 40%
    fails, and the reason names whose floor held."""
    from edgebench.bench.judgement.gate_rules import RegressionRule

    rule = RegressionRule("*", "max_latency_regression", 0.10)
    base = make_record("m", 100.0, seed=1)
    moved = rule.check(make_record("m", 115.0, seed=2), base, "local", 0.01)
    assert moved.passed and moved.skipped
    assert moved.reason == "inconclusive: +15% is within the floor ±25% (this device's noise)"
    worse = rule.check(make_record("m", 140.0, seed=2), base, "local", 0.01)
    assert not worse.passed and "floor ±25% (this device's noise)" in worse.reason
    strict = RegressionRule("*", "max_latency_regression", 0.30)
    held = strict.check(make_record("m", 140.0, seed=2), base, "local", 0.01)
    assert not held.passed and "floor ±30% (the rule's limit)" in held.reason
