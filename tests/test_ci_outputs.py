"""What a CI step reads: exit codes (compare --fail-on-regression), --format json|csv|markdown,
pytest-benchmark's JSON format, and the commit of the user's code in results and history."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest
from history_helpers import FIXTURES, TINY, make_record, make_results, write_history
from manifest_helpers import tiny_manifest

from edgebench.bench.judgement.history import append_results
from edgebench.bench.judgement.history_schema import HISTORY_SCHEMA_VERSION, _create_v1
from edgebench.bench.outputs.export import OUTPUT_SCHEMA_VERSION
from edgebench.records import RESULTS_SCHEMA_VERSION, Results

HEAVY = FIXTURES / "heavy_float32.tflite"


@pytest.fixture(autouse=True)
def no_ci_commit(monkeypatch):
    """The commit variables of the CI that runs these tests must not leak into them."""
    for name in ("GITHUB_SHA", "CI_COMMIT_SHA"):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- exit codes


@pytest.fixture(scope="module")
def heavier(tmp_path_factory):
    """m.tflite benched twice with the default repeats (5 processes, 30 timed runs each to keep
    the 1 ms model quick): the tiny int8 model, then the float32 model under the same name,
    ~28x slower (its zip bytes are SMALLER, so only latency can tell); then night3, night2's
    measurements landed in the history again: a rerun that measured exactly the same.

    night3 is not benched again on purpose: two benches of the same model on a busy machine
    have differed by up to 4.3x (tests/test_ci_examples.py), so whether a real rerun comes out
    "same" is up to the machine, not to compare."""
    root = tmp_path_factory.mktemp("heavier")
    out = root / "out"
    for run, src in (("night1", TINY[2]), ("night2", HEAVY)):
        folder = root / run
        folder.mkdir()
        shutil.copy(src, folder / "m.tflite")
        code = subprocess.run(
            [sys.executable, "-m", "edgebench", "bench", str(folder / "m.tflite"), "--run", run,
             "--runs", "30", "--out", str(out)], capture_output=True, text=True, timeout=900,
        )
        assert code.returncode == 0, code.stderr
    night2 = Results.load(out / "night2" / "results-local.json")
    append_results(out / "history.sqlite", [dataclasses.replace(night2, run_id="night3")])
    return out


def test_fail_on_regression_exits_1_on_the_heavier_model(heavier, cli):
    proc = cli("compare", "night1", "night2", "--out", heavier, "--fail-on-regression",
               "--format", "json")
    assert proc.code == 1, proc.err
    doc = json.loads(proc.out)
    (row,) = doc["comparisons"][0]["variants"]
    assert row["zip_delta_bytes"] < 0  # smaller file: only the latency verdict can catch it
    assert row["latency_verdict"] == "slower" and row["regressed_metrics"] == ["latency"]
    assert row["processes_base"] == row["processes_current"] == 5  # the default repeats
    assert row["ci95_low"] > 1.0 and row["floor"] >= 0.25
    assert doc["regressed"] == [{"target": "local", "variant": "m",
                                 "key": "m@threads=1,xnnpack=on"}]
    assert "--fail-on-regression" in proc.err
    # without the flag the same comparison reports and exits 0, as before
    assert cli("compare", "night1", "night2", "--out", heavier).code == 0


def test_fail_on_regression_exits_0_on_a_rerun_that_measured_the_same(heavier, cli):
    proc = cli("compare", "--out", heavier, "--fail-on-regression")  # night3 against night2
    assert proc.code == 0, proc.out + proc.err
    assert "base     night2" in proc.out and "current  night3" in proc.out
    assert "no regressions in 1 variants" in proc.out
    assert "spread: processes on this device stray" in proc.out


# --------------------------------------------------------------------------- --format


@pytest.fixture
def history_file(tmp_path):
    path = tmp_path / "h.sqlite"
    write_history(path, n_runs=3)
    return path


def test_history_formats(cli, history_file):
    doc = json.loads(cli("history", "--history", history_file, "--format", "json").out)
    assert doc["schema_version"] == OUTPUT_SCHEMA_VERSION and doc["kind"] == "history"
    assert len(doc["runs"]) == 6 and doc["runs"][0]["records"] == 5
    rows = list(csv.DictReader(io.StringIO(cli("history", "--history", history_file,
                                               "--format", "csv").out)))
    assert len(rows) == 6 and rows[0]["git_commit"] == "0123456789abcdef"
    md = cli("history", "--history", history_file, "--format", "markdown").out.splitlines()
    assert md[0].startswith("| bench | run |") and md[1].startswith("|---") and len(md) == 8


def test_compare_formats(cli, history_file):
    doc = json.loads(cli("compare", "--history", history_file, "--format", "json").out)
    assert doc["schema_version"] == OUTPUT_SCHEMA_VERSION and doc["kind"] == "compare"
    assert {c["target"] for c in doc["comparisons"]} == {"local", "ssh://pi"}
    assert {r["variant"] for r in doc["regressed"]} == {"pruned50/int8"}
    slow = next(v for c in doc["comparisons"] for v in c["variants"]
                if v["variant"] == "pruned50/int8")
    assert slow["latency_verdict"] == "slower" and slow["p50_ratio"] > 2.5
    assert slow["ci95_low"] <= slow["p50_ratio"] <= slow["ci95_high"]
    rows = list(csv.DictReader(io.StringIO(
        cli("compare", "--history", history_file, "--format", "csv").out)))
    assert len(rows) == 10 and {r["latency_verdict"] for r in rows} >= {"slower", "same"}
    md = cli("compare", "--history", history_file, "--format", "markdown").out
    assert "| variant |" in md and "**1 regressed**: `pruned50/int8`" in md


def test_gate_formats(cli, tmp_path):
    res = make_results("run01", [make_record("a/int8", zip_bytes=900),
                                 make_record("b/int8", zip_bytes=1100)])
    res.save(tmp_path / "results-local.json")
    budgets = tmp_path / "b.toml"
    budgets.write_text('schema_version = 1\n[budgets."*"]\nmax_zip_bytes = 1000\n')
    argv = ["gate", tmp_path / "results-local.json", "--budgets", budgets]
    proc = cli(*argv, "--format", "json")
    assert proc.code == 1
    doc = json.loads(proc.out)
    assert doc["kind"] == "gate" and doc["passed"] is False and doc["checks_failed"] == 1
    assert [c["status"] for c in doc["checks"]] == ["PASS", "FAIL"]
    assert doc["checks"][1] == {"status": "FAIL", "target": "local", "variant": "b/int8",
                                "check": "zip_bytes", "value": 1100, "op": "<=",
                                "limit": 1000, "reason": None}
    rows = list(csv.DictReader(io.StringIO(cli(*argv, "--format", "csv").out)))
    assert [r["status"] for r in rows] == ["PASS", "FAIL"]
    assert cli(*argv, "--format", "markdown").out.rstrip().endswith(
        "**gate: FAILED**, 1 of 2 checks failed")


def test_bench_summary_as_json_and_csv(cli, tmp_path):
    proc = cli("bench", TINY[0], TINY[2], "--runs", "5", "--repeats", "3", "--out", tmp_path,
               "--run", "r", "--format", "json")
    assert proc.code == 0, proc.err
    doc = json.loads(proc.out)
    assert doc["kind"] == "summary" and doc["schema_version"] == OUTPUT_SCHEMA_VERSION
    (res,) = doc["results"]
    assert [r["variant"] for r in res["records"]] == ["tiny_float32", "tiny_int8"]
    assert all(r["processes"] == 3 and r["p50_us"] > 0 for r in res["records"])
    csv_out = cli("bench", TINY[0], "--runs", "5", "--repeats", "1", "--out", tmp_path,
                  "--run", "c", "--format", "csv").out
    (row,) = csv.DictReader(io.StringIO(csv_out))
    assert row["variant"] == "tiny_float32" and int(row["zip_bytes"]) > 0


@pytest.mark.parametrize("command", ["history", "compare", "gate", "bench x.tflite", "run"])
def test_an_unknown_format_is_refused(cli, command):
    proc = cli(*command.split(), "--format", "yaml")
    assert proc.code == 2
    assert "expected one of table, json, csv, markdown; got 'yaml'" in proc.err


# --------------------------------------------------------------------------- pytest-benchmark


def test_pytest_benchmark_json_is_read_by_pytest_benchmark_compare(cli, tmp_path):
    files = []
    for run in ("a", "b"):
        path = tmp_path / "pb" / f"{run}.json"
        proc = cli("bench", TINY[0], TINY[2], "--runs", "20", "--repeats", "2", "--out",
                   tmp_path, "--run", run, "--no-history", "--pytest-benchmark-json", path)
        assert proc.code == 0, proc.err
        files.append(path)
    doc = json.loads(files[0].read_text())
    names = [b["fullname"] for b in doc["benchmarks"]]
    assert names == ["edgebench::local::tiny_float32", "edgebench::local::tiny_int8"]
    stats = doc["benchmarks"][0]["stats"]
    assert stats["rounds"] == 40 and len(stats["data"]) == 40  # 2 processes x 20 runs
    # the rounds are the record's raw samples, in seconds (pytest-benchmark's unit)
    measured = Results.load(tmp_path / "a" / "results-local.json").records[0]
    assert measured.variant == "tiny_float32" and len(measured.samples_us) == 40
    assert stats["data"] == pytest.approx([us / 1e6 for us in measured.samples_us])
    assert stats["min"] == min(stats["data"]) and stats["max"] == max(stats["data"])
    assert stats["ops"] == pytest.approx(1 / stats["mean"])
    compared = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", *map(str, files),
         "--columns", "min,median,max,rounds", "--group-by", "name"],
        capture_output=True, text=True, timeout=120,
    )
    assert compared.returncode == 0, compared.stderr
    text = compared.stdout + compared.stderr
    assert "tiny_float32" in text and "tiny_int8" in text and "Failed to load" not in text
    # each variant is one group holding both runs: pytest-benchmark matched them by fullname
    assert "'tiny_float32': 2 tests" in text and "'tiny_int8': 2 tests" in text


def test_pytest_benchmark_json_into_a_folder_is_refused(cli, tmp_path):
    proc = cli("bench", TINY[0], "--pytest-benchmark-json", tmp_path)
    assert proc.code == 2 and "is a folder; name a file in it" in proc.err


# --------------------------------------------------------------------------- the commit


def git(folder, *args):
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def user_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    shutil.copy(TINY[2], repo / "model.tflite")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "model")
    return repo


def test_the_commit_is_the_users_repository_not_edgebenchs(cli, user_repo, tmp_path):
    from edgebench._version import __version__

    out = tmp_path / "out"
    argv = ["bench", user_repo / "model.tflite", "--runs", "3", "--repeats", "1", "--out", out]
    assert cli(*argv, "--run", "in-repo").code == 0
    res = Results.load(out / "in-repo" / "results-local.json")
    assert res.git_commit == git(user_repo, "rev-parse", "HEAD")
    assert res.edgebench_version == __version__
    # a model in a folder that is no repository: no commit rather than edgebench's own
    loose = tmp_path / "loose"
    loose.mkdir()
    shutil.copy(TINY[2], loose / "model.tflite")
    assert cli("bench", loose / "model.tflite", "--runs", "3", "--repeats", "1", "--out", out,
               "--run", "loose").code == 0
    assert Results.load(out / "loose" / "results-local.json").git_commit is None
    # the history keeps both, with the version apart
    doc = json.loads(cli("history", "--out", out, "--format", "json").out)
    assert [(r["run_id"], r["git_commit"]) for r in doc["runs"]] == [
        ("loose", None), ("in-repo", res.git_commit)]
    assert {r["edgebench_version"] for r in doc["runs"]} == {__version__}


def test_commit_from_the_flag_then_the_ci_variables(cli, user_repo, tmp_path, monkeypatch):
    out = tmp_path / "out"
    argv = ["bench", user_repo / "model.tflite", "--runs", "3", "--repeats", "1", "--out", out]
    monkeypatch.setenv("CI_COMMIT_SHA", "c" * 40)
    assert cli(*argv, "--run", "gitlab").code == 0
    assert Results.load(out / "gitlab" / "results-local.json").git_commit == "c" * 40
    monkeypatch.setenv("GITHUB_SHA", "A" * 40)
    assert cli(*argv, "--run", "github").code == 0
    assert Results.load(out / "github" / "results-local.json").git_commit == "a" * 40
    assert cli(*argv, "--run", "flag", "--commit", "1234abc").code == 0
    assert Results.load(out / "flag" / "results-local.json").git_commit == "1234abc"


@pytest.mark.parametrize("bad", ["main", "12345", "xyz1234567", "HEAD~1"])
def test_a_commit_that_is_not_a_hex_sha_is_refused(cli, bad):
    proc = cli("bench", TINY[0], "--commit", bad)
    assert proc.code == 2 and "expected a git commit's hex SHA" in proc.err


def test_old_results_and_history_files_are_migrated(tmp_path):
    res = make_results("run01")
    data = json.loads(json.dumps(__import__("edgebench").records.to_dict(res)))
    data["schema_version"] = 2  # what the release before this one wrote
    del data["edgebench_version"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    loaded = Results.load(tmp_path / "old.json")
    assert loaded.schema_version == RESULTS_SCHEMA_VERSION == 4
    assert loaded.edgebench_version is None and loaded.records == res.records
    # a version-1 history gains the edgebench_version column and keeps its rows
    path = tmp_path / "h.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    _create_v1(conn)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    append_results(path, [res])
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == HISTORY_SCHEMA_VERSION == 4
    assert conn.execute("SELECT run_id, edgebench_version FROM runs").fetchall() == [
        ("run01", None)]
    conn.close()


# --------------------------------------------------------------------------- --run


def test_run_on_a_manifest_is_refused_with_the_fix(cli, tmp_path):
    manifest = tiny_manifest(tmp_path / "build", "b1")
    proc = cli("bench", manifest, "--run", "nightly-7", "--out", tmp_path / "out")
    proc.error_line("--run nightly-7 cannot rename a build", "edgebench build --run NAME")
    assert not (tmp_path / "out").exists()  # refused before anything ran or was written
    ok = cli("bench", manifest, "--run", "b1", "--runs", "3", "--repeats", "1", "--out",
             tmp_path / "out")
    assert ok.code == 0, ok.err  # its own name is no rename


def test_help_names_the_new_options(cli):
    text = cli("compare", "--help").out + cli("bench", "--help").out
    for flag in ("--fail-on-regression", "--format", "--pytest-benchmark-json", "--commit"):
        assert flag in text
    assert os.sep  # (keeps the import used on every platform)
