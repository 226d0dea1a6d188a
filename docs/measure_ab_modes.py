"""docs/ab.md's choice of how a round is measured: a file against its copy, measured in rounds
two ways, and how far each round's ratio strays from 1 and what a round costs.

- ``processes``: one runner process per model per turn, ABBA over four processes (the issue's
  "one process each" experiment, and what the benchmark_model flow would do);
- ``in-process``: both models in one runner process, invoked one call at a time in ABBA order
  for 0.25 s a round, 4 rounds a process (what ``edgebench ab`` does).

    flock /work/measure.lock python docs/measure_ab_modes.py out/measure-ab/models --rounds 40
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from edgebench.bench.device.pack import runner_archive
from edgebench.bench.device.runner.cli import MARKER

PYTHON = sys.executable


def runner(*args: str) -> dict:
    out = subprocess.run([PYTHON, str(runner_archive()), *args], capture_output=True,
                         text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith(MARKER))
    return json.loads(line[len(MARKER):])


def median_us(model: Path) -> float:
    data = runner("run", "--model", str(model), "--runs", "40", "--warmup", "10")
    return float(np.median(data["samples_ns"]))


def by_processes(a: Path, b: Path, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        a1, b1, b2, a2 = median_us(a), median_us(b), median_us(b), median_us(a)
        out.append((b1 + b2) / (a1 + a2))
    return out


def in_process(a: Path, b: Path, rounds: int) -> list[float]:
    out: list[float] = []
    reverse = False
    while len(out) < rounds:
        data = runner("ab", "--model", str(a), "--model", str(b), "--rounds", "4",
                      *(["--reverse"] if reverse else []))
        out += [cur / base for base, cur in data["rounds"]]
        reverse = not reverse
    return out[:rounds]


def describe(name: str, ratios: list[float], seconds: float) -> str:
    strays = sorted(abs(r - 1) for r in ratios)
    p95 = strays[int(0.95 * (len(strays) - 1))]
    return (f"{name:11s} {len(ratios)} rounds: median |ratio-1| {statistics.median(strays):.3f}, "
            f"95th percentile {p95:.3f}, worst {strays[-1]:.3f}; range "
            f"{min(ratios):.3f}-{max(ratios):.3f}; {seconds / len(ratios):.2f} s a round")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="the folder docs/measure_ab.py built")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    a = args.models / "conv10_float32.tflite"
    b = args.models / "conv10_copy_float32.tflite"
    shutil.copyfile(a, b)
    print("before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    for name, how in (("processes", by_processes), ("in-process", in_process)):
        start = time.monotonic()
        ratios = how(a, b, args.rounds)
        print(describe(name, ratios, time.monotonic() - start), flush=True)
    print("after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
