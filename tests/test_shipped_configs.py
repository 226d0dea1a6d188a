"""The configs edgebench ships say only what is true: every recipe they name is a registered
one, and the pipeline's list of registered recipes is the registry itself."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from edgebench.build.recipes import recipe_names

MODELS = Path(__file__).resolve().parents[1] / "models"
SHIPPED = sorted(MODELS.rglob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(MODELS)))
def test_every_recipe_a_shipped_config_uses_is_registered(path: Path) -> None:
    config = tomllib.loads(path.read_text())
    used = {section["recipe"] for section in config.get("recipes", {}).values()}
    assert used <= set(recipe_names()), f"{path.name}: {used - set(recipe_names())}"


def test_the_pipelines_list_of_registered_recipes_is_the_registry() -> None:
    text = (MODELS / "pipeline.toml").read_text()
    comment = " ".join(line.lstrip("# ").strip() for line in text.splitlines()
                       if line.startswith("#"))
    listed = re.search(r"Registered recipes: (.*?) \(", comment)
    assert listed, "models/pipeline.toml no longer lists the registered recipes"
    assert [n.strip() for n in listed.group(1).split(",")] == list(recipe_names())


def test_the_pipeline_names_every_target_kind_as_working() -> None:
    text = (MODELS / "pipeline.toml").read_text()
    targets = next(line for line in text.splitlines() if line.startswith("targets"))
    assert "ssh://" in targets and "adb://" in targets and "later" not in targets
