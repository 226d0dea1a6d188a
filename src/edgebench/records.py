"""Domain types shared by every stage: what was built (manifest) and what was measured (results).

Records are data: frozen dataclasses with units in the field names. Every file written from
them carries a ``schema_version``, is checked on load and written atomically.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from edgebench.errors import ConfigError, SchemaError
from edgebench.files import write_json_atomic

MANIFEST_SCHEMA_VERSION = 2  # 2: evaluation shards with preprocessing and reference outputs
_NOT_SAVED = {"not_saved": True}  # dataclass field metadata: kept in memory, not in the file
RESULTS_SCHEMA_VERSION = 3


class Status(str, Enum):
    """Outcome of one model on one target."""

    OK = "ok"
    FAILED = "failed"
    INCOMPATIBLE = "incompatible"


class VariantKind(str, Enum):
    """The export format of an artifact."""

    KERAS = "keras"
    FLOAT32 = "float32"
    DYNAMIC = "dynamic"
    FLOAT16 = "float16"
    INT8 = "int8"


TFLITE_KINDS = (VariantKind.FLOAT32, VariantKind.DYNAMIC, VariantKind.FLOAT16, VariantKind.INT8)


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class LatencyStats:
    """Latency percentiles in microseconds, rounded to 0.1 µs.

    Build with :meth:`from_samples` from raw samples, or with :meth:`from_summary` from a tool
    that prints only a summary (TFLite's ``benchmark_model``); a figure the tool does not print
    is None, never estimated.
    """

    p50: float | None
    p90: float | None
    p99: float | None
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    n: int | None
    p5: float | None = None
    p95: float | None = None

    @classmethod
    def from_samples(cls, samples_ns: Sequence[int] | Sequence[float]) -> LatencyStats:
        """Summarise raw ``perf_counter_ns`` samples (nanoseconds)."""
        import numpy as np

        if len(samples_ns) == 0:
            raise ValueError("LatencyStats needs at least one sample")
        us = np.asarray(samples_ns, dtype=np.float64) / 1000.0
        p50, p90, p99 = np.percentile(us, [50, 90, 99])
        return cls(
            p50=_r(p50),
            p90=_r(p90),
            p99=_r(p99),
            mean=_r(us.mean()),
            std=_r(us.std(ddof=1) if us.size > 1 else 0.0),
            min=_r(us.min()),
            max=_r(us.max()),
            n=int(us.size),
        )

    @classmethod
    def from_summary(
        cls,
        *,
        n: int | None,
        mean: float | None,
        std: float | None = None,
        min: float | None = None,
        max: float | None = None,
        p50: float | None = None,
        p5: float | None = None,
        p95: float | None = None,
    ) -> LatencyStats:
        """Summary figures in microseconds as a tool printed them; p90/p99 stay unknown."""
        return cls(
            p50=_r_opt(p50),
            p90=None,
            p99=None,
            mean=_r_opt(mean),
            std=_r_opt(std),
            min=_r_opt(min),
            max=_r_opt(max),
            n=None if n is None else int(n),
            p5=_r_opt(p5),
            p95=_r_opt(p95),
        )


def _r(x: float) -> float:
    return round(float(x), 1)


def _r_opt(x: float | None) -> float | None:
    return None if x is None else _r(x)


@dataclass(frozen=True)
class RssMb:
    """Resident set size in MB: before the model is loaded, after allocation, peak over the
    timed runs, and the process's peak after it streamed the evaluation data (None without)."""

    before: float | None
    after_init: float | None
    peak: float | None
    eval_peak: float | None = None


# --------------------------------------------------------------------------- fidelity


@dataclass(frozen=True)
class OutputFidelity:
    """How far one output tensor of a variant is from the float32 reference model's output on
    the same inputs (quantised outputs dequantised first). No labels needed.

    ``snr_db`` is 10·log10(Σref² / Σ(ref − x)²); it is None when not finite: identical outputs
    (``max_abs`` 0, +∞) or an all-zero reference (−∞). :attr:`snr` gives the number either way.
    ``top1_agreement`` is the share of samples whose argmax agrees, for class-vector outputs.
    """

    output: str
    n: int
    max_abs: float
    mean_abs: float
    cosine: float | None
    snr_db: float | None
    top1_agreement: float | None = None

    @property
    def snr(self) -> float:
        if self.snr_db is not None:
            return self.snr_db
        return math.inf if self.max_abs == 0 else -math.inf


@dataclass(frozen=True)
class FidelitySummary:
    """The worst output of a record: what a budget or a one-line table holds."""

    snr_db: float | None
    cosine: float | None
    top1_agreement: float | None


def worst_fidelity(fidelity: Sequence[OutputFidelity]) -> FidelitySummary | None:
    """The lowest SNR, cosine and top-1 agreement over a record's outputs (None: not measured)."""
    if not fidelity:
        return None
    cos = [f.cosine for f in fidelity if f.cosine is not None]
    agree = [f.top1_agreement for f in fidelity if f.top1_agreement is not None]
    return FidelitySummary(
        snr_db=min(f.snr for f in fidelity),
        cosine=min(cos) if cos else None,
        top1_agreement=min(agree) if agree else None,
    )


def format_snr(snr_db: float | None) -> str:
    """An SNR for a table: ``41.3``, ``∞`` for identical outputs, ``—`` when not measured."""
    if snr_db is None:
        return "—"
    if math.isinf(snr_db):
        return "∞" if snr_db > 0 else "-∞"
    return f"{snr_db:.1f}"


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class OpInfo:
    """One operator a TFLite model needs, with the version the converter wrote."""

    name: str
    version: int


@dataclass(frozen=True)
class Artifact:
    """One built file: a Keras model or a TFLite variant, with the facts the guide measures."""

    name: str  # "<recipe>/<kind>", e.g. "pruned/int8"; globbed by budgets
    recipe: str
    kind: str  # a VariantKind value
    path: str  # relative to the manifest's folder
    file_bytes: int
    zip_bytes: int
    params: int
    nonzero_params: int
    compression_ratio: float  # dense baseline Keras zip bytes / this zip bytes
    host_accuracy: float | None
    layer_sparsity: dict[str, float] = field(default_factory=dict)
    ops: tuple[OpInfo, ...] = ()
    input_dtype: str | None = None
    output_dtype: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Output fidelity against the reference model on the host (TFLite variants only).
    fidelity: tuple[OutputFidelity, ...] = ()

    @property
    def is_tflite(self) -> bool:
        return self.kind != VariantKind.KERAS.value


@dataclass(frozen=True)
class DatasetInfo:
    """Where the data came from and how much of it was used."""

    name: str
    source: str
    n_train: int
    n_test: int
    num_classes: int | None  # None: the data has no labels
    labelled: bool = True
    preprocess: dict[str, str] = field(default_factory=dict)  # input name -> mode
    metric: str | None = "top1"  # the accuracy metric, where there are labels
    inputs: tuple[str, ...] = ()  # the model's input names, in order
    outputs: tuple[str, ...] = ()  # the model's output names, in order


@dataclass(frozen=True)
class Manifest:
    """What the build stage made. The bench stage's input."""

    run_id: str
    created_at: str
    config_path: str | None
    config_sha256: str | None
    dataset: DatasetInfo | None
    # The evaluation shards' folder, relative to the manifest folder (see bench/runner.py).
    eval_data: str | None
    baseline: str  # name of the dense baseline Keras artifact
    artifacts: tuple[Artifact, ...]
    versions: dict[str, str] = field(default_factory=dict)
    schema_version: int = MANIFEST_SCHEMA_VERSION
    # edgebench sweep: the chosen variant's file (relative to the manifest's folder), and the
    # search itself: floor, every trial, the Pareto front, wall times.
    chosen: str | None = None
    sweep: dict[str, Any] | None = None
    # The float32 reference model every variant's outputs are held to (relative path), and
    # the variant name it has among the artifacts, if any.
    reference: str | None = None
    reference_variant: str | None = None
    # What the model came from: {"kind": builtin | tf_keras | keras3 | saved_model, "path": …}
    model_source: dict[str, Any] = field(default_factory=dict)
    # Recipes that did not run, and why (a SavedModel cannot be pruned: no Keras layers).
    skipped_recipes: dict[str, str] = field(default_factory=dict)
    #: where this manifest was loaded from or saved to; not part of the file
    path: Path | None = field(default=None, compare=False, repr=False, metadata=_NOT_SAVED)

    def artifact(self, name: str) -> Artifact:
        for a in self.artifacts:
            if a.name == name:
                return a
        known = ", ".join(a.name for a in self.artifacts)
        raise KeyError(f"no artifact named {name!r}; known: {known}")

    def tflite_artifacts(self) -> list[Artifact]:
        return [a for a in self.artifacts if a.is_tflite]

    @property
    def folder(self) -> Path:
        """The run folder the artifacts' paths are relative to."""
        if self.path is None:
            raise ValueError(f"manifest {self.run_id} was neither loaded nor saved; no folder")
        return self.path.parent

    def save(self, path: Path) -> Manifest:
        """Write the manifest atomically; returns it with :attr:`path` set."""
        write_json_atomic(path, to_dict(self))
        return dataclasses.replace(self, path=Path(path).resolve())

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """A manifest.json, or the run folder that holds one."""
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        data = _read_versioned(path, "manifest", MANIFEST_SCHEMA_VERSION, _MANIFEST_UPGRADES)
        return dataclasses.replace(from_dict(cls, data), path=path.resolve())


# --------------------------------------------------------------------------- results


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
class Setup:
    """How one record was asked to be measured: one cell of the ``--threads`` x ``--xnnpack``
    matrix, with the bench's delegate and CPU pin. Part of every record's key
    (:func:`record_key`), so records measured differently are never compared as the same.
    """

    threads: int
    xnnpack: bool
    delegate: str | None = None  # "gpu", "nnapi", or a delegate library's file name
    cpus: str | None = None  # the CPU pin, as a hex taskset mask

    def label(self) -> str:
        """``threads=1,xnnpack=on`` or ``threads=4,xnnpack=off,delegate=gpu,cpus=4-7``: no
        spaces, so a key stays one word for ``awk`` and ``grep``."""
        parts = [f"threads={self.threads}", f"xnnpack={'on' if self.xnnpack else 'off'}"]
        if self.delegate:
            parts.append(f"delegate={self.delegate}")
        if self.cpus:
            parts.append(f"cpus={cpu_list(self.cpus).replace(',', '+')}")
        return ",".join(parts)


def cpu_list(mask: str) -> str:
    """A hex CPU mask as the CPU numbers it holds: ``f0`` -> ``4-7``, ``5`` -> ``0,2``."""
    bits = int(mask, 16)
    cpus = [i for i in range(bits.bit_length()) if bits >> i & 1]
    runs: list[list[int]] = []
    for c in cpus:
        if runs and c == runs[-1][-1] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


@dataclass(frozen=True)
class OpTime:
    """One operator type in a per-operator profile (benchmark_model --enable_op_profiling)."""

    op: str  # the node type, e.g. CONV_2D, or a delegate's node (TfLiteXNNPackDelegate)
    count: int  # nodes of this type in the model
    avg_ms: float  # average time per inference spent in them, ms
    percent: float  # share of the inference time, %


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
class BenchSettings:
    """How models were asked to be measured (by the runner, or by benchmark_model).

    ``threads`` and ``xnnpack`` are a matrix: every model is measured once per combination
    (:meth:`setups`), and each combination is its own record. A single int or bool is taken as
    a one-element tuple, so ``BenchSettings(threads=4, xnnpack=False)`` still reads naturally.
    """

    runs: int = 100
    warmup: int = 10
    threads: tuple[int, ...] = (1,)
    xnnpack: tuple[bool, ...] = (True,)
    timeout_s: float = 300.0
    eval_batch: int = 256
    eval_limit: int = 0  # 0 = the whole test set
    cooldown_s: float = 0.0  # pause between models, so each starts from a cooler SoC
    # Processes per model; latency compares the median of their medians. Five: on the 2-core
    # development VM one process strays up to 1.55x from the next, a median of five 1.21x
    # (docs/measure_repeats.py; README, "When is a change real?").
    repeats: int = 5
    # How models are measured: "runner" or "benchmark_model"; None = the target kind's default.
    flow: str | None = None
    benchmark_binary: str | None = None  # the benchmark_model flow's binary (host path)
    # Hex CPU mask every measured process is pinned to (taskset), on every flow; None = no pin.
    taskset: str | None = None
    # A TFLite delegate for the runner flow, "PATH.so[:key=value,...]", through load_delegate.
    delegate: str | None = None
    use_gpu: bool = False  # benchmark_model: --use_gpu=true
    use_nnapi: bool = False  # benchmark_model: --use_nnapi=true
    benchmark_args: tuple[str, ...] = ()  # benchmark_model: more flags, passed as they are
    op_profile: bool = False  # benchmark_model: per-operator profile (--enable_op_profiling)
    # A model that starts with the SoC hotter than this gets a warning in its record.
    hot_start_c: float = 70.0

    def __post_init__(self) -> None:
        threads = (self.threads,) if isinstance(self.threads, int) else tuple(self.threads)
        xnnpack = (self.xnnpack,) if isinstance(self.xnnpack, bool) else tuple(self.xnnpack)
        if not threads or any(isinstance(t, bool) or not isinstance(t, int) or t < 1
                              for t in threads):
            raise ConfigError(f"threads must be whole numbers >= 1, e.g. (1, 2, 4); got {threads}")
        if not xnnpack or any(not isinstance(x, bool) for x in xnnpack):
            raise ConfigError(f"xnnpack must be true, false or both ([true, false]); got {xnnpack}")
        if self.use_gpu and self.use_nnapi:
            raise ConfigError("use_gpu and use_nnapi each pick the delegate; pick one of them")
        if self.delegate and (self.use_gpu or self.use_nnapi):
            raise ConfigError("delegate (a delegate library for the runner) and use_gpu/use_nnapi "
                              "(benchmark_model's delegates) exclude each other; pick one")
        object.__setattr__(self, "threads", tuple(dict.fromkeys(threads)))
        object.__setattr__(self, "xnnpack", tuple(dict.fromkeys(xnnpack)))
        object.__setattr__(self, "benchmark_args", tuple(self.benchmark_args))

    def setups(self) -> list[Setup]:
        """Every combination of the matrix, threads first: (1, on), (1, off), (2, on) ..."""
        return [Setup(t, x, self.delegate_name, self.taskset)
                for t in self.threads for x in self.xnnpack]

    @property
    def delegate_name(self) -> str | None:
        """What the records' keys call the delegate: gpu, nnapi, or the library's file name."""
        if self.use_gpu:
            return "gpu"
        if self.use_nnapi:
            return "nnapi"
        if self.delegate:
            return Path(self.delegate.split(":", 1)[0]).name
        return None

    def at(self, setup: Setup) -> BenchSettings:
        """These settings for one cell of the matrix (one thread count, one XNNPACK mode)."""
        return dataclasses.replace(self, threads=(setup.threads,), xnnpack=(setup.xnnpack,))


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
        data = _read_versioned(path, "results", RESULTS_SCHEMA_VERSION, _RESULTS_UPGRADES)
        return from_dict(cls, data)


# --------------------------------------------------------------------------- (de)serialisation

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


def manifest_upgrade_from_1(data: dict) -> dict:
    """Schema 1 shipped one eval.npz (x, y, x_scale) that the runner loaded whole; schema 2
    streams shards with preprocessing and reference outputs. The shards need the models'
    outputs, which only a build can make, so an old manifest is refused with the fix."""
    raise SchemaError(
        f"manifest {data.get('run_id', '')!r} was built by an older edgebench (manifest schema "
        "1, one eval.npz); rebuild it with edgebench build (the evaluation data is now sharded "
        "with reference outputs)"
    )


_MANIFEST_UPGRADES: dict[int, Callable[[dict], dict]] = {1: manifest_upgrade_from_1}


def upgrade_results_from_2(data: dict) -> dict:
    """Results v2 -> v3: ``edgebench_version``, the release that measured; older files did not
    say, so it is null. (Their ``git_commit`` was edgebench's own checkout's where one existed;
    from v3 on it is the commit of the user's code. It is kept as it was.)"""
    return dict(data, schema_version=3, edgebench_version=data.get("edgebench_version"))


_RESULTS_UPGRADES: dict[int, Callable[[dict], dict]] = {
    1: upgrade_results_from_1,
    2: upgrade_results_from_2,
}


def to_dict(obj: Any) -> Any:
    """A JSON-ready dict of a record dataclass (enums as their values, NaN as null)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: to_dict(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not f.metadata.get("not_saved")
        }
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def from_dict(cls: type, data: Any) -> Any:
    """Rebuild a (nested) record dataclass from :func:`to_dict` output; unknown keys are dropped."""
    import typing

    if data is None:
        return None
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        kwargs[f.name] = _coerce(hints[f.name], data[f.name])
    return cls(**kwargs)


def _coerce(tp: Any, value: Any) -> Any:
    import types
    import typing

    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(args[0], value) if len(args) == 1 else value
    if origin is tuple:
        (inner, *_rest) = typing.get_args(tp)
        return tuple(_coerce(inner, v) for v in value)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value)
    return value


def _require_kind(path: Path, data: dict, want: str) -> None:
    """A results file where a manifest belongs (or the reverse) gets one line naming the fix."""
    is_manifest = "artifacts" in data and "baseline" in data
    is_results = "records" in data and "target" in data
    if want == "results" and not is_results:
        if is_manifest:
            raise SchemaError(
                f"{path} is a build manifest, not a results file; bench it first: "
                f"edgebench bench {path}"
            )
        raise SchemaError(f"{path} is not an edgebench results file (no target and records)")
    if want == "manifest" and not is_manifest:
        if is_results:
            raise SchemaError(
                f"{path} is a results file, not a build manifest; give it to edgebench gate, "
                "compare or report, or bench the manifest.json beside it"
            )
        raise SchemaError(f"{path} is not an edgebench manifest (no artifacts and baseline)")


def _read_versioned(
    path: Path, what: str, current: int, upgrades: dict[int, Callable[[dict], dict]]
) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SchemaError(
            f"{what} file {path} does not exist; run the stage that writes it first"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{path} is not a valid {what} JSON file ({exc}); rebuild it") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise SchemaError(f"{path} has no schema_version, so it is not an edgebench {what} file")
    other = "results" if what == "manifest" else "manifest"
    if _looks_like(data, other):  # the other kind of file, before its version is judged
        _require_kind(path, data, what)
    version = data["schema_version"]
    if not isinstance(version, int) or version > current:
        raise SchemaError(
            f"{path} has {what} schema_version {version!r}, newer than this edgebench "
            f"understands ({current}); upgrade edgebench"
        )
    _require_kind(path, data, what)  # a results file given as a manifest: say so, not "old"
    while version < current:
        if version not in upgrades:
            raise SchemaError(
                f"{path}: no upgrade from {what} schema_version {version}; rebuild it"
            )
        try:
            data = upgrades[version](data)
        except SchemaError as exc:
            raise SchemaError(f"{path}: {exc}") from None
        version = data["schema_version"]
    _require_kind(path, data, what)
    return data


def _looks_like(data: dict, what: str) -> bool:
    if what == "manifest":
        return "artifacts" in data and "baseline" in data
    return "records" in data and "target" in data
