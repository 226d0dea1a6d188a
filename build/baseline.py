"""The dense baseline: the config's builtin model built fresh or a user's file loaded, and
the builtin one trained as ``[train]`` says, with a checkpoint after every epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgebench.build import sources, training
from edgebench.build._tf import import_tf
from edgebench.build.config import PipelineConfig, TrainConfig
from edgebench.build.datafit import fit_model_to_data
from edgebench.build.datasets import Dataset
from edgebench.build.progress import Progress
from edgebench.build.recipes.base import BaselineHistory
from edgebench.build.training import TrainingData
from edgebench.errors import ConfigError, DatasetError, ModelFileError
from edgebench.models import BUILTIN_MODELS


def train_baseline(
    model: Any, data: TrainingData, train: TrainConfig, *, from_logits: bool, progress: Progress
) -> BaselineHistory:
    """Train the dense baseline as [train] says; keep its initialisation and every epoch.

    The checkpoints let lottery-ticket and rewinding recipes go back to epoch ``k``.
    """
    _, keras, _ = import_tf()
    steps = -(-len(data.x_fit) // train.batch_size)
    rate = training.learning_rate_schedule(
        train.lr_schedule, train.learning_rate, total_steps=train.epochs * steps
    )
    checkpoints: dict[int, tuple[Any, ...]] = {0: tuple(model.get_weights())}

    callback_base: Any = keras.callbacks.Callback  # declared Any: mypy takes it as a base

    class Checkpoint(callback_base):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            checkpoints[epoch + 1] = tuple(self.model.get_weights())

    training.compile_model(model, rate, from_logits)
    training.fit_model(
        model,
        data,
        epochs=train.epochs,
        batch_size=train.batch_size,
        label="baseline",
        progress=progress,
        callbacks=[Checkpoint()],
    )
    return BaselineHistory(
        checkpoints=checkpoints,
        epochs=train.epochs,
        steps_per_epoch=steps,
        base_learning_rate=train.learning_rate,
        lr_schedule=train.lr_schedule,
    )


def initial_model(
    config: PipelineConfig, ds: Dataset, user_model: Path | None = None
) -> tuple[Any, str]:
    """The baseline before training, and where it came from (a path or ``builtin:<name>``).

    ``user_model`` (a .keras / .h5 file, already trained) is loaded and checked against the
    dataset; without it the config's builtin model is built fresh, to be trained. (The sweep's
    door: single-input, labelled data; the build uses :mod:`build.sources` directly.)
    """
    if user_model is not None:
        source = sources.load_source(user_model, config.model.custom_objects, config.base_dir)
        if not source.prunable:
            raise ModelFileError(
                f"{user_model} is a SavedModel, which has no Keras layers to prune; the sweep "
                "needs a .keras or .h5 model"
            )
        fit_model_to_data(source, ds, config.data.label_output)
        return source.model, str(user_model)
    name = config.model.builtin
    source = builtin_source(config, ds)
    return source.model, f"builtin:{name}"


def builtin_model(
    name: str, input_shape: tuple[int, ...], num_classes: int, **options: Any
) -> Any:
    """A fresh (untrained) builtin model from :mod:`edgebench.models`, built with tf-keras."""
    _, keras, _ = import_tf()
    try:
        return BUILTIN_MODELS[name](keras, input_shape, num_classes, **options)
    except TypeError as exc:  # an option the model function does not take
        raise ConfigError(f"[model] options for {name}: {exc}") from None
    except ValueError as exc:  # e.g. an input too small for the architecture
        raise DatasetError(f"builtin model {name}: {exc}") from None


def builtin_source(config: PipelineConfig, ds: Dataset) -> sources.ModelSource:
    """The config's builtin model, fresh, shaped for the data. It is trained here, so the data
    needs labels."""
    name = config.model.builtin
    assert name is not None
    if not ds.labelled or ds.num_classes is None:
        raise DatasetError(
            f"the builtin model {name} is trained from scratch, which needs labels, and "
            f"{ds.source} has none; add y_train and y_test, or give your trained model with "
            "--model (then the fine-tune distils from its outputs)"
        )
    model = builtin_model(name, ds.sample_shape, ds.num_classes, **config.model.options)
    return sources.keras_source("builtin", None, model)


def model_input_shape(model: Any) -> tuple[int, ...]:
    """The shape of one input sample of a Keras model (without the batch dimension)."""
    return tuple(int(d) for d in model.input_shape[1:])


def ends_in_softmax(model: Any) -> bool:
    """Whether the model outputs probabilities; if not, its loss takes ``from_logits``."""
    last = model.layers[-1]
    return type(last).__name__ == "Softmax" or last.get_config().get("activation") == "softmax"
