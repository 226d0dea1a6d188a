"""What a measurement summarises: latency percentiles, resident memory, output fidelity and
per-operator times. :meth:`LatencyStats.from_samples` is the one factory of latency figures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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
    """The process's memory in MiB (2**20 bytes, as the kernel's kB are KiB).

    Resident set size: ``before`` the model is loaded (once the runner's own imports and
    buffers are in place), ``after_init`` (allocated, one invoke), ``steady`` (after the
    warm-up), ``peak`` over the timed runs, and the process's peak after it streamed the
    evaluation data (``eval_peak``; None without).

    ``model`` is ``steady - before``: what the model itself costs, as a bare process that only
    loads and invokes it measures it. Of that, ``model_file`` is the mapped model file's
    resident pages and ``model_anon`` the anonymous memory it added (the tensor arena, and
    XNNPACK's packed copy of float weights); the rest is the runtime's own code pages that the
    load touched first. ``pss`` and ``uss`` are the whole process's proportional and unique
    set sizes at ``steady`` (what Android's and Linux's tools report). A figure the OS or the
    flow cannot give is None.
    """

    before: float | None
    after_init: float | None
    peak: float | None
    eval_peak: float | None = None
    steady: float | None = None
    model: float | None = None
    model_file: float | None = None
    model_anon: float | None = None
    pss: float | None = None
    uss: float | None = None


@dataclass(frozen=True)
class WeightCache:
    """What XNNPACK's weight cache saves of the model's memory (``--xnnpack-weight-cache``), in
    MiB, measured through the runtime's API that takes one (ai-edge-litert's CompiledModel:
    ``api``) in processes of their own, each loading the model and invoking it 20 times:
    ``without_mb`` no cache, ``with_mb`` with a cache file built before (what an app that
    keeps its cache sees). ``error`` says why it was not measured (another runtime, XNNPACK
    off); the figures are then None."""

    api: str | None = None
    without_mb: float | None = None
    with_mb: float | None = None
    saved_mb: float | None = None  # without_mb - with_mb
    anon_saved_mb: float | None = None  # of it, anonymous memory (the packed copy)
    cache_mb: float | None = None  # the cache file
    init_ms_without: float | None = None
    init_ms_build: float | None = None  # packing and writing the cache
    init_ms_with: float | None = None  # mapping a built cache
    error: str | None = None


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


@dataclass(frozen=True)
class OpTime:
    """One operator type in a per-operator profile (benchmark_model --enable_op_profiling)."""

    op: str  # the node type, e.g. CONV_2D, or a delegate's node (TfLiteXNNPackDelegate)
    count: int  # nodes of this type in the model
    avg_ms: float  # average time per inference spent in them, ms
    percent: float  # share of the inference time, %
