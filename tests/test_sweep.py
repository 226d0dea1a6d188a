"""edgebench sweep: choice, manifest, cache (reruns train nothing), Ray, and bad input."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from runtime_digests import runtime_digests

import edgebench
from edgebench import cli
from edgebench.bench.device.runner.evaldata import eval_shard_paths
from edgebench.bench.device.runner.preprocess import preprocess
from edgebench.build.config import load_pipeline
from edgebench.build.datasets import Dataset, load_dataset
from edgebench.build.sweep import TrialResult, TrialSpec, choose, grid, keys, sweep_front, worker
from edgebench.build.sweep.execution import group_tasks, package_parent, ray_worker_env
from edgebench.build.sweep.trials import TaskJob
from edgebench.errors import DatasetError
from edgebench.records import Manifest

# Slow (not in the fast tier): trains the sweep's baseline and its trials.
pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures"
SMALL_SWEEP = FIXTURES / "small_sweep.toml"
# What the manifest records of each trial (sweep.trials); bench, report and users read these.
MANIFEST_TRIAL_KEYS = [
    "id",
    "recipe",
    "recipe_type",
    "overrides",
    "sparsity",
    "clusters",
    "quantization",
    "qat_scheme",
    "kind",
    "zip_bytes",
    "file_bytes",
    "strip",
    "val_accuracy",
    "val_n",
    "val_lower_bound",
    "test_accuracy",
    "stages",
    "trained",
    "cache_file",
    "trial_s",
    "val_history",
    "stopped_at_epoch",
    "compression_ratio",
]


def _trial(
    name: str, zip_bytes: int, accuracy: float, clusters: int = 0, val_n: int = 6000
) -> TrialResult:
    return TrialResult(
        spec=TrialSpec(name, 0.9, clusters, "qat"),
        recipe_type="lr_rewinding",
        zip_bytes=zip_bytes,
        file_bytes=2 * zip_bytes,
        val_accuracy=accuracy,
        val_n=val_n,
        stages={"pruned": {"dense": {"sparsity": 0.9, "unique_values": 100}}},
        trained=("prune", "final"),
        tflite_path=f"/cache/final/k/{name}.tflite",
        cache_file=f"final/k/{name}.tflite",
        trial_s=1.5,
    )


def test_front_and_choice_read_validation_accuracy() -> None:
    trials = [_trial("a", 100, 0.80), _trial("b", 200, 0.90), _trial("c", 150, 0.79)]
    trials += [_trial("d", 300, 0.89), _trial("e", 200, 0.90)]
    # Smallest first; b and e tie exactly, and neither beats the other.
    assert [t.spec.recipe for t in sweep_front(trials)] == ["a", "b", "e"]
    assert choose(trials, 0.85).spec.recipe == "b"
    assert choose(trials, 0.95) is None
    # A test accuracy, set after the choice, changes neither the front nor the choice.
    retested = [t.with_test_accuracy(1.0 - t.val_accuracy) for t in trials]
    assert [t.id for t in sweep_front(retested)] == [t.id for t in sweep_front(trials)]
    assert choose(retested, 0.85).id == choose(trials, 0.85).id
    assert TrialSpec("lrr", 0.92, 16, "qat").id == "lrr-s92-k16-qat"
    assert TrialSpec("lrr", 0.92, 16, "qat").qat_scheme == "pcqat"
    assert TrialSpec("lrr", 0.92, 0, "qat").qat_scheme == "pqat"
    assert TrialSpec("lrr", 0.92, 8, "int8-per-tensor").kind.value == "int8"
    varied = TrialSpec("g", 0.92, 8, "int8", (("distill_alpha", 0.9), ("layers", ("dense",))))
    assert varied.id == "g-da0.9-ldense-s92-k8-int8"


def test_a_confidence_holds_the_lower_bound_to_the_floor() -> None:
    """Clopper-Pearson: 5,310 of 6,000 right (88.50%) has a 95% one-sided lower bound of
    about 87.8%, so it fails an 88% floor that the estimate itself passes."""
    from scipy import stats

    trials = [_trial("small", 100, 0.885), _trial("big", 200, 0.895)]
    bounded = [t.with_lower_bound(0.95) for t in trials]
    assert bounded[0].val_lower_bound == pytest.approx(
        stats.beta.ppf(0.05, 5310, 691), abs=1e-5
    )
    assert 0.877 < bounded[0].val_lower_bound < 0.879
    assert choose(trials, 0.88).spec.recipe == "small"
    assert choose(bounded, 0.88).spec.recipe == "big"
    # More validation samples, a tighter bound.
    wide = _trial("small", 100, 0.885, val_n=60000).with_lower_bound(0.95)
    assert bounded[0].val_lower_bound < wide.val_lower_bound < 0.885


def test_trial_result_to_dict_has_the_manifest_keys() -> None:
    trial = _trial("lrr", 4838, 0.7, clusters=8).with_compression_ratio(77716)
    record = trial.to_dict()
    assert list(record) == MANIFEST_TRIAL_KEYS  # the cache path stays out of the manifest
    assert record["id"] == "lrr-s90-k8-qat" and record["qat_scheme"] == "pcqat"
    assert record["kind"] == "int8" and record["compression_ratio"] == 16.064
    assert record["trained"] == ["prune", "final"]
    assert record["cache_file"] == "final/k/lrr.tflite" and record["test_accuracy"] is None
    assert "compression_ratio" not in _trial("lrr", 1, 0.5).to_dict()  # set by the driver only


def test_the_validation_split_is_seeded_disjoint_and_sized_by_the_setting() -> None:
    from edgebench.build.sweep.split import sweep_training_data, validation_indices
    from edgebench.build.sweep_config import SweepConfig

    def sweep(split: float, seed: int) -> SweepConfig:
        return SweepConfig(recipes=("g",), min_accuracy=0.5, validation_split=split, seed=seed)

    a, b = validation_indices(1000, sweep(0.1, 0)), validation_indices(1000, sweep(0.1, 1))
    assert len(a) == len(b) == 100 and not np.array_equal(a, b)
    assert np.array_equal(a, validation_indices(1000, sweep(0.1, 0)))
    assert len(validation_indices(1000, sweep(0.25, 0))) == 250
    # The labels are the sample indices: fit and validation never share a sample.
    ds = Dataset("t", "test", np.zeros((1000, 2, 2), np.uint8), np.arange(1000),
                 np.zeros((1, 2, 2), np.uint8), np.zeros(1, np.int64), 10)
    data = sweep_training_data(ds, (2, 2), sweep(0.1, 0))
    assert len(data.x_fit) == 900 and len(data.x_val) == 100
    assert set(data.y_val.tolist()) == set(a.tolist())
    assert not set(data.y_fit.tolist()) & set(data.y_val.tolist())


def test_data_the_sweep_cannot_take_is_refused_with_the_fix() -> None:
    from edgebench.build.sweep.split import sweep_data

    x, y = np.zeros((4, 2, 2), np.uint8), np.zeros(4, np.int64)
    two = Dataset("t", "two.npz", {"a": x, "b": x}, y, {"a": x, "b": x}, y, 1)
    with pytest.raises(DatasetError, match=r"two.npz has several inputs \(a, b\); the sweep"):
        sweep_data(two)
    with pytest.raises(DatasetError, match="has no labels, and the sweep chooses .* add y_train"):
        sweep_data(Dataset("t", "nolabels.npz", x, None, x, None, None))
    assert sweep_data(Dataset("t", "ok.npz", x, y, x, y, 1)).num_classes == 1


def test_a_sweep_over_data_without_labels_is_one_line_before_anything_is_written(
    tmp_path, capsys
) -> None:
    data = tmp_path / "nolabels.npz"
    x_train, x_test = np.zeros((200, 28, 28), np.uint8), np.zeros((50, 28, 28), np.uint8)
    np.savez(data, x_train=x_train, x_test=x_test)
    config = tmp_path / "sweep.toml"
    config.write_text(SMALL_SWEEP.read_text().replace('"fashion_mnist"', f'"{data.as_posix()}"'))
    args = ["sweep", "--config", str(config), "--out", str(tmp_path / "out"), "--run", "r"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nolabels.npz has no labels" in err[0], err
    assert not (tmp_path / "out" / "r").exists()


def test_a_parameter_at_its_neutral_value_stays_out_of_the_cache_key() -> None:
    from edgebench.build.recipes.iterative import GradualParams

    assert "scope" not in keys.params_key(GradualParams())
    assert keys.params_key(GradualParams(scope="global"))["scope"] == "global"
    assert keys.params_key(GradualParams())["distill_alpha"] == 0.0


def test_the_shipped_default_sweep_loads() -> None:
    from edgebench.build.config import default_sweep_path

    sweep = load_pipeline(default_sweep_path()).sweep
    assert sweep is not None and sweep.strip == "all" and sweep.validation_split == 0.1
    assert sweep.min_accuracy == 0.88 and sweep.qat_learning_rate == 1e-4


def test_tasks_group_the_trials_of_one_pruned_model() -> None:
    sweep = load_pipeline(SMALL_SWEEP).sweep
    specs = grid(sweep)
    job = TaskJob(load_pipeline(SMALL_SWEEP), "c", "e", "b", "f", (), 1)
    tasks = group_tasks(job, specs)
    assert [[t.id for t in task.trials] for task in tasks] == [
        [s.id for s in specs if s.sparsity == 0.8],
        [s.id for s in specs if s.sparsity == 0.9],
    ]
    assert group_tasks(job, []) == []
    # A varied recipe parameter makes another pruned model: another task.
    varied = [TrialSpec("lrr", 0.8, 0, "int8", (("rounds", r),)) for r in (1, 2)]
    assert [len(task.trials) for task in group_tasks(job, varied)] == [1, 1]


def test_ray_workers_find_the_package_that_runs_the_driver() -> None:
    parent = package_parent()
    assert (parent / "edgebench" / "__init__.py").resolve() == Path(edgebench.__file__).resolve()
    assert ray_worker_env()["PYTHONPATH"].split(":")[0] == str(parent)


class FitCounter:
    """Counts every Keras training run of the build stage (baseline, recipes, clustering, QAT)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from edgebench.build import training

        self.calls = 0
        real = training.fit_model

        def counting(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(training, "fit_model", counting)


@pytest.fixture(scope="module")
def first_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reduced sweep, run once in-process (workers = 1); returns the --out folder."""
    out = tmp_path_factory.mktemp("sweep")
    status = cli.main(["sweep", "--config", str(SMALL_SWEEP), "--out", str(out), "--run", "first"])
    assert status == 0
    return out


def test_sweep_writes_front_trials_and_the_chosen_file(first_sweep: Path) -> None:
    manifest = Manifest.load(first_sweep / "first" / "manifest.json")
    sweep = manifest.sweep
    assert sweep is not None and len(sweep["trials"]) == 8
    assert manifest.chosen is not None and (first_sweep / "first" / manifest.chosen).is_file()
    chosen = next(a for a in manifest.artifacts if a.path == manifest.chosen)
    floor = sweep["floor_accuracy"]
    trials = {t["id"]: t for t in sweep["trials"]}
    # Chosen on validation accuracy alone: the smallest trial at or above the floor there.
    assert sweep["choice_metric"] == "val_accuracy"
    assert trials[chosen.recipe]["val_accuracy"] >= floor
    assert chosen.zip_bytes == min(
        t["zip_bytes"] for t in sweep["trials"] if t["val_accuracy"] >= floor
    )
    # Its test accuracy is measured apart, through the interpreter, on every test image.
    assert (
        sweep["chosen_test_accuracy"]
        == chosen.host_accuracy
        == trials[chosen.recipe]["test_accuracy"]
    )
    assert sweep["chosen_val_accuracy"] == trials[chosen.recipe]["val_accuracy"]
    assert chosen.extra["eval_n"] == manifest.dataset.n_test == 500
    front = set(sweep["front"])
    assert all(t["test_accuracy"] is not None for t in sweep["trials"] if t["id"] in front)
    assert all(t["test_accuracy"] is None for t in sweep["trials"] if t["id"] not in front)
    validation = sweep["validation"]
    assert validation["split"] == 0.1 and validation["n"] == 200  # of train_limit = 2000
    assert all(t["val_n"] == 200 for t in sweep["trials"])
    shards = eval_shard_paths(first_sweep / "first" / validation["file"])
    assert sum(len(np.load(p)["y"]) for p in shards) == 200
    # The front members that meet the floor are artifacts bench can measure; the dense
    # baseline is the .h5, and its float32 variant is what gate's accuracy drop refers to.
    shipped = {a.recipe for a in manifest.tflite_artifacts() if a.recipe != "baseline"}
    assert shipped == {i for i in sweep["front"] if trials[i]["val_accuracy"] >= floor}
    assert set(sweep["baseline_val_accuracy"]) == {"float32"}
    assert manifest.artifact("baseline/float32").kind == "float32"
    assert manifest.artifact(manifest.baseline).path == "baseline.h5"
    # Per layer, after each stage: sparsity and distinct values.
    clustered = next(t for t in sweep["trials"] if t["clusters"] and t["quantization"] == "qat")
    assert set(clustered["stages"]) == {"pruned", "clustered", "tflite"}
    assert clustered["stages"]["clustered"]["dense"]["unique_values"] <= 9
    tflite_dense = [f for n, f in clustered["stages"]["tflite"].items() if "dense" in n.lower()]
    assert tflite_dense[0]["sparsity"] >= 0.8 - 1e-3
    # The bench side reads it unchanged.
    from edgebench.bench.orchestration.plan import plan_from_inputs

    plan = plan_from_inputs([first_sweep / "first" / "manifest.json"], run_id="x")
    assert len(plan.items) == len(manifest.tflite_artifacts())


def test_the_manifest_records_every_trial_with_the_same_keys(first_sweep: Path) -> None:
    manifest = Manifest.load(first_sweep / "first" / "manifest.json")
    assert all(list(t) == MANIFEST_TRIAL_KEYS for t in manifest.sweep["trials"])
    shipped = [a for a in manifest.tflite_artifacts() if a.recipe != "baseline"]
    # The artifact's host accuracy is the test accuracy; the trial's extra keeps the rest.
    kept = [k for k in MANIFEST_TRIAL_KEYS if k not in ("trained", "test_accuracy")]
    assert all(list(a.extra)[: len(kept)] == kept for a in shipped)


def _task(first_sweep: Path, cache_root: Path, *specs: TrialSpec) -> TaskJob:
    config = load_pipeline(SMALL_SWEEP)
    ds = load_dataset(
        config.data.dataset, config.base_dir, config.data.train_limit, config.data.test_limit
    )
    fingerprint = keys.data_fingerprint(ds)
    return TaskJob(
        config=config,
        cache_root=str(cache_root),
        val_path=str(first_sweep / "first" / "val"),
        baseline_key=keys.baseline_key(config, fingerprint),
        data_fingerprint=fingerprint,
        trials=specs,
        threads=1,
    )


def test_each_stage_of_a_task_comes_from_the_cache(first_sweep, monkeypatch, tmp_path) -> None:
    cache_root = tmp_path / "cache"
    shutil.copytree(first_sweep / "cache", cache_root)
    qat = TrialSpec("lrr", 0.8, 8, "qat")
    ctx = worker.task_context(_task(first_sweep, cache_root, qat))
    fits = FitCounter(monkeypatch)
    pruned = worker.pruned_stage(ctx, "lrr", 0.8)
    clustered = worker.clustered_stage(ctx, pruned, qat)
    final = worker.final_stage(ctx, clustered, qat, pruned)
    assert fits.calls == 0
    assert (pruned.built, clustered.built, final.built, final.trained) == (False,) * 4
    # The keys are the ones the first sweep stored its stages under.
    assert (cache_root / "prune" / pruned.key).is_dir()
    assert (cache_root / "cluster" / clustered.key).is_dir()
    assert final.path == cache_root / "final" / final.path.parent.name / f"{qat.id}.tflite"
    assert clustered.weights["dense"]["unique_values"] <= 9
    # A new quantisation of a cached model is converted once, then cached too.
    f16 = TrialSpec("lrr", 0.8, 8, "float16")
    made = worker.final_stage(ctx, clustered, f16, pruned)
    again = worker.final_stage(ctx, clustered, f16, pruned)
    assert (made.built, made.trained, again.built) == (True, False, False)
    assert again.path == made.path and made.path.is_file() and fits.calls == 0


def test_a_rerun_with_the_same_config_trains_nothing(first_sweep, monkeypatch) -> None:
    fits = FitCounter(monkeypatch)
    args = ["sweep", "--config", str(SMALL_SWEEP), "--out", str(first_sweep), "--run", "again"]
    assert cli.main(args) == 0
    assert fits.calls == 0
    again = Manifest.load(first_sweep / "again" / "manifest.json")
    first = Manifest.load(first_sweep / "first" / "manifest.json")
    assert again.sweep["trained_stages"] == 0
    assert again.chosen == first.chosen


def sweep_again(first_sweep: Path, run: str, text: str, tmp_path: Path) -> Manifest:
    """Run ``edgebench sweep`` on the config ``text`` into ``first_sweep / run``, beside the
    first sweep and sharing its cache; return the new run's manifest."""
    config = tmp_path / f"{run}.toml"
    config.write_text(text)
    args = ["sweep", "--config", str(config), "--out", str(first_sweep), "--run", run]
    assert cli.main(args) == 0
    return Manifest.load(first_sweep / run / "manifest.json")


def test_a_changed_parameter_retrains_only_what_it_touches(first_sweep, monkeypatch, tmp_path):
    # Only the QAT stages read the QAT learning rate (the default is 1e-4).
    text = SMALL_SWEEP.read_text().replace(
        "qat_epochs = 1", "qat_epochs = 1\nqat_learning_rate = 3e-5")
    assert "qat_learning_rate = 3e-5" in text
    fits = FitCounter(monkeypatch)
    manifest = sweep_again(first_sweep, "qat2", text, tmp_path)
    qat_trials = [t for t in manifest.sweep["trials"] if t["quantization"] == "qat"]
    assert fits.calls == len(qat_trials) == 4  # no baseline, pruning or clustering again
    assert all(t["trained"] == ["final"] for t in qat_trials)


def test_strip_ships_smaller_byte_identical_files_and_trains_nothing(
    first_sweep, monkeypatch, tmp_path, remote_python
) -> None:
    """Stripping is a stage of its own after the final file: nothing upstream retrains, every
    stripped trial is smaller and answers byte-identically to its unstripped file, in
    ai-edge-litert (checked by the sweep, and here again) and in tflite-runtime 2.14."""
    text = SMALL_SWEEP.read_text().replace(_SWEEP_END, f"{_SWEEP_END}\nstrip = true")
    fits = FitCounter(monkeypatch)
    stripped = sweep_again(first_sweep, "strip", text, tmp_path).sweep
    assert fits.calls == 0
    plain = {
        t["id"]: t for t in Manifest.load(first_sweep / "first" / "manifest.json").sweep["trials"]
    }
    assert stripped["space"]["strip"] == "all"
    cache = first_sweep / "cache"
    pairs = []
    for t in stripped["trials"]:
        record = t["strip"]
        assert record["unstripped_zip_bytes"] == plain[t["id"]]["zip_bytes"]
        assert t["zip_bytes"] < record["unstripped_zip_bytes"] - 300
        assert record["identical_outputs_on"] == 200  # the whole validation split here
        assert record["removed"]["signature_defs"][0]["key"] == "serving_default"
        assert t["val_accuracy"] == plain[t["id"]]["val_accuracy"]
        assert t["cache_file"].startswith("strip/")
        pairs.append((cache / plain[t["id"]]["cache_file"], cache / t["cache_file"]))
    (shard, *_) = eval_shard_paths(first_sweep / "strip" / "val")
    with np.load(shard) as val:
        x = preprocess(val["x:x"][:64], "unit")
    for python in (sys.executable, remote_python):
        digests = runtime_digests(python, x, [p for pair in pairs for p in pair], tmp_path)
        for original, small in pairs:
            assert not digests[str(original)].startswith("error"), digests[str(original)]
            assert digests[str(original)] == digests[str(small)], (python, small.name)


def test_optuna_search_records_its_distinct_trials(first_sweep, monkeypatch, tmp_path) -> None:
    text = SMALL_SWEEP.read_text().replace('search = "grid"', 'search = "optuna"\ntrials = 3')
    fits = FitCounter(monkeypatch)
    manifest = sweep_again(first_sweep, "optuna", text, tmp_path)
    ids = [t["id"] for t in manifest.sweep["trials"]]
    assert len(ids) == len(set(ids)) == 3
    assert manifest.sweep["search"] == "optuna"
    assert fits.calls == 0  # every point of this space is already in the cache


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_small_sweep_runs_on_a_local_ray_cluster(first_sweep, tmp_path, monkeypatch) -> None:
    pytest.importorskip("ray")
    # A throwaway cluster on 127.0.0.1: no token to create in ~/.ray or to hand to the driver.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    port = _free_port()
    ray = [sys.executable, "-m", "ray.scripts.scripts"]
    start = ray + [
        "start",
        "--head",
        f"--port={port}",
        "--node-ip-address=127.0.0.1",
        "--num-cpus=2",
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    started = subprocess.run(start, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stderr[-2000:]
    try:
        # One new pruned model (sparsity 0.85) on the cluster; the baseline comes from the cache.
        text = SMALL_SWEEP.read_text().replace("sparsities = [0.8, 0.9]", "sparsities = [0.85]")
        text = text.replace('quantization = ["int8", "qat"]', 'quantization = ["int8"]')
        text = text.replace("clusters = [0, 8]", "clusters = [0]")
        config = tmp_path / "ray.toml"
        config.write_text(text)
        args = ["sweep", "--config", str(config), "--out", str(first_sweep), "--run", "ray"]
        assert cli.main([*args, "--ray", f"127.0.0.1:{port}"]) == 0
        manifest = Manifest.load(first_sweep / "ray" / "manifest.json")
        assert manifest.sweep["ray_address"] == f"127.0.0.1:{port}"
        assert [t["trained"] for t in manifest.sweep["trials"]] == [["prune"]]
    finally:
        subprocess.run(ray + ["stop", "--force"], capture_output=True, timeout=120)


def _cache_snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("meta.json"))}


_SWEEP_END = "min_accuracy = 0.5"
_BAD_SPLIT = r"validation_split must be in \(0, 1\)"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("sparsities = [0.8, 0.9]", "sparsities = [0.8, 1.0]"), r"sparsities must be in \[0, 1\)"),
        (("clusters = [0, 8]", "clusters = [0, 5000]"), "5000 clusters is more than the 4056"),
        (("clusters = [0, 8]", "clusters = [5000]"), "search space has no valid point"),
        ((_SWEEP_END, f"{_SWEEP_END}\nvalidation_split = 0"), _BAD_SPLIT),
        ((_SWEEP_END, f"{_SWEEP_END}\nvalidation_split = 1.0"), _BAD_SPLIT),
        ((_SWEEP_END, f"{_SWEEP_END}\nconfidence = 1.0"), r"confidence must be in \[0, 1\)"),
        ((_SWEEP_END, f"{_SWEEP_END}\nstrip = true\nsignatures = true"), "keep-signatures"),
        ((_SWEEP_END, f'{_SWEEP_END}\nstrip = "names"'), "strip must be true, false"),
        (("[bench]", "[sweep.vary]\nnope = [1]\n\n[bench]"), "has no parameter 'nope'"),
        (("min_accuracy = 0.5", "min_accuracy = 0.5\nmax_accuracy_drop = 0.1"), "exactly one"),
        (('recipes = ["lrr"]', 'recipes = ["nope"]'), "names 'nope', which is no"),
    ],
)
def test_bad_sweep_input_is_one_line_and_exit_2(first_sweep, tmp_path, capsys, edit, message):
    config = tmp_path / "bad.toml"
    config.write_text(SMALL_SWEEP.read_text().replace(*edit))
    before = _cache_snapshot(first_sweep / "cache")
    args = ["sweep", "--config", str(config), "--out", str(first_sweep), "--run", "bad"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgebench: error: ")
    assert pytest.importorskip("re").search(message, err[0]), err[0]
    assert not (first_sweep / "bad" / "manifest.json").exists()
    assert _cache_snapshot(first_sweep / "cache") == before


def test_an_unreachable_ray_address_fails_before_training(first_sweep, capsys) -> None:
    port = _free_port()  # nothing listens there
    args = ["sweep", "--config", str(SMALL_SWEEP), "--out", str(first_sweep), "--run", "noray"]
    assert cli.main([*args, "--ray", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach a Ray cluster" in err and "ray start --head" in err
    assert not (first_sweep / "noray").exists()


def test_a_validation_split_outside_0_1_on_the_command_line_is_refused(capsys) -> None:
    for bad in ("0", "1", "1.5", "ten"):
        with pytest.raises(SystemExit) as exc:
            cli.main(["sweep", "--config", str(SMALL_SWEEP), "--validation-split", bad])
        assert exc.value.code == 2
        assert "--validation-split" in capsys.readouterr().err


def test_sweep_help_and_a_config_without_sweep(capsys, tmp_path) -> None:
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--help"])
    out = capsys.readouterr().out
    assert "--ray ADDRESS" in out and "chosen" in out and "--validation-split" in out
    plain = load_pipeline(FIXTURES / "small_pipeline.toml")
    assert plain.sweep is None
    status = cli.main(
        ["sweep", "--config", str(FIXTURES / "small_pipeline.toml"), "--out", str(tmp_path)]
    )
    assert status == 2
    assert "has no [sweep] section" in capsys.readouterr().err
    assert load_pipeline(SMALL_SWEEP).sweep.grid_size == 8
