"""Movement pruning on a transfer task, SynFlow at initialisation, and 2:4 structured sparsity."""

from __future__ import annotations

import numpy as np
import pytest
from recipe_helpers import accuracy, context, tiny_data, train_baseline

from edgebench.build.recipes import iterative, movement, structured, synflow
from edgebench.errors import ConfigError

# Slow (not in the fast tier): trains TensorFlow models.
pytestmark = pytest.mark.slow


def test_movement_prunes_by_how_weights_move_on_the_new_task(tmp_path) -> None:
    """Pretrain on classes 0-4, fine-tune onto 5-9 at 90% sparsity, against magnitude pruning.

    Magnitude pruning keeps the weights that mattered for the old classes; movement pruning
    keeps those the new task moves. So the two masks must differ a lot, and movement's model
    must learn the new task at least about as well as magnitude's.
    """
    old, _, _ = tiny_data(n_train=3000, classes=[0, 1, 2, 3, 4])
    new, xt, yt = tiny_data(n_train=3000, n_test=1000, classes=[5, 6, 7, 8, 9])
    pretrained, _ = train_baseline(old, epochs=2)
    ctx = context(pretrained, new, None, tmp_path)  # a given pretrained model: no history
    mv = movement.movement(
        ctx, movement.MovementParams(sparsity=0.9, epochs=2, frequency=5, layers=("dense",))
    )
    mg = iterative.iterative(
        context(pretrained, new, None, tmp_path),
        iterative.IterativeParams(sparsity=0.9, rounds=1, epochs=2, layers=("dense",)),
    )
    k_mv = mv.model.get_layer("dense").kernel.numpy() != 0
    k_mg = mg.model.get_layer("dense").kernel.numpy() != 0
    assert k_mv.mean() == pytest.approx(0.1, abs=1e-3)
    overlap = (k_mv & k_mg).sum() / k_mv.sum()
    assert overlap < 0.6, f"movement kept mostly the magnitude survivors ({overlap:.0%})"
    acc_mv, acc_mg = accuracy(mv.model, xt, yt), accuracy(mg.model, xt, yt)
    assert acc_mv > 0.6  # five new classes: chance is 0.2
    assert acc_mv >= acc_mg - 0.05, (acc_mv, acc_mg)


def test_movement_without_a_fine_tuning_task_names_the_fix(tmp_path) -> None:
    data, _, _ = tiny_data(n_train=300)
    model, history = train_baseline(data, epochs=1)
    with pytest.raises(ConfigError, match="movement pruning needs a fine-tuning task"):
        movement.movement(context(model, data, history, tmp_path), movement.MovementParams())


def test_synflow_prunes_without_data_and_never_empties_a_layer(tmp_path) -> None:
    data, xt, yt = tiny_data()
    model, history = train_baseline(data, epochs=1)
    probe = context(model, data, history, tmp_path).fresh_model()
    layers = {n: probe.get_layer(n) for n in ("conv2d", "dense")}
    masks = synflow.synflow_masks(probe, layers, 0.95, iterations=20)
    total = sum(m.size for m in masks.values())
    assert sum((m == 0).sum() for m in masks.values()) == round(0.95 * total)
    assert all(m.sum() >= 1 for m in masks.values())  # no layer collapse
    out = synflow.synflow(
        context(model, data, history, tmp_path),
        synflow.SynflowParams(sparsity=0.8, iterations=10, epochs=1),
    )
    assert accuracy(out.model, xt, yt) > 0.4


def test_two_four_sparsity_holds_and_exports_sparse(tmp_path) -> None:
    from edgebench.build.conversion import convert
    from edgebench.records import VariantKind

    data, xt, yt = tiny_data()
    model, history = train_baseline(data, epochs=1)
    out = structured.structured(
        context(model, data, history, tmp_path),
        structured.StructuredParams(epochs=1, frequency=5, layers=("dense",)),
    )
    kernel = out.model.get_layer("dense").kernel.numpy()
    assert structured.follows_m_by_n(kernel, 2, 4)
    assert out.sparse_export and np.mean(kernel == 0) == pytest.approx(0.5, abs=0.01)
    flat = convert(out.model, VariantKind.FLOAT32, xt[:10], sparse=True)
    from ai_edge_litert import schema_py_generated as schema

    fb = schema.Model.GetRootAsModel(flat, 0)
    graph = fb.Subgraphs(0)
    sparse = [graph.Tensors(i) for i in range(graph.TensorsLength()) if graph.Tensors(i).Sparsity()]
    assert sparse, "EXPERIMENTAL_SPARSITY stored no tensor in the sparse format"


def test_a_layer_that_cannot_take_the_pattern_names_the_fix(tmp_path) -> None:
    data, _, _ = tiny_data(n_train=300)
    model, history = train_baseline(data, epochs=1)
    with pytest.raises(ConfigError, match=r"conv2d has 1 input channel.*layers = \['dense'\]"):
        structured.structured(
            context(model, data, history, tmp_path), structured.StructuredParams()
        )
    with pytest.raises(ConfigError, match=r"m must be in \[1, n\)"):
        structured.StructuredParams(m=4, n=4)
