"""Which points of the search space the sweep tries: all of them, or Optuna's choice.

A search gets ``run``, which runs a batch of trial specs wherever the sweep's runner runs them
and returns their results; it does not know about tasks, workers or the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from edgebench.build.pipeline import Progress
from edgebench.build.sweep.trials import TrialResult, TrialSpec
from edgebench.build.sweep_config import SweepConfig

RunTrials = Callable[[Sequence[TrialSpec]], list[TrialResult]]


def grid(sweep: SweepConfig) -> list[TrialSpec]:
    """Every combination, in config order."""
    return [
        TrialSpec(r, s, k, q)
        for r in sweep.recipes
        for s in sweep.sparsities
        for k in sweep.clusters
        for q in sweep.quantization
    ]


def search(
    sweep: SweepConfig, run: RunTrials, batch_size: int, progress: Progress
) -> list[TrialResult]:
    """The trials the config's ``search`` picks, each distinct point run once."""
    specs = grid(sweep)
    if sweep.search == "grid":
        return run(specs)
    return optuna_search(sweep, specs, run, batch_size, progress)


def optuna_search(
    sweep: SweepConfig,
    specs: Sequence[TrialSpec],
    run: RunTrials,
    batch_size: int,
    progress: Progress,
) -> list[TrialResult]:
    """Optuna's multi-objective TPE over the categorical space, a batch of trials at a time."""
    import optuna  # optional (the [sweep] extra), and slow to import: only for search = optuna

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
    done: dict[str, TrialResult] = {}
    batch_size = max(1, batch_size)
    while len(done) < budget:
        asked = [study.ask(space) for _ in range(min(batch_size, budget - len(done)))]
        wanted = [TrialSpec(**t.params) for t in asked]
        new = list({s.id: s for s in wanted if s.id not in done}.values())
        for r in run(new):
            done[r.id] = r
        for t, s in zip(asked, wanted, strict=True):
            r = done[s.id]
            study.tell(t, [r.zip_bytes, r.accuracy])
        progress(f"optuna: {len(done)}/{budget} distinct trials")
        if len(study.trials) > 4 * budget:  # the sampler keeps proposing what it has seen
            break
    return list(done.values())
