"""What every recipe gets and gives back.

A recipe is a plain function ``fn(ctx: RecipeContext, params) -> RecipeOutput`` registered by
name in :mod:`build.recipes`, with one frozen params dataclass that validates itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebench.build import training
from edgebench.build.training import Objective, TrainingData
from edgebench.errors import ConfigError


def check_count(name: str, value: int | None) -> None:
    """Refuse a count below 1 (epochs, rounds, a step frequency); None (unset) passes."""
    if value is not None and value < 1:
        raise ConfigError(f"{name} must be >= 1; got {value}")


@dataclass(frozen=True)
class RecipeParams:
    """Parameters every recipe has. Subclasses add their own and validate them too.

    Messages start with the field name; the config loader prefixes ``recipes.<name>.``.
    """

    epochs: int = 2

    def __post_init__(self) -> None:
        check_count("epochs", self.epochs)

    def with_sparsity(self, sparsity: float) -> RecipeParams:
        """A copy aiming at ``sparsity`` (the sweep's knob); recipes with one target override it."""
        raise ConfigError(
            f"{type(self).__name__} has no single target sparsity, so the sweep cannot set one; "
            "sweep a recipe that prunes to a target (e.g. lr_rewinding)"
        )


@dataclass(frozen=True)
class BaselineHistory:
    """How the dense baseline was trained, kept so that recipes can rewind to it.

    ``checkpoints[k]`` holds the weights after epoch ``k``; ``checkpoints[0]`` the
    initialisation. ``learning_rate(start_epoch)`` replays the learning-rate schedule from
    that epoch on (what learning-rate rewinding retrains with).
    """

    checkpoints: Mapping[int, tuple[Any, ...]]
    epochs: int
    steps_per_epoch: int
    base_learning_rate: float
    lr_schedule: str  # "constant" or "cosine"

    def learning_rate(self, start_epoch: int = 0) -> Any:
        """The baseline's schedule (a float or a Keras schedule) as seen from ``start_epoch``."""
        return training.learning_rate_schedule(
            self.lr_schedule,
            self.base_learning_rate,
            total_steps=self.epochs * self.steps_per_epoch,
            start_step=start_epoch * self.steps_per_epoch,
        )


@dataclass(frozen=True)
class RecipeContext:
    """Everything a recipe may use. It must not modify ``baseline``."""

    name: str  # the recipe instance name, e.g. "pruned"
    baseline: Any  # the trained dense tf_keras model
    data: TrainingData
    batch_size: int
    learning_rate: float
    seed: int
    from_logits: bool
    run_dir: Path
    progress: Callable[[str], None]
    # None when the baseline is the user's trained model (no initialisation, no checkpoints).
    history: BaselineHistory | None = None
    # Stripped models of the recipes built before this one in the config, by section name.
    upstream: Mapping[str, Any] = field(default_factory=dict)
    # What fine-tunes minimise (labels, or distillation from the dense model); ``data``'s
    # targets are this objective's. None: sparse categorical cross-entropy on labels.
    objective: Objective | None = None
    # The teacher's outputs on data.x_fit ("fit") and data.x_val ("val"), in the model's own
    # convention, for distilled fine-tunes; None: distil from ``baseline`` itself.
    soft_targets: Mapping[str, Any] | None = None
    # Keras callbacks every fit of this recipe adds (a sweep's per-epoch reporter).
    callbacks: Sequence[Any] = ()

    def require_labels(self, recipe: str) -> None:
        """Refuse, with the fix, a recipe whose own training loop needs one labelled output."""
        if self.objective is not None and not self.objective.labels_only:
            raise ConfigError(
                f"recipes.{self.name}: {recipe} trains on class labels of a single-output "
                "model, and this model's fine-tune distils from the dense model (no labels, or "
                'several outputs); use recipe = "prune_after_training" or "gradual"'
            )

    def clone_baseline(self) -> Any:
        """A copy of the trained baseline that shares no layers or weights with it."""
        return training.clone_with_weights(self.baseline)

    def fresh_model(self) -> Any:
        """The baseline's architecture, freshly initialised from ``seed``."""
        return training.fresh_clone(self.baseline, self.seed)

    def steps_per_epoch(self) -> int:
        return -(-training.n_samples(self.data.x_fit) // self.batch_size)

    def fit(
        self,
        model: Any,
        epochs: int,
        callbacks: Sequence[Any] = (),
        learning_rate: Any = None,
    ) -> None:
        """Compile ``model`` afresh (new optimizer, step 0) and train it, reporting each epoch.

        ``learning_rate`` (a float or a Keras schedule) replaces the configured rate.
        """
        rate = self.learning_rate if learning_rate is None else learning_rate
        if self.objective is None:
            training.compile_model(model, rate, self.from_logits)
        else:
            self.objective.compile(model, rate)
        training.fit_model(
            model,
            self.data,
            epochs=epochs,
            batch_size=self.batch_size,
            label=self.name,
            progress=self.progress,
            callbacks=[*callbacks, *self.callbacks],
        )


@dataclass(frozen=True)
class RecipeOutput:
    """A recipe's result: a plain (stripped) tf_keras model and the sparsity it promised."""

    model: Any
    target_sparsity: dict[str, float]  # layer name -> fraction of zeros its kernel must reach
    extra: dict[str, Any] = field(default_factory=dict)  # goes into each Artifact.extra
    # Convert with Optimize.EXPERIMENTAL_SPARSITY too (sparse tensors in the flatbuffer).
    sparse_export: bool = False
