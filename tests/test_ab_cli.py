"""``edgebench ab`` and ``--rebench`` on the command line: the refusals (one line, exit 2), the
JSON shape, Ctrl-C, and the SSH target. Verdicts on live timing are never asserted here (see
tests/test_ab_stats.py and tests/test_ab_engine.py for recorded ones)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from adb_standin import ADDRESS
from history_helpers import DEVICE, FIXTURES, make_record, make_results

from edgebench.bench.judgement.ab_result import AbPair
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.judgement.ab_stats import MIN_ROUNDS
from edgebench.bench.judgement.compare_settings import Verdict
from edgebench.bench.judgement.history import append_results, open_history
from edgebench.bench.orchestration import ab_instructions
from edgebench.bench.orchestration.ab import run_ab
from edgebench.deploy import SshTarget

CONV5, CONV6 = FIXTURES / "conv5_float32.tflite", FIXTURES / "conv6_float32.tflite"


def test_help_names_the_verdicts_and_the_measures(cli) -> None:
    done = cli("ab", "--help")
    assert done.code == 0
    for word in ("ABBA", "--measure", "instructions", "--budget-s", "--fail-on-regression",
                 "inconclusive", "130"):
        assert word in done.out
    assert "--rebench" in cli("compare", "--help").out
    assert "--rebench" in cli("gate", "--help").out


@pytest.mark.parametrize(("args", "fragments"), [
    ((FIXTURES / "not_a_model.tflite", CONV6), ("not_a_model.tflite fails to load",)),
    ((FIXTURES / "missing.tflite", CONV6), ("missing.tflite", "pass a .tflite file")),
    ((CONV5, CONV6, "--budget-s", "1"), ("--budget-s 1 is too small for one round",)),
    ((CONV5, CONV6, "--measure", "instructions", "--target", "adb://X"),
     ("--measure instructions", "adb")),
    ((CONV5, CONV6, "--measure", "instructions", "--budget-s", "30"),
     ("too small for one round", "instructions")),
])
def test_bad_input_is_one_line(cli, args, fragments) -> None:
    cli("ab", *args).error_line(*fragments)


def test_instructions_without_valgrind_names_the_install(cli, monkeypatch) -> None:
    monkeypatch.setattr(ab_instructions.shutil, "which", lambda _name: None)
    cli("ab", CONV5, CONV6, "--measure", "instructions").error_line(
        "needs valgrind", "apt-get install valgrind")


def two_runs(tmp_path: Path, device=DEVICE) -> Path:
    path = tmp_path / "history.sqlite"
    for run_id, model, dev in (("run01", CONV5, DEVICE), ("run02", CONV6, device)):
        rec = replace(make_record("conv"), model_path=str(model))
        append_results(path, [replace(make_results(run_id, [rec]), device=dev, host=dev)])
    return path


def test_a_history_run_whose_files_were_collected_is_named(cli, tmp_path) -> None:
    path = two_runs(tmp_path)
    with open_history(path) as h:
        h.gc(bound_mb=0)
    cli("ab", "run01", CONV6, "--history", path).error_line(
        "run01", "collected by edgebench history gc", "can no longer be re-measured")
    cli("compare", "run01", "run02", "--rebench", "--history", path).error_line("run01")


def test_rebench_against_another_device_is_refused_as_compare_refuses(cli, tmp_path) -> None:
    path = two_runs(tmp_path, device=replace(DEVICE, hostname="other-box"))
    plain = cli("compare", "run01", "run02", "--history", path).error_line()
    assert cli("compare", "run01", "run02", "--rebench", "--history", path).error_line() == plain


def test_ab_prints_json_shaped_like_compare(cli) -> None:
    done = cli("ab", CONV5, CONV6, "--format", "json", "--max-rounds", "12")
    assert done.code == 0, done.err
    doc = json.loads(done.out)
    assert doc["kind"] == "ab" and doc["schema_version"] == 1
    (variant,) = doc["comparisons"][0]["variants"]
    assert set(variant) >= {"latency_verdict", "ratio", "ci", "rounds", "measure", "wall_s"}
    assert variant["measure"] == "time" and variant["rounds"] == 12
    assert variant["ci"][0] <= variant["ratio"] <= variant["ci"][1]
    assert "ab conv6_float32: 4 rounds" in done.err  # the progress lines


def runners_of(model: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "ab" in cmd and str(model) in " ".join(cmd):
            found.append(p)
    return found


def test_ctrl_c_exits_130_reports_inconclusive_and_leaves_no_runner(tmp_path) -> None:
    copy = tmp_path / "copy.tflite"
    shutil.copyfile(CONV5, copy)
    # a file against its copy with a band no interval can settle in: it never decides
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgebench", "ab", str(CONV5), str(copy), "--threshold",
         "0.000001", "--budget-s", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stderr is not None
    for line in proc.stderr:
        if "rounds" in line:  # a runner process has finished: the next one is running
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "inconclusive" in out and "interrupted" in out
    assert "Traceback" not in err
    assert runners_of(copy) == []


def test_ab_over_ssh_measures_on_the_device(sshd) -> None:
    with SshTarget(sshd.address, python=sys.executable, **sshd.options()) as t:
        report = run_ab([AbPair("conv", CONV5, CONV6)], AbSettings(max_rounds=12), target=t)
    (r,) = report.results
    assert r.rounds == 12 and r.verdict in set(Verdict)
    assert sshd.leftovers() == []


def test_ab_on_a_phone_runs_benchmark_model_in_abba_rounds(phone, arm64_binary) -> None:
    """The stand-in adb replays one captured benchmark_model output for every process, so the
    two models time alike: a file against itself is the same after the minimum rounds."""
    report = run_ab([AbPair("tiny", CONV5, CONV6)], AbSettings(
        target=ADDRESS, benchmark_binary=str(arm64_binary)))
    (r,) = report.results
    assert report.device.hostname == "Pixel 6"
    assert r.verdict is Verdict.SAME and r.rounds == MIN_ROUNDS and r.ratio == 1.0
    assert phone.leftovers() == ["data", "data/local", "data/local/tmp"]  # edgebench/ is gone


def test_instructions_on_a_phone_are_refused(cli, phone) -> None:
    cli("ab", CONV5, CONV6, "--measure", "instructions", "--target", ADDRESS).error_line(
        "adb", "--measure time")


def test_the_pytest_fixture_measures_side_by_side(edgebench) -> None:
    r = edgebench.ab(CONV5, CONV6, max_rounds=12)
    assert r.measure == "time" and r.rounds == 12 and r.pair.name == "conv6_float32"


def test_gate_against_a_history_run_with_rebench_judges_latency_side_by_side(cli, tmp_path):
    """The records say the current model is 3x slower; --rebench re-measures both files (a
    file against itself here), so the latency rule reads the side-by-side interval instead."""
    path = tmp_path / "history.sqlite"
    base = make_results("run01", [replace(make_record("conv", 100.0), model_path=str(CONV5))])
    append_results(path, [base])
    current = make_results("run02", [replace(make_record("conv", 300.0), model_path=str(CONV5))])
    current.save(tmp_path / "results-local.json")
    (tmp_path / "budgets.toml").write_text(
        'schema_version = 1\n[budgets."*"]\nmax_latency_regression = "50%"\n')
    records = cli("gate", tmp_path / "results-local.json", "--budgets", tmp_path / "budgets.toml",
                  "--against", "run01", "--history", path, "--format", "json")
    assert records.code == 1  # 3x slower by the records
    done = cli("gate", tmp_path / "results-local.json", "--budgets", tmp_path / "budgets.toml",
               "--against", "run01", "--rebench", "--history", path, "--format", "json")
    (check,) = [c for c in json.loads(done.out)["checks"] if "latency" in c["check"]]
    assert "side by side" in check["reason"] and "rounds of time" in check["reason"]
