"""``edgebench sweep``: the smallest variant that still meets the accuracy floor.

The sweep searches recipe x target sparsity x clustering x quantisation (a grid, or Optuna's
multi-objective search: minimise zipped bytes, maximise test accuracy), keeps the Pareto
front, and chooses the smallest variant whose accuracy is at least the floor. The front and
the chosen variant are copied into the run folder and written to its manifest as artifacts, so
``edgebench bench`` and ``gate`` use them unchanged; every trial and the front go into the
manifest's ``sweep``, the chosen file into ``chosen``.

A trial is a chain of cached stages (:mod:`build.cache`): baseline -> prune -> cluster ->
quantise. Trials that share a pruned model run as one task, on local worker processes or on
a Ray cluster (``--ray ADDRESS``). Workers share the cache folder, so on a multi-machine Ray
cluster the output folder must be on a shared file system.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgebench.build.cache import Cache, cache_key
from edgebench.build.config import PipelineConfig
from edgebench.build.sweep_config import SweepConfig
from edgebench.errors import ConfigError, EdgebenchError
from edgebench.files import zip_bytes
from edgebench.records import VariantKind

Progress = Callable[[str], None]
PRUNE_STAGE, CLUSTER_STAGE, FINAL_STAGE, BASELINE_STAGE = "prune", "cluster", "final", "baseline"


@dataclass(frozen=True)
class TrialSpec:
    """One point of the search space."""

    recipe: str  # a [recipes.<name>] section
    sparsity: float
    clusters: int  # 0 = no clustering
    quantization: str  # int8, dynamic, float16, float32 or qat

    @property
    def id(self) -> str:
        return (
            f"{self.recipe}-s{round(self.sparsity * 100, 2):g}-k{self.clusters}-{self.quantization}"
        )

    @property
    def kind(self) -> VariantKind:
        return VariantKind.INT8 if self.quantization == "qat" else VariantKind(self.quantization)

    @property
    def qat_scheme(self) -> str | None:
        if self.quantization != "qat":
            return None
        return "pcqat" if self.clusters else "pqat"


@dataclass(frozen=True)
class TaskJob:
    """Everything a worker needs to run trials that share one pruned model."""

    config: PipelineConfig
    cache_root: str
    eval_path: str
    baseline_key: str
    data_fingerprint: str
    trials: tuple[TrialSpec, ...]
    threads: int


@dataclass(frozen=True)
class SweepOutcome:
    manifest: Path
    chosen: str | None
    trained_stages: int


# --------------------------------------------------------------------------- driver


def run_sweep(
    config: PipelineConfig,
    run_dir: Path,
    cache_root: Path,
    *,
    ray_address: str | None = None,
    workers: int | None = None,
    progress: Progress = print,
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
    from edgebench.build import pipeline, training
    from edgebench.build._tf import import_tf
    from edgebench.build.datasets import load_dataset

    tf, keras, tfmot = import_tf()
    ds = load_dataset(
        config.data.dataset, config.base_dir, config.data.train_limit, config.data.test_limit
    )
    check_search_space(config)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    eval_path = run_dir / "eval.npz"
    pipeline.write_eval_npz(eval_path, ds)
    cache = Cache(cache_root)
    fingerprint = data_fingerprint(ds)

    baseline_key = baseline_cache_key(config, fingerprint)
    state = _state_for(config, fingerprint)
    entry, built = cache.get_or_build(
        BASELINE_STAGE, baseline_key, lambda tmp: _build_baseline(config, state, tmp, progress)
    )
    progress(f"baseline: {'trained' if built else 'from the cache'} ({entry.path})")
    trained = int(built)

    specs = grid(sweep)
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
    runner = _make_runner(ray_address, workers, progress)
    try:
        if sweep.search == "grid":
            results = runner(_tasks(job, specs))
        else:
            results = _optuna_search(sweep, job, specs, runner, workers, progress)
    finally:
        _close_runner(runner)
    trials_s = time.perf_counter() - t_trials
    trained += sum(len(r["trained"]) for r in results)

    # ------------------------------------------------------------------ choose and record
    baseline_model = pipeline.load_keras_model(entry.path / "baseline.h5")
    from_logits = not pipeline.ends_in_softmax(baseline_model)
    training.compile_model(baseline_model, config.train.learning_rate, from_logits)
    input_shape = tuple(int(d) for d in baseline_model.input_shape[1:])
    data = pipeline.split_training_data(ds, input_shape, config.train.validation_split)
    x_test = pipeline.scale_inputs(ds.x_test, input_shape)
    builder = pipeline.ArtifactBuilder(
        run_dir, eval_path, x_test, ds.y_test, data.x_fit, config, progress
    )
    dense = builder.keras(
        "baseline", baseline_model, "baseline.h5", {"source": f"cache:{baseline_key}"}
    )
    floor = sweep.floor(dense.host_accuracy or 0.0)
    for r in results:
        r["compression_ratio"] = round(dense.zip_bytes / r["zip_bytes"], 3)
    front = pareto_front(results)
    chosen = choose(results, floor)
    artifacts = [dense]
    for kind in config.baseline.variants:
        artifacts.append(builder.tflite("baseline", baseline_model, kind, {}))
    # Artifacts are what bench measures and gate holds to the budgets: the front members that
    # meet the floor (the chosen one is the smallest of them). Every trial stays in `sweep`.
    keep = {r["id"]: r for r in front if r["accuracy"] >= floor}
    if chosen is not None:
        keep[chosen["id"]] = chosen
    names: dict[str, str] = {}
    for r in sorted(keep.values(), key=lambda r: r["zip_bytes"]):
        src = Path(r["tflite"])
        dst = run_dir / src.name
        shutil.copyfile(src, dst)
        extra = {k: v for k, v in r.items() if k not in ("tflite", "trained")}
        art = builder.existing_tflite(r["id"], VariantKind(r["kind"]), dst, extra)
        artifacts.append(art)
        names[r["id"]] = art.name
    wall_s = round(time.perf_counter() - t_start, 1)
    summary = {
        "search": sweep.search,
        "space": {
            "recipes": list(sweep.recipes),
            "sparsities": list(sweep.sparsities),
            "clusters": list(sweep.clusters),
            "quantization": list(sweep.quantization),
        },
        "floor_accuracy": round(floor, 5),
        "floor_rule": (
            f"min_accuracy {sweep.min_accuracy}"
            if sweep.min_accuracy is not None
            else f"baseline {dense.host_accuracy} - max_accuracy_drop {sweep.max_accuracy_drop}"
        ),
        "baseline_accuracy": dense.host_accuracy,
        "baseline_zip_bytes": dense.zip_bytes,
        "chosen_variant": names.get(chosen["id"]) if chosen else None,
        "front": [r["id"] for r in sorted(front, key=lambda r: r["zip_bytes"])],
        "trials": [{k: v for k, v in r.items() if k != "tflite"} for r in results],
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
        chosen=(run_dir / Path(chosen["tflite"]).name).name if chosen else None,
        sweep=summary,
    )
    manifest_path = run_dir / "manifest.json"
    manifest.save(manifest_path)
    progress(format_table(results, front, chosen, floor))
    progress(
        f"sweep done in {wall_s:.1f} s: {len(results)} trials, {trained} stages trained; "
        f"manifest {manifest_path}"
    )
    return SweepOutcome(manifest_path, manifest.chosen, trained)


def grid(sweep: SweepConfig) -> list[TrialSpec]:
    """Every combination, in config order."""
    return [
        TrialSpec(r, s, k, q)
        for r in sweep.recipes
        for s in sweep.sparsities
        for k in sweep.clusters
        for q in sweep.quantization
    ]


def pareto_front(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trials no other trial beats on both zipped bytes (fewer) and accuracy (more)."""
    front = []
    for r in results:
        dominated = any(
            o["zip_bytes"] <= r["zip_bytes"]
            and o["accuracy"] >= r["accuracy"]
            and (o["zip_bytes"] < r["zip_bytes"] or o["accuracy"] > r["accuracy"])
            for o in results
        )
        if not dominated:
            front.append(r)
    return front


