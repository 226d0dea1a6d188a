"""Results in pytest-benchmark's JSON format, so ``pytest-benchmark compare`` and the dashboards
that read that format (github-action-benchmark's ``pytest`` tool, and others) chart edgebench's
latencies unchanged.

Each record with raw samples becomes one benchmark: one round per timed ``invoke()`` (one
iteration each), in seconds, as pytest-benchmark keeps its own. The statistics are computed by
pytest-benchmark's own :class:`pytest_benchmark.stats.Stats`, so they mean exactly what they
mean there. ``fullname`` is ``edgebench::<target>::<variant>``: the key pytest-benchmark
compares runs by. Size, accuracy, memory and the runtime go to ``extra_info``.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgebench._version import __version__
from edgebench.errors import EdgebenchError
from edgebench.files import write_json_atomic
from edgebench.records import Results

INSTALL_HINT = "pip install pytest-benchmark (or edgebench[pytest])"


def _stats_class() -> type:
    try:
        # Lazy: pytest-benchmark (and pytest under it) is needed only for this export.
        from pytest_benchmark.stats import Stats
    except ImportError:
        raise EdgebenchError(
            f"--pytest-benchmark-json uses pytest-benchmark's own statistics; {INSTALL_HINT}"
        ) from None
    return Stats


def require_pytest_benchmark() -> None:
    """Refuse the export before any work when pytest-benchmark is not installed."""
    _stats_class()


def _pytest_benchmark_version() -> str:
    from pytest_benchmark import __version__ as version

    return version


def benchmark_entries(results: Sequence[Results]) -> list[dict[str, Any]]:
    """One pytest-benchmark entry per record that has raw latency samples."""
    stats_class = _stats_class()
    entries = []
    for res in results:
        for rec in res.records:
            if not rec.ok or not rec.samples_us:
                continue
            stats = stats_class()
            for us in rec.samples_us:
                stats.update(us / 1e6)
            body = stats.as_dict()
            body["data"] = list(stats.data)
            body["iterations"] = 1
            entries.append({
                "group": res.target,
                "name": rec.variant,
                "fullname": f"edgebench::{res.target}::{rec.variant}",
                "params": None,
                "param": None,
                "extra_info": {
                    "target": res.target,
                    "run_id": res.run_id,
                    "zip_bytes": rec.zip_bytes,
                    "accuracy": rec.accuracy,
                    "peak_rss_mb": rec.rss_mb.peak if rec.rss_mb else None,
                    "model_rss_mb": rec.rss_mb.model if rec.rss_mb else None,
                    "processes": int(rec.extra.get("repeats", 1)),
                    "runtime": f"{rec.runtime_name} {rec.runtime_version}",
                    "threads": rec.threads,
                    "xnnpack": rec.xnnpack,
                },
                "options": {
                    "disable_gc": False,
                    "timer": "perf_counter_ns",
                    "min_rounds": res.settings.runs,
                    "max_time": None,
                    "min_time": None,
                    "warmup": res.settings.warmup,
                },
                "stats": body,
            })
    return entries


def machine_info(res: Results) -> dict[str, Any]:
    """pytest-benchmark's ``machine_info`` for the device that ran the models."""
    d = res.device
    return {
        "node": d.hostname,
        "processor": d.cpu,
        "machine": d.machine,
        "python_compiler": "",
        "python_implementation": "CPython",
        "python_implementation_version": d.python,
        "python_version": d.python,
        "python_build": [],
        "release": (d.os or "").split(" ")[2] if len((d.os or "").split(" ")) > 2 else "",
        "system": (d.os or platform.system()).split(" ")[0],
        "cpu": {"brand_raw": d.cpu, "count": d.cores, "arch": d.machine},
        "edgebench": {"version": __version__, "target": res.target,
                      "runtime": f"{d.runtime_name} {d.runtime_version}"},
    }


def pytest_benchmark_document(results: Sequence[Results]) -> dict[str, Any]:
    """The whole JSON document pytest-benchmark writes with ``--benchmark-json``."""
    if not results:
        raise EdgebenchError("no results to export; bench something first")
    first = results[0]
    return {
        "machine_info": machine_info(first),
        "commit_info": {
            "id": first.git_commit or "unversioned",
            "time": None,
            "author_time": None,
            "dirty": False,
            "project": "edgebench",
            "branch": None,
        },
        "benchmarks": benchmark_entries(results),
        "datetime": first.created_at,
        "version": _pytest_benchmark_version(),
    }


def write_pytest_benchmark_json(results: Sequence[Results], path: Path) -> Path:
    """Write :func:`pytest_benchmark_document` to ``path`` atomically; returns the path."""
    path = Path(path)
    if path.is_dir():
        raise EdgebenchError(f"{path} is a folder; name a file in it, e.g. {path / 'bench.json'}")
    write_json_atomic(path, pytest_benchmark_document(results))
    return path
