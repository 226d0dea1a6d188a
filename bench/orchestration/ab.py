"""``edgebench ab``: re-measure pairs of models side by side on one target until the paired
ratios say faster, slower or the same, or the budget is spent.

Time is measured by the runner's ``ab`` mode (:mod:`edgebench.bench.device.runner.ab`): both
models of a pair loaded in one process, invoked one call at a time in ABBA order, a few rounds
per process. Each pair gets many short processes, the order reversed from one to the next, so
what one process's memory layout or the load order costs a model averages out across processes
(docs/ab.md has the measurements behind this choice). The pairs of a job take turns, one
process each, so every pair sees the same hours of the machine, and the job as a whole keeps
to ``budget_s``. Instruction counts are :mod:`edgebench.bench.orchestration.ab_instructions`'.

Ctrl-C kills the runner (and, on a device, the processes in this job's work folder) and returns
what the rounds so far say, every undecided pair ``inconclusive``.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebench.bench.device.pack import runner_archive
from edgebench.bench.judgement.ab_result import AbPair, AbReport, PairResult, pair_files
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.judgement.ab_stats import Decision, decide, round_ratios
from edgebench.bench.judgement.compare_settings import Verdict
from edgebench.bench.orchestration.ab_flow import flow_round, open_flow
from edgebench.bench.orchestration.ab_instructions import (
    Counter,
    check_instructions,
    refuse_adb,
)
from edgebench.bench.orchestration.flows.base import Flow
from edgebench.bench.orchestration.flows.runner_flow import (
    describe_target,
    device_python,
    parse_runner_output,
)
from edgebench.deploy import Target, TargetError, target_for, target_scheme
from edgebench.errors import EdgebenchError
from edgebench.records import DeviceInfo

Progress = Callable[[str], None]

#: rounds one runner process measures, and how long each lasts: 4 x 0.25 s keeps a process
#: near 1.5 s with its start, so a pair has many processes (what varies between processes
#: is sampled) and a verdict is checked every 1.5 s
ROUNDS_PER_PROCESS = 4
ROUND_S = 0.25
#: the least wall time one round of one pair takes on the development VM: a runner process
#: (~1.5 s with Python's start) for time; four valgrind processes for instructions
ROUND_FLOOR_S = {"time": 2.0, "instructions": 60.0}
#: a .tflite file is a FlatBuffer whose identifier, at byte 4, is TFL3
TFLITE_ID = b"TFL3"


class AbError(EdgebenchError):
    """An A/B measurement that cannot run as asked; the message names the fix."""


@dataclass
class _State:
    """One pair's rounds so far."""

    pair: AbPair
    rounds: list[list[float]] = field(default_factory=list)
    wall_s: float = 0.0
    processes: int = 0
    decision: Decision | None = None

    @property
    def done(self) -> bool:
        return self.decision is not None and self.decision.verdict is not None


def check_model_file(path: Path) -> None:
    """A path that is not a readable TFLite file is refused before anything runs."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise AbError(f"{path}: {exc.strerror}; pass a .tflite file") from None
    if head[4:8] != TFLITE_ID:
        raise AbError(f"{path} fails to load: it is not a TFLite model (no TFL3 identifier); "
                      "pass a .tflite file")


def check_job(pairs: Sequence[AbPair], settings: AbSettings) -> None:
    """Refuse, before anything runs, what cannot work: unreadable models, a budget too small
    for one round of every pair, instructions where valgrind cannot count."""
    if not pairs:
        raise AbError("nothing to compare: no model is in both BASE and CURRENT")
    for pair in pairs:
        check_model_file(pair.base)
        check_model_file(pair.current)
    need = ROUND_FLOOR_S[settings.measure] * len(pairs)
    if settings.budget_s < need:
        raise AbError(
            f"--budget-s {settings.budget_s:g} is too small for one round of {len(pairs)} "
            f"pair(s) measured by {settings.measure} (about {need:g} s); raise --budget-s")
    if settings.measure == "instructions":
        refuse_adb(settings.target)


def ab_argv(python: str, runner: str, base: str, current: str, s: AbSettings,
            reverse: bool) -> list[str]:
    """The runner command that measures one process's rounds of one pair."""
    argv = [python, runner, "ab", "--model", base, "--model", current,
            "--rounds", str(ROUNDS_PER_PROCESS), "--round-s", f"{ROUND_S:g}",
            "--threads", str(s.threads)]
    if not s.xnnpack:
        argv.append("--no-xnnpack")
    if reverse:
        argv.append("--reverse")
    return argv


Step = Callable[[_State], None]


def runner_step(target: Target, pairs: Sequence[AbPair], s: AbSettings) -> Step:
    """One runner process of a pair: ROUNDS_PER_PROCESS rounds, both models in it."""
    python = device_python(target)
    runner_path = runner_archive()
    remote = target.push([runner_path, *pair_files(pairs)])

    def step(state: _State) -> None:
        pair = state.pair
        argv = ab_argv(python, remote[runner_path], remote[pair.base], remote[pair.current], s,
                       reverse=state.processes % 2 == 1)
        res = target.run(argv, timeout_s=s.timeout_s)
        data = parse_runner_output(res.stdout)
        state.wall_s += res.seconds
        state.processes += 1
        if data is None or not data.get("ok"):
            lines = res.stderr.strip().splitlines() or ["no output"]
            why = (data or {}).get("error") or lines[-1]
            raise AbError(f"{pair.name}: a model fails to load on {target.address} ({why}); "
                          "check that both files are TFLite models this runtime can run")
        state.rounds.extend(data["rounds"])

    return step