def choose(results: Sequence[dict[str, Any]], floor: float) -> dict[str, Any] | None:
    """The smallest trial at or above the floor (the more accurate one on a tie)."""
    ok = [r for r in results if r["accuracy"] >= floor]
    return min(ok, key=lambda r: (r["zip_bytes"], -r["accuracy"])) if ok else None


def format_table(
    results: Sequence[dict[str, Any]],
    front: Sequence[dict[str, Any]],
    chosen: dict[str, Any] | None,
    floor: float,
) -> str:
    """The Pareto table as Markdown: recipe, sparsity, clusters, quantisation, size, accuracy."""
    lines = [
        "| recipe | sparsity | clusters | quantisation | zip bytes | ratio | accuracy | |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for r in sorted(front, key=lambda r: r["zip_bytes"]):
        mark = "chosen" if chosen is not None and r["id"] == chosen["id"] else ""
        quant = r["qat_scheme"] or r["quantization"]
        lines.append(
            f"| {r['recipe']} | {r['sparsity']:.0%} | {r['clusters'] or '-'} | {quant} | "
            f"{r['zip_bytes']:,} | {r.get('compression_ratio', 0):.2f}x | "
            f"{r['accuracy']:.2%} | {mark} |"
        )
    verdict = (
        f"chosen: {chosen['id']} ({chosen['zip_bytes']:,} bytes, {chosen['accuracy']:.2%})"
        if chosen
        else f"no variant reached the floor {floor:.2%}"
    )
    return "\n".join([*lines, f"floor {floor:.2%}; {verdict}"])


def check_search_space(config: PipelineConfig) -> None:
    """Fail before any training on a clustering count larger than a layer's weights."""
    sweep = config.sweep
    assert sweep is not None
    from edgebench.build import pipeline

    if config.model.builtin is None:
        return  # a user's model: checked by the cluster recipe itself when it runs
    from edgebench.build.datasets import load_dataset

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


def check_ray_address(address: str) -> None:
    """A Ray address must answer before anything is trained."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise EdgebenchError(
            f"--ray {address!r} is not HOST:PORT; give the head node's address, e.g. "
            "127.0.0.1:6379 (what `ray start --head` prints)"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as exc:
        raise EdgebenchError(
            f"cannot reach a Ray cluster at {address} ({exc.strerror or exc}); start one with "
            "`ray start --head --port PORT` or run without --ray to use local workers"
        ) from None


def data_fingerprint(ds: Any) -> str:
    h = hashlib.sha256()
    for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:20]


def baseline_cache_key(config: PipelineConfig, fingerprint: str) -> str:
    model: Any = config.model.builtin
    if config.model.path is not None:
        model = hashlib.sha256(Path(config.model.path).read_bytes()).hexdigest()
    return cache_key(
        BASELINE_STAGE, fingerprint, model, dataclasses.asdict(config.train), library_versions()
    )


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in (
        "tensorflow",
        "tf-keras",
        "tensorflow-model-optimization",
        "numpy",
        "ai-edge-litert",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "missing"
    return out


# --------------------------------------------------------------------------- execution


def _tasks(job: TaskJob, specs: Iterable[TrialSpec]) -> list[TaskJob]:
    """One task per pruned model, so its trials reuse it and never wait on each other."""
    groups: dict[tuple[str, float], list[TrialSpec]] = {}
    for s in specs:
        groups.setdefault((s.recipe, s.sparsity), []).append(s)
    return [dataclasses.replace(job, trials=tuple(g)) for g in groups.values()]


def _make_runner(
    ray_address: str | None, workers: int, progress: Progress
) -> Callable[[list[TaskJob]], list[dict[str, Any]]]:
    if ray_address is not None:
        return _RayRunner(ray_address, progress)
    if workers == 1:
        return lambda tasks: [r for t in tasks for r in run_task(t)]
    return _PoolRunner(workers)


class _PoolRunner:
    """Local worker processes (spawned: TensorFlow does not survive fork)."""

    def __init__(self, workers: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def __call__(self, tasks: list[TaskJob]) -> list[dict[str, Any]]:
        futures = [self.pool.submit(run_task, t) for t in tasks]
        return [r for f in futures for r in f.result()]

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class _RayRunner:
    """Trials as Ray tasks on the cluster at ``address``; the driver disconnects at the end."""

    def __init__(self, address: str, progress: Progress) -> None:
        try:
            import ray
        except ImportError:
            raise EdgebenchError(
                "--ray needs Ray: pip install 'edgebench[build]' (it pins ray)"
            ) from None
        root = str(Path(__file__).resolve().parent.parent)
        env = {
            "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
            "TF_USE_LEGACY_KERAS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        try:
            ray.init(
                address=address,
                runtime_env={"env_vars": env},
                log_to_driver=True,
                logging_level="WARNING",
            )
        except (ConnectionError, RuntimeError) as exc:
            raise EdgebenchError(
                f"cannot join the Ray cluster at {address} ({exc}); check the address that "
                "`ray start --head` printed, or run without --ray"
            ) from None
        progress(f"ray: connected to {address}, {ray.cluster_resources().get('CPU', 0):g} CPUs")
        self.ray = ray
        self.remote = ray.remote(num_cpus=1)(run_task)

    def __call__(self, tasks: list[TaskJob]) -> list[dict[str, Any]]:
        refs = [self.remote.remote(t) for t in tasks]
        try:
            chunks = self.ray.get(refs)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, EdgebenchError):  # bad input found on a worker
                raise exc.cause from None
            raise
        return [r for chunk in chunks for r in chunk]

    def close(self) -> None:
        self.ray.shutdown()


def _close_runner(runner: Any) -> None:
    close = getattr(runner, "close", None)
    if close is not None:
        close()


def _optuna_search(
    sweep: SweepConfig,
    job: TaskJob,
    specs: list[TrialSpec],
    runner: Callable[[list[TaskJob]], list[dict[str, Any]]],
    workers: int,
    progress: Progress,
) -> list[dict[str, Any]]:
    """Optuna's multi-objective TPE over the categorical space, a batch of trials at a time."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {
        "recipe": optuna.distributions.CategoricalDistribution(list(sweep.recipes)),
        "sparsity": optuna.distributions.CategoricalDistribution(list(sweep.sparsities)),
        "clusters": optuna.distributions.CategoricalDistribution(list(sweep.clusters)),
        "quantization": optuna.distributions.CategoricalDistribution(list(sweep.quantization)),
    }
    study = optuna.create_study(
        directions=["minimize", "maximize"],
        sampler=optuna.samplers.TPESampler(seed=sweep.seed, multivariate=True),
    )
    budget = min(sweep.trials or len(specs), len(specs))
    done: dict[str, dict[str, Any]] = {}
    batch_size = max(1, workers)
    while len(done) < budget:
        asked = [study.ask(space) for _ in range(min(batch_size, budget - len(done)))]
        wanted = [TrialSpec(**t.params) for t in asked]
        new = list({s.id: s for s in wanted if s.id not in done}.values())
        for r in runner(_tasks(job, new)) if new else []:
            done[r["id"]] = r
        for t, s in zip(asked, wanted, strict=True):
            r = done[s.id]
            study.tell(t, [r["zip_bytes"], r["accuracy"]])
        progress(f"optuna: {len(done)}/{budget} distinct trials")
        if len(study.trials) > 4 * budget:  # the sampler keeps proposing what it has seen
            break
    return list(done.values())


