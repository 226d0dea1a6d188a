"""A/B rounds where edgebench's runner cannot run (an Android phone): each model measured by
the target's flow (TFLite's ``benchmark_model``), one process a model, four processes a round
in ABBA order. A round's ratio is (B1 + B2) / (A1 + A2) of the processes' median (else mean)
latencies, so a drift that is linear over the round cancels, as on the other targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edgebench.bench.judgement.ab_result import AbPair, pair_files
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.orchestration.flows import flow_class
from edgebench.bench.orchestration.flows.base import Flow
from edgebench.bench.orchestration.plan import BenchPlan, plan_from_inputs
from edgebench.deploy import Target
from edgebench.errors import EdgebenchError
from edgebench.records import BenchSettings, DeviceInfo, Setup

#: timed invokes in one benchmark_model process of a round
RUNS = 50


def flow_settings(s: AbSettings) -> BenchSettings:
    return BenchSettings(runs=RUNS, warmup=10, threads=(s.threads,), xnnpack=(s.xnnpack,),
                         timeout_s=s.timeout_s, repeats=1, benchmark_binary=s.benchmark_binary)


def open_flow(target: Target, pairs: Sequence[AbPair], s: AbSettings) -> tuple[Flow, DeviceInfo]:
    """The target's flow, prepared with every model of the pairs."""
    plan: BenchPlan = plan_from_inputs(pair_files(pairs), run_id="ab")
    settings = flow_settings(s)
    cls = flow_class(target.address, settings)
    cls.check(target, settings)
    flow = cls(target, plan, settings)
    return flow, flow.prepare()


def flow_round(flow: Flow, pair: AbPair, reverse: bool) -> list[float]:
    """One round, ``[A, B]`` in microseconds: A B B A (B A A B when ``reverse``)."""
    items = {item.path: item for item in flow.plan.items}
    setup = Setup(threads=flow.settings.threads[0], xnnpack=flow.settings.xnnpack[0])
    order = [pair.current, pair.base] if reverse else [pair.base, pair.current]
    times: dict[Path, float] = {pair.base: 0.0, pair.current: 0.0}
    for path in order + order[::-1]:
        rec = flow.measure(items[Path(path)], setup)
        lat = rec.latency_us
        value = None if lat is None else (lat.p50 if lat.p50 is not None else lat.mean)
        if not rec.ok or not value:
            raise EdgebenchError(f"{pair.name}: {Path(path).name} fails to load on "
                                 f"{flow.target.address} ({rec.error or 'no latency'}); check "
                                 "that it is a TFLite model this runtime can run")
        times[Path(path)] += value
    return [times[pair.base], times[pair.current]]
