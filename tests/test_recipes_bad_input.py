"""Recipes that cannot handle the model or the config: one line, exit 2, no manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgebench import cli

# Slow (not in the fast tier): most cases train the small model before the recipe refuses.
pytestmark = pytest.mark.slow

TINY = """
schema_version = 1
[data]
dataset = "fashion_mnist"
train_limit = 300
test_limit = 100
[train]
epochs = 1
batch_size = 64
[baseline]
variants = ["float32"]
{recipes}
"""


@pytest.mark.parametrize(
    ("recipes", "message"),
    [
        (
            '[recipes.mv]\nrecipe = "movement"\nsparsity = 0.8',
            "movement pruning needs a fine-tuning task",
        ),
        (
            '[recipes.st]\nrecipe = "structured"\nm = 2\nn = 4',
            r"layer conv2d has 1 input channel\(s\), which cannot hold a 2:4 pattern",
        ),
        (
            '[recipes.lt]\nrecipe = "lottery_ticket"\nsparsity = 1.0',
            r"sparsity must be in \[0, 1\)",
        ),
        (
            '[recipes.c]\nrecipe = "cluster"\nclusters = 8',
            "start_from must name an earlier",
        ),
        (
            '[recipes.c]\nrecipe = "cluster"\nstart_from = "later"\n'
            '[recipes.later]\nrecipe = "iterative"\nrounds = 1\nepochs = 1',
            "names no recipe built before it",
        ),
        (
            '[recipes.w]\nrecipe = "weight_rewinding"\nrewind_epoch = 3\nrounds = 1',
            "rewind_epoch is 3, past the baseline's 1 epochs",
        ),
    ],
)
def test_bad_recipe_input_is_one_line_and_exit_2(tmp_path: Path, capsys, recipes, message):
    import re

    config = tmp_path / "p.toml"
    config.write_text(TINY.format(recipes=recipes))
    status = cli.main(["build", "--config", str(config), "--out", str(tmp_path), "--run", "r"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("edgebench")]
    assert status == 2, err
    assert len(err) == 1 and re.search(message, err[0]), err
    assert not (tmp_path / "r" / "manifest.json").exists()
