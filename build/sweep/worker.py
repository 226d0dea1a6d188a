"""The worker side of the sweep: run the trials that share one pruned model.

A trial is a chain of cached stages (:mod:`edgebench.build.cache`): pruned -> clustered (when
the trial clusters) -> final (its .tflite file, by post-training conversion or by QAT) ->
stripped (when ``sweep.strip`` is on: the same model without names, :mod:`edgebench.build.strip`).
Each stage is one function that returns the entry's model or file and trains only on a cache
miss. Trials are measured on the validation split (:mod:`.split`), never on the test set.
:func:`run_task` runs in a local worker process or a Ray task; what it returns is pickled back
to the driver.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from edgebench.bench.device.runner.evaluate import evaluate
from edgebench.build import facts, strip, training
from edgebench.build._tf import import_tf
from edgebench.build.artifacts import save_h5
from edgebench.build.baseline import model_input_shape
from edgebench.build.cache import Cache, Entry
from edgebench.build.config import PipelineConfig
from edgebench.build.conversion import convert
from edgebench.build.datasets import Dataset, load_dataset
from edgebench.build.recipe_runs import verify_sparsity
from edgebench.build.recipes import collaborative, get_recipe
from edgebench.build.recipes.base import RecipeContext
from edgebench.build.recipes.masks import tflite_weight_facts
from edgebench.build.samples import calibration_samples
from edgebench.build.sources import load_keras_model
from edgebench.build.sweep import keys
from edgebench.build.sweep.baseline import Baseline, load_baseline
from edgebench.build.sweep.fidelity import EpochReporter, Stopped
from edgebench.build.sweep.split import sweep_training_data
from edgebench.build.sweep.teacher import load_soft_targets
from edgebench.build.sweep.trials import (
    CLUSTER_STAGE,
    FINAL_STAGE,
    PRUNE_STAGE,
    STRIP_STAGE,
    LayerFacts,
    StripRecord,
    TaskJob,
    TrialResult,
    TrialSpec,
)
from edgebench.build.sweep_config import SweepConfig
from edgebench.build.training import TrainingData
from edgebench.errors import EdgebenchError
from edgebench.files import zip_bytes

MODEL_FILE = "model.h5"  # of a pruned or clustered entry
STRIP_CHECK_SAMPLES = 256  # validation samples a stripped model must answer byte-identically

# Per process, kept between tasks: the data of the last fingerprint seen (a worker runs many
# tasks of one sweep), and whether TensorFlow's thread pools have been sized.
_PROCESS: dict[str, Any] = {"fingerprint": None, "dataset": None, "threads_set": False}


def keep_dataset(fingerprint: str, ds: Dataset) -> None:
    """Remember ``ds`` for tasks of this process (the driver's, when it runs them in-process)."""
    _PROCESS.update(fingerprint=fingerprint, dataset=ds)


def process_dataset(config: PipelineConfig, fingerprint: str) -> Dataset:
    """The config's dataset, loaded once per process and data fingerprint."""
    if _PROCESS["fingerprint"] != fingerprint:
        data = config.data
        ds = load_dataset(data.dataset, config.base_dir, data.train_limit, data.test_limit)
        keep_dataset(fingerprint, ds)
    return _PROCESS["dataset"]


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the task's context


@dataclass(frozen=True)
class TaskContext:
    """What every stage of one task shares: the job, the cache, the baseline and the data."""

    job: TaskJob
    cache: Cache
    baseline: Baseline
    data: TrainingData  # scaled, shaped and split as the baseline was trained (.split)
    calibration: np.ndarray  # the int8 converter's representative samples
    soft_targets: dict[str, np.ndarray] | None  # [train] teacher's outputs on fit and val

    @property
    def config(self) -> PipelineConfig:
        """The pipeline config the sweep runs."""
        return self.job.config

    @property
    def sweep(self) -> SweepConfig:
        """The config's [sweep] section."""
        assert self.job.config.sweep is not None, "a sweep task comes from a [sweep] config"
        return self.job.config.sweep

    def recipe_context(
        self,
        name: str,
        tmp: Path,
        upstream: dict[str, Any] | None = None,
        callbacks: tuple[Any, ...] = (),
    ) -> RecipeContext:
        """What a recipe needs to train into ``tmp``; seeds Keras first, as a build does."""
        _, keras, _ = import_tf()
        train = self.config.train
        keras.utils.set_random_seed(train.seed)
        return RecipeContext(
            name=name,
            baseline=self.baseline.model,
            data=self.data,
            batch_size=train.batch_size,
            learning_rate=train.learning_rate,
            seed=train.seed,
            from_logits=self.baseline.from_logits,
            run_dir=tmp,
            progress=_log,
            history=self.baseline.history,
            upstream=upstream or {},
            soft_targets=self.soft_targets,
            callbacks=callbacks,
        )

    def load_model(self, entry: Entry) -> Any:
        """The Keras model of a pruned or clustered entry, compiled as the baseline is."""
        model = load_keras_model(entry.path / MODEL_FILE)
        training.compile_model(model, self.config.train.learning_rate, self.baseline.from_logits)
        return model


def task_context(job: TaskJob) -> TaskContext:
    """Load what the task's stages share: the baseline from the cache, the data, calibration."""
    tf, _, _ = import_tf()
    if job.threads and not _PROCESS["threads_set"]:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(job.threads)
            tf.config.threading.set_inter_op_parallelism_threads(job.threads)
        except RuntimeError:
            pass  # already initialised in this process (in-process runs)
        _PROCESS["threads_set"] = True
    config = job.config
    ds = process_dataset(config, job.data_fingerprint)
    cache = Cache(Path(job.cache_root))
    baseline = load_baseline(cache, job.baseline_key, config.train.learning_rate)
    input_shape = model_input_shape(baseline.model)
    assert config.sweep is not None, "a sweep task comes from a [sweep] config"
    data = sweep_training_data(ds, input_shape, config.sweep)
    calibration = calibration_samples(data.x_fit, config.train.seed)
    soft_targets = load_soft_targets(cache, job.teacher_key)
    return TaskContext(job, cache, baseline, data, calibration, soft_targets)


# --------------------------------------------------------------------------- the stages


@dataclass(frozen=True)
class ModelStage:
    """A cached Keras model the next stage starts from."""

    key: str
    model: Any
    weights: LayerFacts  # per layer: sparsity and distinct values
    built: bool  # trained by this call, not taken from the cache


@dataclass(frozen=True)
class PrunedStage(ModelStage):
    """The pruned model, and what clustering and conversion need to know about it."""

    recipe_type: str
    layers: tuple[str, ...]  # the pruned layers: the ones clustering touches
    sparse_export: bool  # convert with Optimize.EXPERIMENTAL_SPARSITY
    distill: tuple[float, float]  # the recipe's distill_alpha and _temperature: clustering
    # and QAT fine-tune with the same loss


@dataclass(frozen=True)
class FinalStage:
    """A trial's .tflite file in the cache."""

    key: str
    path: Path
    built: bool  # made by this call, not taken from the cache
    trained: bool  # built by QAT (a training run), not by conversion alone


def pruned_stage(
    ctx: TaskContext,
    recipe: str,
    sparsity: float,
    overrides: tuple[tuple[str, Any], ...] = (),
    reporter: EpochReporter | None = None,
) -> PrunedStage:
    """The baseline pruned by the ``[recipes.<recipe>]`` section at ``sparsity``, with the
    recipe parameters ``overrides`` ([sweep.vary]) set. ``reporter`` records (and in a
    multi-fidelity search reports) each epoch's validation accuracy; from the cache, the
    recorded epochs are replayed to it."""
    rc = ctx.config.recipe(recipe)
    params = dataclasses.replace(rc.params.with_sparsity(sparsity), **dict(overrides))
    key = keys.prune_key(
        ctx.job.baseline_key, rc.recipe, params, ctx.config.train, ctx.job.teacher_key
    )

    def build(tmp: Path) -> dict[str, Any]:
        _log(f"{recipe} at {sparsity:.0%}: training")
        callbacks = (reporter.keras_callback(),) if reporter is not None else ()
        out = get_recipe(rc.recipe).fn(ctx.recipe_context(recipe, tmp, None, callbacks), params)
        achieved = facts.keras_facts(out.model).layer_sparsity
        verify_sparsity(recipe, achieved, out.target_sparsity)
        save_h5(out.model, tmp / MODEL_FILE)
        return {
            "target_sparsity": out.target_sparsity,
            "sparse_export": out.sparse_export,
            "extra": out.extra,
            "val_history": reporter.history if reporter is not None else [],
        }

    entry, built = ctx.cache.get_or_build(PRUNE_STAGE, key, build)
    if not built and reporter is not None:
        for epoch, accuracy in enumerate(entry.meta.get("val_history", []), start=1):
            reporter.report(epoch, accuracy, ask=False)
    weights = entry.meta["extra"].get("weights", {})
    return PrunedStage(
        key=key,
        model=ctx.load_model(entry),
        weights=weights,
        built=built,
        recipe_type=rc.recipe,
        layers=tuple(entry.meta["target_sparsity"]) or tuple(weights),
        sparse_export=bool(entry.meta.get("sparse_export")),
        distill=(
            getattr(params, "distill_alpha", 0.0), getattr(params, "distill_temperature", 4.0)
        ),
    )


def clustered_stage(ctx: TaskContext, pruned: PrunedStage, spec: TrialSpec) -> ModelStage:
    """The pruned model's weights clustered to ``spec.clusters`` values, keeping its zeros."""
    params = collaborative.ClusterParams(
        start_from="pruned",
        clusters=spec.clusters,
        epochs=ctx.sweep.cluster_epochs,
        learning_rate=ctx.sweep.cluster_learning_rate,
        layers=pruned.layers,
        distill_alpha=pruned.distill[0],
        distill_temperature=pruned.distill[1],
    )
    key = keys.cluster_key(pruned.key, params)

    def build(tmp: Path) -> dict[str, Any]:
        _log(f"{spec.recipe} at {spec.sparsity:.0%}: clustering to {spec.clusters}")
        out = collaborative.cluster(
            ctx.recipe_context("clustered", tmp, {"pruned": pruned.model}), params
        )
        save_h5(out.model, tmp / MODEL_FILE)
        return {"extra": out.extra}

    entry, built = ctx.cache.get_or_build(CLUSTER_STAGE, key, build)
    weights = entry.meta["extra"].get("weights", {})
    return ModelStage(key=key, model=ctx.load_model(entry), weights=weights, built=built)


def final_stage(
    ctx: TaskContext, upstream: ModelStage, spec: TrialSpec, pruned: PrunedStage
) -> FinalStage:
    """The trial's .tflite file: ``upstream`` converted, or fine-tuned with QAT (distilled as
    the pruning was) and converted."""
    sweep = ctx.sweep
    filename = keys.tflite_name(spec)
    key = keys.final_key(upstream.key, spec, sweep, len(ctx.calibration), pruned.distill)
    sparse = pruned.sparse_export

    def build(tmp: Path) -> dict[str, Any]:
        if spec.quantization == "qat":
            _log(f"{spec.id}: {spec.qat_scheme}")
            params = collaborative.QatParams(
                start_from="upstream",
                epochs=sweep.qat_epochs,
                learning_rate=sweep.qat_learning_rate,
                distill_alpha=pruned.distill[0],
                distill_temperature=pruned.distill[1],
            )
            qat = collaborative.pcqat if spec.clusters else collaborative.pqat
            out = qat(ctx.recipe_context(spec.id, tmp, {"upstream": upstream.model}), params)
            flat = collaborative.quantised_flatbuffer(out.model)
        else:
            flat = convert(
                upstream.model,
                spec.kind,
                ctx.calibration,
                sparse=sparse,
                dense_per_tensor=spec.quantization == "int8-per-tensor",
            )
        (tmp / filename).write_bytes(flat)
        return {"trained": spec.quantization == "qat"}

    entry, built = ctx.cache.get_or_build(FINAL_STAGE, key, build)
    trained = built and bool(entry.meta.get("trained"))
    return FinalStage(key=key, path=entry.path / filename, built=built, trained=trained)


def stripped_stage(ctx: TaskContext, final: FinalStage) -> tuple[Path, StripRecord]:
    """The final file without names and converter metadata, and what stripping removed.

    Checked before it is cached: the stripped model must answer byte-identically on up to
    :data:`STRIP_CHECK_SAMPLES` validation samples.
    """
    mode = ctx.sweep.strip
    key = keys.strip_key(final.key, mode)
    x_check = ctx.data.x_val[:STRIP_CHECK_SAMPLES]

    def build(tmp: Path) -> dict[str, Any]:
        flat = final.path.read_bytes()
        out, removed = strip.strip_flatbuffer(flat, keep_signatures=mode == "keep-signatures")
        if not strip.identical_outputs(flat, out, x_check):
            raise EdgebenchError(
                f"{final.path.name}: the stripped model's outputs differ from the original's; "
                "set sweep.strip = false and report this model"
            )
        (tmp / final.path.name).write_bytes(out)
        return {"removed": removed, "identical_outputs_on": len(x_check)}

    entry, _ = ctx.cache.get_or_build(STRIP_STAGE, key, build)
    record = StripRecord(
        mode=mode,
        unstripped_zip_bytes=zip_bytes(final.path),
        unstripped_file_bytes=final.path.stat().st_size,
        removed=entry.meta["removed"],
        identical_outputs_on=int(entry.meta["identical_outputs_on"]),
    )
    return entry.path / final.path.name, record


# --------------------------------------------------------------------------- the task


def run_task(job: TaskJob) -> list[TrialResult]:
    """Run trials that share one pruned model; each stage comes from the cache when it can."""
    ctx = task_context(job)
    first = job.trials[0]
    reporter = EpochReporter(job.fidelity, [s.id for s in job.trials], 1.0 - first.sparsity)
    t_start = time.perf_counter()
    try:
        pruned = pruned_stage(ctx, first.recipe, first.sparsity, first.overrides, reporter)
    except Stopped as stop:
        _log(f"{first.recipe} at {first.sparsity:.0%}: stopped by the pruner after epoch "
             f"{stop.epoch} (validation accuracy {reporter.history[-1]:.4f})")
        spent = round(time.perf_counter() - t_start, 1)
        return [stopped_trial(spec, reporter.history, stop.epoch, spent) for spec in job.trials]
    history = tuple(reporter.history)
    results = []
    for spec in job.trials:
        t0 = time.perf_counter()
        trained = [PRUNE_STAGE] if pruned.built and spec is first else []
        stages: dict[str, LayerFacts] = {"pruned": pruned.weights}
        upstream: ModelStage = pruned
        if spec.clusters:
            upstream = clustered_stage(ctx, pruned, spec)
            if upstream.built:
                trained.append(CLUSTER_STAGE)
            stages["clustered"] = upstream.weights
        final = final_stage(ctx, upstream, spec, pruned)
        if final.trained:
            trained.append(FINAL_STAGE)
        stages["tflite"] = tflite_weight_facts(final.path.read_bytes())
        path, stripped = final.path, None
        if ctx.sweep.strip != "none":
            path, stripped = stripped_stage(ctx, final)
        results.append(
            measure(
                ctx, spec, recipe_type=pruned.recipe_type, path=path, stripped=stripped,
                stages=stages, trained=trained, t0=t0,
            ).with_val_history(history)
        )
    return results


def stopped_trial(
    spec: TrialSpec, history: list[float], epoch: int, seconds: float
) -> TrialResult:
    """The record of a trial the pruner stopped: its epochs so far, no file."""
    return TrialResult(
        spec=spec, recipe_type="", zip_bytes=0, file_bytes=0,
        val_accuracy=history[-1] if history else 0.0, val_n=0, stages={}, trained=(),
        tflite_path="", cache_file="", trial_s=seconds, val_history=tuple(history),
        stopped_at_epoch=epoch,
    )


def measure(
    ctx: TaskContext,
    spec: TrialSpec,
    *,
    recipe_type: str,
    path: Path,
    stripped: StripRecord | None,
    stages: dict[str, LayerFacts],
    trained: list[str],
    t0: float,
) -> TrialResult:
    """Size and validation accuracy of the file a trial ships (``path``)."""
    accuracy = tflite_accuracy(path, ctx.job.val_path, ctx.config.bench.eval_batch)
    result = TrialResult(
        spec=spec,
        recipe_type=recipe_type,
        zip_bytes=zip_bytes(path),
        file_bytes=path.stat().st_size,
        val_accuracy=round(accuracy, 5),
        val_n=int(len(ctx.data.y_val)),
        stages=stages,
        trained=tuple(trained),
        tflite_path=str(path),
        cache_file=str(path.relative_to(ctx.cache.root)),
        trial_s=round(time.perf_counter() - t0, 1),
        strip=stripped,
    )
    cached = " (cached)" if not trained else ""
    _log(
        f"{spec.id}: {result.zip_bytes:,} zipped bytes, validation accuracy {accuracy:.4f}"
        f"{cached}"
    )
    return result


def tflite_accuracy(path: Path, eval_path: str | Path, batch: int) -> float:
    """Top-1 accuracy of a .tflite file on eval shards (the test set's or the validation
    split's), by the LiteRT interpreter."""
    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    return float(evaluate(interp, str(eval_path), batch, 0)["accuracy"])
