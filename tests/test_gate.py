"""The gate: budget rules as small check objects, one verdict, JUnit XML."""

from xml.etree import ElementTree as ET

import pytest

from edgebench.bench.judgement.budgets import load_budgets
from edgebench.bench.judgement.gate import evaluate
from edgebench.bench.outputs.gate_table import format_report
from edgebench.bench.outputs.junit import write_junit
from edgebench.errors import ConfigError
from edgebench.records import BenchSettings, DeviceInfo, LatencyStats, Record, Results, RssMb


def rec(variant, zip_bytes, accuracy, p90_ns=5000, peak=40.0, status="ok"):
    return Record(
        variant=variant,
        model_path=f"/{variant}.tflite",
        status=status,
        error=None if status == "ok" else "boom",
        zip_bytes=zip_bytes,
        accuracy=accuracy,
        latency_us=LatencyStats.from_samples([p90_ns] * 3) if status == "ok" else None,
        rss_mb=RssMb(30.0, 35.0, peak) if status == "ok" else None,
    )


def results(*records):
    return Results(
        run_id="r", created_at="t", target="local", manifest=None, host=DeviceInfo(),
        device=DeviceInfo(), settings=BenchSettings(), git_commit=None, records=records,
    )


def budgets(tmp_path, text):
    p = tmp_path / "budgets.toml"
    p.write_text(text)
    return load_budgets(p)


BUDGETS = """
schema_version = 1
baseline = "baseline/float32"
[budgets."*/int8"]
max_zip_bytes = 10000
[budgets."*"]
max_accuracy_drop = 0.02
max_latency_p90_us = 100
max_peak_rss_mb = 50
"""


def test_all_pass(tmp_path):
    b = budgets(tmp_path, BUDGETS)
    r = results(rec("baseline/float32", 80000, 0.90), rec("pruned/int8", 8000, 0.89))
    report = evaluate(b, [r])
    assert report.passed
    assert len(report.checks) == 3 + 4  # baseline: 3 rules from "*"; int8: 1 + 3
    assert "gate: PASSED" in format_report(report)


def test_every_failure_is_collected(tmp_path):
    b = budgets(tmp_path, BUDGETS)
    r = results(
        rec("baseline/float32", 80000, 0.90),
        rec("pruned/int8", 12000, 0.85, p90_ns=200_000, peak=60.0),
    )
    report = evaluate(b, [r])
    failed = {(c.variant, c.metric) for c in report.failures}
    assert failed == {
        ("pruned/int8", "zip_bytes"),
        ("pruned/int8", "accuracy_drop"),
        ("pruned/int8", "latency_p90_us"),
        ("pruned/int8", "peak_rss_mb"),
    }
    text = format_report(report)
    assert "FAIL" in text and "zip_bytes 12,000 <= 10,000" in text
    assert "gate: FAILED, 4 of 7 checks failed" in text


def test_failed_record_fails_its_checks(tmp_path):
    b = budgets(tmp_path, '[budgets."*"]\nmin_accuracy = 0.5\n')
    report = evaluate(b, [results(rec("m", 1, None, status="failed"))])
    assert not report.passed and "did not run" in report.failures[0].describe()


def test_missing_baseline_is_an_input_error(tmp_path):
    b = budgets(tmp_path, '[budgets."*"]\nmax_accuracy_drop = 0.01\n')
    with pytest.raises(ConfigError, match="baseline 'baseline/float32', which is not in"):
        evaluate(b, [results(rec("pruned/int8", 1, 0.9))])


def test_baseline_without_accuracy_fails_accuracy_drop(tmp_path):
    b = budgets(tmp_path, '[budgets."pruned/*"]\nmax_accuracy_drop = 0.01\n')
    report = evaluate(b, [results(rec("baseline/float32", 1, None), rec("pruned/int8", 1, 0.9))])
    assert not report.passed and "no baseline/float32 accuracy" in report.failures[0].describe()


