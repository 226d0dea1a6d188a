"""The A/B verdict from paired ratios: asserted on ratios recorded by ``edgebench ab`` on the
development VM (tests/fixtures/ab/recorded_ratios.json), never on live timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgebench.bench.judgement.ab_stats import (
    MIN_ROUNDS,
    decide,
    exact_decision,
    median_ratio_ci,
    round_ratios,
    verdict_of,
    within,
)
from edgebench.bench.judgement.compare_settings import Verdict

RECORDED = json.loads(
    (Path(__file__).parent / "fixtures" / "ab" / "recorded_ratios.json").read_text())


def first_verdict(ratios: list[float], threshold: float = 0.05) -> tuple[Verdict | None, int]:
    """What sequential stopping concludes, checking after each process (4 rounds) as the
    engine does, and at how many rounds."""
    for n in range(4, len(ratios) + 1, 4):
        d = decide(ratios[:n], threshold)
        if d.verdict is not None:
            return d.verdict, n
    return None, len(ratios)


@pytest.mark.parametrize(("pair", "want"), [("copy", Verdict.SAME), ("1.2x", Verdict.SLOWER),
                                            ("1.1x", Verdict.SLOWER)])
def test_recorded_pairs_get_their_verdict_at_the_first_check(pair, want) -> None:
    verdict, rounds = first_verdict(RECORDED[pair])
    assert verdict is want
    assert rounds == MIN_ROUNDS  # these decided as early as allowed


def test_the_same_ratios_inverted_are_faster() -> None:
    verdict, _ = first_verdict([1 / r for r in RECORDED["1.2x"]])
    assert verdict is Verdict.FASTER


def test_a_threshold_at_the_true_ratio_never_decides() -> None:
    """1.1x judged against ±10%: the interval straddles the band's edge in every prefix."""
    verdict, rounds = first_verdict(RECORDED["1.1x"], threshold=0.10)
    assert verdict is None and rounds == len(RECORDED["1.1x"])


def test_no_verdict_before_the_minimum_rounds() -> None:
    assert decide(RECORDED["1.2x"][: MIN_ROUNDS - 1], 0.05).verdict is None


def test_the_interval_is_reproducible_and_holds_the_median() -> None:
    a = median_ratio_ci(RECORDED["copy"])
    assert a == median_ratio_ci(RECORDED["copy"])
    ratio, low, high = a
    assert low <= ratio <= high
    assert high - low < 0.05


@pytest.mark.parametrize(("ci", "want"), [
    ((1.06, 1.2), Verdict.SLOWER), ((0.8, 0.95), Verdict.FASTER), ((0.97, 1.04), Verdict.SAME),
    ((1.0, 1.06), None), ((0.9, 1.1), None)])
def test_verdict_of_an_interval(ci, want) -> None:
    assert verdict_of(ci, 0.05) is want


def test_an_exact_count_is_its_own_interval() -> None:
    d = exact_decision(41_900_000, 50_280_000, 0.01)
    assert d.ci == (d.ratio, d.ratio) and d.verdict is Verdict.SLOWER
    assert exact_decision(1000, 1004, 0.01).verdict is Verdict.SAME


def test_round_ratios_and_the_same_band_in_words() -> None:
    assert round_ratios([[100.0, 120.0], [200.0, 200.0]]) == [1.2, 1.0]
    assert within(0.05) == "within ±5%"
