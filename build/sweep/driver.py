"""The sweep's driver: check, train the baseline, run the search, choose, write the manifest.

The front and the chosen variant are copied into the run folder and written to its manifest
as artifacts, so ``edgebench bench`` and ``gate`` use them unchanged; every trial and the
front go into the manifest's ``sweep``, the chosen file into ``chosen``.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgebench.build import pipeline
from edgebench.build._tf import import_tf
from edgebench.build.cache import Cache
from edgebench.build.config import PipelineConfig
from edgebench.build.datasets import Dataset, load_dataset
from edgebench.build.sweep import keys, worker
from edgebench.build.sweep.baseline import build_baseline, load_baseline
from edgebench.build.sweep.execution import check_ray_address, make_runner
from edgebench.build.sweep.search import search
from edgebench.build.sweep.trials import BASELINE_STAGE, TaskJob, TrialResult
from edgebench.build.sweep_config import SweepConfig
from edgebench.errors import ConfigError
from edgebench.pareto import pareto_front
from edgebench.records import Artifact, VariantKind


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep wrote: the manifest, the chosen file (if any reached the floor)."""

    manifest: Path
    chosen: str | None
    trained_stages: int


def run_sweep(
    config: PipelineConfig,
    run_dir: Path,
    cache_root: Path,
    *,
    ray_address: str | None = None,
    workers: int | None = None,
    progress: pipeline.Progress = print,
) -> SweepOutcome:
    """Run the config's [sweep] into ``run_dir``; return the manifest and the choice."""
    t_start = time.perf_counter()
    sweep = config.sweep
    if sweep is None:
        raise ConfigError(
            f"{config.path or 'the config'} has no [sweep] section; use models/sweep.toml "
            "(edgebench sweep --config models/sweep.toml) or add a [sweep] section"
        )
    if ray_address is not None:
        check_ray_address(ray_address)
    workers = workers or sweep.workers
    import_tf()  # a missing TensorFlow is reported before the data loads
    ds = load_dataset(
        config.data.dataset, config.base_dir, config.data.train_limit, config.data.test_limit
    )
    check_search_space(config)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    eval_path = run_dir / pipeline.EVAL_DIR
    pipeline.write_dataset_eval(eval_path, ds, config)
    cache = Cache(cache_root)
    fingerprint = keys.data_fingerprint(ds)
    worker.keep_dataset(fingerprint, ds)  # in-process tasks reuse the loaded data

    baseline_key = keys.baseline_key(config, fingerprint)
    entry, built = cache.get_or_build(
        BASELINE_STAGE, baseline_key, lambda tmp: build_baseline(config, ds, tmp, progress)
    )
    progress(f"baseline: {'trained' if built else 'from the cache'} ({entry.path})")

    t_trials = time.perf_counter()
    job = TaskJob(
        config=config,
        cache_root=str(cache_root),
        eval_path=str(eval_path),
        baseline_key=baseline_key,
        data_fingerprint=fingerprint,
        trials=(),
        threads=max(1, (os.cpu_count() or 1) // workers),
    )
    with make_runner(ray_address, workers, progress) as runner:
        results = search(sweep, functools.partial(runner.run_trials, job), workers, progress)
    trials_s = time.perf_counter() - t_trials
    trained = int(built) + sum(len(r.trained) for r in results)

    # ------------------------------------------------------------------ choose and record
    baseline = load_baseline(cache, baseline_key, config.train.learning_rate)
    builder = _artifact_builder(config, ds, baseline.model, run_dir, eval_path, progress)
    dense = builder.keras(
        "baseline", baseline.model, "baseline.h5", {"source": f"cache:{baseline_key}"}
    )
    # The float32 baseline is the reference every variant's outputs are held to (fidelity).
    builder.attach_reference(
        lambda: pipeline.convert(baseline.model, VariantKind.FLOAT32, None)
    )
    floor = sweep.floor(dense.host_accuracy or 0.0)
    results = [r.with_compression_ratio(dense.zip_bytes) for r in results]
    front = sweep_front(results)
    chosen = choose(results, floor)
    artifacts = [dense]
    for kind in config.baseline.variants:
        artifacts.append(builder.tflite("baseline", baseline.model, kind, {}))
    # Artifacts are what bench measures and gate holds to the budgets: the front members that
    # meet the floor (the chosen one is the smallest of them). Every trial stays in `sweep`.
    keep = {r.id: r for r in front if r.accuracy >= floor}
    if chosen is not None:
        keep[chosen.id] = chosen
    names: dict[str, str] = {}
    for r in sorted(keep.values(), key=lambda r: r.zip_bytes):
        art = _copy_trial(builder, r, run_dir)
        artifacts.append(art)
        names[r.id] = art.name
    wall_s = round(time.perf_counter() - t_start, 1)
    summary = {
        **_describe_search(sweep),
        "floor_accuracy": round(floor, 5),
        "floor_rule": (
            f"min_accuracy {sweep.min_accuracy}"
            if sweep.min_accuracy is not None
            else f"baseline {dense.host_accuracy} - max_accuracy_drop {sweep.max_accuracy_drop}"
        ),
        "baseline_accuracy": dense.host_accuracy,
        "baseline_zip_bytes": dense.zip_bytes,
        "chosen_variant": names.get(chosen.id) if chosen else None,
        "front": [r.id for r in front],
        "trials": [r.to_dict() for r in results],
        "trained_stages": trained,
        "ray_address": ray_address,
        "workers": workers,
        "trials_wall_s": round(trials_s, 1),
        "wall_s": wall_s,
    }
    manifest = pipeline.new_manifest(
        run_dir,
        config,
        ds,
        eval_path,
        dense.name,
        artifacts,
        chosen=Path(chosen.tflite_path).name if chosen else None,
        sweep=summary,
        **builder.manifest_fields(),
    )
    manifest_path = run_dir / "manifest.json"
    manifest.save(manifest_path)
    progress(format_table(front, chosen, floor))
    progress(
        f"sweep done in {wall_s:.1f} s: {len(results)} trials, {trained} stages trained; "
        f"manifest {manifest_path}"
    )
    return SweepOutcome(manifest_path, manifest.chosen, trained)


def _artifact_builder(
    config: PipelineConfig,
    ds: Dataset,
    baseline: Any,
    run_dir: Path,
    eval_path: Path,
    progress: pipeline.Progress,
) -> pipeline.ArtifactBuilder:
    """An artifact builder for the run folder, with the data shaped for ``baseline``."""
    input_shape = pipeline.model_input_shape(baseline)
    data = pipeline.split_training_data(ds, input_shape, config.train.validation_split)
    x_test = pipeline.scale_inputs(ds.x_test, input_shape)
    return pipeline.ArtifactBuilder(
        run_dir, eval_path, x_test, ds.y_test, data.x_fit, config, progress
    )


def _copy_trial(builder: pipeline.ArtifactBuilder, r: TrialResult, run_dir: Path) -> Artifact:
    """Copy a trial's file from the cache into the run folder and record it as an artifact."""
    src = Path(r.tflite_path)
    dst = run_dir / src.name
    shutil.copyfile(src, dst)
    extra = {k: v for k, v in r.to_dict().items() if k != "trained"}
    return builder.existing_tflite(r.id, r.spec.kind, dst, extra)


def _describe_search(sweep: SweepConfig) -> dict[str, Any]:
    return {
        "search": sweep.search,
        "space": {
            "recipes": list(sweep.recipes),
            "sparsities": list(sweep.sparsities),
            "clusters": list(sweep.clusters),
            "quantization": list(sweep.quantization),
        },
    }


def sweep_front(results: Sequence[TrialResult]) -> list[TrialResult]:
    """The trials no other beats on zipped bytes (fewer) and accuracy (more), smallest first."""
    return pareto_front(results, size=lambda r: r.zip_bytes, quality=lambda r: r.accuracy)


def choose(results: Sequence[TrialResult], floor: float) -> TrialResult | None:
    """The smallest trial at or above the floor (the more accurate one on a tie)."""
    ok = [r for r in results if r.accuracy >= floor]
    return min(ok, key=lambda r: (r.zip_bytes, -r.accuracy)) if ok else None


def format_table(front: Sequence[TrialResult], chosen: TrialResult | None, floor: float) -> str:
    """The Pareto table as Markdown: recipe, sparsity, clusters, quantisation, size, accuracy."""
    lines = [
        "| recipe | sparsity | clusters | quantisation | zip bytes | ratio | accuracy | |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for r in sorted(front, key=lambda r: r.zip_bytes):
        s = r.spec
        mark = "chosen" if chosen is not None and r.id == chosen.id else ""
        quant = s.qat_scheme or s.quantization
        lines.append(
            f"| {s.recipe} | {s.sparsity:.0%} | {s.clusters or '-'} | {quant} | "
            f"{r.zip_bytes:,} | {r.compression_ratio or 0:.2f}x | "
            f"{r.accuracy:.2%} | {mark} |"
        )
    verdict = (
        f"chosen: {chosen.id} ({chosen.zip_bytes:,} bytes, {chosen.accuracy:.2%})"
        if chosen
        else f"no variant reached the floor {floor:.2%}"
    )
    return "\n".join([*lines, f"floor {floor:.2%}; {verdict}"])


def check_search_space(config: PipelineConfig) -> None:
    """Fail before any training on a clustering count larger than a layer's weights."""
    sweep = config.sweep
    assert sweep is not None
    if config.model.builtin is None:
        return  # a user's model: checked by the cluster recipe itself when it runs
    ds = load_dataset(config.data.dataset, config.base_dir, 1, 1)
    model = pipeline.builtin_model(config.model.builtin, ds.sample_shape, ds.num_classes)
    kernels = {
        layer.name: int(np.prod(layer.kernel.shape))
        for layer in model.layers
        if hasattr(layer, "kernel")
    }
    for name in sweep.recipes:
        layers = getattr(config.recipe(name).params, "layers", ()) or tuple(kernels)
        for layer in layers:
            if layer not in kernels:
                continue
            for s in sweep.sparsities:
                left = kernels[layer] - int(round(s * kernels[layer]))
                for k in sweep.clusters:
                    if k > left:
                        raise ConfigError(
                            f"sweep.clusters: {k} clusters is more than the {left} weights layer "
                            f"{layer} keeps at sparsity {s} (recipes.{name}); lower the "
                            f"clusters or the sparsity, or leave {layer} out of "
                            f"recipes.{name}.layers"
                        )
