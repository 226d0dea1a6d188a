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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgebench.build.config import PipelineConfig
from edgebench.build.datasets import Dataset
from edgebench.build.samples import scale_inputs, write_dataset_eval
from edgebench.build.sweep_config import SweepConfig
from edgebench.build.training import TrainingData
from edgebench.errors import ConfigError, DatasetError

VAL_DIR = "val"  # the validation split as eval shards, beside the run's eval/


@dataclass(frozen=True)
class SweepData:
    """A dataset as the sweep takes it: one unnamed input, and class labels (it chooses
    variants by their accuracy)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int


def sweep_data(ds: Dataset) -> SweepData:
    """``ds``'s arrays; data the sweep cannot take (several inputs, no labels) is a
    DatasetError that names the fix."""
    if isinstance(ds.x_train, dict) or isinstance(ds.x_test, dict):
        raise DatasetError(
            f"{ds.source} has several inputs ({', '.join(ds.inputs('train'))}); the sweep "
            "takes one: give x_train and x_test, or build without a sweep (edgebench build)"
        )
    if ds.y_train is None or ds.y_test is None or ds.num_classes is None:
        raise DatasetError(
            f"{ds.source} has no labels, and the sweep chooses variants by their accuracy; "
            "add y_train and y_test, or build without a sweep (edgebench build)"
        )
    return SweepData(ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.num_classes)


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
    data = sweep_data(ds)
    val = validation_indices(len(data.x_train), sweep)
    fit = np.setdiff1d(np.arange(len(data.x_train)), val, assume_unique=True)
    x = scale_inputs(data.x_train, input_shape)
    y = np.asarray(data.y_train)
    return TrainingData(x[fit], y[fit], x[val], y[val])


def write_val_eval(path: Path, ds: Dataset, sweep: SweepConfig, config: PipelineConfig) -> int:
    """Write the split as eval shards (the bench stage's format, as the test set); its size."""
    data = sweep_data(ds)
    index = validation_indices(len(data.x_train), sweep)
    split = dataclasses.replace(ds, x_test=data.x_train[index], y_test=data.y_train[index])
    write_dataset_eval(path, split, config)
    return int(len(index))
