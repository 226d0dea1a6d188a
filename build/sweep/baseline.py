"""The dense baseline as a cache entry: trained once by the driver, loaded by every worker.

An entry holds ``baseline.h5``, and for a builtin model trained here also ``history.npz``
(the weights after every epoch, for the rewinding recipes); its metadata holds
``from_logits``, the history's schedule and the baseline's Keras test and validation accuracy.
The baseline trains on the training data less the sweep's validation split
(:mod:`.split`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgebench.build import training
from edgebench.build._tf import import_tf
from edgebench.build.artifacts import save_h5
from edgebench.build.baseline import (
    ends_in_softmax,
    initial_model,
    model_input_shape,
    train_baseline,
)
from edgebench.build.cache import Cache, Entry
from edgebench.build.config import PipelineConfig
from edgebench.build.datasets import Dataset
from edgebench.build.progress import Progress
from edgebench.build.recipes.base import BaselineHistory
from edgebench.build.samples import scale_inputs
from edgebench.build.sources import load_keras_model
from edgebench.build.sweep.split import sweep_data, sweep_training_data
from edgebench.build.sweep.trials import BASELINE_STAGE

MODEL_FILE, HISTORY_FILE = "baseline.h5", "history.npz"


@dataclass(frozen=True)
class Baseline:
    """The trained dense baseline, compiled, and how it was trained."""

    model: Any  # a tf_keras model
    from_logits: bool
    history: BaselineHistory | None  # None for a user's model: no checkpoints to rewind to


def build_baseline(
    config: PipelineConfig, ds: Dataset, tmp: Path, progress: Progress
) -> dict[str, Any]:
    """Train (or, for a user's model, check) the baseline into ``tmp``; return the entry's meta."""
    _, keras, _ = import_tf()
    keras.utils.set_random_seed(config.train.seed)
    model, _ = initial_model(config, ds, config.model.path)
    from_logits = not ends_in_softmax(model)
    input_shape = model_input_shape(model)
    assert config.sweep is not None, "a sweep's baseline comes from a [sweep] config"
    data = sweep_training_data(ds, input_shape, config.sweep)
    history = None
    if config.model.path is None:
        history = train_baseline(
            model, data, config.train, from_logits=from_logits, progress=progress
        )
    save_h5(model, tmp / MODEL_FILE)
    meta: dict[str, Any] = {"from_logits": from_logits, "history": None}
    if history is not None:
        meta["history"] = _save_history(history, tmp / HISTORY_FILE)
    arrays = sweep_data(ds)
    x_test = scale_inputs(arrays.x_test, input_shape)
    training.compile_model(model, config.train.learning_rate, from_logits)
    meta["accuracy"] = training.keras_accuracy(model, x_test, arrays.y_test)
    meta["val_accuracy"] = training.keras_accuracy(model, data.x_val, data.y_val)
    return meta


def load_baseline(cache: Cache, key: str, learning_rate: float) -> Baseline:
    """The baseline entry ``key``, compiled with ``learning_rate``; it must be in the cache."""
    entry = cache.get(BASELINE_STAGE, key)
    if entry is None:
        raise RuntimeError(f"baseline {key} missing from {cache.root}")
    model = load_keras_model(entry.path / MODEL_FILE)
    from_logits = bool(entry.meta["from_logits"])
    training.compile_model(model, learning_rate, from_logits)
    history = _load_history(entry, len(model.get_weights()))
    return Baseline(model, from_logits, history)


def _save_history(history: BaselineHistory, path: Path) -> dict[str, Any]:
    """Write every epoch's weights to ``path``; return the rest of the history for the meta."""
    arrays = {
        f"e{epoch}_{i}": w for epoch, ws in history.checkpoints.items() for i, w in enumerate(ws)
    }
    np.savez(path, **arrays)
    return {
        "epochs": history.epochs,
        "steps_per_epoch": history.steps_per_epoch,
        "base_learning_rate": history.base_learning_rate,
        "lr_schedule": history.lr_schedule,
    }


def _load_history(entry: Entry, n_weights: int) -> BaselineHistory | None:
    h = entry.meta.get("history")
    if h is None:
        return None
    with np.load(entry.path / HISTORY_FILE) as z:
        checkpoints = {
            e: tuple(z[f"e{e}_{i}"] for i in range(n_weights)) for e in range(h["epochs"] + 1)
        }
    return BaselineHistory(checkpoints=checkpoints, **h)
