"""Synthetic results for the history, compare, gate --against and report tests.

Real runs are benched where the claim is about real measurements; everything that is about
bookkeeping (storage, filters, verdict rules) uses these, which cost nothing to make.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgebench.records import BenchSettings, DeviceInfo, LatencyStats, Record, Results, RssMb

FIXTURES = Path(__file__).parent / "fixtures"
TINY = [FIXTURES / f"tiny_{k}.tflite" for k in ("float32", "dynamic", "int8")]

DEVICE = DeviceInfo(
    hostname="bench-box",
    os="Linux",
    machine="x86_64",
    cpu="Test CPU",
    cores=2,
    python="3.11.7",
    runtime_name="ai-edge-litert",
    runtime_version="2.3.0",
)


def make_record(
    variant: str,
    median_us: float = 100.0,
    zip_bytes: int = 10_000,
    accuracy: float | None = 0.9,
    peak_mb: float = 50.0,
    n: int = 200,
    seed: int = 0,
    spread: float = 0.03,
    processes: int = 5,
) -> Record:
    """An ok record whose raw samples scatter around ``median_us`` (log-normal, like latency),
    measured in ``processes`` runner processes (``--repeats``; 1 = a single process)."""
    rng = np.random.default_rng(seed)
    samples = np.round(median_us * rng.lognormal(0.0, spread, size=n), 1)
    extra: dict = {"note": "synthetic"}
    if processes > 1:
        chunks = np.array_split(samples, processes)
        extra.update(repeats=processes, process_p50_us=[float(np.median(c)) for c in chunks])
    return Record(
        variant=variant,
        model_path=f"/models/{variant.replace('/', '_')}.tflite",
        status="ok",
        file_bytes=zip_bytes * 2,
        zip_bytes=zip_bytes,
        compression_ratio=1.5,
        accuracy=accuracy,
        accuracy_source="device" if accuracy is not None else None,
        eval_n=1000 if accuracy is not None else None,
        latency_us=LatencyStats.from_samples(samples * 1000),
        init_ms=3.2,
        first_inference_us=200.0,
        warmup_runs=10,
        rss_mb=RssMb(40.0, 45.0, peak_mb),
        threads=1,
        xnnpack=True,
        runtime_name="ai-edge-litert",
        runtime_version="2.3.0",
        wall_s=1.5,
        samples_us=tuple(float(s) for s in samples),
        extra=extra,
    )


def process_record(process_p50s: Sequence[float]) -> Record:
    """An ok record of variant ``m`` measured in one process per median: 60 samples each,
    within 0.06 µs of it (``extra["process_p50_us"]`` as ``--repeats`` writes it)."""
    samples = tuple(p + 0.01 * (i % 7) for p in process_p50s for i in range(60))
    return Record(variant="m", model_path="/m", status="ok", samples_us=samples,
                  latency_us=LatencyStats.from_samples([s * 1000 for s in samples]),
                  extra={"process_p50_us": list(process_p50s)})


def make_results(
    run_id: str,
    records: Sequence[Record] | None = None,
    target: str = "local",
    device: DeviceInfo = DEVICE,
    created_at: str | None = None,
    seed: int = 0,
) -> Results:
    """One run on one target; by default two variants with stable latencies."""
    if records is None:
        records = [
            make_record("base/float32", 100.0, 20_000, 0.91, seed=seed),
            make_record("pruned/int8", 40.0, 6_000, 0.90, seed=seed + 1),
        ]
    return Results(
        run_id=run_id,
        created_at=created_at
        or f"2025-01-{int(run_id[-2:]) if run_id[-2:].isdigit() else 1:02d}T02:00:00+00:00",
        target=target,
        manifest=None,
        host=device,
        device=device,
        settings=BenchSettings(),
        git_commit="0123456789abcdef",
        records=tuple(records),
    )


PI = DeviceInfo(hostname="raspberrypi", machine="aarch64", cpu="Cortex-A72", cores=4,
                runtime_name="tflite-runtime", runtime_version="2.14.0")

VARIANTS = (  # name, median µs, zip bytes, accuracy
    ("baseline/float32", 120.0, 78_000, 0.912),
    ("baseline/int8", 60.0, 24_000, 0.905),
    ("pruned50/float32", 118.0, 52_000, 0.909),
    ("pruned50/int8", 58.0, 16_500, 0.901),
    ("pruned80/int8", 57.0, 9_800, 0.874),
)


def write_history(path, n_runs: int = 5, slow_last: str | None = "pruned50/int8") -> None:
    """A history of ``n_runs`` nightly runs on two targets; the last one has a slowdown."""
    from edgebench.bench.judgement.history import append_results

    for i in range(1, n_runs + 1):
        run = []
        for target, device, scale in (("local", DEVICE, 1.0), ("ssh://pi", PI, 6.0)):
            recs = []
            for k, (name, med, zb, acc) in enumerate(VARIANTS):
                factor = 3.0 if (i == n_runs and name == slow_last) else 1.0
                recs.append(
                    make_record(
                        name,
                        med * scale * factor,
                        zb,
                        acc,
                        peak_mb=40 + k,
                        seed=100 * i + k,
                        spread=0.05,
                    )
                )
            run.append(make_results(f"run{i:02d}", recs, target=target, device=device))
        append_results(path, run)
