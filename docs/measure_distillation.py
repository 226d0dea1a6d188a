"""Pruning without labels, measured: the pruning guide's model on Fashion-MNIST, pruned with
the shipped ``pruned`` recipe (polynomial decay 50% -> 80%, 2 epochs), fine-tuned once on the
labels and once by distillation from the dense model's own outputs with the labels hidden
(``[train] fine_tune = "distill"``: the fine-tune never sees a label; the labels only measure
the test accuracy). Same baseline (seeded), same sparsity, same data, same steps.

    TF_USE_LEGACY_KERAS=1 python docs/measure_distillation.py [--out out/distill] [--seeds 0 1 2]

Prints one Markdown table: accuracy of the pruned Keras model and of its int8 TFLite variant,
and the int8 variant's SNR and top-1 agreement against the dense float32 reference.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import edgebench
from edgebench.records import worst_fidelity


def build(fine_tune: str, seed: int, out: Path) -> dict:
    config = edgebench.load_config()  # the shipped pipeline: Fashion-MNIST, the guide's model
    train = dataclasses.replace(config.train, fine_tune=fine_tune, seed=seed)
    pruned = dataclasses.replace(config.recipe("pruned"), variants=config.recipe("pruned")
                                 .variants[-1:])  # int8 only
    config = dataclasses.replace(config, train=train, recipes=(pruned,))
    t0 = time.perf_counter()
    manifest = edgebench.build_models(config, out=out, run=f"{fine_tune}-seed{seed}",
                                      progress=lambda line: None)
    keras_art, int8 = manifest.artifact("pruned/keras"), manifest.artifact("pruned/int8")
    worst = worst_fidelity(int8.fidelity)
    return {
        "fine_tune": keras_art.extra["fine_tune"]["kind"],
        "sparsity": keras_art.layer_sparsity,
        "keras": keras_art.host_accuracy,
        "int8": int8.host_accuracy,
        "snr": worst.snr_db,
        "agree": worst.top1_agreement,
        "dense": manifest.artifact("baseline/keras").host_accuracy,
        "s": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/distill"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a = ap.parse_args()
    rows = {"labels": [], "distill": []}
    for seed in a.seeds:
        for fine_tune in rows:
            r = build(fine_tune, seed, a.out)
            rows[fine_tune].append(r)
            print(f"seed {seed} {fine_tune}: {r}", flush=True)
    print("\n| fine-tune | seed | dense accuracy | pruned Keras accuracy | pruned int8 accuracy "
          "| int8 SNR dB | int8 top-1 agreement |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for rs in rows.values():
        for seed, r in zip(a.seeds, rs, strict=True):
            print(f"| {r['fine_tune']} | {seed} | {r['dense']:.4f} | {r['keras']:.4f} | "
                  f"{r['int8']:.4f} | {r['snr']:.1f} | {r['agree']:.4f} |")
        if len(rs) > 1:
            mean = statistics.mean
            print(f"| {rs[0]['fine_tune']} | mean | {mean(r['dense'] for r in rs):.4f} | "
                  f"{mean(r['keras'] for r in rs):.4f} | {mean(r['int8'] for r in rs):.4f} | "
                  f"{mean(r['snr'] for r in rs):.1f} | {mean(r['agree'] for r in rs):.4f} |")


if __name__ == "__main__":
    main()
