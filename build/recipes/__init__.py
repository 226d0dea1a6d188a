"""The recipe registry: one visible ``register_recipe`` call per recipe.

To add a recipe family, write ``build/recipes/<family>.py`` with a params dataclass (a
:class:`~build.recipes.base.RecipeParams` subclass that validates itself) and a function
``fn(ctx: RecipeContext, params) -> RecipeOutput``, then register it below. Recipe modules
import TensorFlow only inside their functions, so this registry stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from edgebench.build.recipes import (
    collaborative,
    iterative,
    magnitude,
    movement,
    structured,
    synflow,
)
from edgebench.build.recipes.base import RecipeContext, RecipeOutput, RecipeParams
from edgebench.errors import ConfigError

P = TypeVar("P", bound=RecipeParams)


@dataclass(frozen=True)
class Recipe:
    """A registered recipe: its name, its function and its params dataclass.

    ``fn`` takes an instance of ``params_cls`` (:func:`register_recipe` checks the pair), so
    its params are typed Any here, where recipes of every params type sit side by side.
    """

    name: str
    fn: Callable[[RecipeContext, Any], RecipeOutput]
    params_cls: type[RecipeParams]


_RECIPES: dict[str, Recipe] = {}


def register_recipe(
    name: str, fn: Callable[[RecipeContext, P], RecipeOutput], params_cls: type[P]
) -> None:
    """Make a recipe available to pipeline configs as ``recipe = "<name>"``; ``fn`` must take
    ``params_cls`` (or a base class of it)."""
    if name in _RECIPES:
        raise ValueError(f"recipe {name!r} is already registered")
    _RECIPES[name] = Recipe(name, fn, params_cls)


def recipe_names() -> tuple[str, ...]:
    return tuple(_RECIPES)


def get_recipe(name: str) -> Recipe:
    """The registered recipe called ``name``, or a ConfigError listing the registered ones."""
    try:
        return _RECIPES[name]
    except KeyError:
        raise ConfigError(
            f"unknown recipe {name!r}; registered recipes: {', '.join(recipe_names())}"
        ) from None


register_recipe(
    "prune_after_training", magnitude.prune_after_training, magnitude.PruneAfterTrainingParams
)
register_recipe(
    "prune_from_scratch", magnitude.prune_from_scratch, magnitude.PruneFromScratchParams
)

# Iterative magnitude pruning and its rewinding variants (build/recipes/iterative.py).
register_recipe("iterative", iterative.iterative, iterative.IterativeParams)
register_recipe("gradual", iterative.gradual, iterative.GradualParams)
register_recipe("lottery_ticket", iterative.lottery_ticket, iterative.LotteryParams)
register_recipe("weight_rewinding", iterative.weight_rewinding, iterative.RewindParams)
register_recipe("lr_rewinding", iterative.lr_rewinding, iterative.RewindParams)
# Collaborative optimisation: each continues an earlier recipe (build/recipes/collaborative.py).
register_recipe("cluster", collaborative.cluster, collaborative.ClusterParams)
register_recipe("pqat", collaborative.pqat, collaborative.QatParams)
register_recipe("pcqat", collaborative.pcqat, collaborative.QatParams)
# Pruning by movement while fine-tuning onto a new task (build/recipes/movement.py).
register_recipe("movement", movement.movement, movement.MovementParams)
# Data-free pruning at initialisation (build/recipes/synflow.py).
register_recipe("synflow", synflow.synflow, synflow.SynflowParams)
# m:n structured sparsity with the sparse TFLite export (build/recipes/structured.py).
register_recipe("structured", structured.structured, structured.StructuredParams)
