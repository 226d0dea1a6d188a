"""Collaborative optimisation from tfmot: clustering and QAT that keep what came before.

Each recipe starts from the output of a recipe built earlier in the same config
(``start_from = "<section>"``) and keeps its zeros:

- ``cluster``: sparsity-preserving weight clustering (``cluster_weights(...,
  preserve_sparsity=True)``): each kernel's non-zero weights share ``clusters`` values.
- ``pqat``: pruning-preserving quantisation-aware training
  (``Default8BitPrunePreserveQuantizeScheme``).
- ``pcqat``: sparsity- and cluster-preserving QAT
  (``Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)``) on a clustered model.

The QAT recipes return the quantisation-aware model; convert it to the ``int8`` variant. Every
recipe records, per layer, the sparsity and the number of distinct weight values it left.
tfmot's types stay in this module.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgebench.build import training
from edgebench.build._tf import import_tf
from edgebench.build.recipes import masks as mk
from edgebench.build.recipes import prunable
from edgebench.build.recipes.base import RecipeContext, RecipeOutput, RecipeParams
from edgebench.build.recipes.retrain import Distill, retrain
from edgebench.errors import ConfigError

CENTROID_INITS = ("kmeans++", "linear", "density", "random")
MAX_CLUSTERED_VALUES = 256  # PCQAT treats each distinct value of a kernel as a centroid


@dataclass(frozen=True)
class _FromUpstream(RecipeParams):
    start_from: str = ""  # the [recipes.<name>] section whose model this one continues
    learning_rate: float = 1e-4
    distill_alpha: float = 0.0  # > 0: distil from the dense baseline (or the sweep's teacher)
    distill_temperature: float = 4.0

    @property
    def distill(self) -> Distill:
        """The fine-tune's distillation (alpha 0: labels only)."""
        return Distill(self.distill_alpha, self.distill_temperature)

    def __post_init__(self) -> None:
        super().__post_init__()
        _ = self.distill  # validates the two distill_ fields
        if not self.start_from:
            raise ConfigError(
                "start_from must name an earlier [recipes.<name>] section whose model this "
                'recipe continues, e.g. start_from = "pruned"'
            )
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0; got {self.learning_rate}")


@dataclass(frozen=True)
class ClusterParams(_FromUpstream):
    """Cluster each named layer's kernel (all layers with a kernel when empty)."""

    clusters: int = 16
    preserve_sparsity: bool = True
    init: str = "kmeans++"
    layers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.clusters < 2:
            raise ConfigError(f"clusters must be >= 2; got {self.clusters}")
        if self.init not in CENTROID_INITS:
            raise ConfigError(f"init must be one of {', '.join(CENTROID_INITS)}; got {self.init!r}")


@dataclass(frozen=True)
class QatParams(_FromUpstream):
    """Quantisation-aware fine-tuning that keeps the upstream model's zeros (and clusters)."""

    epochs: int = 1
    learning_rate: float = 1e-5


def upstream_model(ctx: RecipeContext, params: _FromUpstream) -> Any:
    """A private copy of the model built by ``params.start_from``."""
    if params.start_from not in ctx.upstream:
        built = ", ".join(ctx.upstream) or "none yet"
        raise ConfigError(
            f"recipes.{ctx.name}.start_from = {params.start_from!r} names no recipe built "
            f"before it (built so far: {built}); put that section earlier in the config"
        )
    return training.clone_with_weights(ctx.upstream[params.start_from])


def check_clusters(
    model: Any, layer_names: list[str], clusters: int, preserve: bool, name: str
) -> None:
    """Each clustered kernel needs at least ``clusters`` (non-zero, if preserved) weights."""
    for layer in model.layers:
        if layer.name not in layer_names:
            continue
        kernel = layer.kernel.numpy()
        available = int(np.count_nonzero(kernel)) if preserve else int(kernel.size)
        if clusters > available:
            what = "non-zero weights" if preserve else "weights"
            raise ConfigError(
                f"recipes.{name}.clusters = {clusters} is more than the {available} {what} of "
                f"layer {layer.name}; use at most {available} or leave {layer.name} out of "
                f"recipes.{name}.layers"
            )


