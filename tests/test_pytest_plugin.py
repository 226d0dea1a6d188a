"""The pytest plugin, in pytest sessions of their own (pytester): the edgebench fixture benches
through the runner and returns the typed record, budgets hold tests, results land in
pytest-benchmark's storage, and nothing imports TensorFlow."""

from __future__ import annotations

import importlib.metadata
import json
import shutil

import pytest
from history_helpers import FIXTURES

# Slow (not in the fast tier): whole pytest sessions of the plugin's tests.
pytestmark = pytest.mark.slow

MODEL = FIXTURES / "tiny_int8.tflite"


def plugin_args() -> list[str]:
    """Installed (tox, users): pytest loads the plugin from its pytest11 entry point. From a
    checkout on PYTHONPATH there is no entry point, so it is named with -p."""
    names = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    return [] if "edgebench.pytest_plugin" in names else ["-p", "edgebench.pytest_plugin"]


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """A user's test folder holding a model and a budgets file."""
    # Run under pytest-xdist (tox does), the inner session must not think it is a worker:
    # pytest-benchmark would leave its storage to an xdist controller that is not there.
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    shutil.copy(MODEL, pytester.path / "det.tflite")
    pytester.makefile(".toml", tight='schema_version = 1\n[budgets."*"]\nmax_zip_bytes = 100\n',
                      roomy='schema_version = 1\n[budgets."*"]\nmax_zip_bytes = 10000000\n')
    pytester.makeconftest(
        "import json, sys\n"
        "def pytest_sessionfinish(session):\n"
        "    heavy = [m for m in ('tensorflow', 'tf_keras', 'keras') if m in sys.modules]\n"
        "    open('imported.json', 'w').write(json.dumps(heavy))\n"
    )
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", *args,
                                         timeout=600)


def test_the_fixture_returns_the_typed_record(suite):
    suite.makepyfile(test_models="""
        from edgebench import Record

        def test_detector(edgebench):
            r = edgebench.bench("det.tflite", target="local", runs=20, repeats=2)
            assert isinstance(r, Record) and r.ok and r.variant == "det"
            assert r.latency_us.n == 40 and len(r.samples_us) == 40
            assert min(r.samples_us) <= r.latency_us.p90 <= max(r.samples_us)
            assert r.extra["repeats"] == 2 and r.zip_bytes > 0 and r.runtime_name
            assert edgebench.results[0].target == "local"

        def test_a_budget_that_cannot_hold(edgebench):
            r = edgebench.bench("det.tflite", runs=5, repeats=1)
            assert r.latency_us.p90 < 0.001, "far too slow"
    """)
    result = run(suite, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*far too slow*"])
    assert json.loads((suite.path / "imported.json").read_text()) == []  # no TensorFlow


def test_a_model_that_cannot_run_fails_the_test_in_one_line(suite):
    shutil.copy(FIXTURES / "not_a_model.tflite", suite.path / "bad.tflite")
    suite.makepyfile(test_bad="""
        def test_bad(edgebench):
            edgebench.bench("bad.tflite", runs=5, repeats=1)

        def test_bad_kept(edgebench):
            r = edgebench.bench("bad.tflite", runs=5, repeats=1, check=False)
            assert r.status == "failed" and "TFL3" in r.error
    """)
    result = run(suite)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*edgebench: bad.tflite on local: failed: *not a TFLite model*"])


def test_budgets_by_marker_by_call_and_by_option(suite):
    suite.makepyfile(test_budgets="""
        import pytest

        @pytest.mark.edgebench_budgets("tight.toml")
        def test_marked_tight(edgebench):
            edgebench.bench("det.tflite", runs=5, repeats=1)

        @pytest.mark.edgebench_budgets("roomy.toml")
        def test_marked_roomy(edgebench):
            edgebench.bench("det.tflite", runs=5, repeats=1)

        def test_called(edgebench):
            edgebench.bench("det.tflite", runs=5, repeats=1)
            report = edgebench.gate("tight.toml")
            assert not report.passed and len(report.checks) == 1
            edgebench.assert_budgets("roomy.toml")
    """)
    result = run(suite)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*FAIL*local*det*zip_bytes * <= 100 B*", "*gate: FAILED*"])
    with_option = run(suite, "--edgebench-budgets", "tight.toml", "-k", "roomy or called")
    with_option.assert_outcomes(failed=2)


def test_results_land_in_pytest_benchmarks_storage(suite):
    suite.makepyfile(test_stored="""
        import json

        def test_stored(edgebench):
            r = edgebench.bench("det.tflite", runs=30, repeats=1)
            edgebench.bench("det.tflite", runs=30, repeats=1, xnnpack=False)
            with open("samples.json", "w") as f:
                json.dump(r.samples_us, f)
    """)
    result = run(suite, "--benchmark-json", "bench.json", "--benchmark-columns", "min,rounds")
    result.assert_outcomes(passed=1)
    doc = json.loads((suite.path / "bench.json").read_text())
    names = [b["fullname"] for b in doc["benchmarks"]]
    assert names == ["test_stored.py::test_stored[det@local]"] * 2
    stats = doc["benchmarks"][0]["stats"]
    assert stats["rounds"] == 30 and len(stats["data"]) == 30
    # the rounds are the first record's raw samples, in seconds (pytest-benchmark's unit)
    samples_us = json.loads((suite.path / "samples.json").read_text())
    assert stats["data"] == pytest.approx([us / 1e6 for us in samples_us])
    assert doc["benchmarks"][0]["extra_info"]["target"] == "local"
    result.stdout.fnmatch_lines(["*benchmark 'edgebench local'*"])
    # with pytest-benchmark disabled, nothing is stored and the test still runs
    off = run(suite, "--benchmark-disable", "--benchmark-json", "off.json")
    off.assert_outcomes(passed=1)
    assert not (suite.path / "off.json").exists() or not json.loads(
        (suite.path / "off.json").read_text())["benchmarks"]


def test_options_set_the_default_target_and_counts(suite):
    suite.makepyfile(test_opts="""
        def test_opts(edgebench):
            r = edgebench.bench("det.tflite")
            assert r.latency_us.n == 7 * 2

        def test_unknown_setting(edgebench):
            edgebench.bench("det.tflite", run=5)
    """)
    result = run(suite, "--edgebench-runs", "7", "--edgebench-repeats", "2",
                 "--edgebench-target", "local")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*unknown settings*'run'*known: runs*"])
    help_text = run(suite, "--help").stdout.str()
    assert "--edgebench-target" in help_text and "--edgebench-budgets" in help_text


def test_the_fixture_benches_over_ssh_on_the_devices_runtime(suite, sshd, remote_python):
    """The same fixture against the loopback sshd and a device Python with tflite-runtime 2.14:
    the record says which runtime measured it."""
    suite.makepyfile(test_pi=f"""
        def test_on_the_pi(edgebench):
            r = edgebench.bench("det.tflite", target={sshd.address!r}, runs=10, repeats=1,
                                target_options={{"python": {remote_python!r},
                                                 "ssh_config": {str(sshd.client_config)!r}}})
            assert r.ok and r.runtime_name == "tflite-runtime"
            assert r.runtime_version == "2.14.0" and r.latency_us.n == 10
    """)
    run(suite).assert_outcomes(passed=1)
    assert sshd.leftovers() == []
