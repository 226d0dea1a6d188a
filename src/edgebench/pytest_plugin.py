"""pytest plugin: bench TFLite models from your own test suite (registered as ``pytest11``, so it
is active wherever edgebench is installed).

    def test_detector(edgebench):
        r = edgebench.bench("det.tflite", target="ssh://pi")
        assert r.latency_us.p90 < 30_000

    @pytest.mark.edgebench_budgets("budgets.toml")   # every bench of the test, held to a file
    def test_release_models(edgebench):
        edgebench.bench("det_int8.tflite")

``edgebench.bench`` measures through the same runner as ``edgebench bench``, each model in its
own process on the target, and returns the typed :class:`~edgebench.records.Record`. A model
that fails to run fails the test with the runner's one-line reason (``check=False`` returns the
failed record instead). ``edgebench.gate(budgets)`` / ``edgebench.assert_budgets(budgets)`` hold
what the test benched to a budgets file; ``--edgebench-budgets PATH`` does so for every test.

When pytest-benchmark is active (not ``--benchmark-disable``), every bench also lands in its
session, so ``--benchmark-json``, ``--benchmark-autosave`` and ``--benchmark-compare`` see them
(one round per timed ``invoke()``). ``edgebench.ab(base, current)`` measures two files side by
side until the paired ratios decide (``slower``, ``faster``, ``same``, ``inconclusive``).
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest

from edgebench import api
from edgebench.bench.judgement.ab_result import PairResult
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.judgement.gate import GateReport
from edgebench.bench.outputs.gate_table import format_report
from edgebench.declare import declaration
from edgebench.errors import EdgebenchError
from edgebench.records import BenchSettings, Record, Results

#: What ``edgebench.bench(model, **settings)`` takes: the fields of BenchSettings.
_SETTING_NAMES = tuple(f.name for f in fields(BenchSettings))


def _help(name: str) -> str:
    """A BenchSettings field's help and default, as its declaration says them."""
    default = next(f.default for f in fields(BenchSettings) if f.name == name)
    return f"{declaration(BenchSettings, name).help} (default {default})"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("edgebench", "edgebench: bench TFLite models on their targets")
    group.addoption("--edgebench-target", metavar="T", default=None,
                    help="the default target of edgebench.bench (default: local)")
    group.addoption("--edgebench-runs", metavar="N", type=int, default=None,
                    help=_help("runs"))
    group.addoption("--edgebench-repeats", metavar="N", type=int, default=None,
                    help=_help("repeats"))
    group.addoption("--edgebench-budgets", metavar="TOML", default=None,
                    help="hold every bench of every test to this budgets file")
    group.addoption("--edgebench-history", metavar="PATH", default=None,
                    help="also append every bench to this edgebench history (SQLite)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "edgebench_budgets(path): after the test, hold every model it benched with the "
        "edgebench fixture to this budgets file (relative to the test file)",
    )


class EdgebenchFixture:
    """What the ``edgebench`` fixture gives a test: :meth:`bench`, and the budgets checks."""

    def __init__(self, request: pytest.FixtureRequest, out: Path) -> None:
        self._request = request
        self._config = request.config
        self.out = out
        #: every run this test benched, in order (one Results per bench call)
        self.results: list[Results] = []

    # ----------------------------------------------------------------- bench

    def bench(
        self,
        model: str | Path,
        target: str | None = None,
        *,
        check: bool = True,
        target_options: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> Record:
        """Measure one ``.tflite`` on ``target`` (default ``--edgebench-target``, else local)
        in its own process, and return its record. ``settings`` are :class:`BenchSettings`
        fields (``runs``, ``repeats``, ``threads``, ``xnnpack``, ``timeout_s``, …);
        ``target_options`` go to the transport (``python``, ``ssh_config``,
        ``accept_new_host_key``, ``adb``, …)."""
        unknown = sorted(set(settings) - set(_SETTING_NAMES))
        if unknown:
            raise TypeError(f"edgebench.bench() got unknown settings {unknown}; "
                            f"known: {', '.join(_SETTING_NAMES)}")
        address = target or self._config.getoption("edgebench_target") or "local"
        path = Path(model)
        if not path.is_absolute():
            path = Path(self._request.path).parent / path if not path.exists() else path
        base = BenchSettings()
        for name in ("runs", "repeats"):
            value = self._config.getoption(f"edgebench_{name}")
            if value is not None:
                base = replace(base, **{name: value})
        history = self._config.getoption("edgebench_history")
        run = f"{_slug(self._request.node.name)}-{len(self.results) + 1}"
        (res,) = api.bench_models(
            [path], address, replace(base, **settings), out=self.out, run=run,
            history=history, record_history=history is not None,
            target_options={address: dict(target_options or {})},
            progress=lambda _line: None,
        )
        self.results.append(res)
        (rec,) = res.records
        _to_pytest_benchmark(self._request, res, rec)
        if check and not rec.ok:
            pytest.fail(f"edgebench: {path.name} on {address}: {rec.status}: {rec.error}",
                        pytrace=False)
        return rec

    # ----------------------------------------------------------------- side by side

    def ab(self, base: str | Path, current: str | Path, target: str | None = None,
           **settings: Any) -> PairResult:
        """Measure two ``.tflite`` files side by side (:func:`edgebench.api.ab`) on ``target``
        (default ``--edgebench-target``, else local) and return the pair's verdict
        (``.verdict``, ``.ratio``, ``.ci``). ``settings`` are :class:`AbSettings` fields
        (``measure``, ``threshold``, ``budget_s``, …)."""
        address = target or self._config.getoption("edgebench_target") or "local"
        paths = [p if Path(p).exists() else Path(self._request.path).parent / p
                 for p in (base, current)]
        s = AbSettings(**{**settings, "target": address})
        report = api.ab(paths[0], paths[1], settings=s, progress=lambda _line: None)
        return report.results[0]

    # ----------------------------------------------------------------- budgets

    def gate(self, budgets: str | Path, against: Any = None) -> GateReport:
        """Hold every model this test benched to a budgets file (relative to the test file)."""
        if not self.results:
            raise EdgebenchError("nothing benched in this test yet: call edgebench.bench first")
        return api.gate(self.results, self._budgets_path(budgets), against=against)

    def assert_budgets(self, budgets: str | Path) -> GateReport:
        """:meth:`gate`, failing the test with the broken checks when one is broken."""
        report = self.gate(budgets)
        if not report.passed:
            pytest.fail(format_report(report, failures_only=True), pytrace=False)
        return report

    def _budgets_path(self, budgets: str | Path) -> Path:
        path = Path(budgets)
        if path.is_absolute() or path.exists():
            return path
        return Path(self._request.path).parent / path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:60] or "test"


