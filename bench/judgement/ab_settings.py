"""How an A/B re-measurement runs and when it stops: one declaration per setting.

The defaults were chosen by measuring (docs/ab.md, docs/measure_ab.py): the time threshold is
the smallest that held zero false alarms for a file against its copy in 50 trials on the 2-core
development VM under the other tenants' load; instruction counts repeat to within a few
hundred instructions of tens of millions, so 1% is far above their noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from edgebench.declare import check_values, setting
from edgebench.values import host_path, on_off, target_address

MEASURES = ("time", "instructions")
#: the verdict band of each measure when --threshold is not given
DEFAULT_THRESHOLDS = {"time": 0.05, "instructions": 0.01}


@dataclass(frozen=True)
class AbSettings:
    """What ``edgebench ab`` (and ``--rebench``) measure, where, and how long they may take."""

    toml_section: ClassVar[str] = ""

    target: str = setting("local", flag="--target", parse=target_address, metavar="T",
                          help="where both models run: local, ssh://[user@]host[:port] or "
                          "adb://SERIAL")
    measure: str = setting("time", flag="--measure", choices=MEASURES,
                           help="time: invoke latency side by side; instructions: "
                           "per-invoke instruction counts under valgrind (local and ssh)")
    threshold: float | None = setting(
        None, flag="--threshold", above=0, shown="0.05 for time, 0.01 for instructions",
        help="the verdict band: a ratio wholly beyond ±this is faster/slower, wholly "
        "inside is same (0.05 = 5%)")
    max_rounds: int = setting(200, flag="--max-rounds", minimum=12,
                              help="rounds per pair before the verdict is inconclusive")
    budget_s: float = setting(600.0, flag="--budget-s", above=0, unit="s",
                              help="wall time for the whole job; pairs still undecided "
                              "then are inconclusive")
    threads: int = setting(1, flag="--threads", minimum=1, help="interpreter threads")
    xnnpack: bool = setting(True, flag="--xnnpack", parse=on_off, metavar="on|off",
                            help="the XNNPACK delegate on or off")
    benchmark_binary: str | None = setting(
        None, flag="--benchmark-binary", parse=host_path, metavar="PATH",
        help="TFLite's benchmark_model built for the device, for an adb:// target (which has "
        "no Python for edgebench's runner)")
    timeout_s: float = setting(300.0, flag="--timeout-s", above=0, unit="s",
                               help="time limit of one runner process on the target")

    def __post_init__(self) -> None:
        check_values(self)

    @property
    def band(self) -> float:
        """The threshold in force: the one given, else the measure's default."""
        return self.threshold if self.threshold is not None else DEFAULT_THRESHOLDS[self.measure]
