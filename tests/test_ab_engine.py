"""The A/B engine's schedule, stopping and refusals, on a stand-in target that replays recorded
runner output (tests/fixtures/ab/recorded_ratios.json): what it decides is asserted on
recorded samples, never on live timing. One live run checks the plumbing, not the verdict."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from edgebench.bench.device.runner.cli import MARKER
from edgebench.bench.judgement.ab_result import AbPair
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.judgement.ab_stats import MIN_ROUNDS
from edgebench.bench.judgement.compare_settings import Verdict
from edgebench.bench.orchestration.ab import ROUNDS_PER_PROCESS, AbError, run_ab
from edgebench.deploy import CommandResult, Target
from edgebench.records import DeviceInfo

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = json.loads((FIXTURES / "ab" / "recorded_ratios.json").read_text())
BASE, CURRENT = FIXTURES / "conv5_float32.tflite", FIXTURES / "conv6_float32.tflite"
INFO = {"runtime_name": "ai-edge-litert", "runtime_version": "2.3.0", "extra": {}}


class ReplayTarget(Target):
    """A target whose runner answers ``ab`` with recorded ratios, 4 rounds a process."""

    def __init__(self, ratios: Sequence[float], *, fail: bool = False,
                 interrupt_at: int | None = None, seconds: float = 0.0) -> None:
        super().__init__("local", python="python3")
        self.ratios = list(ratios)
        self.fail, self.interrupt_at, self.seconds = fail, interrupt_at, seconds
        self.calls: list[list[str]] = []
        self.killed = False

    def push(self, paths: Sequence[Path]) -> dict[Path, str]:
        return {Path(p): f"/work/{Path(p).name}" for p in paths}

    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        argv = [str(a) for a in argv]
        if "info" in argv:
            return self._answer(argv, INFO)
        self.calls.append(argv)
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        time.sleep(self.seconds)
        if self.fail:
            return self._answer(argv, {"ok": False, "status": "failed", "error_kind": "input",
                                       "error": "Could not open 'm.tflite'"}, 1)
        take, self.ratios = self.ratios[:ROUNDS_PER_PROCESS], self.ratios[ROUNDS_PER_PROCESS:]
        rounds = [[1000.0, 1000.0 * r] for r in take]
        return self._answer(argv, {"ok": True, "rounds": rounds, "invokes_per_round": 20})

    def _answer(self, argv: list[str], data: dict, code: int = 0) -> CommandResult:
        return CommandResult(tuple(argv), code, MARKER + json.dumps(data) + "\n", "", 0.01)

    def kill(self) -> None:
        self.killed = True

    def fetch(self, remote: str, local: Path) -> Path:
        raise NotImplementedError

    def describe(self) -> DeviceInfo:
        return DeviceInfo(hostname="replay")

    def cleanup(self) -> None:
        pass


def one(target: ReplayTarget, settings: AbSettings | None = None, lines: list | None = None):
    report = run_ab([AbPair("conv", BASE, CURRENT)], settings or AbSettings(),
                    progress=(lines.append if lines is not None else None), target=target)
    return report, report.results[0]


def test_a_recorded_regression_stops_slower_after_the_minimum_rounds() -> None:
    lines: list[str] = []
    target = ReplayTarget(RECORDED["1.2x"])
    report, r = one(target, lines=lines)
    assert r.verdict is Verdict.SLOWER and r.rounds == MIN_ROUNDS
    assert 1.15 < r.ratio < 1.25 and r.ci[0] > 1.05
    assert len(target.calls) == MIN_ROUNDS // ROUNDS_PER_PROCESS
    # the order alternates from one process to the next (ABBA, BAAB, ABBA)
    assert ["--reverse" in c for c in target.calls] == [False, True, False]
    assert lines[-1].endswith("-> slower") and "ratio" in lines[-1]
    assert report.regressed == ("conv",) and not report.interrupted


def test_a_recorded_copy_is_the_same_within_the_threshold() -> None:
    _, r = one(ReplayTarget(RECORDED["copy"]))
    assert r.verdict is Verdict.SAME and r.threshold == 0.05


def test_undecided_at_the_round_budget_is_inconclusive() -> None:
    _, r = one(ReplayTarget(RECORDED["1.1x"]), AbSettings(threshold=0.10, max_rounds=20))
    assert r.verdict is Verdict.INCONCLUSIVE and r.rounds == 20
    assert "budget" in (r.note or "")


def test_the_time_budget_stops_the_job() -> None:
    target = ReplayTarget(RECORDED["1.1x"], seconds=0.4)
    _, r = one(target, AbSettings(threshold=0.10, budget_s=3.0))
    assert r.verdict is Verdict.INCONCLUSIVE
    assert 1 <= len(target.calls) <= 3


def test_ctrl_c_reports_the_rounds_done_as_inconclusive_and_kills_the_runner() -> None:
    target = ReplayTarget(RECORDED["1.2x"], interrupt_at=2)
    report, r = one(target)
    assert report.interrupted and target.killed
    assert r.verdict is Verdict.INCONCLUSIVE and r.rounds == ROUNDS_PER_PROCESS
    assert "interrupted" in (r.note or "")


def test_a_model_that_fails_to_load_is_one_error() -> None:
    with pytest.raises(AbError, match="fails to load"):
        one(ReplayTarget([], fail=True))


def test_pairs_of_a_manifest_take_turns() -> None:
    target = ReplayTarget(RECORDED["1.2x"] * 2)
    pairs = [AbPair("a", BASE, CURRENT), AbPair("b", CURRENT, BASE)]
    run_ab(pairs, AbSettings(max_rounds=12), target=target)
    models = [c[c.index("--model") + 1] for c in target.calls]
    assert models[:2] == ["/work/conv5_float32.tflite", "/work/conv6_float32.tflite"]
