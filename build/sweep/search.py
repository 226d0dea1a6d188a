"""Which points of the search space the sweep tries: all of them, or Optuna's choice.

A search gets ``run``, which runs a batch of trial specs wherever the sweep's runner runs them
and returns their results; it does not know about tasks, workers or the cache. Optuna's
objectives are zipped bytes (fewer) and validation accuracy (more): the test set stays out of
the search.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebench.build.progress import Progress
from edgebench.build.sweep.fidelity import Fidelity, make_pruner, score, storage
from edgebench.build.sweep.trials import TrialResult, TrialSpec, lower_confidence_bound
from edgebench.build.sweep_config import SweepConfig

# Runs a batch of specs; a multi-fidelity search passes where their epochs are reported.
RunTrials = Callable[[Sequence[TrialSpec], Fidelity | None], list[TrialResult]]


@dataclass(frozen=True)
class SearchOutcome:
    """The trials a search finished, and the ones its pruner stopped (never chosen)."""

    results: list[TrialResult]
    stopped: list[TrialResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """For the manifest: how many trials the pruner stopped, at which epoch, what they
        and the finished ones cost."""
        done_s = sum(r.trial_s for r in self.results if r.trained)
        return {
            "finished": len(self.results),
            "stopped": len(self.stopped),
            "stopped_at_epoch": {r.id: r.stopped_at_epoch for r in self.stopped},
            "stopped_trials_s": round(sum(r.trial_s for r in self.stopped), 1),
            "finished_trained_trials_s": round(done_s, 1),
        }


def grid(sweep: SweepConfig) -> list[TrialSpec]:
    """Every combination, in config order: recipe, [sweep.vary] values, sparsity, clusters,
    quantisation."""
    names = [k for k, _ in sweep.vary]
    combos = list(itertools.product(*(values for _, values in sweep.vary)))
    return [
        TrialSpec(r, s, k, q, tuple(zip(names, combo, strict=True)))
        for r in sweep.recipes
        for combo in combos
        for s in sweep.sparsities
        for k in sweep.clusters
        for q in sweep.quantization
    ]


def search(
    sweep: SweepConfig,
    specs: Sequence[TrialSpec],
    run: RunTrials,
    batch_size: int,
    progress: Progress,
    *,
    floor: float = 0.0,
    journal: Path | None = None,
    max_epochs: int = 1,
) -> SearchOutcome:
    """The trials the config's ``search`` picks among ``specs`` (the valid points of the grid),
    each distinct point run once: all of them (``grid``), or Optuna's multi-objective TPE over
    the categorical space, a batch of trials at a time.

    A point the sweep left out (:func:`edgebench.build.sweep.driver.check_search_space`) is
    told to Optuna as pruned, so the sampler learns to avoid it. With ``sweep.pruner`` the
    study is single-objective (:func:`.fidelity.score` against ``floor``), kept in
    ``journal`` so workers report each epoch (up to ``max_epochs``) and the pruner stops
    hopeless trials.
    """
    if sweep.search == "grid":
        return SearchOutcome(run(specs, None))
    import optuna  # optional (the [sweep] extra), and slow to import: only for search = optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cat = optuna.distributions.CategoricalDistribution
    space: dict[str, optuna.distributions.BaseDistribution] = {  # ask() takes this dict type
        "recipe": cat(list(sweep.recipes)),
        "sparsity": cat(list(sweep.sparsities)),
        "clusters": cat(list(sweep.clusters)),
        "quantization": cat(list(sweep.quantization)),
        # Optuna's choices must be None, bool, int, float or str: other values go by position.
        **{f"vary.{k}": cat(list(range(len(v)))) for k, v in sweep.vary},
    }
    valid = {s.id for s in specs}

    def spec_of(params: dict[str, Any]) -> TrialSpec:
        overrides = tuple((k, v[params[f"vary.{k}"]]) for k, v in sweep.vary)
        return TrialSpec(
            params["recipe"], params["sparsity"], params["clusters"], params["quantization"],
            overrides,
        )

    sampler = optuna.samplers.TPESampler(seed=sweep.seed, multivariate=True)
    fidelity: Fidelity | None = None
    if sweep.pruner == "none":
        study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    else:
        assert journal is not None, "a multi-fidelity search needs a journal file"
        journal.parent.mkdir(parents=True, exist_ok=True)
        journal.unlink(missing_ok=True)  # a study per run; finished stages come from the cache
        min_epochs = min(sweep.pruner_min_epochs, max_epochs)
        pruner = make_pruner(sweep.pruner, min_epochs, max_epochs, sweep.pruner_reduction_factor)
        study = optuna.create_study(
            study_name="sweep", storage=storage(journal), direction="maximize",
            sampler=sampler, pruner=pruner,
        )
        fidelity = Fidelity(str(journal), "sweep", (), floor, sweep.pruner, min_epochs,
                            max_epochs, sweep.pruner_reduction_factor)
    budget = min(sweep.trials or len(specs), len(specs))
    done: dict[str, TrialResult] = {}
    stopped: dict[str, TrialResult] = {}
    batch_size = max(1, batch_size)
    while len(done) + len(stopped) < budget:
        left = budget - len(done) - len(stopped)
        asked = [study.ask(space) for _ in range(min(batch_size, left))]
        wanted = [spec_of(t.params) for t in asked]
        seen = done.keys() | stopped.keys()
        new = list({s.id: s for s in wanted if s.id not in seen and s.id in valid}.values())
        # A stopped pruned model stops every trial built on it, without training it again.
        dead = {r.spec.pruned_model: r for r in stopped.values()}
        for s in [s for s in new if s.pruned_model in dead]:
            stopped[s.id] = dataclasses.replace(dead[s.pruned_model], spec=s, trial_s=0.0)
        new = [s for s in new if s.id not in stopped]
        batch = None
        if fidelity is not None:
            ids = {s.id: t._trial_id for t, s in zip(asked, wanted, strict=True)}
            batch = dataclasses.replace(fidelity, trial_ids=tuple(ids.items()))
        for r in run(new, batch) if new else []:
            (stopped if r.stopped_at_epoch is not None else done)[r.id] = r
        for t, s in zip(asked, wanted, strict=True):
            if s.id not in valid or s.id in stopped:
                study.tell(t, state=optuna.trial.TrialState.PRUNED)
            elif fidelity is not None:
                study.tell(t, final_score(done[s.id], floor, sweep.confidence))
            else:
                study.tell(t, [done[s.id].zip_bytes, done[s.id].val_accuracy])
        pruned = f", {len(stopped)} stopped by the pruner" if fidelity is not None else ""
        progress(f"optuna: {len(done)}/{budget} distinct trials{pruned}")
        if len(study.trials) > 4 * budget:  # the sampler keeps proposing what it has seen
            break
    return SearchOutcome(list(done.values()), list(stopped.values()))


def final_score(r: TrialResult, floor: float, confidence: float) -> float:
    """A finished trial's value in a multi-fidelity study: its file's zipped bytes against a
    fixed 1 MB, its validation accuracy (or lower bound) against the floor."""
    accuracy = lower_confidence_bound(r.val_accuracy, r.val_n, confidence)
    return score(accuracy, floor, r.zip_bytes / 1e6)
