"""The validation split: the held-out share of the training data the sweep chooses on.

``sweep.validation_split`` of the training samples is held out by a permutation seeded with
``sweep.seed``. The baseline and every stage of every trial train on the rest; each trial is
measured on the split (written beside the run's ``eval/`` shards as ``val/``, in the same
format), and the choice, the floor, the Pareto front and Optuna's objective see only that.
The test set is measured after the choice. Inside a sweep this replaces ``[train]
validation_split`` (Keras's "last share"), so the baseline, every stage and the choice hold
out the same samples.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from edgebench.build.config import PipelineConfig
from edgebench.build.datasets import Dataset
from edgebench.build.samples import scale_inputs, write_dataset_eval
from edgebench.build.sweep_config import SweepConfig
from edgebench.build.training import TrainingData
from edgebench.errors import ConfigError

VAL_DIR = "val"  # the validation split as eval shards, beside the run's eval/


def validation_indices(n: int, sweep: SweepConfig) -> np.ndarray:
    """The indices of the training samples held out for validation, sorted."""
    n_val = max(1, int(round(n * sweep.validation_split)))
    if n_val >= n:
        raise ConfigError(
            f"sweep.validation_split = {sweep.validation_split} leaves no training data of "
            f"{n} samples; lower it or raise data.train_limit"
        )
    perm = np.random.default_rng(sweep.seed).permutation(n)
    return np.sort(perm[:n_val])


def sweep_training_data(
    ds: Dataset, input_shape: tuple[int, ...], sweep: SweepConfig
) -> TrainingData:
    """Fit on the training data less the validation split; validate on the split."""
    val = validation_indices(len(ds.x_train), sweep)
    fit = np.setdiff1d(np.arange(len(ds.x_train)), val, assume_unique=True)
    x = scale_inputs(ds.x_train, input_shape)
    y = np.asarray(ds.y_train)
    return TrainingData(x[fit], y[fit], x[val], y[val])


def write_val_eval(path: Path, ds: Dataset, sweep: SweepConfig, config: PipelineConfig) -> int:
    """Write the split as eval shards (the bench stage's format, as the test set); its size."""
    index = validation_indices(len(ds.x_train), sweep)
    split = dataclasses.replace(ds, x_test=ds.x_train[index], y_test=ds.y_train[index])
    write_dataset_eval(path, split, config)
    return int(len(index))
