"""edgebench: prune and quantise Keras models into TFLite variants, measure them where they
ship, and gate them against budgets.

Installed, the package holds the stages as subpackages: ``edgebench.build`` (the only one that
imports TensorFlow), ``edgebench.bench``, ``edgebench.deploy`` and ``edgebench.models``. In a
source checkout those rooms sit beside this folder rather than inside it (the wheel moves them
in); a small finder maps exactly those four names there, so the same imports work in both
places.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from pathlib import Path

from edgebench._version import __version__

_ROOMS = ("build", "bench", "deploy", "models")


class _CheckoutRooms(importlib.abc.MetaPathFinder):
    """Finds ``edgebench.<room>`` in a source checkout, where the rooms sit beside this
    package's folder; the wheel puts them inside it. Maps exactly the four rooms, nothing
    else of the checkout."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, room = fullname.partition(".")
        if package != __name__ or room not in _ROOMS:
            return None
        # A regular package, or a namespace one (build/ has no __init__.py: see build/_tf.py).
        return importlib.machinery.PathFinder.find_spec(fullname, [str(self.root)])


def _checkout_root() -> Path | None:
    """The checkout root when this package runs from a source checkout, else None."""
    here = Path(__file__).resolve().parent
    root = here.parent
    if (here / "bench").is_dir():
        return None  # installed: the rooms are inside
    if (root / "bench" / "runner.py").is_file() and (root / "pyproject.toml").is_file():
        return root
    return None


_root = _checkout_root()
if _root is not None and not any(isinstance(f, _CheckoutRooms) for f in sys.meta_path):
    sys.meta_path.append(_CheckoutRooms(_root))

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
    doctor,
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
    write_pytest_benchmark_json,
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
    OpTime,
    Record,
    Results,
    Setup,
    record_key,
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
    "OpTime",
    "PipelineConfig",
    "Record",
    "ReportFiles",
    "Results",
    "RunOutcome",
    "Setup",
    "SweepResult",
    "Verdict",
    "__version__",
    "add_to_history",
    "bench_models",
    "build_models",
    "compare",
    "compare_history",
    "default_pipeline_path",
    "doctor",
    "format_gate",
    "format_summary",
    "gate",
    "load_budgets",
    "load_config",
    "load_manifest",
    "load_results",
    "plan",
    "record_key",
    "history",
    "report",
    "run",
    "sweep",
    "write_pytest_benchmark_json",
]