# --------------------------------------------------------------------------- worker side

_STATE: dict[str, Any] = {}


def _state_for(config: PipelineConfig, fingerprint: str) -> dict[str, Any]:
    """Per-process data, loaded once: the split training data and the test set."""
    key = fingerprint
    if _STATE.get("key") != key:
        from edgebench.build import pipeline
        from edgebench.build.datasets import load_dataset

        ds = load_dataset(
            config.data.dataset, config.base_dir, config.data.train_limit, config.data.test_limit
        )
        _STATE.clear()
        _STATE.update(key=key, ds=ds, pipeline=pipeline)
    return _STATE


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _build_baseline(
    config: PipelineConfig, state: dict[str, Any], tmp: Path, progress: Progress
) -> dict[str, Any]:
    from edgebench.build import pipeline, training
    from edgebench.build._tf import import_tf

    _, keras, _ = import_tf()
    ds = state["ds"]
    keras.utils.set_random_seed(config.train.seed)
    if config.model.path is not None:
        model = pipeline.load_keras_model(config.model.path)
        pipeline.check_model_fits(model, ds, config.model.path)
        history = None
    else:
        model = pipeline.builtin_model(config.model.builtin, ds.sample_shape, ds.num_classes)
    from_logits = not pipeline.ends_in_softmax(model)
    input_shape = tuple(int(d) for d in model.input_shape[1:])
    data = pipeline.split_training_data(ds, input_shape, config.train.validation_split)
    if config.model.path is None:
        history = pipeline.train_baseline(model, data, config.train, from_logits, progress)
    model.save(tmp / "baseline.h5", include_optimizer=False)
    meta: dict[str, Any] = {"from_logits": from_logits, "history": None}
    if history is not None:
        arrays = {
            f"e{epoch}_{i}": w
            for epoch, ws in history.checkpoints.items()
            for i, w in enumerate(ws)
        }
        np.savez(tmp / "history.npz", **arrays)
        meta["history"] = {
            "epochs": history.epochs,
            "steps_per_epoch": history.steps_per_epoch,
            "base_learning_rate": history.base_learning_rate,
            "lr_schedule": history.lr_schedule,
        }
    x_test = pipeline.scale_inputs(ds.x_test, input_shape)
    training.compile_model(model, config.train.learning_rate, from_logits)
    meta["accuracy"] = training.keras_accuracy(model, x_test, ds.y_test)
    return meta