def test_incompatible_records_are_left_to_require_compatible(tmp_path):
    b = budgets(tmp_path, '[budgets."*"]\nmax_zip_bytes = 100\n')
    inc = Record(variant="pruned/dynamic", model_path="/m", status="incompatible",
                 error="incompatible: needs FULLY_CONNECTED version 12")
    report = evaluate(b, [results(rec("pruned/int8", 50, 0.9), inc)])
    assert report.passed
    assert "not checked: incompatible" in report.checks[1].describe()


def test_junit_xml(tmp_path):
    b = budgets(tmp_path, BUDGETS)
    r = results(rec("baseline/float32", 80000, 0.90), rec("pruned/int8", 12000, 0.89))
    out = tmp_path / "gate.xml"
    write_junit(evaluate(b, [r]), out)
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "7" and root.get("failures") == "1"
    (suite,) = root.iter("testsuite")
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["pruned/int8 zip_bytes"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("[budgets.\"*\"]\nmax_zip_byte = 3\n", "did you mean 'max_zip_bytes'"),
        ("[budgets.\"*\"]\nmax_zip_bytes = \"big\"\n", "must be a number"),
        ("budget = 1\n", "unknown key 'budget'"),
        ("[budgets\n", "not valid TOML"),
        ("schema_version = 9\n[budgets.\"*\"]\nmin_accuracy = 0.1\n", "schema_version 9"),
        ("schema_version = 1\n", "has no [budgets"),
        ("[budgets.\"*\"]\nmin_accuracy = 62\n", "fraction in [0, 1]"),
        ("[budgets.\"*\"]\nmax_zip_bytes = -5\n", "must be > 0"),
        ("baseline = 3\n[budgets.\"*\"]\nmin_accuracy = 0.5\n", "baseline must be a variant"),
    ],
)
def test_bad_budgets_files_name_the_fix(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("*", r"\*")):
        budgets(tmp_path, text)


def test_pattern_that_matches_nothing_is_an_error(tmp_path):
    b = budgets(tmp_path, '[budgets."prunde/*"]\nmin_accuracy = 0.5\n')
    with pytest.raises(ConfigError, match="matches no variant"):
        evaluate(b, [results(rec("pruned/int8", 1, 0.9))])


def test_same_limit_from_two_patterns_is_one_check(tmp_path):
    b = budgets(tmp_path, '[budgets."*/int8"]\nmin_accuracy = 0.5\n'
                          '[budgets."pruned/*"]\nmin_accuracy = 0.5\n')
    report = evaluate(b, [results(rec("pruned/int8", 1, 0.9))])
    assert len(report.checks) == 1


def test_failures_only_view(tmp_path):
    b = budgets(tmp_path, '[budgets."*"]\nmax_zip_bytes = 10\n')
    report = evaluate(b, [results(rec("a", 5, 0.9), rec("b", 50, 0.9))])
    text = format_report(report, failures_only=True)
    assert "FAIL" in text and "PASS" not in text and "1 of 2 checks failed" in text


def test_failures_only_view_of_a_pass_is_just_the_verdict(tmp_path):
    b = budgets(tmp_path, '[budgets."*"]\nmax_zip_bytes = 10\n')
    report = evaluate(b, [results(rec("a", 5, 0.9))])
    assert format_report(report, failures_only=True) == "gate: PASSED, 1 check"


def test_regression_rule_without_raw_samples_uses_the_summary_median(tmp_path):
    """adb's benchmark_model reports summaries only: same median passes, 2x slower fails."""
    from edgebench.records import LatencyStats as LS

    def adb_run(p50):
        r = Record(variant="pruned/int8", model_path="/m", status="ok", zip_bytes=10,
                   latency_us=LS.from_summary(n=50, mean=p50, p50=p50))
        return replace_target(results(r), "adb://R58M")

    b = budgets(tmp_path, '[budgets."*"]\nmax_latency_regression = "10%"\n')
    same = evaluate(b, [adb_run(100.0)], against=[adb_run(100.0)])
    assert same.passed and "summary medians, no test" in same.checks[0].describe()
    slower = evaluate(b, [adb_run(200.0)], against=[adb_run(100.0)])
    assert not slower.passed


def replace_target(res, target):
    import dataclasses

    return dataclasses.replace(res, target=target)
