"""What was measured where (``results-<target>.json``): one record per model and setup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebench.files import write_json_atomic
from edgebench.records.bench_settings import BenchSettings, Setup
from edgebench.records.kinds import Status
from edgebench.records.serial import from_dict, read_versioned, to_dict
from edgebench.records.stats import LatencyStats, OpTime, OutputFidelity, RssMb, WeightCache
from edgebench.records.sustained import Energy, Sustained

RESULTS_SCHEMA_VERSION = 4


@dataclass(frozen=True)
class DeviceInfo:
    """The machine a model ran on, and its state when it ran.

    ``emulated`` is True when the device's CPU is emulated (qemu-user runs an arm64 Python on
    an x86 host, say): its latencies then say nothing about the device, and compare and the
    gate refuse to hold them against a real device's. ``emulation_evidence`` says why.
    """

    hostname: str | None = None
    os: str | None = None
    machine: str | None = None
    cpu: str | None = None
    cores: int | None = None
    mem_total_mb: float | None = None
    python: str | None = None
    runtime_name: str | None = None
    runtime_version: str | None = None
    governor: str | None = None
    temperature_c: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    emulated: bool | None = None
    emulation_evidence: str | None = None


@dataclass(frozen=True)
class Record:
    """One model measured on one target."""

    variant: str
    model_path: str
    status: str  # a Status value
    error: str | None = None
    file_bytes: int | None = None
    zip_bytes: int | None = None
    compression_ratio: float | None = None
    accuracy: float | None = None
    accuracy_source: str | None = None  # "device" or "host"
    eval_method: str | None = None  # e.g. "batched(256)" or "per-sample"
    eval_n: int | None = None
    latency_us: LatencyStats | None = None
    init_ms: float | None = None
    first_inference_us: float | None = None
    warmup_runs: int | None = None
    rss_mb: RssMb | None = None
    threads: int | None = None
    xnnpack: bool | None = None
    delegate_fallback: str | None = None  # why the default delegate was dropped, if it was
    runtime_name: str | None = None
    runtime_version: str | None = None
    temp_c_before: float | None = None
    temp_c_after: float | None = None
    wall_s: float | None = None
    samples_us: tuple[float, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    accuracy_metric: str | None = None  # "top1", "top5", … (None: no labels)
    eval_selection: str | None = None  # which samples: all, or how --eval-limit chose them
    # Per output tensor, against the float32 reference model (labels not needed).
    fidelity: tuple[OutputFidelity, ...] = ()
    reference: str | None = None  # the reference model's name
    # How it was asked to be measured (threads, XNNPACK, delegate, CPU pin): see record_key.
    setup: Setup | None = None
    machine: str | None = None  # the device's, e.g. "aarch64"
    emulated: bool | None = None  # the device's CPU was emulated: latency is not the device's
    # What may skew this measurement: a governor that is not "performance", a hot start, more
    # threads than cores, a delegate that took only part of the model.
    warnings: tuple[str, ...] = ()
    op_profile: tuple[OpTime, ...] = ()  # per operator type, slowest first (--op-profile)
    sustained: Sustained | None = None  # invoking for a fixed time, by window (--sustained)
    energy: Energy | None = None  # energy per inference over that run (--power)
    weight_cache: WeightCache | None = None  # what XNNPACK's weight cache saves (MiB)

    @property
    def ok(self) -> bool:
        return self.status == Status.OK.value

    @property
    def key(self) -> str:
        """This record's name in every output and comparison: see :func:`record_key`."""
        return record_key(self)


def record_key(rec: Record) -> str:
    """The one name of a record everywhere (summary, history, compare, gate, report): its
    variant plus how it was measured, e.g. ``pruned/int8@threads=4,xnnpack=off``.

    Two records are the same measurement only when their keys are equal, so runs with
    different threads, XNNPACK, delegate or CPU pin are never compared as if they were the
    same. A record made by hand without a :class:`Setup` is keyed by its variant alone.
    """
    return rec.variant if rec.setup is None else f"{rec.variant}@{rec.setup.label()}"


