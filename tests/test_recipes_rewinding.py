"""Iterative pruning, lottery ticket, weight and learning-rate rewinding, gradual pruning."""

from __future__ import annotations

import numpy as np
import pytest
from recipe_helpers import accuracy, context, frozen_history, tiny_data, train_baseline

from edgebench.build.recipes import iterative
from edgebench.errors import ConfigError

# Slow (not in the fast tier): trains TensorFlow models.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained():
    data, xt, yt = tiny_data()
    model, history = train_baseline(data, epochs=2)
    return data, xt, yt, model, history


def _dense(model) -> np.ndarray:
    return model.get_layer("dense").kernel.numpy()


def test_rounds_remove_the_same_fraction_of_survivors_each_time() -> None:
    p = iterative.IterativeParams(sparsity=0.875, rounds=3)
    assert [round(p.round_sparsity(r), 4) for r in (1, 2, 3)] == [0.5, 0.75, 0.875]


def test_iterative_reaches_its_sparsity_and_keeps_learning(trained, tmp_path) -> None:
    data, xt, yt, model, history = trained
    params = iterative.IterativeParams(sparsity=0.8, rounds=2, epochs=1, layers=("dense",))
    out = iterative.iterative(context(model, data, history, tmp_path), params)
    assert out.target_sparsity == {"dense": pytest.approx(0.8, abs=1e-4)}
    assert np.mean(_dense(out.model) == 0) == pytest.approx(0.8, abs=1e-4)
    assert accuracy(out.model, xt, yt) > 0.5  # ten classes: chance is 0.1
    assert np.count_nonzero(_dense(model) == 0) == 0  # the baseline is untouched


def test_lottery_ticket_resets_survivors_to_their_initial_values(trained, tmp_path) -> None:
    data, _, _, model, history = trained
    params = iterative.LotteryParams(sparsity=0.7, rounds=1, epochs=1, layers=("dense",))
    ctx = context(model, data, frozen_history(history), tmp_path)
    out = iterative.lottery_ticket(ctx, params)
    init = history.checkpoints[0][-2]  # the Dense kernel at initialisation
    kept = _dense(out.model) != 0
    assert np.mean(~kept) == pytest.approx(0.7, abs=1e-4)
    np.testing.assert_allclose(_dense(out.model)[kept], init[kept], atol=1e-6)
    # The ticket is chosen by the trained magnitudes, not by the initial ones.
    trained_kernel = _dense(model)
    assert np.abs(trained_kernel[kept]).min() >= np.abs(trained_kernel[~kept]).max() - 1e-7


def test_weight_rewinding_resets_survivors_to_epoch_k(trained, tmp_path) -> None:
    data, _, _, model, history = trained
    params = iterative.RewindParams(sparsity=0.7, rounds=1, rewind_epoch=1, layers=("dense",))
    out = iterative.weight_rewinding(
        context(model, data, frozen_history(history), tmp_path), params
    )
    epoch1 = history.checkpoints[1][-2]
    kept = _dense(out.model) != 0
    np.testing.assert_allclose(_dense(out.model)[kept], epoch1[kept], atol=1e-6)
    assert out.extra["epochs_per_round"] == 1  # the rest of the 2-epoch schedule


def test_lr_rewinding_keeps_trained_survivors_and_replays_the_schedule(trained, tmp_path) -> None:
    data, _, _, model, history = trained
    params = iterative.RewindParams(sparsity=0.7, rounds=1, rewind_epoch=1, layers=("dense",))
    out = iterative.lr_rewinding(context(model, data, frozen_history(history), tmp_path), params)
    kept = _dense(out.model) != 0
    np.testing.assert_allclose(_dense(out.model)[kept], _dense(model)[kept], atol=1e-6)
    # The replayed schedule starts where the baseline's stood after epoch k.
    full, replay = history.learning_rate(0), history.learning_rate(1)
    assert float(replay(0)) == pytest.approx(float(full(history.steps_per_epoch)))
    assert float(replay(0)) < float(full(0))


def test_rewinding_past_the_baseline_or_without_history_names_the_fix(trained, tmp_path) -> None:
    data, _, _, model, history = trained
    params = iterative.RewindParams(sparsity=0.5, rounds=1, rewind_epoch=5)
    with pytest.raises(ConfigError, match=r"rewind_epoch is 5, past the baseline's 2 epochs"):
        iterative.weight_rewinding(context(model, data, history, tmp_path), params)
    with pytest.raises(ConfigError, match="no training history"):
        iterative.lottery_ticket(context(model, data, None, tmp_path), params)


def test_gradual_prunes_in_rounds_during_one_run_with_distillation(trained, tmp_path) -> None:
    data, xt, yt, model, history = trained
    params = iterative.GradualParams(
        sparsity=0.9, epochs=1, rounds=4, layers=("dense",), distill_alpha=0.5
    )
    out = iterative.gradual(context(model, data, history, tmp_path), params)
    assert np.mean(_dense(out.model) == 0) == pytest.approx(0.9, abs=1e-4)
    assert accuracy(out.model, xt, yt) > 0.5


def test_gradual_with_a_global_threshold_keeps_the_small_convolution_denser(
    trained, tmp_path
) -> None:
    data, xt, yt, model, history = trained
    params = iterative.GradualParams(
        sparsity=0.9, epochs=1, rounds=4, layers=("conv2d", "dense"), scope="global"
    )
    out = iterative.gradual(context(model, data, history, tmp_path), params)
    conv = out.model.get_layer("conv2d").kernel.numpy()
    dense = _dense(out.model)
    overall = (np.sum(conv == 0) + np.sum(dense == 0)) / (conv.size + dense.size)
    assert overall == pytest.approx(0.9, abs=1e-3)
    assert np.mean(conv == 0) < np.mean(dense == 0)
    assert out.target_sparsity["conv2d"] < out.target_sparsity["dense"]
    assert out.extra["scope"] == "global"
    with pytest.raises(ConfigError, match="scope must be 'layer' or 'global'"):
        iterative.GradualParams(scope="both")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sparsity": 1.2}, r"sparsity must be in \[0, 1\); got 1.2"),
        ({"rounds": 0}, "rounds must be >= 1"),
        ({"distill_alpha": 2.0}, r"distill_alpha must be in \[0, 1\]"),
        ({"layers": ("dense", "dense")}, "layers names a layer twice"),
    ],
)
def test_params_check_themselves(kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        iterative.IterativeParams(**kwargs)
    with pytest.raises(ConfigError, match="rewind_epoch must be >= 1"):
        iterative.RewindParams(rewind_epoch=0)