def _load_baseline(job: TaskJob, cache: Cache) -> tuple[Any, Any, bool]:
    from edgebench.build import pipeline, training
    from edgebench.build.recipes.base import BaselineHistory

    entry = cache.get(BASELINE_STAGE, job.baseline_key)
    if entry is None:
        raise RuntimeError(f"baseline {job.baseline_key} missing from {cache.root}")
    model = pipeline.load_keras_model(entry.path / "baseline.h5")
    from_logits = bool(entry.meta["from_logits"])
    training.compile_model(model, job.config.train.learning_rate, from_logits)
    h = entry.meta.get("history")
    history = None
    if h is not None:
        with np.load(entry.path / "history.npz") as z:
            n = len(model.get_weights())
            checkpoints = {
                e: tuple(z[f"e{e}_{i}"] for i in range(n)) for e in range(h["epochs"] + 1)
            }
        history = BaselineHistory(checkpoints=checkpoints, **h)
    return model, history, from_logits


def run_task(job: TaskJob) -> list[dict[str, Any]]:
    """Run trials that share one pruned model; each stage comes from the cache when it can."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from edgebench.build import facts, pipeline
    from edgebench.build._tf import import_tf
    from edgebench.build.recipes import collaborative, get_recipe
    from edgebench.build.recipes.base import RecipeContext

    tf, keras, _ = import_tf()
    if job.threads and "_threads_set" not in _STATE:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(job.threads)
            tf.config.threading.set_inter_op_parallelism_threads(job.threads)
        except RuntimeError:
            pass  # already initialised in this process (in-process runs)
        _STATE["_threads_set"] = True
    config = job.config
    state = _state_for(config, job.data_fingerprint)
    ds = state["ds"]
    cache = Cache(Path(job.cache_root))
    baseline, history, from_logits = _load_baseline(job, cache)
    input_shape = tuple(int(d) for d in baseline.input_shape[1:])
    data = pipeline.split_training_data(ds, input_shape, config.train.validation_split)
    rng = np.random.default_rng(config.train.seed)
    n_cal = min(pipeline.REPRESENTATIVE_SAMPLES, len(data.x_fit))
    calibration = data.x_fit[np.sort(rng.choice(len(data.x_fit), size=n_cal, replace=False))]

    def ctx(name: str, tmp: Path, upstream: dict[str, Any] | None = None) -> RecipeContext:
        keras.utils.set_random_seed(config.train.seed)
        return RecipeContext(
            name=name,
            baseline=baseline,
            data=data,
            batch_size=config.train.batch_size,
            learning_rate=config.train.learning_rate,
            seed=config.train.seed,
            from_logits=from_logits,
            run_dir=tmp,
            progress=_log,
            history=history,
            upstream=upstream or {},
        )

    def load(entry_path: Path) -> Any:
        from edgebench.build import training

        m = pipeline.load_keras_model(entry_path / "model.h5")
        training.compile_model(m, config.train.learning_rate, from_logits)
        return m

    results = []
    first = job.trials[0]
    rc = config.recipe(first.recipe)
    recipe = get_recipe(rc.recipe)
    params = rc.params.with_sparsity(first.sparsity)
    prune_key = cache_key(
        PRUNE_STAGE,
        job.baseline_key,
        rc.recipe,
        dataclasses.asdict(params),
        config.train.batch_size,
        config.train.learning_rate,
    )

    def build_pruned(tmp: Path) -> dict[str, Any]:
        _log(f"{first.recipe} at {first.sparsity:.0%}: training")
        out = recipe.fn(ctx(first.recipe, tmp), params)
        achieved = facts.keras_facts(out.model).layer_sparsity
        pipeline.verify_sparsity(first.recipe, achieved, out.target_sparsity)
        _save(out.model, tmp / "model.h5")
        return {
            "target_sparsity": out.target_sparsity,
            "sparse_export": out.sparse_export,
            "extra": out.extra,
        }

    pruned_entry, pruned_built = cache.get_or_build(PRUNE_STAGE, prune_key, build_pruned)
    pruned_model = load(pruned_entry.path)
    pruned_layers = tuple(pruned_entry.meta["target_sparsity"]) or tuple(
        n for n in pruned_entry.meta["extra"].get("weights", {})
    )

    sweep = config.sweep
    assert sweep is not None
    sparse = bool(pruned_entry.meta.get("sparse_export"))
    for spec in job.trials:
        t0 = time.perf_counter()
        trained = [PRUNE_STAGE] if pruned_built and spec is first else []
        upstream_key, upstream_model = prune_key, pruned_model
        stages = {"pruned": pruned_entry.meta["extra"].get("weights", {})}
        if spec.clusters:
            cparams = collaborative.ClusterParams(
                start_from="pruned",
                clusters=spec.clusters,
                epochs=job.config.sweep.cluster_epochs,  # type: ignore[union-attr]
                learning_rate=job.config.sweep.cluster_learning_rate,  # type: ignore[union-attr]
                layers=pruned_layers,
            )
            ckey = cache_key(CLUSTER_STAGE, prune_key, dataclasses.asdict(cparams))

            def build_clustered(tmp: Path, cparams: Any = cparams, spec: TrialSpec = spec) -> dict:
                _log(f"{spec.recipe} at {spec.sparsity:.0%}: clustering to {spec.clusters}")
                out = collaborative.cluster(
                    ctx("clustered", tmp, {"pruned": pruned_model}), cparams
                )
                _save(out.model, tmp / "model.h5")
                return {"extra": out.extra}

            centry, cbuilt = cache.get_or_build(CLUSTER_STAGE, ckey, build_clustered)
            if cbuilt:
                trained.append(CLUSTER_STAGE)
            upstream_key, upstream_model = ckey, load(centry.path)
            stages["clustered"] = centry.meta["extra"].get("weights", {})
        fkey = cache_key(
            FINAL_STAGE,
            upstream_key,
            spec.id,
            f"{spec.id}.tflite",
            spec.quantization,
            sweep.qat_epochs if spec.quantization == "qat" else None,
            sweep.qat_learning_rate if spec.quantization == "qat" else None,
            n_cal,
        )
        filename = f"{spec.id}.tflite"

        def build_final(
            tmp: Path, spec: TrialSpec = spec, model: Any = upstream_model, filename: str = filename
        ) -> dict[str, Any]:
            if spec.quantization == "qat":
                _log(f"{spec.id}: {spec.qat_scheme}")
                qparams = collaborative.QatParams(
                    start_from="upstream",
                    epochs=sweep.qat_epochs,
                    learning_rate=sweep.qat_learning_rate,
                )
                fn = collaborative.pcqat if spec.clusters else collaborative.pqat
                out = fn(ctx(spec.id, tmp, {"upstream": model}), qparams)
                flat = collaborative.quantised_flatbuffer(out.model)
            else:
                flat = pipeline.convert(model, spec.kind, calibration, sparse=sparse)
            (tmp / filename).write_bytes(flat)
            return {"trained": spec.quantization == "qat"}

        fentry, fbuilt = cache.get_or_build(FINAL_STAGE, fkey, build_final)
        if fbuilt and fentry.meta.get("trained"):
            trained.append(FINAL_STAGE)
        path = fentry.path / filename
        flat = path.read_bytes()
        from edgebench.build.recipes import masks as mk

        stages["tflite"] = mk.tflite_weight_facts(flat)
        accuracy = _tflite_accuracy(path, job.eval_path, config.bench.eval_batch)
        results.append(
            {
                "id": spec.id,
                "recipe": spec.recipe,
                "recipe_type": rc.recipe,
                "sparsity": spec.sparsity,
                "clusters": spec.clusters,
                "quantization": spec.quantization,
                "qat_scheme": spec.qat_scheme,
                "kind": spec.kind.value,
                "zip_bytes": zip_bytes(path),
                "file_bytes": len(flat),
                "accuracy": round(accuracy, 5),
                "stages": stages,
                "trained": trained,
                "tflite": str(path),
                "trial_s": round(time.perf_counter() - t0, 1),
            }
        )
        _log(
            f"{spec.id}: {results[-1]['zip_bytes']:,} zipped bytes, accuracy {accuracy:.4f}"
            f"{' (cached)' if not trained else ''}"
        )
    return results


def _save(model: Any, path: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.save(path, include_optimizer=False)


def _tflite_accuracy(path: Path, eval_path: str, batch: int) -> float:
    from ai_edge_litert.interpreter import Interpreter

    from edgebench.bench import runner

    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    return float(runner.evaluate(interp, eval_path, batch, 0)["accuracy"])
