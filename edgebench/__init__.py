"""edgebench: prune and quantise Keras models into TFLite variants, measure them where they
ship, and gate them against budgets.

Installed, the package holds the stages as subpackages: ``edgebench.build`` (the only one that
imports TensorFlow), ``edgebench.bench``, ``edgebench.deploy`` and ``edgebench.models``. In a
source checkout those rooms sit beside this folder rather than inside it (the wheel moves them
in), so the package's search path is extended to the checkout root: the same imports work in
both places.
"""

from __future__ import annotations

from pathlib import Path

from edgebench._version import __version__


def _rooms_in_checkout() -> Path | None:
    """The checkout root when this package runs from a source checkout, else None."""
    here = Path(__file__).resolve().parent
    root = here.parent
    if (here / "bench").is_dir():
        return None  # installed: the rooms are inside
    if (root / "bench" / "runner.py").is_file() and (root / "pyproject.toml").is_file():
        return root
    return None


_checkout = _rooms_in_checkout()
if _checkout is not None:
    __path__.append(str(_checkout))  # noqa: F821 - every package has __path__

# The public API (after the path is set: it imports the rooms).
from edgebench.api import (  # noqa: E402
    ReportFiles,
    RunOutcome,
    SweepResult,
    add_to_history,
    bench_models,
    build_models,
    compare,
    compare_history,
    default_pipeline_path,
    gate,
    history,
    load_budgets,
    load_config,
    load_manifest,
    load_results,
    plan,
    report,
    run,
    sweep,
)
from edgebench.bench.compare import CompareSettings, Comparison, Verdict  # noqa: E402
from edgebench.bench.gate import Budgets, GateReport  # noqa: E402
from edgebench.bench.gate import format_report as format_gate  # noqa: E402
from edgebench.bench.summary import format_summary  # noqa: E402
from edgebench.build.config import PipelineConfig  # noqa: E402
from edgebench.errors import EdgebenchError  # noqa: E402
from edgebench.records import (  # noqa: E402
    BenchSettings,
    DeviceInfo,
    LatencyStats,
    Manifest,
    Record,
    Results,
)

__all__ = [
    "BenchSettings",
    "Budgets",
    "CompareSettings",
    "Comparison",
    "DeviceInfo",
    "EdgebenchError",
    "GateReport",
    "LatencyStats",
    "Manifest",
    "PipelineConfig",
    "Record",
    "ReportFiles",
    "Results",
    "RunOutcome",
    "SweepResult",
    "Verdict",
    "__version__",
    "add_to_history",
    "bench_models",
    "build_models",
    "compare",
    "compare_history",
    "default_pipeline_path",
    "format_gate",
    "format_summary",
    "gate",
    "load_budgets",
    "load_config",
    "load_manifest",
    "load_results",
    "plan",
    "history",
    "report",
    "run",
    "sweep",
]
