"""Which points of the search space the sweep tries: all of them, or Optuna's choice.

A search gets ``run``, which runs a batch of trial specs wherever the sweep's runner runs them
and returns their results; it does not know about tasks, workers or the cache. Optuna's
objectives are zipped bytes (fewer) and validation accuracy (more): the test set stays out of
the search.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from edgebench.build.progress import Progress
from edgebench.build.sweep.trials import TrialResult, TrialSpec
from edgebench.build.sweep_config import SweepConfig

RunTrials = Callable[[Sequence[TrialSpec]], list[TrialResult]]


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
) -> list[TrialResult]:
    """The trials the config's ``search`` picks among ``specs`` (the valid points of the grid),
    each distinct point run once: all of them (``grid``), or Optuna's multi-objective TPE over
    the categorical space, a batch of trials at a time.

    A point the sweep left out (:func:`edgebench.build.sweep.driver.check_search_space`) is
    told to Optuna as pruned, so the sampler learns to avoid it.
    """
    if sweep.search == "grid":
        return run(specs)
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

    study = optuna.create_study(
        directions=["minimize", "maximize"],
        sampler=optuna.samplers.TPESampler(seed=sweep.seed, multivariate=True),
    )
    budget = min(sweep.trials or len(specs), len(specs))
    done: dict[str, TrialResult] = {}
    batch_size = max(1, batch_size)
    while len(done) < budget:
        asked = [study.ask(space) for _ in range(min(batch_size, budget - len(done)))]
        wanted = [spec_of(t.params) for t in asked]
        new = list({s.id: s for s in wanted if s.id not in done and s.id in valid}.values())
        for r in run(new) if new else []:
            done[r.id] = r
        for t, s in zip(asked, wanted, strict=True):
            if s.id not in valid:
                study.tell(t, state=optuna.trial.TrialState.PRUNED)
                continue
            r = done[s.id]
            study.tell(t, [r.zip_bytes, r.val_accuracy])
        progress(f"optuna: {len(done)}/{budget} distinct trials")
        if len(study.trials) > 4 * budget:  # the sampler keeps proposing what it has seen
            break
    return list(done.values())
