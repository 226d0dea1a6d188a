"""The figures in docs/ab.md: how often ``edgebench ab`` at its defaults calls a file against
its copy, a 1.2x and a 1.1x compute pair faster or slower, and how long a decided pair takes.

The pairs are stacks of identical 3x3 convolutions (tests/fixtures/make_conv_stack.py: 28x28,
32 channels; 10 layers against a copy of itself, 12 layers, 11 layers), about 1.1 ms a model
here. Each trial is one ``run_ab`` of one pair, as a nightly job would run it.

    flock /work/measure.lock env TF_USE_LEGACY_KERAS=1 python docs/measure_ab.py \\
        --trials 50 --out out/measure-ab
    python docs/measure_ab.py --instructions --out out/measure-ab   # deterministic: no lock

Run it under ``flock`` on a shared machine, so no other measurement overlaps it; it prints
``uptime`` before and after, to be kept beside the figures.
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

from edgebench.bench.judgement.ab_result import AbPair
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.orchestration.ab import run_ab

HERE = Path(__file__).resolve().parent
MAKER = HERE.parent / "tests" / "fixtures" / "make_conv_stack.py"
PAIRS = {"copy": ("conv10", "conv10_copy"), "1.2x": ("conv10", "conv12"),
         "1.1x": ("conv10", "conv11")}


def models(folder: Path) -> dict[str, Path]:
    """Build the conv stacks (once) and the copy; their paths by stem."""
    want = {n: folder / f"conv{n}_float32.tflite" for n in (10, 11, 12)}
    if not all(p.exists() for p in want.values()):
        subprocess.run([sys.executable, str(MAKER), "--out", str(folder), "--size", "28",
                        "--channels", "32", "--layers", "10", "11", "12"], check=True)
    copy = folder / "conv10_copy_float32.tflite"
    shutil.copyfile(want[10], copy)
    return {**{f"conv{n}": p for n, p in want.items()}, "conv10_copy": copy}


def instructions(paths: dict[str, Path]) -> None:
    """The 1.2x pair counted twice (is it the same to 0.1%?) and the copy, at the defaults."""
    s = AbSettings(measure="instructions")
    for name, (base, cur) in (("1.2x", PAIRS["1.2x"]), ("1.2x again", PAIRS["1.2x"]),
                              ("copy", PAIRS["copy"])):
        r = run_ab([AbPair(name, paths[base], paths[cur])], s).results[0]
        print(f"{name:10s} {r.verdict.value:7s} ratio {r.ratio:.5f}  base {r.base_value:,.0f} "
              f"current {r.current_value:,.0f} instructions per invoke, {r.wall_s:.0f} s",
              flush=True)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("out/measure-ab"))
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--instructions", action="store_true",
                        help="instead: count instructions of the 1.2x pair twice and the copy")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = models(args.out / "models")
    if args.instructions:
        instructions(paths)
        return
    print("before:", uptime(), flush=True)
    trials: dict[str, list[dict]] = {name: [] for name in args.pairs}
    for i in range(args.trials):
        for name in args.pairs:  # the pairs take turns, so each sees the same hours
            base, cur = PAIRS[name]
            start = time.monotonic()
            rep = run_ab([AbPair(name, paths[base], paths[cur])], AbSettings())
            r = rep.results[0]
            trials[name].append({"verdict": r.verdict.value, "ratio": r.ratio,
                                 "ci": r.ci, "rounds": r.rounds,
                                 "wall_s": round(time.monotonic() - start, 2),
                                 "load": uptime().rsplit("load average:", 1)[-1].strip()})
            print(f"{i + 1:3d} {name:5s} {r.verdict.value:12s} {r.ratio:.3f} "
                  f"[{r.ci[0]:.3f}, {r.ci[1]:.3f}] {r.rounds:3d} rounds "
                  f"{trials[name][-1]['wall_s']:6.1f} s", flush=True)
        (args.out / "trials.json").write_text(json.dumps(trials, indent=1))
    print("after:", uptime())
    for name, rows in trials.items():
        verdicts = [t["verdict"] for t in rows]
        decided = [t["wall_s"] for t in rows if t["verdict"] != "inconclusive"]
        counts = {v: verdicts.count(v) for v in sorted(set(verdicts))}
        ratios = [t["ratio"] for t in rows]
        print(f"{name}: {counts} of {len(rows)}; ratios {min(ratios):.3f}-{max(ratios):.3f}; "
              f"median wall per decided pair "
              f"{statistics.median(decided) if decided else float('nan'):.1f} s")


if __name__ == "__main__":
    main()
