"""What a continuous run measured (``--sustained``, ``--power``): the speed window by window
with the device's state, and the energy one inference costs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SustainedWindow:
    """One window (1 s) of continuous invokes, and the device's state at its end; a figure
    the device cannot give is None (:attr:`Sustained.unreadable` says why)."""

    t_s: float  # the window's start, seconds after the loop started
    count: int  # invokes in the window
    p50_us: float  # their median (the mean where :attr:`Sustained.statistic` says "mean")
    temp_c: float | None = None  # the hottest sensor
    freq_mhz: float | None = None  # the CPU clock (mean over cores, or the Pi's ARM clock)
    throttled: tuple[str, ...] | None = None  # throttling flags true now; () none; None unknown


@dataclass(frozen=True)
class Sustained:
    """Invokes back to back for ``seconds``, summarised per window.

    ``ratio`` is the last window's median over the first's: 1.0 means the speed held, 1.3
    that the device was 30% slower at the end. ``throttle_flags`` are every flag any window
    saw. ``busy_share`` is the share of the wall time spent invoking (below 1 where windows
    have gaps: a phone's windows are separate benchmark_model processes).
    """

    seconds: float
    window_s: float
    windows: tuple[SustainedWindow, ...]
    ratio: float | None
    throttle_flags: tuple[str, ...] = ()
    statistic: str = "p50"  # of each window: "p50", or "mean" where the tool prints no median
    busy_share: float | None = None
    unreadable: dict[str, str] = field(default_factory=dict)  # figure -> why it is None

    @property
    def invokes(self) -> int:
        return sum(w.count for w in self.windows)

    def hottest_c(self) -> float | None:
        temps = [w.temp_c for w in self.windows if w.temp_c is not None]
        return max(temps) if temps else None

    def slowest_clock_mhz(self) -> float | None:
        freqs = [w.freq_mhz for w in self.windows if w.freq_mhz is not None]
        return min(freqs) if freqs else None


@dataclass(frozen=True)
class Energy:
    """Energy per inference from a meter (``--power``), over the continuous run.

    ``j_per_inference`` is ``(energy_j - idle_w x run_s) / invokes``: the idle power, measured
    for ``idle_s`` just before the run, is what the device draws anyway. A meter that cannot
    resolve the model's energy gives a net energy at or below zero; the record's warnings say
    so.
    """

    meter: str  # the --power value: rapl, pi5-pmic, hwmon:ina226, android, cmd:…
    meter_kind: str  # "counter" (joules) or "power" (watts, integrated)
    j_per_inference: float | None
    mean_w: float | None  # over the run
    idle_w: float
    energy_j: float  # during the run
    net_energy_j: float  # minus idle_w x run_s
    run_s: float
    idle_s: float
    invokes: int
    samples: int  # meter readings, idle and run together
