"""Which layers tfmot can prune or cluster, and wrapping them layer by layer.

tfmot's whole-model ``prune_low_magnitude`` fails on the first layer it does not know (a custom
layer, ``Rescaling``, augmentation layers, raw TF ops in a functional graph), with a message
that names the class but not the layer. edgebench wraps layer by layer instead: layers without
weights (Rescaling, pooling, activations) are left as they are; a layer with weights that tfmot
cannot prune is one line naming the layer and its type and pointing to ``layers = [...]``.

tfmot registers ``DepthwiseConv2D`` with no prunable weights, so MobileNet-style models keep
every depthwise kernel dense. A subclass that names ``depthwise_kernel`` as its prunable weight
(tfmot's ``PrunableLayer`` interface) prunes them too; after stripping, the layers become plain
``DepthwiseConv2D`` again, so the saved model needs nothing of edgebench to load.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from edgebench.build._tf import import_tf, tfmot_registries
from edgebench.errors import ConfigError


def check_layer_names(
    recipe: str, names: Sequence[str], known: Sequence[str], one: str, many: str
) -> None:
    """Refuse names in ``recipes.<recipe>.layers`` that are not among ``known``, the model's
    layers ``one``/``many`` ("with a kernel"/"with kernels"), and list those."""
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"recipes.{recipe}.layers: no layer {one} named "
            f"{', '.join(map(repr, unknown))}; the model's layers {many} are: "
            f"{', '.join(known)}"
        )


@functools.cache
def prunable_depthwise_class() -> type[Any]:
    """``DepthwiseConv2D`` whose depthwise kernel tfmot prunes (made once per process)."""
    _, keras, tfmot = import_tf()
    # Bases declared Any: mypy takes a class's base only from a name whose type is declared.
    depthwise: Any = keras.layers.DepthwiseConv2D
    prunable_layer: Any = tfmot.sparsity.keras.PrunableLayer

    class PrunableDepthwiseConv2D(depthwise, prunable_layer):
        def get_prunable_weights(self) -> list[Any]:
            return [self.depthwise_kernel]

    return PrunableDepthwiseConv2D


def is_depthwise(layer: Any) -> bool:
    _, keras, _ = import_tf()
    return type(layer) is keras.layers.DepthwiseConv2D


def prunable_weights(layer: Any) -> list[str] | None:
    """The names of the weights tfmot would prune in ``layer``; ``[]`` for a layer it supports
    without prunable weights (BatchNormalization), None for a layer it cannot prune."""
    _, _, tfmot = import_tf()
    prune, _ = tfmot_registries()
    if is_depthwise(layer):
        return ["depthwise_kernel"]
    if isinstance(layer, tfmot.sparsity.keras.PrunableLayer) or hasattr(
        layer, "get_prunable_weights"
    ):
        return [w.name for w in layer.get_prunable_weights()]
    if prune.supports(layer):
        return list(prune._weight_names(layer))
    return None


def layers_to_prune(model: Any, names: Sequence[str], recipe: str) -> list[str]:
    """The layers a magnitude recipe prunes: ``names``, or every layer with prunable weights.

    A layer with weights that tfmot cannot prune is a ConfigError that names the layer and its
    type and points to ``recipes.<recipe>.layers``.
    """
    weighted = [layer for layer in model.layers if layer.weights]
    prunable = [layer.name for layer in weighted if prunable_weights(layer)]
    hint = (
        f"list the layers to prune in recipes.{recipe}.layers = [...] without it (prunable "
        f"layers: {', '.join(prunable) or 'none'}), or give it get_prunable_weights() "
        "(tfmot.sparsity.keras.PrunableLayer)"
    )
    if names:
        by_name = {layer.name: layer for layer in weighted}
        check_layer_names(recipe, names, list(by_name), "with weights", "with weights")
        for n in names:
            if not prunable_weights(by_name[n]):
                raise ConfigError(
                    f"recipes.{recipe}: layer {n!r} ({type(by_name[n]).__name__}) cannot be "
                    f"pruned by tfmot; {hint}"
                )
        return list(names)
    for layer in weighted:
        if prunable_weights(layer) is None:
            raise ConfigError(
                f"recipes.{recipe}: layer {layer.name!r} ({type(layer).__name__}) cannot be "
                f"pruned by tfmot; {hint}"
            )
    if not prunable:
        raise ConfigError(
            f"recipes.{recipe}: nothing to prune; the model has no layer that tfmot can prune "
            f"(layers with weights: {', '.join(la.name for la in weighted) or 'none'})"
        )
    return prunable


def wrap_for_pruning(model: Any, names: Sequence[str], schedule: Any) -> Any:
    """A copy of ``model`` with the named layers wrapped by ``prune_low_magnitude``
    (depthwise convolutions through :func:`prunable_depthwise_class`). ``model`` must be a
    private copy: its layers are reused."""
    _, keras, tfmot = import_tf()
    wanted = set(names)
    if any(is_depthwise(model.get_layer(n)) for n in wanted):
        swapped = keras.models.clone_model(
            model,
            clone_function=lambda layer: (
                prunable_depthwise_class().from_config(layer.get_config())
                if layer.name in wanted and is_depthwise(layer)
                else layer
            ),
        )
        swapped.set_weights(model.get_weights())
        model = swapped

    def wrap(layer: Any) -> Any:
        if layer.name in wanted:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    return keras.models.clone_model(model, clone_function=wrap)


def plain_layers(model: Any) -> Any:
    """After ``strip_pruning``: the prunable depthwise subclass back to ``DepthwiseConv2D``."""
    _, keras, _ = import_tf()
    special = prunable_depthwise_class()
    if not any(type(layer) is special for layer in model.layers):
        return model
    plain = keras.models.clone_model(
        model,
        clone_function=lambda layer: (
            keras.layers.DepthwiseConv2D.from_config(layer.get_config())
            if type(layer) is special
            else layer.__class__.from_config(layer.get_config())
        ),
    )
    plain.set_weights(model.get_weights())
    return plain


def check_clusterable(model: Any, names: Sequence[str], recipe: str) -> None:
    """Each layer to cluster must be one tfmot can cluster; else one line that names it."""
    _, cluster = tfmot_registries()
    by_name = {layer.name: layer for layer in model.layers}
    ok = [n for n in names if cluster.supports(by_name[n])]
    for n in names:
        if n not in ok:
            raise ConfigError(
                f"recipes.{recipe}: layer {n!r} ({type(by_name[n]).__name__}) cannot be "
                f"clustered by tfmot; list the layers to cluster in recipes.{recipe}.layers = "
                f"[...] without it (clusterable: {', '.join(ok) or 'none'})"
            )