def cluster(ctx: RecipeContext, params: ClusterParams) -> RecipeOutput:
    """Sparsity-preserving weight clustering, fine-tuned for ``epochs``."""
    _, keras, tfmot = import_tf()
    cl = tfmot.clustering.keras
    model = upstream_model(ctx, params)
    layers = mk.prunable_layers(model, params.layers, ctx.name)
    prunable.check_clusterable(model, list(layers), ctx.name)
    check_clusters(model, list(layers), params.clusters, params.preserve_sparsity, ctx.name)
    before = mk.weight_facts(model)
    zeros = mk.masks_from_zeros(model, list(layers))
    init = {
        "kmeans++": cl.CentroidInitialization.KMEANS_PLUS_PLUS,
        "linear": cl.CentroidInitialization.LINEAR,
        "density": cl.CentroidInitialization.DENSITY_BASED,
        "random": cl.CentroidInitialization.RANDOM,
    }[params.init]

    def wrap(layer: Any) -> Any:
        if layer.name in layers:
            return cl.cluster_weights(
                layer,
                number_of_clusters=params.clusters,
                cluster_centroids_init=init,
                preserve_sparsity=params.preserve_sparsity,
            )
        return layer

    clustered = keras.models.clone_model(model, clone_function=wrap)
    ctx.progress(
        f"{ctx.name}: clustering {', '.join(layers)} of {params.start_from} to "
        f"{params.clusters} values{' keeping zeros' if params.preserve_sparsity else ''}"
    )
    retrain(ctx, clustered, params.epochs, [], params.learning_rate, params.distill)
    stripped = cl.strip_clustering(clustered)
    training.compile_model(stripped, ctx.learning_rate, ctx.from_logits)
    after = mk.weight_facts(stripped)
    kept = (
        {n: round(float(1.0 - np.mean(zeros[n])), 6) for n in layers}
        if params.preserve_sparsity
        else {}
    )
    return RecipeOutput(
        model=stripped,
        # Clustering may add zeros (a centroid near 0) but must keep every pruned one.
        target_sparsity={n: max(kept[n], after[n]["sparsity"]) for n in kept},
        extra={
            "recipe_type": "cluster",
            "start_from": params.start_from,
            "clusters": params.clusters,
            "preserve_sparsity": params.preserve_sparsity,
            "stages": {"before": before, "after_clustering": after},
            "weights": after,
        },
    )


def pqat(ctx: RecipeContext, params: QatParams) -> RecipeOutput:
    """Pruning-preserving QAT: fake-quantised fine-tuning with the zeros held at zero."""
    _, _, tfmot = import_tf()
    scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
    return _qat(ctx, params, scheme, "pqat")


def pcqat(ctx: RecipeContext, params: QatParams) -> RecipeOutput:
    """Sparsity- and cluster-preserving QAT on a clustered model (the full PCQAT chain)."""
    _, _, tfmot = import_tf()
    model = upstream_model(ctx, params)
    many = {
        n: f["unique_values"]
        for n, f in mk.weight_facts(model).items()
        if f["unique_values"] > MAX_CLUSTERED_VALUES
    }
    if many:
        layer, count = next(iter(many.items()))
        raise ConfigError(
            f"recipes.{ctx.name}: pcqat needs a clustered model, but layer {layer} of "
            f"{params.start_from} has {count} distinct weights; set start_from to a "
            'recipe = "cluster" section, or use recipe = "pqat"'
        )
    scheme = tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme(
        preserve_sparsity=True
    )
    return _qat(ctx, params, scheme, "pcqat", model)


def qat_wrap(model: Any, scheme: Any) -> Any:
    """The quantisation-aware model ``scheme`` makes of ``model`` (what the QAT recipes train)."""
    _, _, tfmot = import_tf()
    q = tfmot.quantization.keras
    with q.quantize_scope():
        return q.quantize_apply(q.quantize_annotate_model(model), scheme)