@pytest.fixture
def edgebench(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> EdgebenchFixture:
    """Bench TFLite models on a target from a test: ``edgebench.bench("m.tflite")``."""
    fixture = EdgebenchFixture(request, tmp_path_factory.mktemp("edgebench", numbered=True))
    request.node._edgebench_fixture = fixture
    return fixture


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """``@pytest.mark.edgebench_budgets(path)`` and ``--edgebench-budgets PATH``: after the test
    body passes, its benches are held to the budgets file, and a broken budget fails the test
    (not its teardown)."""
    result = yield
    fixture = getattr(item, "_edgebench_fixture", None)
    if fixture is None or not fixture.results:
        return result
    marker = item.get_closest_marker("edgebench_budgets")
    if marker is not None:
        path = marker.args[0] if marker.args else marker.kwargs.get("path")
        if path is None:
            raise pytest.UsageError("edgebench_budgets needs the budgets file: "
                                    '@pytest.mark.edgebench_budgets("budgets.toml")')
        fixture.assert_budgets(path)
    option = item.config.getoption("edgebench_budgets")
    if option:
        fixture.assert_budgets(Path(option).resolve())
    return result


# --------------------------------------------------------------------------- pytest-benchmark


class _Source:
    """What pytest-benchmark's Metadata reads from a fixture: names, group, extra info."""

    def __init__(self, name: str, fullname: str, group: str, extra_info: dict) -> None:
        self.name, self.fullname, self.group = name, fullname, group
        self.param, self.params = None, None
        self.extra_info = extra_info
        self.cprofile_stats = None
        self.has_error = False


def _to_pytest_benchmark(request: pytest.FixtureRequest, res: Results, rec: Record) -> None:
    """Add one bench to pytest-benchmark's session, when that plugin is active and enabled."""
    session = getattr(request.config, "_benchmarksession", None)
    if session is None or session.disabled or not rec.ok or not rec.samples_us:
        return
    # Lazy: pytest-benchmark is optional; this runs only when its session exists.
    from pytest_benchmark.stats import Metadata

    node = request.node
    label = f"{rec.variant}@{res.target}"
    source = _Source(
        name=f"{node.name}[{label}]",
        fullname=f"{node.nodeid}[{label}]",
        group=f"edgebench {res.target}",
        extra_info={"target": res.target, "variant": rec.variant, "zip_bytes": rec.zip_bytes,
                    "peak_rss_mb": rec.rss_mb.peak if rec.rss_mb else None,
                    "model_rss_mb": rec.rss_mb.model if rec.rss_mb else None,
                    "processes": int(rec.extra.get("repeats", 1)),
                    "runtime": f"{rec.runtime_name} {rec.runtime_version}"},
    )
    meta = Metadata(source, iterations=1, options={
        "disable_gc": False, "timer": "perf_counter_ns (edgebench runner, on the target)",
        "min_rounds": res.settings.runs, "max_time": None, "min_time": None,
        "warmup": res.settings.warmup,
    })
    for us in rec.samples_us:
        meta.stats.update(us / 1e6)
    session.benchmarks.append(meta)
