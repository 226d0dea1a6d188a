"""gate --against BASE: regression rules beside the budgets, same output, exit status and JUnit."""

from __future__ import annotations

from dataclasses import replace
from xml.etree import ElementTree as ET

import pytest
from history_helpers import DEVICE, make_record, make_results

from edgebench.bench.judgement.budgets import load_budgets
from edgebench.cli import main
from edgebench.errors import ConfigError

RULES = """
schema_version = 1
[budgets."*"]
max_zip_bytes = 100000
max_latency_regression = "50%"
max_zip_growth_bytes = 0
max_accuracy_drop_vs_base = 0.005
max_peak_rss_growth = "10%"
"""


def write_run(folder, name, records, device=DEVICE):
    d = folder / name
    d.mkdir()
    make_results(name, records, device=device).save(d / "results-local.json")
    return d


@pytest.fixture
def runs(tmp_path):
    base = write_run(
        tmp_path,
        "base",
        [
            make_record("a", 100.0, 10_000, 0.90, seed=1),
            make_record("b", 50.0, 5_000, 0.80, seed=2),
        ],
    )
    cur = write_run(
        tmp_path,
        "cur",
        [
            make_record("a", 300.0, 10_000, 0.90, seed=3),
            make_record("b", 51.0, 5_040, 0.79, peak_mb=60.0, seed=4),
            make_record("c", 10.0, 1_000, 0.70, seed=5),
        ],
    )
    (tmp_path / "budgets.toml").write_text(RULES)
    return tmp_path, base, cur


def test_regression_rules_fail_like_budgets_with_junit(runs, capsys):
    root, base, cur = runs
    argv = [
        "gate",
        str(cur),
        "--budgets",
        str(root / "budgets.toml"),
        "--against",
        str(base),
        "--junit",
        str(root / "gate.xml"),
    ]
    assert main(argv) == 1
    out = capsys.readouterr().out
    fails = sorted(line.split()[2:4] for line in out.splitlines() if line.startswith("FAIL"))
    assert fails == [
        ["a", "latency_p50_change_vs_base"],
        ["b", "accuracy_drop_vs_base"],
        ["b", "peak_rss_change_vs_base"],
        ["b", "zip_bytes_growth_vs_base"],
    ], out
    assert "zip_bytes_growth_vs_base 40 <= 0 B" in out
    assert "peak_rss_change_vs_base +20.0% <= 10%" in out
    assert "(not in the base run; nothing to compare)" in out  # c is new: passes, says why
    assert "gate: FAILED, 4 of" in out
    suite = ET.parse(root / "gate.xml").getroot()
    assert suite.tag == "testsuites" and suite.get("failures") == "4"
    names = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert "a latency_p50_change_vs_base" in names


def test_without_against_the_regression_rules_are_skipped_and_said(runs, capsys):
    root, _base, cur = runs
    assert main(["gate", str(cur), "--budgets", str(root / "budgets.toml")]) == 0
    captured = capsys.readouterr()
    assert "regression" not in captured.out
    assert "4 regression rules skipped; pass --against BASE" in captured.err


def test_against_a_run_from_another_device_is_refused(runs, capsys):
    root, _base, cur = runs
    pi = write_run(root, "pi", [make_record("a")], device=replace(DEVICE, hostname="pi"))
    argv = ["gate", str(cur), "--budgets", str(root / "budgets.toml"), "--against", str(pi)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not comparable" in err


def test_against_needs_regression_rules(runs, capsys):
    root, base, cur = runs
    plain = root / "plain.toml"
    plain.write_text('[budgets."*"]\nmax_zip_bytes = 100000\n')
    assert main(["gate", str(cur), "--budgets", str(plain), "--against", str(base)]) == 2
    assert "max_latency_regression" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max_latency_regression = 10", 'percentage string such as "10%"'),
        ('max_latency_regression = "ten%"', 'percentage string such as "10%"'),
        ('max_zip_growth_bytes = "0"', "must be a number"),
        ('max_latency_regresion = "10%"', "did you mean 'max_latency_regression'"),
    ],
)
def test_bad_regression_rules_name_the_fix(tmp_path, line, message):
    path = tmp_path / "b.toml"
    path.write_text(f'[budgets."*"]\n{line}\n')
    with pytest.raises(ConfigError, match=message):
        load_budgets(path)


def test_gate_help_names_against(capsys):
    with pytest.raises(SystemExit):
        main(["gate", "--help"])
    out = capsys.readouterr().out
    assert "--against" in out and "max_latency_regression" in out
