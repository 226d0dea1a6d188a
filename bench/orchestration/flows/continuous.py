"""The continuous run's figures as record fields (``--sustained``, ``--power``), whichever flow
measured them: the windows and their summary, the energy, and what a reader must be warned of.

The runner sends them in its JSON record; the benchmark_model flow builds the same shapes on
the host from a phone's windows (:mod:`~edgebench.bench.orchestration.flows.phone`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgebench.records import Energy, RssMb, Sustained, WeightCache, from_dict

#: The runner's ``rss_mb`` keys, in :class:`~edgebench.records.RssMb`'s order.
RSS_KEYS = ("before", "after_init", "peak", "eval_peak", "steady", "model", "model_file",
            "model_anon", "pss", "uss")


def rss_from(data: Mapping[str, Any] | None) -> RssMb | None:
    """The runner's ``rss_mb`` figures (absent ones None)."""
    if not data:
        return None
    return RssMb(**{k: data.get(k) for k in RSS_KEYS})


def sustained_from(data: Mapping[str, Any] | None) -> Sustained | None:
    """The sustained figures (``sustained.summarize``'s dict), or None when not measured."""
    return from_dict(Sustained, data) if data else None


def energy_from(data: Mapping[str, Any] | None) -> Energy | None:
    """The energy figures (``power.measure_energy``'s dict), or None when not measured."""
    return from_dict(Energy, data) if data else None


def weight_cache_from(data: Mapping[str, Any] | None) -> WeightCache | None:
    """The weight cache's saving (``weightcache.measure_weight_cache``'s dict), or None."""
    return from_dict(WeightCache, data) if data else None


def continuous_warnings(sustained: Sustained | None, energy: Energy | None,
                        weight_cache: WeightCache | None = None) -> list[str]:
    """What may make the continuous run's figures misleading, or why one is missing."""
    found = []
    if weight_cache is not None and weight_cache.error:
        found.append(f"--xnnpack-weight-cache: {weight_cache.error}")
    if sustained is not None and sustained.throttle_flags:
        found.append(f"throttled during the sustained run ({', '.join(sustained.throttle_flags)})"
                     f"; sustained ratio {sustained.ratio}")
    if energy is not None and energy.net_energy_j <= 0:
        found.append(f"--power {energy.meter}: the run drew no more than the idle power "
                     f"({energy.mean_w} W against {energy.idle_w} W idle); this meter cannot "
                     "resolve the model's energy, so J per inference is at or below zero")
    return found
