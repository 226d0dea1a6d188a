"""Shared fixtures. tfmot needs tf-keras, so this is set before anything imports TensorFlow."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from cli_runner import CliRun, run_in_process  # noqa: E402

# The stand-in phone's fixtures (tests/adb_standin.py) serve every adb and benchmark_model test.
pytest_plugins = ["adb_standin"]

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

    out_dir = tmp_path_factory.mktemp("small_build") / "small-run"
    lines: list[str] = []
    manifest = build_pipeline(load_pipeline(SMALL_PIPELINE), out_dir, progress=lines.append)
    (out_dir / "progress.txt").write_text("\n".join(lines) + "\n")
    return manifest


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Benchmarks (tests/benchmarks) run only with benchmarks on (tox -e bench): a benchmark
    that ran disabled would check nothing."""
    if collection_path.name == "benchmarks" and not config.getoption("benchmark_enable"):
        return True
    return None
