"""The gate's JUnit XML, read the way CI tools read it (junitparser): a <testsuites> root, one
suite per target with its run, device and runtime as properties, safe classnames, a time on
every case, failures as failures and undecided checks as skipped."""

from __future__ import annotations

from dataclasses import replace

import pytest
from history_helpers import DEVICE, PI, make_record, make_results
from junitparser import Failure, JUnitXml, Skipped

from edgebench.bench.judgement.budgets import load_budgets
from edgebench.bench.judgement.gate import evaluate
from edgebench.bench.outputs.junit import junit_classname, write_junit

BUDGETS = """
schema_version = 1
[budgets."*"]
max_zip_bytes = 15000
max_peak_rss_mb = 100
max_latency_regression = "10%"
"""


@pytest.fixture
def gate_xml(tmp_path):
    """A local run where one variant breaks its size budget, and a Pi run where one variant is
    incompatible with the Pi's runtime (its budgets are not checked)."""
    (tmp_path / "b.toml").write_text(BUDGETS)
    budgets = load_budgets(tmp_path / "b.toml")
    local = make_results("run02", [make_record("small/int8", zip_bytes=9000),
                                   make_record("big/float32", zip_bytes=20000)])
    local = replace(local, edgebench_version="0.9.0", device=replace(DEVICE, hostname="ci.lab"))
    incompatible = replace(make_record("small/dynamic"), status="incompatible",
                           error="incompatible: needs operator FULLY_CONNECTED version 12",
                           latency_us=None, samples_us=(), rss_mb=None)
    pi = make_results("run02", [make_record("small/int8", zip_bytes=9000), incompatible],
                      target="ssh://pi@raspberrypi.local:2222", device=PI)
    report = evaluate(budgets, [local, pi])
    path = tmp_path / "gate.xml"
    write_junit(report, path)
    return path, report


def test_junit_parses_with_a_testsuites_root_and_totals(gate_xml):
    path, report = gate_xml
    xml = JUnitXml.fromfile(str(path))
    assert xml._tag == "testsuites"
    suites = list(xml)
    assert [s.name for s in suites] == ["edgebench gate: local",
                                        "edgebench gate: ssh://pi@raspberrypi.local:2222"]
    assert xml.tests == len(report.checks) == 8
    assert xml.failures == 1 and xml.skipped == 2 and xml.errors == 0


def test_failures_and_skipped_checks(gate_xml):
    path, _ = gate_xml
    cases = {(s.name.split(": ")[1], c.name): c for s in JUnitXml.fromfile(str(path)) for c in s}
    (failure,) = cases[("local", "big/float32 zip_bytes")].result
    assert isinstance(failure, Failure) and "zip_bytes 20,000 <= 15,000" in failure.message
    pi = "ssh://pi@raspberrypi.local:2222"
    for metric in ("zip_bytes", "peak_rss_mb"):
        (skipped,) = cases[(pi, f"small/dynamic {metric}")].result
        assert isinstance(skipped, Skipped)
        assert skipped.message.startswith("not checked: incompatible")
    assert cases[(pi, "small/int8 zip_bytes")].is_passed


def test_classnames_have_no_dots_in_the_host_and_every_case_has_a_time(gate_xml):
    path, _ = gate_xml
    classnames = {c.classname for s in JUnitXml.fromfile(str(path)) for c in s}
    assert classnames == {"local.ci_lab", "ssh.raspberrypi_local_2222"}
    for suite in JUnitXml.fromfile(str(path)):
        times = [c.time for c in suite]
        assert all(t is not None and t >= 0 for t in times)
        assert suite.time == pytest.approx(sum(times), abs=0.01)
    local = next(iter(JUnitXml.fromfile(str(path))))
    # make_record measured each model in 1.5 s; its two checks share it
    assert [c.time for c in local] == [0.75, 0.75, 0.75, 0.75]


def test_properties_name_the_run_target_device_and_runtime(gate_xml):
    path, _ = gate_xml
    local, pi = list(JUnitXml.fromfile(str(path)))
    props = {p.name: p.value for p in local.properties()}
    assert props["run_id"] == "run02" and props["target"] == "local"
    assert props["git_commit"] == "0123456789abcdef" and props["edgebench_version"] == "0.9.0"
    assert props["device.hostname"] == "ci.lab" and props["runtime"] == "ai-edge-litert 2.3.0"
    assert props["settings.repeats"] == "5"
    pi_props = {p.name: p.value for p in pi.properties()}
    assert pi_props["runtime"] == "tflite-runtime 2.14.0"
    assert pi_props["device"].startswith("raspberrypi (aarch64, Cortex-A72, 4 cores)")


def test_an_inconclusive_latency_regression_is_skipped_not_passed(tmp_path):
    (tmp_path / "b.toml").write_text(BUDGETS)
    base = make_results("run01", [make_record("m", 100.0, seed=1, processes=1)])
    cur = make_results("run02", [make_record("m", 150.0, seed=2, processes=1)])
    report = evaluate(load_budgets(tmp_path / "b.toml"), [cur], against=[base])
    write_junit(report, tmp_path / "g.xml")
    cases = {c.name: c for s in JUnitXml.fromfile(str(tmp_path / "g.xml")) for c in s}
    (skipped,) = cases["m latency_p50_change_vs_base"].result
    assert isinstance(skipped, Skipped) and "one process per side" in skipped.message
    assert report.passed


@pytest.mark.parametrize("target, hostname, expected", [
    ("ssh://pi@raspberrypi.local", None, "ssh.raspberrypi_local"),
    ("ssh://[::1]:2200", None, "ssh.1_2200"),
    ("adb://R58M12ABCDE", None, "adb.R58M12ABCDE"),
    ("adb://192.168.1.5:5555", None, "adb.192_168_1_5_5555"),
    ("adb://", None, "adb.default"),
    ("local", "bench-box.example.org", "local.bench-box_example_org"),
    ("local", None, "local"),
])
def test_junit_classname(target, hostname, expected):
    res = make_results("r01", target=target, device=replace(DEVICE, hostname=hostname))
    assert junit_classname(res) == expected
