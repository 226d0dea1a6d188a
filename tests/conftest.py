"""Shared fixtures. tfmot needs tf-keras, so this is set before anything imports TensorFlow."""

from __future__ import annotations

import fcntl
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from cli_runner import CliRun, run_in_process  # noqa: E402

# The stand-in phone's fixtures (tests/adb_standin.py) serve every adb and benchmark_model test;
# the loopback sshd's (tests/ssh_server.py) every SSH test, the emulated Pi's included; the
# device Pythons (tests/ssh_devices.py) the SSH and the stripping tests that need a given runtime;
# pytester runs the pytest plugin's tests in pytest sessions of their own.
pytest_plugins = ["adb_standin", "ssh_server", "ssh_devices", "pytester"]

FIXTURES = Path(__file__).parent / "fixtures"
SMALL_PIPELINE = FIXTURES / "small_pipeline.toml"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run the command line in this process: ``cli("gate", path, "--budgets", b)``."""

    def run(*args: object) -> CliRun:
        return run_in_process(capsys, *args)

    return run


@pytest.fixture(scope="session")
def small_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real build of tests/fixtures/small_pipeline.toml (both recipes, all four variants).

    Built once per session; returns the manifest path. The progress lines are kept next to it
    in ``progress.txt``.
    """
    from edgebench.build.config import load_pipeline
    from edgebench.build.pipeline import build_pipeline

    # Under pytest-xdist (tox runs `-n auto`) the workers share one build: the first to take
    # the lock trains, the others wait and read its manifest.
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    out_dir = root / "small_build" / "small-run"
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(root / "small_build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = out_dir / "manifest.json"
        if not manifest.is_file():
            lines: list[str] = []
            manifest = build_pipeline(load_pipeline(SMALL_PIPELINE), out_dir,
                                      progress=lines.append)
            (out_dir / "progress.txt").write_text("\n".join(lines) + "\n")
    return manifest


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Benchmarks (tests/benchmarks) run only with benchmarks on (tox -e bench): a benchmark
    that ran disabled would check nothing."""
    if collection_path.name == "benchmarks" and not config.getoption("benchmark_enable"):
        return True
    return None


# --------------------------------------------------------------------------- the fast tier

#: Fixtures that train models: a test that uses one is slow.
TRAINING_FIXTURES = {"small_manifest", "first_sweep"}
#: Modules (or single tests) that train TensorFlow models themselves. `tox -e fast` runs
#: everything else (`-m "not slow"`): bad input the build refuses before training included.
TRAINING_TESTS = {
    "test_build_pipeline": {
        "test_a_recipe_that_prunes_the_baseline_itself_is_caught",
        "test_a_schedule_that_ends_after_training_fails_the_build",
        "test_only_the_named_layers_are_pruned",
        "test_an_unknown_layer_name_lists_the_model_layers",
        "test_tensorboard_true_writes_pruning_summaries",
        "test_a_user_model_is_the_baseline_as_it_is",
    },
    "test_cli_bad_input": {
        "test_a_failed_build_leaves_no_half_made_run_folder",
    },
    "test_masks": "all",
    "test_recipes_bad_input": "all",
    "test_recipes_movement_synflow_structured": "all",
    "test_recipes_rewinding": "all",
    "test_sweep": "all",
    "test_strip": {"test_a_pipeline_section_with_strip_ships_stripped_variants"},
    "test_qat": "all",
    "test_pipeline_end_to_end": "all",
    "test_mobilenet_pipeline": {
        "test_mobilenet_v2_on_an_image_folder_is_pruned_with_its_depthwise_kernels_and_benched",
    },
    "test_own_models": {
        "test_a_keras3_file_is_rebuilt_in_tf_keras_with_keras3s_own_outputs",
        "test_a_keras3_model_with_unlabelled_data_is_pruned_clustered_and_qat_tuned",
        "test_a_saved_model_is_converted_and_benched_and_the_recipes_say_why_they_did_not_run",
        "test_a_keras3_custom_layer_is_one_line_that_names_it_and_the_fix",
        "test_a_model_with_two_inputs_and_two_outputs_is_built_benched_and_gated",
        "test_a_layer_tfmot_cannot_prune_is_one_line_naming_it_before_anything_is_built",
    },
    # Not training, but minutes of real processes: whole CI jobs step by step (the README's
    # examples among them train), and whole pytest sessions of the plugin's tests.
    "test_readme_ci": "all",
    "test_pytest_plugin": "all",
    # Not training either, but a wheel built and installed into fresh virtualenvs (~50 s).
    "test_package": {
        "test_the_wheel_installs_one_top_level_package",
        "test_a_plain_install_works_beside_pypa_build",
        "test_a_users_own_build_and_models_packages_do_not_shadow_ours",
    },
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        wanted = TRAINING_TESTS.get(module, ())
        name = item.originalname if hasattr(item, "originalname") else item.name
        if (
            wanted == "all"
            or name in wanted
            or TRAINING_FIXTURES & set(getattr(item, "fixturenames", ()))
        ):
            item.add_marker(pytest.mark.slow)
    # Longest files first, so that pytest-xdist's workers (tox: -n auto --dist loadfile
    # --no-loadscope-reorder) finish together instead of one running the longest file alone.
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


#: Test files that take a minute or more on a 2-core machine (pytest --durations), longest first.
LONGEST_FILES = (
    "test_sweep",
    "test_own_models",
    "test_readme_ci",
    "test_emulated_pi",
    "test_pipeline_end_to_end",
    "test_build_pipeline",
    "test_package",
    "test_deploy_ssh",
    "test_masks",
    "test_history_with_real_benches",
    "test_pytest_plugin",
)
