"""Iterative magnitude pruning and the three ways of retraining after each round.

Each round prunes the smallest-magnitude surviving weights of each layer, then retrains
with the mask fixed (:func:`build.recipes.masks.mask_enforcer`). Round ``r`` of ``R`` reaches
``1 - (1 - sparsity) ** (r / R)``, so every round removes the same fraction of survivors.
What happens before retraining is the difference between the recipes:

- ``iterative``: keep the weights, fine-tune at the configured learning rate (Han et al. 2015,
  "Learning both weights and connections").
- ``lottery_ticket``: reset the survivors to their values at initialisation and retrain with
  the baseline's whole schedule (Frankle & Carbin 2019, "The lottery ticket hypothesis").
- ``weight_rewinding``: reset the survivors to their values after epoch ``k`` of the baseline's
  training and replay its schedule from epoch ``k`` (Frankle et al. 2020, "Linear mode
  connectivity and the lottery ticket hypothesis").
- ``lr_rewinding``: keep the trained survivors and replay the baseline's learning-rate
  schedule from epoch ``k`` (Renda et al. 2020, "Comparing rewinding and fine-tuning").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgebench.build import training
from edgebench.build._tf import import_tf
from edgebench.build.recipes import masks as mk
from edgebench.build.recipes.base import (
    BaselineHistory,
    RecipeContext,
    RecipeOutput,
    RecipeParams,
    check_count,
)
from edgebench.build.recipes.retrain import Distill, retrain
from edgebench.errors import ConfigError


@dataclass(frozen=True)
class IterativeParams(RecipeParams):
    """Prune each named layer (all layers with a kernel when empty) to ``sparsity`` in rounds.

    ``epochs`` is the retraining per round.
    """

    sparsity: float = 0.8
    rounds: int = 3
    layers: tuple[str, ...] = ()
    distill_alpha: float = 0.0  # > 0: distil from the dense baseline while retraining
    distill_temperature: float = 4.0

    def __post_init__(self) -> None:
        self._check_epochs()
        _ = self.distill  # validates the two distill_ fields
        mk.check_fraction("sparsity", self.sparsity)
        check_count("rounds", self.rounds)
        if len(set(self.layers)) != len(self.layers):
            raise ConfigError(f"layers names a layer twice: {list(self.layers)}")

    def _check_epochs(self) -> None:
        super().__post_init__()

    def with_sparsity(self, sparsity: float) -> IterativeParams:
        return replace(self, sparsity=sparsity)

    @property
    def distill(self) -> Distill:
        return Distill(self.distill_alpha, self.distill_temperature)

    def round_sparsity(self, r: int) -> float:
        """The sparsity after round ``r`` (1-based): survivors shrink geometrically."""
        return 1.0 - (1.0 - self.sparsity) ** (r / self.rounds)


@dataclass(frozen=True)
class LotteryParams(IterativeParams):
    """Lottery ticket: ``epochs = -1`` (default) retrains for the baseline's epochs each round."""

    epochs: int = -1

    def _check_epochs(self) -> None:
        if self.epochs != -1 and self.epochs < 1:
            raise ConfigError(
                f"epochs must be -1 (the baseline's schedule) or >= 1; got {self.epochs}"
            )


@dataclass(frozen=True)
class RewindParams(LotteryParams):
    """Rewind to epoch ``rewind_epoch`` of the baseline's training (1 <= k <= its epochs).

    ``epochs = -1`` (default) replays the rest of the baseline's schedule each round.
    """

    rewind_epoch: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rewind_epoch < 1:
            raise ConfigError(
                f"rewind_epoch must be >= 1 (epoch 0 is the lottery ticket); got "
                f"{self.rewind_epoch}"
            )


@dataclass(frozen=True)
class GradualParams(IterativeParams):
    """Gradual pruning: ``rounds`` small magnitude-pruning steps spread over the first
    ``prune_fraction`` of one training run of ``epochs``, on the cubic schedule of Zhu & Gupta
    (2017), with the learning rate ``learning_rate`` (default: [train]'s) decayed by cosine.

    ``scope = "layer"`` prunes each layer to ``sparsity``; ``"global"`` ranks the weights of
    all named layers together by magnitude (one threshold), so ``sparsity`` is their overall
    share of zeros and a small layer of large weights (the first convolution) stays denser.
    """

    epochs: int = 10
    rounds: int = 20
    prune_fraction: float = 0.5
    learning_rate: float | None = None
    lr_schedule: str = "cosine"
    batch_size: int | None = None  # default: [train]'s
    scope: str = "layer"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scope not in ("layer", "global"):
            raise ConfigError(f"scope must be 'layer' or 'global'; got {self.scope!r}")
        check_count("batch_size", self.batch_size)
        if not 0.0 < self.prune_fraction <= 1.0:
            raise ConfigError(f"prune_fraction must be in (0, 1]; got {self.prune_fraction}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0; got {self.learning_rate}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(
                f"lr_schedule must be 'constant' or 'cosine'; got {self.lr_schedule!r}"
            )

    def sparsity_at(self, step: int, end_step: int) -> float:
        """The cubic ramp from 0 to ``sparsity`` over ``end_step`` steps."""
        done = min(1.0, step / max(1, end_step))
        return self.sparsity * (1.0 - (1.0 - done) ** 3)


