"""Model definitions and the shipped configs. Light: no TensorFlow at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from models.guide import pruning_guide_model

# Builtin models by name, as ``[model] builtin = "<name>"`` in a pipeline config.
BUILTIN_MODELS: dict[str, Callable[..., Any]] = {
    "pruning_guide": pruning_guide_model,
}
