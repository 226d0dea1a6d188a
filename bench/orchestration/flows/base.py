"""The interface every flow implements."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence

from edgebench.bench.orchestration.plan import BenchItem, BenchPlan
from edgebench.deploy import Target, TargetError
from edgebench.records import BenchSettings, DeviceInfo, Record, Setup

Progress = Callable[[str], None]


class SetupError(TargetError):
    """The target cannot measure as asked (a delegate that does not load, a CPU pin it cannot
    apply): every model would be wrong, so the whole target stops with one line."""


class Flow(abc.ABC):
    """How one target measures the models of a plan: prepare once, then one model at a time."""

    def __init__(self, target: Target, plan: BenchPlan, settings: BenchSettings) -> None:
        self.target = target
        self.plan = plan
        self.settings = settings

    @classmethod
    @abc.abstractmethod
    def check(cls, target: Target, settings: BenchSettings) -> None:
        """Raise an EdgebenchError naming the fix when this flow cannot measure on ``target``
        with ``settings``; called for every target before anything runs."""

    @abc.abstractmethod
    def prepare(self) -> DeviceInfo:
        """Put what every model needs on the device and describe it. Raises TargetError."""

    @abc.abstractmethod
    def check_compat(self, items: Sequence[BenchItem]) -> dict[str, Record]:
        """Before anything runs: a record for each model the device's runtime cannot load."""

    @abc.abstractmethod
    def measure(self, item: BenchItem, setup: Setup) -> Record:
        """Measure one model in one process with one cell of the matrix (threads, XNNPACK).
        Raises TargetUnreachable / RuntimeMissing when the whole target is lost; anything that
        costs only this model becomes its record."""
