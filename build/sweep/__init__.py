"""``edgebench sweep``: the smallest variant that still meets the accuracy floor.

The sweep searches recipe x target sparsity x clustering x quantisation (a grid, or Optuna's
multi-objective search: minimise zipped bytes, maximise test accuracy), keeps the Pareto
front, and chooses the smallest variant whose accuracy is at least the floor.

One module per job:

- :mod:`.trials`: the vocabulary (``TrialSpec``, ``TrialResult``, ``TaskJob``, stage names);
- :mod:`.keys`: the cache key of each stage;
- :mod:`.baseline`: the dense baseline as a cache entry;
- :mod:`.worker`: one task, the trials that share a pruned model, stage by cached stage;
- :mod:`.execution`: where tasks run (this process, local workers, Ray);
- :mod:`.search`: which trials run (grid, Optuna);
- :mod:`.driver`: ``run_sweep``: check, baseline, search, choose, manifest.
"""

from __future__ import annotations

from edgebench.build.sweep.driver import SweepOutcome, choose, run_sweep, sweep_front
from edgebench.build.sweep.search import grid
from edgebench.build.sweep.trials import TrialResult, TrialSpec

__all__ = ["SweepOutcome", "TrialResult", "TrialSpec", "choose", "grid", "run_sweep", "sweep_front"]
