"""edgebench: prune and quantise Keras models into TFLite variants, measure them where they
ship, and gate them against budgets.

The package holds the stages as subpackages: ``edgebench.build`` (the only one that imports
TensorFlow), ``edgebench.bench``, ``edgebench.deploy`` and ``edgebench.models``. In the
repository those rooms are the top-level folders of the design card; ``src/edgebench/<room>`` is
a symlink to each, so a checkout, an editable install and the wheel resolve the same imports
through the file system alone (docs/architecture.md says why).
"""

from __future__ import annotations

from edgebench._version import __version__

# The public API.
from edgebench.api import (
    ReportFiles,
    RunOutcome,
    SweepResult,
    ab,
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
    variant_history,
    write_pytest_benchmark_json,
)
from edgebench.bench.judgement.ab_result import AbReport, PairResult
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.judgement.budgets import Budgets
from edgebench.bench.judgement.compare import Comparison
from edgebench.bench.judgement.compare_settings import CompareSettings, Verdict
from edgebench.bench.judgement.gate import GateReport
from edgebench.bench.outputs.gate_table import format_report as format_gate
from edgebench.bench.outputs.summary import format_summary
from edgebench.build.config import PipelineConfig
from edgebench.errors import EdgebenchError
from edgebench.records import (
    BenchSettings,
    DeviceInfo,
    LatencyStats,
    Manifest,
    OpTime,
    OutputFidelity,
    Record,
    Results,
    Setup,
    record_key,
)

__all__ = [
    "AbReport",
    "AbSettings",
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
    "OutputFidelity",
    "PairResult",
    "PipelineConfig",
    "Record",
    "ReportFiles",
    "Results",
    "RunOutcome",
    "Setup",
    "SweepResult",
    "Verdict",
    "__version__",
    "ab",
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
    "variant_history",
    "write_pytest_benchmark_json",
]
