"""Multi-fidelity Optuna search (sweep.pruner) and the teacher's soft targets: the pruner's
plumbing with synthetic epochs (fast), then a small real sweep with both (slow)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from edgebench import cli
from edgebench.build.sweep import worker
from edgebench.build.sweep.fidelity import EpochReporter, Fidelity, Stopped, score
from edgebench.build.sweep.search import search
from edgebench.build.sweep.trials import TrialResult, TrialSpec
from edgebench.build.sweep.worker import stopped_trial
from edgebench.build.sweep_config import SweepConfig
from edgebench.records import Manifest

SMALL_SWEEP = Path(__file__).parent / "fixtures" / "small_sweep.toml"
EPOCHS = 8


def _interrupted(*args, **kwargs):
    raise KeyboardInterrupt


def test_the_score_ranks_every_trial_at_the_floor_above_any_below_it() -> None:
    assert score(0.881, 0.88, 0.05) == pytest.approx(math.log2(20))
    assert score(0.95, 0.88, 0.5) == pytest.approx(1.0)  # at the floor, the bigger one
    assert score(0.879, 0.88, 0.01) == pytest.approx(-0.1)  # short: the points it lacks
    assert score(0.88, 0.88, 0.9) > score(0.8799, 0.88, 0.001)


def _accuracy(sparsity: float, epoch: int) -> float:
    """A synthetic pruned stage: sparser is worse, every epoch a little better."""
    return 0.95 - 2.0 * (sparsity - 0.9) - 0.02 * (EPOCHS - epoch) / EPOCHS


def _fake_run(specs, fidelity: Fidelity | None) -> list[TrialResult]:
    out = []
    for spec in specs:
        reporter = EpochReporter(fidelity, [spec.id], 1.0 - spec.sparsity)
        try:
            for epoch in range(1, EPOCHS + 1):
                reporter.report(epoch, _accuracy(spec.sparsity, epoch))
        except Stopped as stop:
            out.append(stopped_trial(spec, reporter.history, stop.epoch, 1.0))
            continue
        out.append(TrialResult(
            spec=spec, recipe_type="gradual", zip_bytes=int(80_000 * (1 - spec.sparsity)),
            file_bytes=0, val_accuracy=reporter.history[-1], val_n=6000, stages={}, trained=(
                "prune",), tflite_path="", cache_file="", trial_s=float(EPOCHS),
        ))
    return out


def test_the_pruner_stops_hopeless_trials_and_they_never_reach_the_results(tmp_path) -> None:
    sparsities = (0.9, 0.92, 0.94, 0.96, 0.97, 0.98)
    sweep = SweepConfig(
        recipes=("gradual",), sparsities=sparsities, quantization=("int8",),
        search="optuna", min_accuracy=0.88, pruner="successive_halving",
        pruner_reduction_factor=2,
    )
    specs = [TrialSpec("gradual", s, 0, "int8") for s in sparsities]
    outcome = search(sweep, specs, _fake_run, 1, lambda line: None, floor=0.88,
                     journal=tmp_path / "optuna.journal", max_epochs=EPOCHS)
    finished = {r.id for r in outcome.results}
    stopped = {r.id: r for r in outcome.stopped}
    assert finished and stopped and not finished & stopped.keys()
    assert all(r.stopped_at_epoch is not None and r.stopped_at_epoch < EPOCHS
               for r in stopped.values())
    assert all(r.zip_bytes > 0 for r in outcome.results)
    summary = outcome.summary()
    assert summary["stopped"] == len(stopped) and summary["finished"] == len(finished)
    # Never the best trial: the smallest that meets the floor (a denser one at the floor is
    # dominated by it and may stop).
    best = max(specs, key=lambda s: score(_accuracy(s.sparsity, EPOCHS), 0.88, 1 - s.sparsity))
    assert best.sparsity == 0.92
    assert best.id not in stopped


@pytest.mark.slow
def test_a_small_sweep_with_a_teacher_resumes_and_prunes(tmp_path: Path, monkeypatch) -> None:
    """teacher_cnn trains once and is cached, and its soft targets drive the fine-tunes; a
    sweep interrupted after its first trial keeps what it finished and a rerun resumes from
    there; then Optuna's pruner stops trials of a wider space on the same cache."""
    grid = SMALL_SWEEP.read_text().replace(
        "seed = 0\n", 'seed = 0\nteacher = "teacher_cnn"\nteacher_epochs = 1\n', 1
    )
    config = tmp_path / "teacher.toml"
    config.write_text(grid)
    out = tmp_path / "out"
    args = ["sweep", "--config", str(config), "--out", str(out)]
    measured = worker.measure

    def interrupt_after_one(*a, **k):
        monkeypatch.setattr(worker, "measure", _interrupted)
        return measured(*a, **k)

    monkeypatch.setattr(worker, "measure", interrupt_after_one)
    assert cli.main([*args, "--run", "interrupted"]) == 130
    monkeypatch.setattr(worker, "measure", measured)
    assert cli.main([*args, "--run", "resumed"]) == 0
    resumed = Manifest.load(out / "resumed" / "manifest.json").sweep
    assert resumed["teacher"]["teacher"] == "teacher_cnn" and not resumed["teacher"]["built"]
    assert 0.0 < resumed["teacher"]["val_accuracy"] <= 1.0
    trained = {t["id"]: t["trained"] for t in resumed["trials"]}
    assert trained["lrr-s80-k0-int8"] == []  # finished before the interruption: from the cache
    assert "prune" in trained["lrr-s90-k0-int8"]  # never started: trained now
    assert all(len(t["val_history"]) == 1 for t in resumed["trials"])  # one epoch, recorded

    wide = grid.replace(
        'search = "grid"',
        'search = "optuna"\ntrials = 4\npruner = "successive_halving"\n'
        "pruner_reduction_factor = 2",
    ).replace("sparsities = [0.8, 0.9]", "sparsities = [0.5, 0.8, 0.95, 0.99]")
    config.write_text(wide.replace("rounds = 1\n", "rounds = 1\nepochs = 2\n", 1))
    assert cli.main([*args, "--run", "pruned"]) in (0, 1)  # 1: nothing at the floor
    pruned = Manifest.load(out / "pruned" / "manifest.json").sweep
    summary = pruned["pruner"]
    assert summary["stopped"] == len(pruned["stopped_trials"]) >= 1
    assert summary["finished"] == len(pruned["trials"]) >= 1
    assert {t["id"] for t in pruned["trials"]}.isdisjoint(summary["stopped_at_epoch"])
