"""The Python API: one typed function per stage. The command line is a thin caller of these.

    import edgebench
    manifest = edgebench.build_models("my_pipeline.toml")         # trains, prunes, converts
    results = edgebench.bench_models(manifest, ["local", "ssh://pi@raspberrypi.local"])
    report = edgebench.gate(results, "my_budgets.toml")
    assert report.passed, edgebench.format_gate(report)

``build_models``/``bench_models``, not ``build``/``bench``: those name the subpackages (a
function bound over one breaks ``edgebench.bench.<module>`` lookups such as ``mock.patch``).
Every function raises :class:`~edgebench.errors.EdgebenchError` (naming the fix) for input a
user can fix, and writes under ``out`` (default ``out/``) as the command line does. Progress
goes to ``progress`` (a callable taking one line), else the ``edgebench`` logger. Only
:func:`build`, :func:`sweep` and :func:`run` import TensorFlow (through the build stage).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edgebench.bench.judgement import history as history_store
from edgebench.bench.judgement.ab_result import AbReport
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.judgement.budgets import Budgets
from edgebench.bench.judgement.budgets import load_budgets as _load_budgets
from edgebench.bench.judgement.compare import Comparison, compare_runs, spread_from_history
from edgebench.bench.judgement.compare_settings import CompareSettings
from edgebench.bench.judgement.evidence import DeviceSpread
from edgebench.bench.judgement.gate import GateReport, evaluate
from edgebench.bench.judgement.history import RunRow, default_history_path, open_history
from edgebench.bench.judgement.model_store import StoreSize
from edgebench.bench.judgement.run_refs import comparisons_for, load_ref, load_results_paths
from edgebench.bench.orchestration.ab import run_ab
from edgebench.bench.orchestration.ab_inputs import resolve_pairs
from edgebench.bench.orchestration.doctor import DoctorReport, examine
from edgebench.bench.orchestration.hostfacts import is_commit_sha, user_commit
from edgebench.bench.orchestration.plan import (
    BenchPlan,
    new_build_dir,
    plan_from_inputs,
    plan_from_manifest,
)
from edgebench.bench.orchestration.rebench import rebench as rebench_comparisons
from edgebench.bench.orchestration.reference import DEFAULT_SAMPLES, with_reference
from edgebench.bench.orchestration.scheduler import bench_targets
from edgebench.bench.outputs.pytest_benchmark_json import (
    write_pytest_benchmark_json as _write_pytest_benchmark_json,
)
from edgebench.bench.outputs.report import ReportData, make_report
from edgebench.build.config import PipelineConfig, default_sweep_path, load_pipeline
from edgebench.build.config import default_pipeline_path as _default_pipeline_path
from edgebench.deploy import target_for
from edgebench.errors import ConfigError, EdgebenchError
from edgebench.files import point_latest
from edgebench.records import DEFAULT_TARGETS, BenchSettings, Manifest, Record, Results

Progress = Callable[[str], None]
PathLike = str | Path
DEFAULT_OUT = Path("out")
_log = logging.getLogger("edgebench")


def _progress(progress: Progress | None) -> Progress:
    return progress if progress is not None else _log.info


# --------------------------------------------------------------------------- loaders


def default_pipeline_path() -> Path:
    """The pipeline config shipped inside the package (``edgebench/models/pipeline.toml``)."""
    return _default_pipeline_path()


def load_config(path: PathLike | None = None) -> PipelineConfig:
    """A pipeline config (TOML), checked; ``None`` is the shipped default pipeline."""
    return load_pipeline(Path(path) if path is not None else default_pipeline_path())


def load_manifest(path: PathLike) -> Manifest:
    """A build's manifest: a ``manifest.json``, or the run folder that holds one."""
    return Manifest.load(Path(path))


def load_results(path: PathLike) -> list[Results]:
    """Results: one ``results-<target>.json``, or every one in a run folder."""
    path = Path(path)
    if not path.exists():
        raise EdgebenchError(f"{path} does not exist; give a results file or a run folder")
    return load_results_paths(path)


def check_history(path: PathLike) -> None:
    """Refuse an unusable history file (not SQLite, from a newer edgebench) before any work."""
    open_history(Path(path)).close()


def load_budgets(path: PathLike) -> Budgets:
    """A budgets file (TOML), checked: unknown keys and impossible limits name the fix."""
    return _load_budgets(Path(path))


def budgets_of(config: PipelineConfig) -> Path:
    """The budgets file a pipeline config's ``[gate]`` names."""
    if config.budgets is None:
        raise ConfigError(
            f"{config.path or 'the pipeline config'} names no budgets file: pass --budgets PATH "
            "or set [gate] budgets"
        )
    return config.budgets