@dataclass(frozen=True)
class Results:
    """What was measured on one target in one run."""

    run_id: str
    created_at: str
    target: str
    manifest: str | None
    host: DeviceInfo
    device: DeviceInfo
    settings: BenchSettings
    git_commit: str | None
    records: tuple[Record, ...]
    schema_version: int = RESULTS_SCHEMA_VERSION
    # Why the target stopped before every model ran (unreachable, offline, no runtime), or None.
    error: str | None = None
    #: the edgebench release that measured; ``git_commit`` is the commit of the user's code
    edgebench_version: str | None = None

    def record(self, key: str, setup: Setup | None = None) -> Record:
        """The record with this key (:func:`record_key`), or with this variant name (in
        ``setup``'s cell when given; the first cell otherwise)."""
        for r in self.records:
            if r.key == key:
                return r
        for r in self.records:
            if r.variant == key and (setup is None or r.setup == setup):
                return r
        raise KeyError(key)

    def save(self, path: Path) -> None:
        write_json_atomic(path, to_dict(self))

    @classmethod
    def load(cls, path: Path) -> Results:
        data = read_versioned(path, "results", RESULTS_SCHEMA_VERSION, _RESULTS_UPGRADES)
        return from_dict(cls, data)


def upgrade_results_from_1(data: dict) -> dict:
    """Results v1 -> v2: ``threads``/``xnnpack`` become the matrix (lists) and every record gets
    the :class:`Setup` it was measured with, from the run's settings (v1 had one per run)."""
    data = dict(data)
    settings = dict(data.get("settings") or {})
    threads = settings.get("threads", 1)
    xnnpack = settings.get("xnnpack", True)
    settings["threads"] = threads if isinstance(threads, list) else [threads]
    settings["xnnpack"] = xnnpack if isinstance(xnnpack, list) else [xnnpack]
    data["settings"] = settings
    data["records"] = [setup_v1(rec, settings) for rec in data.get("records") or []]
    data["schema_version"] = 2
    return data


def setup_v1(record: dict, settings: dict) -> dict:
    """A v1 record (as a dict) with the setup of its run's one-cell settings."""
    rec = dict(record)
    if rec.get("setup") is None:
        rec["setup"] = {"threads": settings["threads"][0], "xnnpack": settings["xnnpack"][0],
                        "delegate": None, "cpus": settings.get("taskset")}
    return rec


# Old schema versions are migrated by small functions: {from_version: upgrade_from_N}.


def upgrade_results_from_2(data: dict) -> dict:
    """Results v2 -> v3: ``edgebench_version``, the release that measured; older files did not
    say, so it is null. (Their ``git_commit`` was edgebench's own checkout's where one existed;
    from v3 on it is the commit of the user's code. It is kept as it was.)"""
    return dict(data, schema_version=3, edgebench_version=data.get("edgebench_version"))


def upgrade_results_from_3(data: dict) -> dict:
    """Results v3 -> v4: records gain ``sustained``, ``energy`` and ``weight_cache`` (null: v3
    could not measure them) and ``rss_mb`` gains ``steady``, ``model``, ``model_file``,
    ``model_anon``, ``pss`` and ``uss``, null too. ``model`` is not derived from v3's
    figures: v3 read ``before`` ahead of the runner's own imports (numpy's random generator
    and the rest), so ``after_init - before`` carried about 7 MiB of the runner's own
    memory."""
    records = []
    for rec in data.get("records") or []:
        rec = dict(rec, sustained=rec.get("sustained"), energy=rec.get("energy"),
                   weight_cache=rec.get("weight_cache"))
        if isinstance(rec.get("rss_mb"), dict):
            rss = rec["rss_mb"]
            rec["rss_mb"] = {**{k: None for k in _RSS_V4}, **rss}
        records.append(rec)
    return dict(data, schema_version=4, records=records)


#: The rss_mb figures results v4 added.
_RSS_V4 = ("steady", "model", "model_file", "model_anon", "pss", "uss")

_RESULTS_UPGRADES: dict[int, Callable[[dict], dict]] = {
    1: upgrade_results_from_1,
    2: upgrade_results_from_2,
    3: upgrade_results_from_3,
}
