"""Shared fixtures. tfmot needs tf-keras, so this is set before anything imports TensorFlow."""

from __future__ import annotations

import fcntl
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from cli_runner import CliRun, run_in_process  # noqa: E402
from system_tools import summary_line  # noqa: E402

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

#: Fixtures that train models. A test that uses one (even through another fixture) must be
#: marked slow itself; collection fails otherwise, so the fast tier (`tox -e fast`,
#: `-m "not slow and not emulated"`) can never start training by accident.
TRAINING_FIXTURES = ("small_manifest", "first_sweep")


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    # A test that uses a training fixture without the slow marker is a collection error
    # naming it (under pytest-xdist too), and is not run: nothing trains by accident.
    for item in list(items):
        used = [f for f in TRAINING_FIXTURES if f in getattr(item, "fixturenames", ())]
        if used and item.get_closest_marker("slow") is None:
            items.remove(item)
            session.ihook.pytest_collectreport(report=pytest.CollectReport(
                item.nodeid, "failed", result=[], longrepr=(
                    f"{item.nodeid} uses {', '.join(used)}, which trains models, but is not "
                    "marked slow: add @pytest.mark.slow to it (or pytestmark = "
                    "pytest.mark.slow to its module)"
                ),
            ))
    # Longest files first, so that pytest-xdist's workers (tox: -n auto --dist loadfile
    # --no-loadscope-reorder) finish together instead of one running the longest file alone.
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


#: Test files that take a minute or more on a 2-core machine (pytest --durations), longest first.
LONGEST_FILES = (
    "test_sweep",
    "test_own_models",
    "test_docs_examples",
    "test_ci_examples",
    "test_emulated_pi",
    "test_pipeline_end_to_end",
    "test_build_pipeline",
    "test_ab_instructions",  # valgrind counts: about a minute per pair
    "test_package",
    "test_deploy_ssh",
    "test_masks",
    "test_history_with_real_benches",
    "test_pytest_plugin",
)


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 (pytest's own type)
    """One line naming .ci/run when tests skipped for a system tool this machine lacks."""
    reasons = [str(r.longrepr[2]) for r in terminalreporter.stats.get("skipped", [])
               if isinstance(r.longrepr, tuple) and len(r.longrepr) == 3]
    line = summary_line(reasons)
    if line:
        terminalreporter.write_sep("-", "system tools")
        terminalreporter.write_line(line)
