"""Flows: how a model is measured on a device. The bench stage picks one for each target.

- ``runner``: edgebench's own self-contained runner (``runner.pyz``), wherever Python runs (this
  machine, a Raspberry Pi over SSH): one process per model, raw latency samples, accuracy on the
  device.
- ``benchmark_model``: TFLite's own benchmark tool, where there is no Python (an Android phone),
  or on a board where you want TFLite's numbers: summary latencies, accuracy on the host.

The flow is chosen explicitly: ``--flow`` (``BenchSettings.flow``), else the default for the
target's kind in :data:`DEFAULT_FLOWS`. A target only moves files and runs commands.
"""

from __future__ import annotations

from edgebench.bench.orchestration.flows.base import Flow, Progress
from edgebench.bench.orchestration.flows.benchmark_model import BenchmarkModelFlow
from edgebench.bench.orchestration.flows.runner_flow import RunnerFlow
from edgebench.deploy import Target, target_scheme
from edgebench.errors import EdgebenchError
from edgebench.records import BenchSettings

FLOWS: dict[str, type[Flow]] = {}


def register_flow(name: str, cls: type[Flow]) -> None:
    """Make ``cls`` available as ``--flow NAME``."""
    FLOWS[name] = cls


register_flow("runner", RunnerFlow)
register_flow("benchmark_model", BenchmarkModelFlow)

#: The flow each kind of target gets when ``--flow`` is not given.
DEFAULT_FLOWS: dict[str, str] = {"local": "runner", "ssh": "runner", "adb": "benchmark_model"}


def flow_name(address: str, settings: BenchSettings) -> str:
    """The flow that measures on ``address``: ``settings.flow``, else the kind's default."""
    name = settings.flow or DEFAULT_FLOWS.get(target_scheme(address), "runner")
    if name not in FLOWS:
        raise EdgebenchError(f"unknown flow {name!r}; use one of: {', '.join(FLOWS)}")
    return name


def flow_class(address: str, settings: BenchSettings) -> type[Flow]:
    return FLOWS[flow_name(address, settings)]


def check_flow(target: Target, settings: BenchSettings) -> None:
    """Refuse, before anything runs, a flow that cannot work on this target or these settings."""
    flow_class(target.address, settings).check(target, settings)


__all__ = [
    "DEFAULT_FLOWS",
    "FLOWS",
    "BenchmarkModelFlow",
    "Flow",
    "Progress",
    "RunnerFlow",
    "check_flow",
    "flow_class",
    "flow_name",
    "register_flow",
]
