"""Pruned weights stay zero: after retraining, clustering, PQAT, PCQAT and TFLite conversion."""

from __future__ import annotations

import numpy as np
import pytest
from recipe_helpers import context, tiny_data, train_baseline

from edgebench.build.recipes import collaborative, iterative
from edgebench.build.recipes import masks as mk

# Slow (not in the fast tier): trains and fine-tunes TensorFlow models.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """prune (lr_rewinding) -> cluster (8, keep zeros) -> PQAT and PCQAT, on tiny data."""
    tmp = tmp_path_factory.mktemp("masks")
    data, xt, yt = tiny_data()
    baseline, history = train_baseline(data, epochs=2)
    pruned = iterative.lr_rewinding(
        context(baseline, data, history, tmp),
        iterative.RewindParams(sparsity=0.8, rounds=1, rewind_epoch=1, layers=("dense",)),
    ).model
    up = {"pruned": pruned}
    clustered = collaborative.cluster(
        context(baseline, data, history, tmp, upstream=up),
        collaborative.ClusterParams(start_from="pruned", clusters=8, epochs=1, layers=("dense",)),
    )
    up["clustered"] = clustered.model
    qat = collaborative.QatParams(start_from="pruned", epochs=1)
    pqat = collaborative.pqat(context(baseline, data, history, tmp, upstream=up), qat)
    pcqat = collaborative.pcqat(
        context(baseline, data, history, tmp, upstream=up),
        collaborative.QatParams(start_from="clustered", epochs=1),
    )
    mask = pruned.get_layer("dense").kernel.numpy() != 0
    return {"mask": mask, "pruned": pruned, "clustered": clustered, "pqat": pqat, "pcqat": pcqat}


def _tflite_dense(flat: bytes) -> np.ndarray:
    """The FULLY_CONNECTED weights read back through the interpreter, as [out, in]."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=flat)
    for d in interp.get_tensor_details():
        if tuple(d["shape"]) == (10, 2028):
            return np.asarray(interp.get_tensor(d["index"]))
    raise AssertionError("no (10, 2028) weight tensor in the flatbuffer")


def test_zeros_survive_retraining(chain) -> None:
    kernel = chain["pruned"].get_layer("dense").kernel.numpy()
    assert np.mean(kernel == 0) == pytest.approx(0.8, abs=1e-4)


def test_zeros_survive_clustering_and_values_are_clustered(chain) -> None:
    kernel = chain["clustered"].model.get_layer("dense").kernel.numpy()
    assert np.all(kernel[~chain["mask"]] == 0)
    assert np.unique(kernel).size <= 8 + 1  # 8 clusters for the survivors, plus the zeros
    stages = chain["clustered"].extra["stages"]
    assert stages["before"]["dense"]["unique_values"] > 1000
    assert stages["after_clustering"]["dense"]["unique_values"] <= 9


@pytest.mark.parametrize("which", ["pqat", "pcqat"])
def test_zeros_survive_qat_and_tflite_conversion(chain, which) -> None:
    flat = collaborative.quantised_flatbuffer(chain[which].model)
    weights = _tflite_dense(flat)  # int8, zero point 0 for weights
    assert np.all(weights.T[~chain["mask"]] == 0)
    facts = mk.tflite_weight_facts(flat)
    dense = next(f for name, f in facts.items() if "dense" in name.lower())
    assert dense["sparsity"] >= 0.8 - 1e-4
    if which == "pcqat":
        assert dense["unique_values"] <= 9


def test_zeros_survive_post_training_int8_conversion(chain) -> None:
    from edgebench.build.conversion import convert
    from edgebench.records import VariantKind

    data, _, _ = tiny_data(n_train=200)
    flat = convert(chain["clustered"].model, VariantKind.INT8, data.x_fit[:50])
    assert np.all(_tflite_dense(flat).T[~chain["mask"]] == 0)


def test_more_clusters_than_weights_names_the_fix(chain, tmp_path) -> None:
    from edgebench.errors import ConfigError

    data, _, _ = tiny_data(n_train=200)
    up = {"pruned": chain["pruned"]}
    with pytest.raises(ConfigError, match=r"clusters = 5000 is more than the \d+ non-zero"):
        collaborative.cluster(
            context(chain["pruned"], data, None, tmp_path, upstream=up),
            collaborative.ClusterParams(start_from="pruned", clusters=5000, layers=("dense",)),
        )
