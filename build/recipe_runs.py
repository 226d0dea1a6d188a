"""Running the config's recipes on the trained dense baseline: each recipe's model, its
sparsity held to its targets, and its artifacts. What a recipe would refuse is checked
before any training (:func:`check_prunable`, :func:`check_tensorboard`)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from edgebench.build import facts
from edgebench.build._tf import import_tf
from edgebench.build.artifacts import ArtifactBuilder
from edgebench.build.config import PipelineConfig
from edgebench.build.progress import Progress
from edgebench.build.recipes import get_recipe, prunable
from edgebench.build.recipes.base import BaselineHistory, RecipeContext
from edgebench.build.recipes.magnitude import MagnitudeParams
from edgebench.build.training import Objective, TrainingData, output_ends_in_softmax
from edgebench.errors import ConfigError, EdgebenchError
from edgebench.records import Artifact

SPARSITY_TOLERANCE = 0.01  # one percentage point
MAGNITUDE_RECIPES = ("prune_after_training", "prune_from_scratch")  # tfmot's prune_low_magnitude


def run_recipes(
    config: PipelineConfig,
    baseline: Any,
    data: TrainingData,
    *,
    objective: Objective,
    history: BaselineHistory | None,
    label_output: str | None,
    builder: ArtifactBuilder,
    progress: Progress,
) -> list[Artifact]:
    """Run every recipe of the config, in order, on the trained dense ``baseline``; return
    each one's Keras file and TFLite variants as artifacts.

    The fine-tunes minimise ``objective``, so ``data``'s targets become the objective's
    (labels, or the dense model's outputs). A recipe gets the models of the recipes before it
    (``upstream``) and must not modify the baseline: if one did, the build fails.
    """
    _, keras, _ = import_tf()
    seed = config.train.seed
    dense_nonzero = facts.keras_facts(baseline).nonzero_params
    fine_tune = objective.describe()
    if config.recipes:
        progress(f"fine-tune: {fine_tune['kind']} ({'; '.join(fine_tune['losses'])})")
        data = TrainingData(
            data.x_fit, objective.targets(baseline, data.x_fit, data.y_fit),
            data.x_val, objective.targets(baseline, data.x_val, data.y_val),
        )
    artifacts: list[Artifact] = []
    built: dict[str, Any] = {}
    for rc in config.recipes:
        recipe = get_recipe(rc.recipe)
        ctx = RecipeContext(
            name=rc.name,
            baseline=baseline,
            data=data,
            batch_size=config.train.batch_size,
            learning_rate=config.train.learning_rate,
            seed=seed,
            from_logits=not output_ends_in_softmax(baseline, label_output or ""),
            run_dir=builder.out_dir,
            progress=progress,
            history=history,
            upstream=dict(built),
            objective=objective,
        )
        keras.utils.set_random_seed(seed)
        result = recipe.fn(ctx, rc.params)
        built[rc.name] = result.model
        achieved = facts.keras_facts(result.model).layer_sparsity
        verify_sparsity(rc.name, achieved, result.target_sparsity)
        progress(f"{rc.name}: sparsity {describe_sparsity(achieved, result.target_sparsity)}")
        extra = {**result.extra, "fine_tune": fine_tune}
        artifacts.append(builder.keras(rc.name, result.model, f"{rc.name}.h5", extra))
        for kind in rc.variants:
            artifacts.append(
                builder.tflite(
                    rc.name, result.model, kind, extra, sparse=result.sparse_export,
                    strip=rc.strip,
                )
            )

    if facts.keras_facts(baseline).nonzero_params != dense_nonzero:
        raise RuntimeError("a recipe modified the dense baseline; recipes must work on a copy")
    return artifacts


def describe_sparsity(achieved: Mapping[str, float], targets: Mapping[str, float]) -> str:
    """Each pruned layer's sparsity, or for many layers their range."""
    if len(targets) <= 8:
        return ", ".join(f"{k} {achieved[k]:.1%}" for k in targets)
    values = [achieved[k] for k in targets]
    return f"{min(values):.1%} to {max(values):.1%} over {len(values)} layers"


def verify_sparsity(
    recipe: str,
    achieved: Mapping[str, float],
    targets: Mapping[str, float],
    tolerance: float = SPARSITY_TOLERANCE,
) -> None:
    """Fail when any pruned layer's kernel sparsity is more than ``tolerance`` off its target."""
    misses = []
    for layer, target in targets.items():
        got = achieved.get(layer)
        if got is None:
            misses.append(f"layer {layer} has no kernel to measure (target {target:.1%})")
        elif abs(got - target) > tolerance:
            misses.append(f"layer {layer} reached {got:.1%} sparsity, target {target:.1%}")
    if misses:
        raise EdgebenchError(
            f"recipes.{recipe}: "
            + "; ".join(misses)
            + f" (more than {tolerance * 100:g} point{'s' if tolerance != 0.01 else ''} off); "
            "train longer or set end_step within this recipe's training (-1 = its last step)"
        )


def check_prunable(config: PipelineConfig, model: Any) -> None:
    """Before any conversion or fine-tune: every layer a magnitude recipe would prune is one
    tfmot can prune (else one line naming the layer, its type and ``layers = [...]``)."""
    for rc in config.recipes:
        # RecipeConfig holds these recipes' params to their MagnitudeParams classes.
        if rc.recipe in MAGNITUDE_RECIPES and isinstance(rc.params, MagnitudeParams):
            prunable.layers_to_prune(model, rc.params.layers, rc.name)


def check_tensorboard(config: PipelineConfig) -> None:
    """Fail before any training when a recipe asks for TensorBoard summaries without it."""
    wanting = [r.name for r in config.recipes if getattr(r.params, "tensorboard", False)]
    if wanting and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(
            f"recipes.{wanting[0]}.tensorboard = true needs TensorBoard, which is not "
            "installed: pip install tensorboard, or set tensorboard = false"
        )
