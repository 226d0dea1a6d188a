"""QAT trains: PQAT moves the kernels, PCQAT moves the cluster centroids (the kernel follows).

TensorFlow warns "Gradients do not exist for variables ['conv2d/kernel:0', 'dense/kernel:0']"
under PCQAT. That is by design in tfmot's cluster-preserving quantizer: each training step
overwrites a clustered kernel with ``gather(cluster_centroids, pulling_indices)`` through
``kernel.assign``, so the kernel is a derived value and the centroids are the parameters.
These tests pin both facts down on a small subset, one epoch each.
"""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from recipe_helpers import context, tiny_data, train_baseline

from edgebench.build import training
from edgebench.build._tf import import_tf
from edgebench.build.recipes import collaborative
from edgebench.build.recipes import masks as mk

# Slow (not in the fast tier): trains TensorFlow models.
pytestmark = pytest.mark.slow

LR = 1e-3  # large enough that one epoch on 900 samples moves weights past an int8 step


@pytest.fixture(scope="module")
def pruned(tmp_path_factory):
    """The guide's model, trained briefly, its Dense layer 80% pruned, and a clustered copy."""
    tmp = tmp_path_factory.mktemp("qat")
    data, _, _ = tiny_data(n_train=1000, n_test=100)
    baseline, history = train_baseline(data, epochs=1)
    model = collaborative.upstream_model(
        context(baseline, data, history, tmp, upstream={"b": baseline}),
        collaborative.QatParams(start_from="b"),
    )
    mk.apply_masks(model, mk.magnitude_masks(mk.prunable_layers(model, ["dense"], "p"), 0.8))
    clustered = collaborative.cluster(
        context(baseline, data, history, tmp, upstream={"pruned": model}),
        collaborative.ClusterParams(start_from="pruned", clusters=8, epochs=1, layers=("dense",)),
    ).model
    return {"data": data, "baseline": baseline, "tmp": tmp, "pruned": model, "clustered": clustered}


def _one_epoch(pruned, upstream, scheme):
    """Wrap ``upstream`` as the recipe does, snapshot every variable, train one epoch."""
    qat = collaborative.qat_wrap(training.clone_with_weights(upstream), scheme)
    before = {v.name: v.numpy().copy() for v in qat.variables}
    ctx = context(pruned["baseline"], pruned["data"], None, pruned["tmp"])
    ctx.fit(qat, 1, learning_rate=LR)
    after = {v.name: v.numpy() for v in qat.variables}
    return qat, before, after


def _dense_tflite(qat) -> np.ndarray:
    flat = collaborative.quantised_flatbuffer(qat)
    interp = Interpreter(model_content=flat)
    for d in interp.get_tensor_details():
        if len(d["shape"]) == 2 and d["shape"][0] == 10 and "MatMul" in d["name"]:
            return np.asarray(interp.get_tensor(d["index"]))
    raise AssertionError("no Dense weights in the flatbuffer")


def test_pqat_trains_the_kernels_and_keeps_the_zeros(pruned) -> None:
    _, _, tfmot = import_tf()
    scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
    qat, before, after = _one_epoch(pruned, pruned["pruned"], scheme)
    grads = collaborative.trained_parameters(qat)
    assert "dense/kernel:0" in grads["with_gradient"]
    assert "conv2d/kernel:0" in grads["with_gradient"]
    assert grads["without_gradient"] == []
    mask = pruned["pruned"].get_layer("dense").kernel.numpy() != 0
    k0, k1 = before["dense/kernel:0"], after["dense/kernel:0"]
    assert np.all(k1[~mask] == 0)  # pruned weights stay zero
    moved = np.abs(k1 - k0)[mask]
    step = np.abs(k0).max() / 127  # one int8 step of the per-tensor symmetric quantizer
    assert np.mean(moved > 0) > 0.9 and moved.max() > step
    assert not np.array_equal(before["conv2d/kernel:0"], after["conv2d/kernel:0"])


def test_pcqat_trains_the_centroids_and_the_kernel_follows_them(pruned) -> None:
    _, _, tfmot = import_tf()
    scheme = tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme(
        preserve_sparsity=True
    )
    upstream = pruned["clustered"]
    qat, before, after = _one_epoch(pruned, upstream, scheme)
    grads = collaborative.trained_parameters(qat)
    # The kernel is derived (kernel.assign(gather(centroids, indices))): no gradient, by design.
    assert "dense/kernel:0" in grads["without_gradient"]
    assert "quant_dense/cluster_centroids_tf:0" in grads["with_gradient"]
    assert "quant_dense/ori_weights_vars_tf:0" in grads["with_gradient"]
    c0 = before["quant_dense/cluster_centroids_tf:0"]
    c1 = after["quant_dense/cluster_centroids_tf:0"]
    assert c0.shape == (8,)
    nonzero = c0 != 0
    assert np.all(np.abs(c1 - c0)[nonzero] > 0)  # every non-zero centroid moved
    # (The zero centroid drifts in the variable, but tfmot multiplies it back to zero before
    # each step uses it, so the kernel's zeros below stay zero.)
    # The kernel follows the centroids: it holds only centroid values (of the last step but
    # one, as the assignment happens before the update), and the pruned zeros stay zero.
    kernel = after["dense/kernel:0"]
    mask = upstream.get_layer("dense").kernel.numpy() != 0
    assert np.all(kernel[~mask] == 0)
    assert len(np.unique(kernel)) <= 8
    assert not np.array_equal(kernel, before["dense/kernel:0"])
    # And it reaches the int8 model: the trained Dense weights differ from the untrained ones'.
    untrained = collaborative.qat_wrap(training.clone_with_weights(upstream), scheme)
    assert not np.array_equal(_dense_tflite(qat), _dense_tflite(untrained))
    assert len(np.unique(_dense_tflite(qat))) <= 8


def test_the_recipe_records_how_far_each_parameter_moved(pruned) -> None:
    ctx = context(pruned["baseline"], pruned["data"], None, pruned["tmp"], upstream=pruned)
    out = collaborative.pcqat(
        ctx, collaborative.QatParams(start_from="clustered", epochs=1, learning_rate=LR)
    )
    moved = out.extra["qat_max_change"]
    assert moved["quant_dense/cluster_centroids_tf:0"] > 0
    assert moved["dense/bias:0"] > 0