def flow_step(flow: Flow) -> Step:
    """One round of a pair through the target's flow (benchmark_model): four processes."""

    def step(state: _State) -> None:
        started = time.monotonic()
        state.rounds.append(flow_round(flow, state.pair, reverse=state.processes % 2 == 1))
        state.processes += 1
        state.wall_s += time.monotonic() - started

    return step


def _result(state: _State, s: AbSettings, note: str | None) -> PairResult:
    d = state.decision
    ratios = tuple(round_ratios(state.rounds))
    base = [r[0] for r in state.rounds]
    cur = [r[1] for r in state.rounds]
    verdict = d.verdict if d is not None and d.verdict is not None else Verdict.INCONCLUSIVE
    return PairResult(
        pair=state.pair, measure="time", verdict=verdict,
        ratio=d.ratio if d else None, ci=d.ci if d else None, rounds=len(ratios),
        wall_s=round(state.wall_s, 2), threshold=s.band,
        base_value=_median_us(base), current_value=_median_us(cur), unit="us",
        ratios=ratios, note=None if verdict is not Verdict.INCONCLUSIVE else note)


def _median_us(ns: list[float]) -> float | None:
    if not ns:
        return None
    ordered = sorted(ns)
    return round(ordered[len(ordered) // 2] / 1000.0, 1)


def describe_progress(state: _State) -> str:
    d = state.decision
    if d is None:
        return f"ab {state.pair.name}: {len(state.rounds)} rounds"
    lo, hi = d.ci
    return (f"ab {state.pair.name}: {d.rounds} rounds, ratio {d.ratio:.3f} "
            f"[{lo:.3f}, {hi:.3f}]" + (f" -> {d.verdict.value}" if d.verdict else ""))


def kill_on_device(target: Target) -> None:
    """After Ctrl-C: stop the runner processes of this job's work folder on a device (the
    local ones are killed with their process group)."""
    target.kill()
    workdir = getattr(target, "workdir", None)
    if target_scheme(target.address) == "local" or not isinstance(workdir, str):
        return
    try:
        target.run(["sh", "-c", f"pkill -f -- {shlex.quote(workdir)} || true"], timeout_s=30)
    except TargetError:
        pass


def _time_pairs(target: Target, pairs: Sequence[AbPair], s: AbSettings, progress: Progress,
                start: float, step: Step) -> tuple[list[PairResult], bool]:
    states = [_State(p) for p in pairs]
    interrupted = False
    note = "the budget ran out before the interval left the ±threshold band or settled in it"
    try:
        while True:
            live = [st for st in states if not st.done and len(st.rounds) < s.max_rounds]
            if not live:
                break
            for st in live:
                if time.monotonic() - start + ROUND_FLOOR_S["time"] > s.budget_s:
                    raise _BudgetSpent
                step(st)
                st.decision = decide(round_ratios(st.rounds), s.band)
                progress(describe_progress(st))
    except _BudgetSpent:
        pass
    except KeyboardInterrupt:
        kill_on_device(target)
        interrupted = True
        note = "interrupted (Ctrl-C) after the rounds shown"
    return [_result(st, s, note) for st in states], interrupted


class _BudgetSpent(Exception):
    """The job's --budget-s would be passed by one more process."""


def run_ab(pairs: Sequence[AbPair], settings: AbSettings | None = None,
           progress: Progress | None = None, target: Target | None = None,
           options: Mapping[str, Any] | None = None) -> AbReport:
    """Measure every pair side by side on ``settings.target`` (opened with the transport's
    ``options``), or on the open ``target``, and return the verdicts. Raises AbError (one
    line) for what cannot run."""
    s = settings or AbSettings()
    check_job(pairs, s)
    say = progress or (lambda _msg: None)
    start = time.monotonic()
    own = target is None
    t = target or target_for(s.target, label="ab", **(options or {}))
    try:
        if s.measure == "instructions":
            check_instructions(t)
            results, interrupted = count_pair_results(t, pairs, s, say)
            device = t.describe()
        elif t.python is None:  # a phone: benchmark_model, one process a model
            flow, device = open_flow(t, pairs, s)
            results, interrupted = _time_pairs(t, pairs, s, say, start, flow_step(flow))
        else:
            device = _device(t, runner_archive())
            step = runner_step(t, pairs, s)
            results, interrupted = _time_pairs(t, pairs, s, say, start, step)
    finally:
        if own:
            t.cleanup()
    return AbReport(s.target, device, s.measure, tuple(results),
                    round(time.monotonic() - start, 2), interrupted)


def _device(target: Target, runner_path: Path) -> DeviceInfo:
    remote = target.push([runner_path])
    return describe_target(target, remote[runner_path])


def count_pair_results(target: Target, pairs: Sequence[AbPair], s: AbSettings,
                       progress: Progress) -> tuple[list[PairResult], bool]:
    """Instruction counts of every pair (deterministic: one count each)."""
    out: list[PairResult] = []
    try:
        counter = Counter(target, pairs, s)
        for pair in pairs:
            out.append(counter.pair(pair))
            r = out[-1]
            progress(f"ab {pair.name}: instructions ratio {r.ratio:.4f} -> {r.verdict.value}")
    except KeyboardInterrupt:
        kill_on_device(target)
        done = {r.pair for r in out}
        out += [PairResult(p, "instructions", Verdict.INCONCLUSIVE, None, None, 0, 0.0,
                           s.band, unit="instructions", note="interrupted (Ctrl-C)")
                for p in pairs if p not in done]
        return out, True
    return out, False