def gradual(ctx: RecipeContext, params: GradualParams) -> RecipeOutput:
    """Prune in many small magnitude rounds while fine-tuning once (Zhu & Gupta 2017)."""
    _, keras, _ = import_tf()
    if params.batch_size is not None:
        ctx = replace(ctx, batch_size=params.batch_size)
    model = ctx.clone_baseline()
    layers = mk.prunable_layers(model, params.layers, ctx.name)
    total = ctx.steps_per_epoch() * params.epochs
    end_step = max(params.rounds, int(total * params.prune_fraction))
    every = max(1, end_step // params.rounds)
    masks: mk.Masks = {n: np.ones(layer.kernel.shape, np.float32) for n, layer in layers.items()}
    holder = {"masks": masks}

    callback_base: Any = keras.callbacks.Callback  # declared Any: mypy takes it as a base

    class GradualMasks(callback_base):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.step = 0

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.step += 1
            if self.step % every == 0 and self.step <= end_step:
                target = params.sparsity_at(self.step, end_step)
                holder["masks"] = masks_at(target)
            mk.apply_masks(self.model, holder["masks"])

        def on_train_end(self, logs: dict | None = None) -> None:
            holder["masks"] = masks_at(params.sparsity)
            mk.apply_masks(self.model, holder["masks"])

    def masks_at(target: float) -> mk.Masks:
        if params.scope == "global":
            return mk.global_masks({n: np.abs(x.kernel.numpy()) for n, x in layers.items()}, target)
        return mk.magnitude_masks(layers, target)

    rate = training.learning_rate_schedule(
        params.lr_schedule, params.learning_rate or ctx.learning_rate, total_steps=total
    )
    ctx.progress(
        f"{ctx.name}: gradual pruning of {', '.join(layers)} to {params.sparsity:.0%} in "
        f"{params.rounds} rounds over steps 1..{end_step} of {total}"
    )
    retrain(
        ctx, model, params.epochs, [GradualMasks()], learning_rate=rate, distill=params.distill
    )
    return RecipeOutput(
        model=model,
        target_sparsity=mk.mask_sparsity(holder["masks"]),
        extra={
            "recipe_type": "gradual",
            "target_sparsity": params.sparsity,
            "rounds": params.rounds,
            "epochs": params.epochs,
            "distill_alpha": params.distill_alpha,
            "scope": params.scope,
            "weights": mk.weight_facts(model),
        },
    )


def iterative(ctx: RecipeContext, params: IterativeParams) -> RecipeOutput:
    """Iterative magnitude pruning with fine-tuning at the configured learning rate."""
    return _run(ctx, params, "iterative", rewind_to=None, keep_weights=True)


def lottery_ticket(ctx: RecipeContext, params: LotteryParams) -> RecipeOutput:
    """Winning tickets: survivors go back to their initial values before each retraining."""
    return _run(ctx, params, "lottery_ticket", rewind_to=0, keep_weights=False)


def weight_rewinding(ctx: RecipeContext, params: RewindParams) -> RecipeOutput:
    """Survivors go back to their values after epoch k; the schedule replays from k."""
    return _run(ctx, params, "weight_rewinding", rewind_to=params.rewind_epoch, keep_weights=False)


def lr_rewinding(ctx: RecipeContext, params: RewindParams) -> RecipeOutput:
    """Survivors keep their trained values; the learning-rate schedule replays from epoch k."""
    return _run(ctx, params, "lr_rewinding", rewind_to=params.rewind_epoch, keep_weights=True)


def _history(ctx: RecipeContext, recipe: str, epoch: int) -> BaselineHistory:
    history = ctx.history
    if history is None:
        raise ConfigError(
            f"recipes.{ctx.name}: {recipe} rewinds to the baseline's training, but the "
            "baseline is a given trained model with no training history; let edgebench train "
            'the baseline (drop --model / [model] path) or use recipe = "iterative"'
        )
    if epoch > history.epochs:
        raise ConfigError(
            f"recipes.{ctx.name}.rewind_epoch is {epoch}, past the baseline's {history.epochs} "
            f"epochs; choose 1..{history.epochs} or train the baseline longer"
        )
    return history


def _run(
    ctx: RecipeContext,
    params: IterativeParams,
    recipe: str,
    *,
    rewind_to: int | None,
    keep_weights: bool,
) -> RecipeOutput:
    model = ctx.clone_baseline()
    layers = mk.prunable_layers(model, params.layers, ctx.name)
    epochs = params.epochs
    rate: Any = None  # None: the configured rate; else the baseline's schedule, replayed
    rewound: tuple[Any, ...] | None = None  # the weights each round starts from, if not kept
    if rewind_to is not None:
        history = _history(ctx, recipe, rewind_to)
        if params.epochs == -1:
            epochs = max(1, history.epochs - rewind_to)
        rate = history.learning_rate(rewind_to)
        if not keep_weights:
            rewound = history.checkpoints[rewind_to]

    masks: mk.Masks = {}
    for r in range(1, params.rounds + 1):
        target = params.round_sparsity(r)
        masks = mk.magnitude_masks(layers, target)
        if rewound is not None:
            model.set_weights(list(rewound))
        mk.apply_masks(model, masks)
        ctx.progress(
            f"{ctx.name}: {recipe} round {r}/{params.rounds}: {target:.1%} of "
            f"{', '.join(layers)} pruned, retraining {epochs} epochs"
        )
        retrain(
            ctx, model, epochs, [mk.mask_enforcer(masks)], learning_rate=rate,
            distill=params.distill,
        )

    return RecipeOutput(
        model=model,
        target_sparsity=mk.mask_sparsity(masks),
        extra={
            "recipe_type": recipe,
            "target_sparsity": params.sparsity,
            "rounds": params.rounds,
            "epochs_per_round": epochs,
            **({} if rewind_to is None else {"rewind_epoch": rewind_to}),
            "distill_alpha": params.distill_alpha,
            "weights": mk.weight_facts(model),
        },
    )
