"""Magnitude pruning with tfmot's ``prune_low_magnitude``: after training, and from scratch.

tfmot's types stay in here: a recipe takes a plain model and returns a plain, stripped model.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

from edgebench.build._tf import import_tf
from edgebench.build.recipes import prunable
from edgebench.build.recipes.base import (
    RecipeContext,
    RecipeOutput,
    RecipeParams,
    check_count,
)
from edgebench.errors import ConfigError, EdgebenchError

SCHEDULES = ("polynomial_decay", "constant_sparsity")


def _check_fraction(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value < 1.0:
        raise ConfigError(f"{name} must be in [0, 1); got {value}")


@dataclass(frozen=True)
class MagnitudeParams(RecipeParams):
    """A pruning schedule with every tfmot parameter, optionally limited to named layers.

    ``polynomial_decay`` ramps from ``initial_sparsity`` to ``final_sparsity`` between
    ``begin_step`` and ``end_step``; ``constant_sparsity`` prunes to ``target_sparsity`` every
    ``frequency`` steps. ``end_step = -1`` means the last pruning step of this recipe's training
    (the last step ``s <= total steps`` with ``(s - begin_step) % frequency == 0``), so the
    final sparsity is reached exactly. Steps count optimizer updates and start at 1.
    """

    schedule: str = "polynomial_decay"
    initial_sparsity: float | None = None  # polynomial_decay; default 0.0
    final_sparsity: float | None = None  # polynomial_decay; required
    power: float | None = None  # polynomial_decay; default 3
    target_sparsity: float | None = None  # constant_sparsity; required
    begin_step: int = 0
    end_step: int = -1
    frequency: int = 100
    layers: tuple[str, ...] = ()  # empty = every prunable layer (depthwise kernels included)
    tensorboard: bool = False  # PruningSummaries to <run dir>/tensorboard/<recipe name>
    learning_rate: float | None = None  # the fine-tune's rate; None = [train] learning_rate

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0; got {self.learning_rate}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"schedule must be one of {', '.join(SCHEDULES)}; got {self.schedule!r}"
            )
        for name in ("initial_sparsity", "final_sparsity", "target_sparsity"):
            _check_fraction(name, getattr(self, name))
        if self.schedule == "polynomial_decay":
            if self.target_sparsity is not None:
                raise ConfigError(
                    "target_sparsity applies to schedule = 'constant_sparsity'; "
                    "for 'polynomial_decay' set final_sparsity (and initial_sparsity)"
                )
            if self.final_sparsity is None:
                raise ConfigError("final_sparsity is required by schedule = 'polynomial_decay'")
            if self.initial_sparsity is not None and self.initial_sparsity > self.final_sparsity:
                raise ConfigError(
                    f"initial_sparsity ({self.initial_sparsity}) must not exceed "
                    f"final_sparsity ({self.final_sparsity})"
                )
            if self.power is not None and self.power <= 0:
                raise ConfigError(f"power must be > 0; got {self.power}")
        else:
            unused = [
                n
                for n in ("initial_sparsity", "final_sparsity", "power")
                if getattr(self, n) is not None
            ]
            if unused:
                raise ConfigError(
                    f"{unused[0]} applies to schedule = 'polynomial_decay'; "
                    "for 'constant_sparsity' set target_sparsity"
                )
            if self.target_sparsity is None:
                raise ConfigError("target_sparsity is required by schedule = 'constant_sparsity'")
        if self.begin_step < 0:
            raise ConfigError(f"begin_step must be >= 0; got {self.begin_step}")
        if self.end_step != -1 and self.end_step <= self.begin_step:
            raise ConfigError(
                f"end_step must be -1 (the end of training) or > begin_step "
                f"({self.begin_step}); got {self.end_step}"
            )
        check_count("frequency", self.frequency)
        if len(set(self.layers)) != len(self.layers):
            raise ConfigError(f"layers names a layer twice: {list(self.layers)}")

    def with_sparsity(self, sparsity: float) -> MagnitudeParams:
        """A copy whose schedule ends at ``sparsity`` (the sweep's knob)."""
        if self.schedule != "polynomial_decay":
            return dataclasses.replace(self, target_sparsity=sparsity)
        initial = self.initial_sparsity
        if initial is not None and initial > sparsity:
            initial = sparsity
        return dataclasses.replace(self, final_sparsity=sparsity, initial_sparsity=initial)

    @property
    def sparsity(self) -> float:
        """The sparsity each pruned layer must reach by the end of training."""
        value = self.final_sparsity if self.schedule == "polynomial_decay" else self.target_sparsity
        assert value is not None, "__post_init__ requires the schedule's target"
        return float(value)

    def resolved_end_step(self, total_steps: int) -> int:
        """``end_step`` with -1 replaced by the last pruning step within ``total_steps``."""
        if self.end_step != -1:
            return self.end_step
        span = total_steps - self.begin_step
        if span < self.frequency:
            raise ConfigError(
                f"training has {total_steps} steps, fewer than begin_step + frequency "
                f"({self.begin_step} + {self.frequency}), so pruning never runs; lower "
                "frequency or begin_step, or train longer"
            )
        return self.begin_step + self.frequency * (span // self.frequency)


@dataclass(frozen=True)
class PruneAfterTrainingParams(MagnitudeParams):
    """Fine-tune the trained baseline while pruning it (the pruning guide's recipe)."""


@dataclass(frozen=True)
class PruneFromScratchParams(MagnitudeParams):
    """Train a freshly initialised copy of the baseline under the pruning schedule."""

    epochs: int = 4


def prune_after_training(ctx: RecipeContext, params: MagnitudeParams) -> RecipeOutput:
    """Prune a copy of the trained baseline while fine-tuning it for ``params.epochs``."""
    return _prune_and_train(ctx, params, ctx.clone_baseline(), "prune_after_training")


def prune_from_scratch(ctx: RecipeContext, params: MagnitudeParams) -> RecipeOutput:
    """Prune a freshly initialised copy of the baseline while training it from scratch."""
    return _prune_and_train(ctx, params, ctx.fresh_model(), "prune_from_scratch")


def _prune_and_train(
    ctx: RecipeContext, params: MagnitudeParams, model: Any, recipe: str
) -> RecipeOutput:
    _, keras, tfmot = import_tf()
    sparsity = tfmot.sparsity.keras
    total_steps = ctx.steps_per_epoch() * params.epochs
    end_step = params.resolved_end_step(total_steps)
    if params.schedule == "polynomial_decay":
        schedule = sparsity.PolynomialDecay(
            initial_sparsity=params.initial_sparsity or 0.0,
            final_sparsity=params.sparsity,
            begin_step=params.begin_step,
            end_step=end_step,
            power=3 if params.power is None else params.power,
            frequency=params.frequency,
        )
    else:
        schedule = sparsity.ConstantSparsity(
            target_sparsity=params.sparsity,
            begin_step=params.begin_step,
            end_step=end_step,
            frequency=params.frequency,
        )

    names = prunable.layers_to_prune(model, params.layers, ctx.name)
    try:
        pruned = prunable.wrap_for_pruning(model, names, schedule)
    except ValueError as exc:
        raise _unprunable(ctx, exc) from None

    # tfmot's public API does not export its wrapper class; a wrapper has ``pruning_vars``,
    # one (weight, mask, threshold) per weight it prunes, empty for layers without kernels.
    targets = {
        layer.layer.name: params.sparsity
        for layer in pruned.layers
        if getattr(layer, "pruning_vars", None)
    }

    callbacks: list[Any] = [sparsity.UpdatePruningStep()]
    if params.tensorboard:
        log_dir = ctx.run_dir / "tensorboard" / ctx.name
        log_dir.mkdir(parents=True, exist_ok=True)
        callbacks.append(sparsity.PruningSummaries(log_dir=str(log_dir)))
    if len(targets) <= 8:
        where = ", ".join(targets)
    else:  # a real convnet: say how many of each kind
        kinds = Counter(
            type(layer.layer).__name__.replace("Prunable", "")
            for layer in pruned.layers
            if getattr(layer, "pruning_vars", None)
        )
        where = f"{len(targets)} layers (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")"
    ctx.progress(
        f"{ctx.name}: {recipe}, {params.schedule} to {params.sparsity:.0%} on {where}, "
        f"steps {params.begin_step}..{end_step} every {params.frequency} of {total_steps}"
    )
    ctx.fit(pruned, params.epochs, callbacks, learning_rate=params.learning_rate)
    stripped = prunable.plain_layers(sparsity.strip_pruning(pruned))
    return RecipeOutput(
        model=stripped,
        target_sparsity=targets,
        extra={
            "recipe_type": recipe,
            "schedule": params.schedule,
            "target_sparsity": params.sparsity,
            "begin_step": params.begin_step,
            "end_step": end_step,
            "frequency": params.frequency,
            "epochs": params.epochs,
        },
    )


def _unprunable(ctx: RecipeContext, exc: Exception) -> EdgebenchError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ConfigError(
        f"recipes.{ctx.name}: tfmot cannot prune this model ({first}); list the layers to "
        f"prune in recipes.{ctx.name}.layers"
    )
