"""Domain types shared by every stage: what was built (manifest) and what was measured (results).

Records are data: frozen dataclasses with units in the field names. Every file written from
them carries a ``schema_version``, is checked on load and written atomically. One module per
kind: :mod:`~edgebench.records.kinds` (the shared names), :mod:`~edgebench.records.stats`
(latency, memory, fidelity), :mod:`~edgebench.records.sustained` (the continuous run:
windows and energy), :mod:`~edgebench.records.manifest`,
:mod:`~edgebench.records.bench_settings`, :mod:`~edgebench.records.results` and
:mod:`~edgebench.records.serial` (JSON and schema versions); all are importable from here.
"""

from __future__ import annotations

from edgebench.records.bench_settings import (
    DEFAULT_TARGETS,
    BenchSettings,
    BenchTargets,
    Setup,
    cpu_list,
)
from edgebench.records.kinds import TFLITE_KINDS, Status, VariantKind
from edgebench.records.manifest import (
    MANIFEST_SCHEMA_VERSION,
    Artifact,
    DatasetInfo,
    Manifest,
    OpInfo,
    manifest_upgrade_from_1,
)
from edgebench.records.results import (
    RESULTS_SCHEMA_VERSION,
    DeviceInfo,
    Record,
    Results,
    record_key,
    setup_v1,
    upgrade_results_from_1,
    upgrade_results_from_2,
    upgrade_results_from_3,
)
from edgebench.records.serial import from_dict, to_dict
from edgebench.records.stats import (
    FidelitySummary,
    LatencyStats,
    OpTime,
    OutputFidelity,
    RssMb,
    WeightCache,
    format_snr,
    worst_fidelity,
)
from edgebench.records.sustained import Energy, Sustained, SustainedWindow

__all__ = [
    "DEFAULT_TARGETS",
    "MANIFEST_SCHEMA_VERSION",
    "RESULTS_SCHEMA_VERSION",
    "TFLITE_KINDS",
    "Artifact",
    "BenchSettings",
    "BenchTargets",
    "DatasetInfo",
    "DeviceInfo",
    "Energy",
    "FidelitySummary",
    "LatencyStats",
    "Manifest",
    "OpInfo",
    "OpTime",
    "OutputFidelity",
    "Record",
    "Results",
    "RssMb",
    "Setup",
    "Status",
    "Sustained",
    "SustainedWindow",
    "VariantKind",
    "WeightCache",
    "cpu_list",
    "format_snr",
    "from_dict",
    "manifest_upgrade_from_1",
    "record_key",
    "setup_v1",
    "to_dict",
    "upgrade_results_from_1",
    "upgrade_results_from_2",
    "upgrade_results_from_3",
    "worst_fidelity",
]
