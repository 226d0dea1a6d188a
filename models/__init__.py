"""Model definitions and the shipped configs. Light: imports no TensorFlow and nothing of the
build stage; each model function takes the Keras module to build with as its first argument."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgebench.models.guide import pruning_guide_model
from edgebench.models.mobilenet import mobilenet_v2
from edgebench.models.teacher import teacher_cnn

#: The shipped configs: the default pipeline, its budgets, the default sweep and its budgets.
CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_PIPELINE = CONFIG_DIR / "pipeline.toml"
DEFAULT_SWEEP = CONFIG_DIR / "sweep.toml"

# Builtin models by name, as ``[model] builtin = "<name>"`` in a pipeline config:
# ``fn(keras, input_shape, num_classes, **options)`` (``[model] options``).
BUILTIN_MODELS: dict[str, Callable[..., Any]] = {
    "pruning_guide": pruning_guide_model,
    "mobilenet_v2": mobilenet_v2,
    "teacher_cnn": teacher_cnn,  # a larger dense model to distil from ([train] teacher)
}
