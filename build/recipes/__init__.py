"""The recipe registry: one visible ``register_recipe`` call per recipe.

To add a recipe family, write ``build/recipes/<family>.py`` with a params dataclass (a
:class:`~build.recipes.base.RecipeParams` subclass that validates itself) and a function
``fn(ctx: RecipeContext, params) -> RecipeOutput``, then register it below. Recipe modules
import TensorFlow only inside their functions, so this registry stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.errors import ConfigError
from build.recipes import magnitude
from build.recipes.base import RecipeContext, RecipeOutput, RecipeParams

RecipeFn = Callable[[RecipeContext, RecipeParams], RecipeOutput]


@dataclass(frozen=True)
class Recipe:
    """A registered recipe: its name, its function and its params dataclass."""

    name: str
    fn: RecipeFn
    params_cls: type[RecipeParams]


_RECIPES: dict[str, Recipe] = {}


def register_recipe(name: str, fn: RecipeFn, params_cls: type[RecipeParams]) -> None:
    """Make a recipe available to pipeline configs as ``recipe = "<name>"``."""
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
