"""The interface every flow implements."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence

from edgebench.bench.plan import BenchItem, BenchPlan
from edgebench.deploy import Target
from edgebench.records import BenchSettings, DeviceInfo, Record

Progress = Callable[[str], None]


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
    def measure(self, item: BenchItem) -> Record:
        """Measure one model in one process. Raises TargetUnreachable / RuntimeMissing when
        the whole target is lost; anything that costs only this model becomes its record."""
