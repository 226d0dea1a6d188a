"""The sweep's driver: check, train the baseline, run the search, choose, write the manifest.

Every trial is measured on the validation split (:mod:`.split`) and the choice sees nothing
else: the smallest trial whose validation accuracy (or, with ``sweep.confidence``, its lower
confidence bound) is at least the floor. Only then are the front members measured on the
whole test set, through the TFLite interpreter; the manifest reports the chosen variant's
validation and test accuracy side by side. The front members that meet the floor and the
chosen variant are copied into the run folder and written to its manifest as artifacts, so
``edgebench bench`` and ``gate`` use them unchanged; every trial and the front go into the
manifest's ``sweep``, the chosen file into ``chosen``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgebench.build._tf import import_tf
from edgebench.build.artifacts import EVAL_DIR, ArtifactBuilder
from edgebench.build.baseline import builtin_model, model_input_shape
from edgebench.build.cache import Cache
from edgebench.build.config import PipelineConfig
from edgebench.build.conversion import convert
from edgebench.build.datasets import Dataset, load_dataset
from edgebench.build.manifest import new_manifest
from edgebench.build.progress import Progress
from edgebench.build.samples import scale_inputs, write_dataset_eval
from edgebench.build.sweep import keys, worker
from edgebench.build.sweep.baseline import build_baseline, load_baseline
from edgebench.build.sweep.execution import check_ray_address, make_runner
from edgebench.build.sweep.fidelity import Fidelity
from edgebench.build.sweep.search import grid, search
from edgebench.build.sweep.split import (
    VAL_DIR,
    sweep_data,
    sweep_training_data,
    write_val_eval,
)
from edgebench.build.sweep.teacher import build_teacher_entry, check_teacher
from edgebench.build.sweep.trials import BASELINE_STAGE, TaskJob, TrialResult, TrialSpec
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
    progress: Progress = print,
) -> SweepOutcome:
    """Run the config's [sweep] into ``run_dir``; return the manifest and the choice.

    Trials are measured on the seeded validation split and chosen by it alone; the test set
    is measured only afterwards, for the front and the chosen variant.
    """
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
    sweep_data(ds)  # one input with labels, or a DatasetError before anything is written
    check_teacher(config, ds)  # a teacher file that cannot teach, before anything trains
    specs, skipped = check_search_space(config)
    for line in skipped:
        progress(f"search space: skipped {line}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    eval_path = run_dir / EVAL_DIR
    write_dataset_eval(eval_path, ds, config)
    val_path = run_dir / VAL_DIR
    n_val = write_val_eval(val_path, ds, sweep, config)
    progress(
        f"validation: {n_val} of {len(ds.x_train)} training samples held out (seed "
        f"{sweep.seed}); the choice sees only these, the {len(ds.x_test)} test samples are "
        "measured after it"
    )
    cache = Cache(cache_root)
    fingerprint = keys.data_fingerprint(ds)
    worker.keep_dataset(fingerprint, ds)  # in-process tasks reuse the loaded data

    baseline_key = keys.baseline_key(config, fingerprint)
    entry, built = cache.get_or_build(
        BASELINE_STAGE, baseline_key, lambda tmp: build_baseline(config, ds, tmp, progress)
    )
    progress(f"baseline: {'trained' if built else 'from the cache'} ({entry.path})")
    teacher = build_teacher_entry(config, ds, cache, fingerprint, entry.meta, progress)

    t_trials = time.perf_counter()
    job = TaskJob(
        config=config,
        cache_root=str(cache_root),
        val_path=str(val_path),
        baseline_key=baseline_key,
        data_fingerprint=fingerprint,
        trials=(),
        threads=max(1, (os.cpu_count() or 1) // workers),
        teacher_key=teacher.key if teacher else None,
    )
    def run(batch: Sequence[TrialSpec], fidelity: Fidelity | None) -> list[TrialResult]:
        return runner.run_trials(dataclasses.replace(job, fidelity=fidelity), batch)

    search_floor = sweep.floor(float(entry.meta.get("val_accuracy") or 0.0))
    with make_runner(ray_address, workers, progress) as runner:
        outcome = search(
            sweep, specs, run, workers, progress, floor=search_floor,
            journal=run_dir / "optuna.journal", max_epochs=max_recipe_epochs(config),
        )
    results = outcome.results
    trials_s = time.perf_counter() - t_trials
    trained = int(built) + int(bool(teacher and teacher.built))
    trained += sum(len(r.trained) for r in results)

    # ------------------------------------------------------------------ choose on validation
    baseline = load_baseline(cache, baseline_key, config.train.learning_rate)
    builder = _artifact_builder(config, ds, baseline.model, run_dir, eval_path, progress)
    dense = builder.keras(
        "baseline", baseline.model, "baseline.h5", {"source": f"cache:{baseline_key}"}
    )
    # The float32 baseline is the reference every variant's outputs are held to (fidelity).
    builder.attach_reference(
        lambda: convert(baseline.model, VariantKind.FLOAT32, None)
    )
    artifacts = [dense]
    for kind in config.baseline.variants:
        artifacts.append(builder.tflite("baseline", baseline.model, kind, {}))
    baseline_val = {
        a.kind: round(worker.tflite_accuracy(run_dir / a.path, val_path, _batch(config)), 5)
        for a in artifacts[1:]
    }
    reference_val = baseline_val.get("float32", entry.meta.get("val_accuracy"))
    if reference_val is None and sweep.max_accuracy_drop is not None:
        raise ConfigError(
            'max_accuracy_drop is measured from the dense baseline\'s float32 TFLite model; add '
            '"float32" to [baseline] variants, or set sweep.min_accuracy instead'
        )
    floor = sweep.floor(reference_val or 0.0)
    results = [
        r.with_compression_ratio(dense.zip_bytes).with_lower_bound(sweep.confidence)
        if sweep.confidence
        else r.with_compression_ratio(dense.zip_bytes)
        for r in results
    ]
    front = sweep_front(results)
    chosen = choose(results, floor)

    # ------------------------------------------------------------------ then measure on test
    # Artifacts are what bench measures and gate holds to the budgets: the front members that
    # meet the floor (the chosen one is the smallest of them); their host accuracy is on the
    # whole test set. Front members below the floor are measured on it too, not shipped.
    keep = {r.id for r in front if r.choice_accuracy >= floor}
    if chosen is not None:
        keep.add(chosen.id)
        if chosen.id not in {r.id for r in front}:
            front = sweep_front([*front, chosen])
    names: dict[str, str] = {}
    tested: dict[str, TrialResult] = {}
    for r in front:
        if r.id in keep:
            art = _copy_trial(builder, r, run_dir)
            artifacts.append(art)
            names[r.id] = art.name
            tested[r.id] = r.with_test_accuracy(art.host_accuracy or 0.0)
        else:
            accuracy = worker.tflite_accuracy(Path(r.tflite_path), eval_path, _batch(config))
            tested[r.id] = r.with_test_accuracy(accuracy)
    results = [tested.get(r.id, r) for r in results]
    front = [tested[r.id] for r in front]
    chosen = tested[chosen.id] if chosen is not None else None
    wall_s = round(time.perf_counter() - t_start, 1)
    summary = {
        **_describe_search(sweep),
        "skipped": skipped,
        "validation": {
            "split": sweep.validation_split,
            "seed": sweep.seed,
            "n": n_val,
            "file": val_path.name,
        },
        "teacher": teacher.describe() if teacher else None,
        "choice_metric": "val_lower_bound" if sweep.confidence else "val_accuracy",
        "confidence": sweep.confidence,
        "floor_accuracy": round(floor, 5),
        "floor_rule": _floor_rule(sweep, reference_val),
        "baseline_accuracy": dense.host_accuracy,  # the Keras .h5, on the test set
        "baseline_val_accuracy": baseline_val,  # each baseline TFLite variant, on validation
        "baseline_zip_bytes": dense.zip_bytes,
        "chosen_variant": names.get(chosen.id) if chosen else None,
        "chosen_zip_bytes": chosen.zip_bytes if chosen else None,
        "chosen_compression_ratio": chosen.compression_ratio if chosen else None,
        "chosen_val_accuracy": chosen.val_accuracy if chosen else None,
        "chosen_val_lower_bound": chosen.val_lower_bound if chosen else None,
        "chosen_test_accuracy": chosen.test_accuracy if chosen else None,
        "front": [r.id for r in front],
        "trials": [r.to_dict() for r in results],
        "trained_stages": trained,
        "ray_address": ray_address,
        "workers": workers,
        "pruner": outcome.summary() if sweep.pruner != "none" else None,
        "stopped_trials": [r.to_dict() for r in outcome.stopped],
        "trials_wall_s": round(trials_s, 1),
        "wall_s": wall_s,
    }
    manifest = new_manifest(
        run_dir,
        config,
        ds,
        eval_path=eval_path,
        baseline=dense.name,
        artifacts=artifacts,
        chosen=Path(chosen.tflite_path).name if chosen else None,
        sweep=summary,
        **builder.manifest_fields(),
    )
    manifest_path = run_dir / "manifest.json"
    manifest.save(manifest_path)
    progress(format_table(front, chosen, floor, sweep.confidence))
    progress(
        f"sweep done in {wall_s:.1f} s: {len(results)} trials, {trained} stages trained; "
        f"manifest {manifest_path}"
    )
    return SweepOutcome(manifest_path, manifest.chosen, trained)


def max_recipe_epochs(config: PipelineConfig) -> int:
    """The most epochs any pruned stage of the sweep fine-tunes (a pruner's max resource)."""
    sweep = config.sweep
    assert sweep is not None
    most = [getattr(config.recipe(r).params, "epochs", 1) for r in sweep.recipes]
    most += [int(v) for k, values in sweep.vary if k == "epochs" for v in values]
    return max(1, *most)


def _batch(config: PipelineConfig) -> int:
    return config.bench.eval_batch


def _floor_rule(sweep: SweepConfig, reference_val: float | None) -> str:
    on = (
        f"the {sweep.confidence:g} lower confidence bound of the validation accuracy"
        if sweep.confidence
        else "the validation accuracy"
    )
    if sweep.min_accuracy is not None:
        return f"min_accuracy {sweep.min_accuracy} on {on}"
    return (
        f"baseline float32 validation accuracy {reference_val} - max_accuracy_drop "
        f"{sweep.max_accuracy_drop}, on {on}"
    )


def _artifact_builder(
    config: PipelineConfig,
    ds: Dataset,
    baseline: Any,
    run_dir: Path,
    eval_path: Path,
    progress: Progress,
) -> ArtifactBuilder:
    """An artifact builder for the run folder, with the data shaped for ``baseline``."""
    input_shape = model_input_shape(baseline)
    assert config.sweep is not None
    data = sweep_training_data(ds, input_shape, config.sweep)
    arrays = sweep_data(ds)
    x_test = scale_inputs(arrays.x_test, input_shape)
    return ArtifactBuilder(
        out_dir=run_dir,
        eval_path=eval_path,
        x_test=x_test,
        y_test=arrays.y_test,
        x_calibration_pool=data.x_fit,
        config=config,
        progress=progress,
    )


def _copy_trial(builder: ArtifactBuilder, r: TrialResult, run_dir: Path) -> Artifact:
    """Copy a trial's file from the cache into the run folder and record it as an artifact."""
    src = Path(r.tflite_path)
    dst = run_dir / src.name
    shutil.copyfile(src, dst)
    extra = {k: v for k, v in r.to_dict().items() if k not in ("trained", "test_accuracy")}
    return builder.existing_tflite(r.id, r.spec.kind, dst, extra)


def _describe_search(sweep: SweepConfig) -> dict[str, Any]:
    return {
        "search": sweep.search,
        "space": {
            "recipes": list(sweep.recipes),
            "sparsities": list(sweep.sparsities),
            "clusters": list(sweep.clusters),
            "quantization": list(sweep.quantization),
            "vary": {k: list(v) for k, v in sweep.vary},
            "strip": sweep.strip,
        },
    }


def sweep_front(results: Sequence[TrialResult]) -> list[TrialResult]:
    """The trials no other beats on zipped bytes (fewer) and validation accuracy (more),
    smallest first."""
    return pareto_front(results, size=lambda r: r.zip_bytes, quality=lambda r: r.val_accuracy)


def choose(results: Sequence[TrialResult], floor: float) -> TrialResult | None:
    """The smallest trial whose validation accuracy (its lower bound, when the sweep sets a
    confidence) is at or above the floor; the more accurate one on a tie."""
    ok = [r for r in results if r.choice_accuracy >= floor]
    return min(ok, key=lambda r: (r.zip_bytes, -r.val_accuracy)) if ok else None


def format_table(
    front: Sequence[TrialResult], chosen: TrialResult | None, floor: float, confidence: float = 0
) -> str:
    """The Pareto table as Markdown: what each member is, its size, validation and test
    accuracy (the choice read validation only)."""
    bound = f" | {confidence:g} bound" if confidence else ""
    lines = [
        f"| trial | zip bytes | ratio | validation{bound} | test | |",
        "| --- | ---: | ---: | ---: | ---: | --- |" + (" ---: |" if confidence else ""),
    ]
    for r in sorted(front, key=lambda r: r.zip_bytes):
        mark = "chosen" if chosen is not None and r.id == chosen.id else ""
        test = "-" if r.test_accuracy is None else f"{r.test_accuracy:.2%}"
        low = f" | {r.val_lower_bound:.2%}" if confidence and r.val_lower_bound is not None else ""
        lines.append(
            f"| {r.id} | {r.zip_bytes:,} | {r.compression_ratio or 0:.2f}x | "
            f"{r.val_accuracy:.2%}{low} | {test} | {mark} |"
        )
    on = f"{confidence:g} lower bound of validation" if confidence else "validation"
    if chosen:
        test = "-" if chosen.test_accuracy is None else f"{chosen.test_accuracy:.2%}"
        verdict = (
            f"chosen on {on}: {chosen.id} ({chosen.zip_bytes:,} bytes, "
            f"{chosen.compression_ratio or 0:.2f}x, validation {chosen.val_accuracy:.2%}, "
            f"test {test})"
        )
    else:
        verdict = f"no variant reached the floor {floor:.2%} on {on}"
    return "\n".join([*lines, f"floor {floor:.2%} ({on}); {verdict}"])


def check_search_space(config: PipelineConfig) -> tuple[list[TrialSpec], list[str]]:
    """The grid's valid points, and a line for each point left out; none valid is bad input.

    A point is invalid when its cluster count is larger than the weights a layer keeps at its
    sparsity. A listed cluster count valid at no sparsity is a mistake, not a skip.
    """
    sweep = config.sweep
    assert sweep is not None
    specs = grid(sweep)
    if config.model.builtin is None:
        return specs, []  # a user's model: checked by the cluster recipe itself when it runs
    ds = load_dataset(config.data.dataset, config.base_dir, 1, 1)
    model = builtin_model(config.model.builtin, ds.sample_shape, sweep_data(ds).num_classes)
    kernels = {
        layer.name: int(np.prod(layer.kernel.shape))
        for layer in model.layers
        if hasattr(layer, "kernel")
    }

    def problem(spec: TrialSpec) -> str | None:
        params = config.recipe(spec.recipe).params.with_sparsity(spec.sparsity)
        params = dataclasses.replace(params, **dict(spec.overrides))
        if not spec.clusters or getattr(params, "scope", "layer") == "global":
            return None  # global: per-layer counts are known after pruning; clustering checks
        for layer in getattr(params, "layers", ()) or tuple(kernels):
            if layer not in kernels:
                continue
            left = kernels[layer] - int(round(spec.sparsity * kernels[layer]))
            if spec.clusters > left:
                return (
                    f"{spec.clusters} clusters is more than the {left} weights layer {layer} "
                    f"keeps at sparsity {spec.sparsity:g} (recipes.{spec.recipe})"
                )
        return None

    valid: list[TrialSpec] = []
    skipped: list[str] = []
    reasons: dict[int, str] = {}
    for spec in specs:
        why = problem(spec)
        if why is None:
            valid.append(spec)
        else:
            skipped.append(f"{spec.id}: {why}")
            reasons.setdefault(spec.clusters, why)
    if not valid:
        raise ConfigError(
            f"the sweep's search space has no valid point ({next(iter(reasons.values()))}); "
            "add smaller sweep.clusters (0 = none) or lower sweep.sparsities"
        )
    for k, why in reasons.items():
        if not any(s.clusters == k for s in valid):
            raise ConfigError(
                f"sweep.clusters: {why} at every sparsity; lower the clusters or the sparsity, "
                "or leave that layer out of the recipe's layers"
            )
    return valid, skipped
