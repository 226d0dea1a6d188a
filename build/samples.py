"""The arrays the build draws from a dataset: the validation split, inputs as Keras takes
them, the int8 converter's calibration samples, and a dataset's eval shards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgebench.bench.device.runner.preprocess import PREPROCESS_MODES, preprocess
from edgebench.bench.device.shards import write_eval_data
from edgebench.build import training
from edgebench.build.config import PipelineConfig
from edgebench.build.datasets import Dataset
from edgebench.build.training import TrainingData
from edgebench.errors import ConfigError

REPRESENTATIVE_SAMPLES = 300  # int8 calibration samples drawn from the training data (default)


def write_dataset_eval(path: Path, ds: Dataset, config: PipelineConfig) -> None:
    """Eval shards of a single-input dataset with builtin preprocessing (the sweep's): raw
    test samples, labels, no reference outputs yet (:meth:`ArtifactBuilder.attach_reference`)."""
    mode = config.data.preprocess
    if not isinstance(mode, str) or mode not in PREPROCESS_MODES:
        raise ConfigError(
            f"[data] preprocess = {mode!r}: the sweep takes one builtin mode "
            f"({', '.join(PREPROCESS_MODES)})"
        )
    write_eval_data(
        path, {"x": ds.inputs("test")["x"]}, {"x": mode}, labels=ds.y_test,
        metric=config.data.metric,
    )


def split_arrays(x: Any, y: np.ndarray | None, validation_split: float) -> TrainingData:
    """Hold out the last ``validation_split`` of the samples (one array or a dict) as Keras
    would; labels may be None."""
    n = training.n_samples(x)
    split_at = int(np.ceil(n * (1.0 - validation_split)))
    fit, val = slice(0, split_at), slice(split_at, n)
    return TrainingData(
        training.take(x, fit), None if y is None else y[fit],
        training.take(x, val), None if y is None else y[val],
    )


def scale_inputs(x: np.ndarray, input_shape: tuple[int, ...], mode: str = "unit") -> np.ndarray:
    """Raw samples as the model takes them: float32 preprocessed by ``mode``, shaped
    ``input_shape`` (the runner's own function, so the device computes the same floats)."""
    return preprocess(x, mode).reshape((len(x), *input_shape))


def unwrap(x: dict[str, np.ndarray]) -> Any:
    """Model inputs as Keras takes them: the array of a single-input model, else the dict."""
    return next(iter(x.values())) if len(x) == 1 else x


def unwrap_data(data: TrainingData) -> TrainingData:
    """Training data whose inputs Keras takes as they are (see :func:`unwrap`)."""
    return TrainingData(unwrap(data.x_fit), data.y_fit, unwrap(data.x_val), data.y_val)


def calibration_samples(
    pool: Any, seed: int, n: int = REPRESENTATIVE_SAMPLES
) -> Any:
    """The int8 converter's representative samples: a seeded draw of ``n`` from the training
    inputs ``pool`` (one array, or a dict by input name: the same rows of each), in order."""
    rng = np.random.default_rng(seed)
    total = training.n_samples(pool)
    count = min(n, total)
    rows = np.sort(rng.choice(total, size=count, replace=False))
    return training.take(pool, rows)
