"""Shared helpers for the recipe, mask and sweep tests: a tiny trained baseline and contexts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edgebench.build.recipes.base import BaselineHistory, RecipeContext
from edgebench.build.training import TrainingData


def tiny_data(n_train: int = 1500, n_test: int = 300, classes: Any = None) -> tuple:
    """Fashion-MNIST scaled to [0, 1]: (TrainingData, x_test, y_test), optionally some classes."""
    from edgebench.build.datasets import load_dataset

    ds = load_dataset("fashion_mnist", Path.cwd(), 0 if classes is not None else n_train, 0)
    x, y, xt, yt = ds.x_train, ds.y_train, ds.x_test, ds.y_test
    if classes is not None:
        keep, keept = np.isin(y, classes), np.isin(yt, classes)
        x, y, xt, yt = x[keep][:n_train], y[keep][:n_train], xt[keept], yt[keept]
    x = x.astype(np.float32) / 255.0
    xt = (xt.astype(np.float32) / 255.0)[:n_test]
    cut = int(len(x) * 0.9)
    return TrainingData(x[:cut], y[:cut], x[cut:], y[cut:]), xt, yt[:n_test]


def train_baseline(
    data: TrainingData, epochs: int = 2, seed: int = 0
) -> tuple[Any, BaselineHistory]:
    """The pruning guide's model trained briefly, with its history (init and each epoch)."""
    from edgebench.build import baseline
    from edgebench.build._tf import import_tf
    from edgebench.build.config import TrainConfig
    from edgebench.models.guide import pruning_guide_model

    _, keras, _ = import_tf()
    keras.utils.set_random_seed(seed)
    model = pruning_guide_model(keras)
    train = TrainConfig(epochs=epochs, batch_size=64, learning_rate=0.003, lr_schedule="cosine")
    history = baseline.train_baseline(
        model, data, train, from_logits=True, progress=lambda line: None
    )
    return model, history


def context(
    baseline: Any,
    data: TrainingData,
    history: BaselineHistory | None,
    tmp: Path,
    name: str = "r",
    upstream: dict | None = None,
) -> RecipeContext:
    from edgebench.build._tf import import_tf

    _, keras, _ = import_tf()
    keras.utils.set_random_seed(0)
    return RecipeContext(
        name=name,
        baseline=baseline,
        data=data,
        batch_size=64,
        learning_rate=0.002,
        seed=0,
        from_logits=True,
        run_dir=tmp,
        progress=lambda line: None,
        history=history,
        upstream=upstream or {},
    )


def frozen_history(history: BaselineHistory) -> BaselineHistory:
    """The same checkpoints with a learning rate so small that retraining moves nothing."""
    return replace(history, base_learning_rate=1e-12, lr_schedule="constant")


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float((model.predict(x, verbose=0).argmax(-1) == y).mean())
