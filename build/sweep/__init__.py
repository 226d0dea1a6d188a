"""``edgebench sweep``: the smallest variant that still meets the accuracy floor.

The sweep searches recipe x [sweep.vary] parameters x target sparsity x clustering x
quantisation (a grid, or Optuna's multi-objective search: minimise zipped bytes, maximise
validation accuracy), keeps the Pareto front, and chooses the smallest variant whose accuracy
on a held-out validation split of the training data is at least the floor. The test set plays
no part in the choice: the front is measured on it afterwards.

One module per job:

- :mod:`.trials`: the vocabulary (``TrialSpec``, ``TrialResult``, ``TaskJob``, stage names);
- :mod:`.split`: the validation split the choice is made on;
- :mod:`.keys`: the cache key of each stage;
- :mod:`.baseline`: the dense baseline as a cache entry;
- :mod:`.worker`: one task, the trials that share a pruned model, stage by cached stage
  (pruned, clustered, final, stripped);
- :mod:`.execution`: where tasks run (this process, local workers, Ray);
- :mod:`.search`: which trials run (grid, Optuna);
- :mod:`.driver`: ``run_sweep``: check, baseline, search, choose, manifest.
"""

from __future__ import annotations

from edgebench.build.sweep.driver import SweepOutcome, choose, run_sweep, sweep_front
from edgebench.build.sweep.search import grid
from edgebench.build.sweep.trials import TrialResult, TrialSpec

__all__ = ["SweepOutcome", "TrialResult", "TrialSpec", "choose", "grid", "run_sweep", "sweep_front"]