def _history_path(history: PathLike | None, out: PathLike = DEFAULT_OUT) -> Path:
    """The history file: ``history`` when given, else the one beside the runs in ``out``."""
    return Path(history) if history is not None else default_history_path(Path(out))


def _config(config: PipelineConfig | PathLike | None) -> PipelineConfig:
    return config if isinstance(config, PipelineConfig) else load_config(config)


# --------------------------------------------------------------------------- build


def build_models(
    config: PipelineConfig | PathLike | None = None,
    *,
    out: PathLike = DEFAULT_OUT,
    run: str | None = None,
    model: PathLike | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Train the dense baseline (or take ``model``), run every recipe, convert each result to
    TFLite variants, and write ``<out>/<run>/manifest.json``. Returns the manifest.

    ``config`` is a :class:`PipelineConfig`, a path to one, or None for the shipped default.
    A build that fails leaves no half-made run folder behind.
    """
    from edgebench.build.pipeline import build_pipeline  # the build stage: TensorFlow

    cfg = _config(config)
    out = Path(out)
    run_dir = new_build_dir(out, run)
    fresh = not run_dir.exists()
    log = _progress(progress)
    t0 = time.monotonic()
    try:
        path = build_pipeline(
            cfg, run_dir, model_path=Path(model) if model is not None else None, progress=log
        )
    except BaseException:
        if fresh and run_dir.exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    point_latest(out, run_dir)
    log(f"build: done in {time.monotonic() - t0:.1f} s -> {run_dir}")
    return Manifest.load(path)


def sweep(
    config: PipelineConfig | PathLike | None = None,
    *,
    out: PathLike = DEFAULT_OUT,
    run: str | None = None,
    cache: PathLike | None = None,
    ray: str | None = None,
    workers: int | None = None,
    validation_split: float | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Search the config's ``[sweep]`` (default: the shipped ``models/sweep.toml``) and write a
    manifest holding the dense baseline and the Pareto front; ``chosen`` names the smallest
    variant at or above the accuracy floor on the validation split (a seeded share of the
    training data, ``validation_split`` overrides the config's), or is None when nothing
    reached it. ``seed`` sets the validation split's seed and ``[train] seed`` together. The
    chosen variant's test accuracy is measured after the choice."""
    from edgebench.build.sweep import run_sweep  # the build stage: TensorFlow

    cfg = _config(config if config is not None else default_sweep_path())
    sweep_section = cfg.sweep
    if sweep_section is not None:
        changes: dict[str, Any] = {}
        if workers is not None:
            changes["workers"] = workers
        if validation_split is not None:
            changes["validation_split"] = validation_split
        if seed is not None:  # the run's seed: the split, Optuna's sampler, [train] seed
            changes["seed"] = seed
            cfg = replace(cfg, train=replace(cfg.train, seed=seed))
        if changes:
            cfg = replace(cfg, sweep=replace(sweep_section, **changes))
    out = Path(out)
    run_dir = new_build_dir(out, run)
    cache_root = Path(cache) if cache else out / (cfg.sweep.cache_dir if cfg.sweep else "cache")
    log = _progress(progress)
    t0 = time.monotonic()
    outcome = run_sweep(cfg, run_dir, cache_root, ray_address=ray, progress=log)
    point_latest(out, run_dir)
    log(f"sweep: done in {time.monotonic() - t0:.1f} s -> {run_dir}")
    manifest = Manifest.load(outcome.manifest)
    chosen = manifest.folder / outcome.chosen if outcome.chosen else None
    return SweepResult(manifest, chosen, outcome.trained_stages)


@dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep` made: the manifest, the chosen file (or None) and the stages it
    trained (0 when everything came from the cache)."""

    manifest: Manifest
    chosen: Path | None
    trained_stages: int

    @property
    def chosen_val_accuracy(self) -> float | None:
        """The chosen variant's accuracy on the validation split (what it was chosen by)."""
        return (self.manifest.sweep or {}).get("chosen_val_accuracy")

    @property
    def chosen_test_accuracy(self) -> float | None:
        """The chosen variant's accuracy on the whole test set, measured after the choice."""
        return (self.manifest.sweep or {}).get("chosen_test_accuracy")


# --------------------------------------------------------------------------- bench


def plan(models: Manifest | PathLike | Sequence[PathLike], run: str | None = None) -> BenchPlan:
    """What :func:`bench_models` would measure: a manifest's TFLite variants, or loose
    .tflite files (named after their file names)."""
    if isinstance(models, Manifest):
        if models.path is None:
            raise EdgebenchError("save the manifest first (Manifest.save) so its files are found")
        return plan_from_manifest(models.path)
    inputs = [models] if isinstance(models, (str, Path)) else list(models)
    found = plan_from_inputs([Path(p) for p in inputs], run_id=run)
    if run is not None and found.manifest is not None and run != found.run_id:
        raise EdgebenchError(
            f"--run {run} cannot rename a build: {found.manifest} is benched in its own run "
            f"folder ({found.run_id}), under that name in the history; leave --run out, or "
            "build with edgebench build --run NAME (edgebench run --run NAME does both)"
        )
    return found


def bench_models(
    models: Manifest | PathLike | Sequence[PathLike],
    targets: str | Sequence[str] = DEFAULT_TARGETS,
    settings: BenchSettings | None = None,
    *,
    out: PathLike = DEFAULT_OUT,
    run: str | None = None,
    history: PathLike | None = None,
    record_history: bool = True,
    target_options: Mapping[str, Mapping[str, object]] | None = None,
    progress: Progress | None = None,
    reference: PathLike | None = None,
    reference_data: PathLike | None = None,
    reference_samples: int = DEFAULT_SAMPLES,
    commit: str | None = None,
) -> list[Results]:
    """Measure every model on every target, each model in its own process with a time limit.

    ``models`` is a :class:`Manifest` (or its path / run folder) or ``.tflite`` files;
    ``targets`` are addresses (``local``, ``ssh://pi@host``, ``adb://SERIAL``), measured
    concurrently. Writes ``<out>/<run>/results-<target>.json`` after every model and appends
    the run to the history (``<out>/history.sqlite`` unless ``history`` names another file, or
    ``record_history=False``). Returns one :class:`Results` per target; a target that failed as
    a whole says why in ``error``. Raises EdgebenchError when every target failed.

    ``reference`` (a float ``.tflite``, for ``.tflite`` inputs) gives every record output
    fidelity figures against it: on the samples of ``reference_data`` (an .npz with ``x`` or
    ``x_<input>``, optional labels ``y``), else on ``reference_samples`` seeded random inputs.

    The results record ``commit`` as the commit of your code (default: ``GITHUB_SHA`` or
    ``CI_COMMIT_SHA``, else ``git rev-parse HEAD`` in the repository holding the build's
    config or the models, else None) and edgebench's version separately.
    """
    settings = settings or BenchSettings()
    _check_commit(commit)
    addresses = [targets] if isinstance(targets, str) else list(dict.fromkeys(targets))
    out = Path(out)
    history_path = _history_path(history, out)
    bench_plan = plan(models, run)
    if record_history:
        check_history(history_path)  # an unusable history is refused before measuring
    run_dir = out / bench_plan.run_id
    log = _progress(progress)
    if reference is not None:
        bench_plan = with_reference(
            bench_plan, Path(reference), run_dir / "eval",
            Path(reference_data) if reference_data is not None else None,
            reference_samples, eval_batch=settings.eval_batch,
        )
        log(f"bench: outputs held to {Path(reference).name} on "
            f"{'the samples of ' + str(reference_data) if reference_data else ''}"
            f"{'' if reference_data else f'{reference_samples} random inputs'}")
    log(f"bench: {len(bench_plan.items)} models on {', '.join(addresses)} -> {run_dir}")
    options = {a: dict(o) for a, o in (target_options or {}).items()}
    sha = user_commit(commit, _code_folders(bench_plan))
    results = bench_targets(bench_plan, run_dir, settings, addresses, log, options, sha)
    point_latest(out, run_dir)
    if results and record_history:
        history_store.append_results(history_path, results)
        log(f"bench: appended to history {history_path}")
    return results


def _check_commit(commit: str | None) -> None:
    if commit is not None and not is_commit_sha(commit):
        raise EdgebenchError(
            f"--commit {commit!r} is not a git commit; give its hex SHA (7 to 40 digits), "
            "e.g. --commit $(git rev-parse HEAD)"
        )


def _code_folders(bench_plan: BenchPlan) -> list[Path]:
    """Where the user's code is: the build's config, then the models' folders."""
    folders: list[Path] = []
    if bench_plan.manifest is not None:
        config = Manifest.load(bench_plan.manifest).config_path
        if config:
            folders.append(Path(config).parent)
        folders.append(bench_plan.manifest.parent)
    folders += [item.path.parent for item in bench_plan.items]
    return list(dict.fromkeys(folders))


def write_pytest_benchmark_json(results: Results | Sequence[Results], path: PathLike) -> Path:
    """Write results in pytest-benchmark's JSON format (``--benchmark-json``), for
    ``pytest-benchmark compare`` and the dashboards that chart that format."""
    return _write_pytest_benchmark_json(_results(results), Path(path))


def doctor(
    target: str = "local",
    *,
    target_options: Mapping[str, object] | None = None,
    timeout_s: float = 120.0,
) -> DoctorReport:
    """Check that a device can bench (Python, numpy, a TFLite runtime that really loads, free
    disk, governor, temperature) and name the one line that fixes each problem. Raises
    EdgebenchError (TargetUnreachable) when the device cannot be reached."""
    return examine(target_for(target, **dict(target_options or {})), timeout_s)


# --------------------------------------------------------------------------- gate


def gate(
    results: Results | Sequence[Results] | PathLike | Sequence[PathLike],
    budgets: Budgets | PathLike,
    *,
    against: Sequence[Results] | PathLike | str | None = None,
    require_compatible: Sequence[str] = (),
    alpha: float | None = None,
    history: PathLike | None = None,
    rebench: AbSettings | None = None,
) -> GateReport:
    """Hold every record against the budgets (and, with ``against``, the regression rules
    against that base run). ``report.passed`` is the verdict; every check is in
    ``report.checks``.

    ``results`` are Results, results files or run folders; ``against`` is Results, a results
    file or run folder, or a run reference from the history (``latest~1``, ``#12``, a run id),
    looked up in ``history`` (default ``out/history.sqlite``). With ``rebench``, latency
    rules judge the base run's stored files and the current files measured side by side now.
    """
    loaded = _results(results)
    rules = budgets if isinstance(budgets, Budgets) else load_budgets(budgets)
    base = None
    spreads: dict[str, DeviceSpread | None] = {}
    if against is not None:
        path = _history_path(history)
        if isinstance(against, (str, Path)):
            base = load_ref(path, str(against))
        else:
            base = list(against)
        spreads = _learnt_spreads(path, loaded, base)
    rebenched = None
    if rebench is not None and base is not None:
        by_target = {b.target: b for b in base}
        cmps = [compare_runs(by_target[c.target], c) for c in loaded if c.target in by_target]
        rebenched = {(cmp.current.target, ch.record.variant): ch.ab
                     for cmp in rebench_comparisons(cmps, _history_path(history), rebench)
                     for ch in cmp.changes if ch.ab is not None}
    return evaluate(rules, loaded, against=base, alpha=alpha,
                    require_compatible=tuple(require_compatible), spreads=spreads,
                    rebenched=rebenched)


def _learnt_spreads(
    history_path: Path, current: Sequence[Results], base: Sequence[Results]
) -> dict[str, DeviceSpread | None]:
    """Each target's process spread, learnt from the history (when there is one) and the runs."""
    by_target = {b.target: b for b in base}
    pairs = [(by_target[c.target], c) for c in current if c.target in by_target]
    if not history_path.is_file():
        return {c.target: spread_from_history(None, [b, c]) for b, c in pairs}
    with open_history(history_path, create=False) as h:
        return {c.target: spread_from_history(h, [b, c]) for b, c in pairs}


def _results(items: Results | Sequence[Results] | PathLike | Sequence[PathLike]) -> list[Results]:
    if isinstance(items, Results):
        return [items]
    if isinstance(items, (str, Path)):
        return load_results(items)
    out: list[Results] = []
    for item in items:
        out.extend([item] if isinstance(item, Results) else _results(item))
    if not out:
        raise EdgebenchError("no results to check; give results files or run folders")
    return out


# --------------------------------------------------------------------------- history


def compare(
    base: Results, current: Results, settings: CompareSettings | None = None
) -> Comparison:
    """What changed between two runs of one target on one device, variant by variant: zip
    bytes and accuracy exactly, latency and peak memory with a verdict. Runs of different
    targets or devices are refused (CompareError)."""
    return compare_runs(base, current, settings)


def compare_history(
    base: str | None = None,
    current: str | None = None,
    *,
    target: str | None = None,
    history: PathLike | None = None,
    settings: CompareSettings | None = None,
    rebench: AbSettings | None = None,
) -> list[Comparison]:
    """:func:`compare` on runs named as ``edgebench compare`` names them (run ids, ``#N``,
    ``latest~N``, results files, run folders); by default the latest run against the one before
    it on the same target and device. One comparison per target. With ``rebench``, latency is
    judged by measuring the base run's stored files and the current files side by side now."""
    path = _history_path(history)
    found = comparisons_for(path, base, current, target, settings or CompareSettings())
    return found if rebench is None else rebench_comparisons(found, path, rebench, _log.info)


def ab(
    base: PathLike,
    current: PathLike,
    *,
    settings: AbSettings | None = None,
    history: PathLike | None = None,
    progress: Progress | None = None,
    target_options: Mapping[str, Any] | None = None,
) -> AbReport:
    """Measure two models (``.tflite`` files, manifests, or history runs) side by side until
    the paired ratios decide (:mod:`edgebench.bench.orchestration.ab`); one verdict a pair.
    ``target_options`` go to the transport (``python``, ``ssh_config``, ``adb``, …)."""
    pairs = resolve_pairs(str(base), str(current), _history_path(history))
    return run_ab(pairs, settings or AbSettings(), _progress(progress), options=target_options)


def history(
    *,
    target: str | None = None,
    variant: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    history: PathLike | None = None,
) -> list[RunRow]:
    """The runs in the history (one row per run and target), newest first, filtered by
    target, variant and date."""
    path = _history_path(history)
    with open_history(path, create=False) as h:
        return h.runs(target, variant, since, until, limit=limit)


def history_gc(*, history: PathLike | None = None,
               store_mb: float | None = None) -> tuple[int, int, StoreSize]:
    """Trim the model store to ``store_mb``: (files removed, bytes freed, its size now)."""
    with open_history(_history_path(history), create=False) as h:
        return (*h.gc(store_mb), h.store_size())


def variant_history(
    variant: str,
    *,
    target: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    history: PathLike | None = None,
) -> list[tuple[RunRow, Record | None]]:
    """The runs that measured ``variant``, newest first, each with that variant's record
    (accuracy, output fidelity, latency, memory; without the raw samples)."""
    path = _history_path(history)
    with open_history(path, create=False) as h:
        rows = h.runs(target, variant, since, until, limit=limit)
        return [(row, h.record(row, variant)) for row in rows]


def add_to_history(results: PathLike | Sequence[Results], history: PathLike | None = None) -> None:
    """Import results (benched with ``record_history=False``, or from elsewhere)."""
    path = _history_path(history)
    history_store.append_results(path, _results(results))


def report(
    run: str | None = None,
    *,
    out: PathLike = DEFAULT_OUT / "report.html",
    markdown: PathLike | None = None,
    target: str | None = None,
    last: int = 20,
    settings: CompareSettings | None = None,
    history: PathLike | None = None,
) -> ReportFiles:
    """Write one self-contained HTML report (and a Markdown summary beside it) of ``run``
    (default: the latest in the history): the summary with the change since the previous run,
    size against quality with the Pareto front, latency distributions, and trends."""
    path = _history_path(history)
    html = Path(out)
    data, md = make_report(
        path, run, target, last, settings or CompareSettings(), html,
        Path(markdown) if markdown is not None else None,
    )
    return ReportFiles(html, md, data)


@dataclass(frozen=True)
class ReportFiles:
    """The files :func:`report` wrote, and what it showed."""

    html: Path
    markdown: Path
    data: ReportData


# --------------------------------------------------------------------------- run


@dataclass(frozen=True)
class RunOutcome:
    """What :func:`run` made: the build, the measurements and the gate's verdict."""

    manifest: Manifest
    results: list[Results]
    gate: GateReport


def run(
    config: PipelineConfig | PathLike | None = None,
    *,
    out: PathLike = DEFAULT_OUT,
    run: str | None = None,
    model: PathLike | None = None,
    budgets: Budgets | PathLike | None = None,
    targets: Sequence[str] | None = None,
    settings: BenchSettings | None = None,
    history: PathLike | None = None,
    record_history: bool = True,
    require_compatible: Sequence[str] = (),
    target_options: Mapping[str, Mapping[str, object]] | None = None,
    progress: Progress | None = None,
    commit: str | None = None,
) -> RunOutcome:
    """Build, bench and gate in one go (the main job). Targets and settings default to the
    config's ``[bench]``, budgets to its ``[gate]``. Every input the gate and the history need
    is checked before minutes of training."""
    cfg = _config(config)
    _check_commit(commit)
    rules = budgets if isinstance(budgets, Budgets) else load_budgets(budgets or budgets_of(cfg))
    history_path = _history_path(history, out)
    if record_history:
        check_history(history_path)
    manifest = build_models(cfg, out=out, run=run, model=model, progress=progress)
    results = bench_models(
        manifest,
        targets or list(cfg.targets),
        settings or cfg.bench,
        out=out,
        history=history_path,
        record_history=record_history,
        target_options=target_options,
        progress=progress,
        commit=commit,
    )
    verdict = gate(results, rules, require_compatible=require_compatible)
    return RunOutcome(manifest, results, verdict)
