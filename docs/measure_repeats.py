"""How many runner processes per model (``--repeats``) does a machine need for a latency
verdict that same-model re-runs cannot flip?

Benches the same models BENCHES times, each time with MAX_K processes per model, then asks, for
every k <= MAX_K: taking only the first k processes of each bench, how far apart are the medians
of per-process medians of two benches of the same file? The README's figures come from this:

    nice -n 10 python docs/measure_repeats.py --benches 12 --max-k 7 --runs 100

Nothing is written to the history; the results files go to a temporary folder.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
from pathlib import Path

import numpy as np

import edgebench

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
DEFAULT_MODELS = [FIXTURES / f"tiny_{k}.tflite" for k in ("float32", "dynamic", "int8")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", type=Path, default=DEFAULT_MODELS)
    p.add_argument("--benches", type=int, default=12)
    p.add_argument("--max-k", type=int, default=7)
    p.add_argument("--runs", type=int, default=100)
    args = p.parse_args()

    medians: dict[str, list[list[float]]] = {}  # variant -> one list of process p50s per bench
    with tempfile.TemporaryDirectory() as tmp:
        for b in range(args.benches):
            settings = edgebench.BenchSettings(runs=args.runs, warmup=10, repeats=args.max_k)
            (res,) = edgebench.bench_models(
                args.models, "local", settings, out=tmp, run=f"b{b}", record_history=False,
                progress=lambda _line: None,
            )
            for rec in res.records:
                medians.setdefault(rec.variant, []).append(rec.extra["process_p50_us"])
            print(f"bench {b + 1}/{args.benches} done", flush=True)

    print("\nmedian of per-process medians (µs), bench by bench:")
    for variant, runs in medians.items():
        print(f"  {variant:<14}" + " ".join(f"{statistics.median(m):6.1f}" for m in runs))
    devs = [np.log(p / np.median(m)) for ms in medians.values() for m in ms for p in m]
    print(f"\n{len(devs)} processes; per-process median / its record's median: "
          f"{np.exp(min(devs)):.2f}x .. {np.exp(max(devs)):.2f}x; "
          f"{np.mean(np.abs(devs) > np.log(1.2)):.1%} beyond 1.2x")
    print(f"\n{'k':>2}  {'pairs':>5}  {'worst ratio':>11}  {'p99 ratio':>9}  {'beyond 1.2x':>11}")
    for k in range(1, args.max_k + 1):
        logs = []
        for runs in medians.values():
            for a, b in itertools.combinations(runs, 2):
                logs.append(abs(np.log(statistics.median(a[:k]) / statistics.median(b[:k]))))
        logs = np.asarray(logs)
        print(f"{k:>2}  {logs.size:>5}  {np.exp(logs.max()):>10.2f}x  "
              f"{np.exp(np.percentile(logs, 99)):>8.2f}x  {np.mean(logs > np.log(1.2)):>10.1%}")


if __name__ == "__main__":
    main()
