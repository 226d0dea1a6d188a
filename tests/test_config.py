"""The pipeline config: the shipped default, and one test per kind of bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from edgebench.build.config import (
    ModelConfig,
    default_pipeline_path,
    load_pipeline,
    parse_pipeline,
)
from edgebench.build.recipes import get_recipe, recipe_names, register_recipe
from edgebench.build.recipes.magnitude import PruneAfterTrainingParams, PruneFromScratchParams
from edgebench.errors import ConfigError
from edgebench.records import BenchSettings, VariantKind

DEFAULT_TEXT = default_pipeline_path().read_text()


def write(tmp_path: Path, text: str, name: str = "pipeline.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def edited(old: str, new: str) -> str:
    assert old in DEFAULT_TEXT, f"the default pipeline no longer contains {old!r}"
    return DEFAULT_TEXT.replace(old, new, 1)


def test_default_pipeline_loads_with_the_documented_values() -> None:
    path = default_pipeline_path()
    cfg = load_pipeline(path)
    assert cfg.path == path
    assert cfg.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert cfg.data.dataset == "fashion_mnist" and cfg.data.train_limit == 0
    assert cfg.model.builtin == "pruning_guide" and cfg.model.path is None
    assert cfg.train.epochs == 4 and cfg.train.batch_size == 128
    assert cfg.baseline.variants == (VariantKind.FLOAT32,)
    assert [r.name for r in cfg.recipes] == ["pruned", "scratch"]
    pruned, scratch = cfg.recipes
    assert pruned.recipe == "prune_after_training"
    assert isinstance(pruned.params, PruneAfterTrainingParams)
    assert pruned.params.schedule == "polynomial_decay" and pruned.params.sparsity == 0.8
    assert isinstance(scratch.params, PruneFromScratchParams)
    assert scratch.params.schedule == "constant_sparsity"
    assert len(pruned.variants) == 4 and VariantKind.INT8 in scratch.variants
    assert cfg.bench == BenchSettings(
        runs=100, warmup=10, threads=1, xnnpack=True, timeout_s=300.0, eval_batch=256, eval_limit=0
    )
    assert cfg.targets == ("local",)
    assert cfg.budgets == path.parent / "budgets.toml"


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "schema_version = 1\n[data]\ndataset = fashion_mnist\n")
    with pytest.raises(ConfigError, match=r"pipeline\.toml is not valid TOML.*line 3"):
        load_pipeline(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_pipeline(tmp_path / "nope.toml")


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, edited("epochs = 4\nbatch_size", "epoch = 4\nbatch_size"))
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    msg = str(err.value)
    assert "unknown key 'epoch' in [train]" in msg and "did you mean 'epochs'?" in msg
    assert str(path) in msg


def test_unknown_section_and_recipe_key_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'trian' in the top level.*'train'"):
        parse_pipeline(DEFAULT_TEXT.replace("[train]", "[trian]"))
    with pytest.raises(
        ConfigError,
        match=r"unknown key 'final_sparsty' in \[recipes\.pruned\]"
        r".*did you mean 'final_sparsity'",
    ):
        parse_pipeline(edited("final_sparsity = 0.80", "final_sparsty = 0.80"))


def test_unknown_recipe_lists_the_registered_ones() -> None:
    with pytest.raises(ConfigError) as err:
        parse_pipeline(edited('recipe = "prune_after_training"', 'recipe = "lottery"'))
    msg = str(err.value)
    assert "recipes.pruned.recipe" in msg and "unknown recipe 'lottery'" in msg
    assert "prune_after_training" in msg and "prune_from_scratch" in msg


def test_unknown_variant_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as err:
        parse_pipeline(edited('variants = ["float32"]', 'variants = ["float32", "int4"]'))
    msg = str(err.value)
    assert "baseline.variants: unknown variant 'int4'" in msg
    assert "float32, dynamic, float16, int8" in msg


def test_a_variant_listed_twice_is_rejected() -> None:
    with pytest.raises(ConfigError, match="lists 'int8' twice"):
        parse_pipeline(edited('variants = ["float32"]', 'variants = ["int8", "int8"]'))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "final_sparsity = 0.80",
            "final_sparsity = 1.2",
            r"recipes\.pruned\.final_sparsity must be in \[0, 1\); got 1\.2",
        ),
        (
            "target_sparsity = 0.80",
            "target_sparsity = -0.1",
            r"recipes\.scratch\.target_sparsity must be in \[0, 1\); got -0\.1",
        ),
        (
            "initial_sparsity = 0.50",
            "initial_sparsity = 0.9",
            r"initial_sparsity \(0\.9\) must not exceed final_sparsity \(0\.8\)",
        ),
        (
            "epochs = 4\nbatch_size",
            'epochs = "four"\nbatch_size',
            r"train\.epochs must be an integer; got 'four'",
        ),
        (
            "validation_split = 0.1",
            "validation_split = 1.0",
            r"train\.validation_split must be in \[0, 1\); got 1\.0",
        ),
        ("frequency = 100", "frequency = 0", r"recipes\.pruned\.frequency must be >= 1"),
        (
            "end_step = -1               # -1 = last",
            "end_step = 0 # -1 = last",
            r"recipes\.pruned\.end_step must be -1 .* or > begin_step",
        ),
        (
            'schedule = "polynomial_decay"',
            'schedule = "cosine"',
            r"recipes\.pruned\.schedule must be one of polynomial_decay, constant_sparsity",
        ),
        ("train_limit = 0", "train_limit = -5", r"data\.train_limit must be >= 0"),
        ("runs = 100", "runs = 0", r"bench\.runs must be >= 1"),
        ("xnnpack = true", "xnnpack = 1", r"bench\.xnnpack must be true, false or \[true, false\]"),
        ("threads = 1", "threads = [1, 0]", r"bench\.threads must be >= 1"),
        ("threads = 1", 'threads = "two"',
         r"bench\.threads must be a whole number >= 1 or a list"),
        (
            'builtin = "pruning_guide"',
            'builtin = "resnet"',
            r"model\.builtin must be one of pruning_guide, mobilenet_v2, teacher_cnn; got 'resnet'",
        ),
        ("layers = []", 'layers = ["dense", "dense"]', r"layers names a layer twice"),
    ],
)
def test_bad_values_name_the_field_and_what_is_allowed(old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_pipeline(edited(old, new))


def test_schedule_parameters_must_match_the_schedule() -> None:
    with pytest.raises(
        ConfigError,
        match=r"recipes\.scratch\.final_sparsity applies to "
        r"schedule = 'polynomial_decay'.*set target_sparsity",
    ):
        parse_pipeline(edited("target_sparsity = 0.80", "final_sparsity = 0.80"))
    with pytest.raises(
        ConfigError,
        match=r"recipes\.pruned\.target_sparsity applies to "
        r"schedule = 'constant_sparsity'",
    ):
        parse_pipeline(edited("final_sparsity = 0.80", "target_sparsity = 0.80"))
    with pytest.raises(ConfigError, match="target_sparsity is required"):
        parse_pipeline(edited("target_sparsity = 0.80", ""))


def test_schema_version_is_required_and_checked() -> None:
    with pytest.raises(ConfigError, match="no schema_version; add `schema_version = 1`"):
        parse_pipeline(DEFAULT_TEXT.replace("schema_version = 1", ""))
    with pytest.raises(ConfigError, match="schema_version 2; this edgebench reads version 1"):
        parse_pipeline(DEFAULT_TEXT.replace("schema_version = 1", "schema_version = 2"))


def test_recipe_section_needs_a_recipe_and_a_usable_name() -> None:
    with pytest.raises(ConfigError, match=r"\[recipes\.pruned\].*no `recipe = \.\.\.`"):
        parse_pipeline(edited('recipe = "prune_after_training"', ""))
    with pytest.raises(ConfigError, match="must be letters, digits"):
        parse_pipeline(edited("[recipes.pruned]", "[recipes.baseline]"))


def test_model_path_resolves_next_to_the_config_and_excludes_builtin(tmp_path: Path) -> None:
    path = write(tmp_path, edited('builtin = "pruning_guide"', 'path = "mine.keras"'))
    cfg = load_pipeline(path)
    assert cfg.model.path == tmp_path / "mine.keras" and cfg.model.builtin is None
    with pytest.raises(ConfigError, match="builtin and path are exclusive"):
        parse_pipeline(
            edited('builtin = "pruning_guide"', 'builtin = "pruning_guide"\npath = "m.h5"')
        )
    with pytest.raises(ConfigError, match=r"model\.path must be a \.keras or \.h5 file"):
        parse_pipeline(edited('builtin = "pruning_guide"', 'path = "mine.onnx"'))
    assert ModelConfig().builtin == "pruning_guide"


def test_overrides_shrink_a_run_and_are_validated_again() -> None:
    cfg = load_pipeline(default_pipeline_path())
    small = cfg.with_overrides(train_limit=100, test_limit=50, epochs=1, recipe_epochs=1)
    assert (small.data.train_limit, small.data.test_limit, small.train.epochs) == (100, 50, 1)
    assert all(r.params.epochs == 1 for r in small.recipes)
    assert cfg.train.epochs == 4, "the original is unchanged"
    with pytest.raises(ConfigError, match="train_limit must be >= 0"):
        cfg.with_overrides(train_limit=-1)
    with pytest.raises(ConfigError, match="final_sparsity must be in"):
        dataclasses.replace(cfg.recipes[0].params, final_sparsity=1.0)


def test_end_step_minus_one_is_the_last_pruning_step() -> None:
    params = PruneAfterTrainingParams(final_sparsity=0.8, frequency=100)
    assert params.resolved_end_step(844) == 800
    assert params.resolved_end_step(800) == 800
    assert (
        PruneAfterTrainingParams(
            final_sparsity=0.8,
            begin_step=30,
            frequency=5,
        ).resolved_end_step(52)
        == 50
    )
    assert PruneAfterTrainingParams(final_sparsity=0.8, end_step=700).resolved_end_step(844) == 700
    with pytest.raises(ConfigError, match="fewer than begin_step \\+ frequency"):
        params.resolved_end_step(99)


def test_recipe_registry_is_explicit() -> None:
    assert recipe_names()[:2] == ("prune_after_training", "prune_from_scratch")
    assert {"lottery_ticket", "lr_rewinding", "movement", "synflow", "pcqat"} <= set(recipe_names())
    assert get_recipe("prune_from_scratch").params_cls is PruneFromScratchParams
    with pytest.raises(ValueError, match="already registered"):
        register_recipe(
            "prune_after_training", get_recipe("prune_after_training").fn, PruneAfterTrainingParams
        )
    with pytest.raises(ConfigError, match="registered recipes: prune_after_training"):
        get_recipe("no_such_recipe")


def test_config_datasets_and_recipes_import_no_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys, edgebench.build.config as config, edgebench.build.datasets, "
        "edgebench.build.facts, edgebench.build.recipes, edgebench.models;"
        "config.load_pipeline(config.default_pipeline_path());"
        "bad = [m for m in ('tensorflow', 'tf_keras', 'tensorflow_model_optimization') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_bench_matrix_and_options_from_the_config(tmp_path: Path) -> None:
    text = edited("threads = 1 ", "threads = [1, 2, 4] ").replace(
        "xnnpack = true ", 'xnnpack = [true, false]\ntaskset = "f0"\nhot_start_c = 60.0\n'
        'delegate = "libedgetpu.so.1:device=usb"\n#')
    cfg = load_pipeline(write(tmp_path, text))
    b = cfg.bench
    assert b.threads == (1, 2, 4) and b.xnnpack == (True, False) and len(b.setups()) == 6
    assert b.taskset == "f0" and b.hot_start_c == 60.0 and b.delegate_name == "libedgetpu.so.1"


def test_strip_is_a_variant_option_and_refuses_signature_runners() -> None:
    def pruned_with(lines: str) -> str:  # the first variants line is [recipes.pruned]'s
        variants = 'variants = ["float32", "dynamic", "float16", "int8"]'
        return edited(variants, f"{lines}\n{variants}")

    config = parse_pipeline(pruned_with("strip = true"))
    assert config.recipe("pruned").strip == "all"
    assert config.recipe("scratch").strip == "none"
    kept = parse_pipeline(pruned_with('strip = "keep-signatures"\nsignatures = true'))
    assert kept.recipe("pruned").strip == "keep-signatures"
    with pytest.raises(ConfigError, match=r'recipes\.pruned: strip = true removes .*"keep-sig'):
        parse_pipeline(pruned_with("strip = true\nsignatures = true"))
    with pytest.raises(ConfigError, match=r"recipes\.pruned\.strip must be true, false or"):
        parse_pipeline(pruned_with('strip = "names"'))