def trained_parameters(qat_model: Any) -> dict[str, list[str]]:
    """What QAT trains: the trainable variables that get a gradient, and those that do not.

    Under PCQAT (tfmot's cluster-preserving quantizer) a clustered layer's kernel is not a
    parameter: every training step overwrites it with ``gather(cluster_centroids,
    pulling_indices)`` by ``kernel.assign(...)``, which has no gradient, so TensorFlow warns
    "Gradients do not exist for variables ['conv2d/kernel:0', 'dense/kernel:0']". The
    parameters there are ``cluster_centroids_tf`` and ``ori_weights_vars_tf`` (which re-picks
    each weight's centroid through a straight-through gradient). Under PQAT the kernels
    themselves train.
    """
    tf, _, _ = import_tf()
    x = tf.zeros([1 if d is None else int(d) for d in qat_model.input_shape], tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(qat_model(x, training=True))
    grads = tape.gradient(loss, qat_model.trainable_variables)
    names = [v.name for v in qat_model.trainable_variables]
    return {
        "with_gradient": [n for n, g in zip(names, grads, strict=True) if g is not None],
        "without_gradient": [n for n, g in zip(names, grads, strict=True) if g is None],
    }


def _qat(
    ctx: RecipeContext, params: QatParams, scheme: Any, recipe: str, model: Any = None
) -> RecipeOutput:
    model = upstream_model(ctx, params) if model is None else model
    before = mk.weight_facts(model)
    try:
        qat_model = qat_wrap(model, scheme)
    except (RuntimeError, ValueError) as exc:  # tfmot's refusal of a layer it cannot quantise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"recipes.{ctx.name}: tfmot cannot make this model quantisation-aware ("
            f"{first.split('. You can')[0][:200]}); QAT needs layers its 8-bit scheme knows "
            "(e.g. Conv2D without activation, then BatchNormalization, then ReLU): leave "
            f"recipes.{ctx.name} out and use the int8 variant (post-training quantisation)"
        ) from None
    start = {v.name: v.numpy().copy() for v in qat_model.trainable_variables}
    ctx.progress(f"{ctx.name}: {recipe} on {params.start_from} for {params.epochs} epochs")
    with _derived_kernels_explained() if recipe == "pcqat" else contextlib.nullcontext():
        retrain(ctx, qat_model, params.epochs, [], params.learning_rate, params.distill)
    # How far QAT moved each trainable variable: the evidence that it trained.
    moved = {
        v.name: round(float(np.max(np.abs(v.numpy() - start[v.name]))), 8)
        for v in qat_model.trainable_variables
    }
    after = mk.tflite_weight_facts(quantised_flatbuffer(qat_model))
    return RecipeOutput(
        model=qat_model,
        target_sparsity={},  # checked on the quantised weights by the caller and the tests
        extra={
            "recipe_type": recipe,
            "start_from": params.start_from,
            "stages": {"before": before, f"after_{recipe}_int8": after},
            "weights": after,
            "qat_max_change": moved,
        },
    )


class _DerivedKernelFilter(logging.Filter):
    """Drops TensorFlow's "Gradients do not exist" warning when it names kernels only.

    Under PCQAT the kernels are derived from the cluster centroids (see
    :func:`trained_parameters`); any other variable without a gradient is still reported.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if not text.startswith("Gradients do not exist for variables") or "]" not in text:
            return True
        named = text[text.index("[") + 1 : text.index("]")].replace("'", "").split(", ")
        return not all(n.endswith("/kernel:0") for n in named)


@contextlib.contextmanager
def _derived_kernels_explained() -> Iterator[None]:
    """Under PCQAT, keep the by-design kernel warning out of the log while QAT trains."""
    log = logging.getLogger("tensorflow")
    kept = _DerivedKernelFilter()
    log.addFilter(kept)
    try:
        yield
    finally:
        log.removeFilter(kept)


def quantised_flatbuffer(qat_model: Any) -> bytes:
    """The int8 TFLite model of a quantisation-aware model (ranges learned, no calibration)."""
    tf, _, _ = import_tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(qat_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()
