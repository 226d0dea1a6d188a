"""Output fidelity in the records and everything that reads them: the gate's budgets
(min_snr_db, min_cosine, min_top1_agreement), compare's deltas and regression, the summary and
the worst-output figures; and an old manifest refused with the fix."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from history_helpers import make_record

from edgebench.bench.judgement.budgets import load_budgets
from edgebench.bench.judgement.compare import Regression, compare_records
from edgebench.bench.judgement.compare_settings import CompareSettings
from edgebench.bench.judgement.gate import evaluate
from edgebench.bench.outputs.gate_table import format_report
from edgebench.bench.outputs.summary import format_summary
from edgebench.errors import ConfigError, SchemaError
from edgebench.records import (
    BenchSettings,
    DeviceInfo,
    Manifest,
    OutputFidelity,
    Record,
    Results,
    worst_fidelity,
)


def fid(output: str, snr: float | None, cosine: float = 0.99, agree: float | None = 0.95,
        max_abs: float = 0.1) -> OutputFidelity:
    return OutputFidelity(output, 100, max_abs, max_abs / 10, cosine, snr, agree)


def rec(variant: str, *fids: OutputFidelity, reference: str = "baseline-float32.tflite"
        ) -> Record:
    return Record(variant=variant, model_path=f"/{variant}.tflite", status="ok",
                  zip_bytes=1000, fidelity=fids, reference=reference)


def results(*records: Record) -> Results:
    return Results(run_id="r", created_at="t", target="local", manifest=None, host=DeviceInfo(),
                   device=DeviceInfo(), settings=BenchSettings(), git_commit=None,
                   records=records)


def test_the_worst_output_counts_and_identical_outputs_are_infinite() -> None:
    w = worst_fidelity([fid("cls", 30.0, 0.999, 0.97), fid("box", 12.5, 0.95, None)])
    assert (w.snr_db, w.cosine, w.top1_agreement) == (12.5, 0.95, 0.97)
    same = fid("cls", None, 1.0, 1.0, max_abs=0.0)
    assert same.snr == math.inf and worst_fidelity([same]).snr_db == math.inf
    assert fid("y", None, max_abs=0.5).snr == -math.inf  # an all-zero reference
    assert worst_fidelity([]) is None


def test_budgets_hold_the_worst_output_and_say_when_nothing_was_measured(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text("""schema_version = 1
[budgets."*"]
min_snr_db = 20
min_cosine = 0.98
min_top1_agreement = 0.9
""")
    budgets = load_budgets(tmp_path / "b.toml")
    r = results(
        rec("baseline/float32", fid("cls", None, 1.0, 1.0, max_abs=0.0)),
        rec("pruned/int8", fid("cls", 31.0, 0.999, 0.96), fid("box", 14.0, 0.97, None)),
        Record(variant="loose/int8", model_path="/x", status="ok"),
    )
    report = evaluate(budgets, [r])
    by = {(c.variant, c.metric): c for c in report.checks}
    assert by[("baseline/float32", "snr_db")].passed
    assert by[("baseline/float32", "snr_db")].describe() == "snr_db ∞ >= 20 dB"
    assert not by[("pruned/int8", "snr_db")].passed and by[("pruned/int8", "snr_db")].value == 14
    assert not by[("pruned/int8", "cosine")].passed
    assert by[("pruned/int8", "top1_agreement")].passed  # box has none; cls 0.96
    missing = by[("loose/int8", "snr_db")]
    assert not missing.passed and "give --reference" in missing.reason
    text = format_report(report)
    assert "FAIL  local   pruned/int8       snr_db 14.0 >= 20 dB" in text


@pytest.mark.parametrize(
    "line, message",
    [
        ("min_top1_agreement = 95", "min_top1_agreement is a fraction in [0, 1]"),
        ("min_cosine = 2", "min_cosine is a cosine similarity in [-1, 1]"),
        ('min_snr_db = "high"', "min_snr_db must be a number"),
    ],
)
def test_impossible_fidelity_budgets_are_refused(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "b.toml").write_text(f'schema_version = 1\n[budgets."*"]\n{line}\n')
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_budgets(tmp_path / "b.toml")


def test_compare_shows_fidelity_changes_and_a_fall_is_a_regression() -> None:
    base = replace(make_record("pruned/int8", 100.0), fidelity=(fid("cls", 30.0),))
    same = compare_records("v", base, base, CompareSettings())
    assert same.snr_delta_db == 0.0 and Regression.FIDELITY not in same.regressed_metrics
    worse = replace(base, fidelity=(fid("cls", 25.0, agree=0.9),))
    ch = compare_records("v", base, worse, CompareSettings())
    assert ch.snr_delta_db == -5.0 and ch.agreement_delta == pytest.approx(-0.05)
    assert Regression.FIDELITY in ch.regressed_metrics
    identical = replace(base, fidelity=(fid("cls", None, max_abs=0.0),))
    lost = compare_records("v", identical, base, CompareSettings())
    assert lost.snr_delta_db == -math.inf and Regression.FIDELITY in lost.regressed_metrics
    other_ref = replace(worse, reference="other.tflite")
    assert "fidelity against" in compare_records("v", base, other_ref, CompareSettings()).note


def test_the_summary_has_the_worst_output_and_a_table_per_output() -> None:
    text = format_summary([results(
        rec("baseline/float32", fid("cls", None, 1.0, 1.0, max_abs=0.0)),
        rec("pruned/int8", fid("cls", 31.04, 0.999, 0.96), fid("box", 14.0, 0.97, None)),
    )])
    lines = text.splitlines()
    assert "SNR dB" in lines[0] and "top-1 agr" in lines[0]
    assert "14.0" in lines[3] and "0.9600" in lines[3]
    assert "output fidelity against the float32 reference (baseline-float32.tflite" in text
    assert any("pruned/int8" in ln and "box" in ln and "14.0" in ln for ln in lines)


def test_an_old_manifest_is_one_line_naming_the_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"schema_version": 1, "run_id": "old", "artifacts": [],
                                "baseline": "baseline/keras", "eval_data": "eval.npz"}))
    with pytest.raises(SchemaError, match="built by an older edgebench .manifest schema 1, one "
                                          "eval.npz.; rebuild it with edgebench build"):
        Manifest.load(path)


def test_an_old_manifest_on_the_command_line_is_exit_2(cli, tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"schema_version": 1, "run_id": "old", "artifacts": [],
                                "baseline": "baseline/keras", "eval_data": "eval.npz"}))
    cli("bench", path, "--out", tmp_path / "o").error_line("rebuild it with edgebench build")


def test_history_shows_a_variants_accuracy_and_snr_run_by_run(cli, tmp_path: Path) -> None:
    from edgebench.bench.judgement.history import append_results

    path = tmp_path / "h.sqlite"
    for i, snr in enumerate((31.0, 24.5)):
        res = replace(results(rec("pruned/int8", fid("cls", snr))), run_id=f"r{i}",
                      created_at=f"2025-01-0{i + 1}T00:00:00+00:00")
        append_results(path, [res])
    out = cli("history", "--variant", "pruned/int8", "--history", path)
    assert out.code == 0, out.err
    lines = out.out.splitlines()
    assert lines[0].split()[-3:] == ["accuracy", "SNR", "dB"]
    assert lines[2].split()[-1] == "24.5" and lines[3].split()[-1] == "31.0"  # newest first


def test_history_of_a_matrix_shows_the_cell_its_key_names(cli, tmp_path: Path) -> None:
    """A threads x XNNPACK matrix measures a variant once per cell: --variant with a record key
    shows that cell's figures, a bare variant its first cell's."""
    from edgebench.bench.judgement.history import append_results
    from edgebench.records import Setup

    path = tmp_path / "h.sqlite"
    one = replace(rec("pruned/int8", fid("cls", 31.0)), setup=Setup(threads=1, xnnpack=True))
    two = replace(rec("pruned/int8", fid("cls", 24.5)), setup=Setup(threads=2, xnnpack=True))
    append_results(path, [results(one, two)])
    for variant, snr in (("pruned/int8@threads=2,xnnpack=on", "24.5"),
                         ("pruned/int8@threads=1,xnnpack=on", "31.0"), ("pruned/int8", "31.0")):
        out = cli("history", "--variant", variant, "--history", path)
        assert out.code == 0, out.err
        assert out.out.splitlines()[2].split()[-1] == snr, (variant, out.out)


def test_the_reports_size_plot_uses_snr_when_the_run_has_no_labels() -> None:
    from edgebench.bench.outputs.report.plots import size_quality

    r = results(
        replace(rec("baseline/float32", fid("y", None, max_abs=0.0)), zip_bytes=4000),
        replace(rec("pruned/float32", fid("y", 20.0)), zip_bytes=2000),
        replace(rec("pruned/int8", fid("y", 12.0)), zip_bytes=900),
        replace(rec("bad/int8", fid("y", 8.0)), zip_bytes=1200),
    )
    sq = size_quality(r)
    assert sq.quality == "snr" and not sq.by_accuracy
    # the identical reference has no finite SNR to plot; bad/int8 is beaten by pruned/int8
    assert [p.variant for p in sq.front] == ["pruned/int8", "pruned/float32"]


def test_the_summary_json_and_csv_carry_the_worst_outputs_fidelity() -> None:
    from edgebench.bench.outputs.export import format_summary_as

    r = results(
        rec("baseline/float32", fid("y", None, 1.0, 1.0, max_abs=0.0)),
        rec("pruned/int8", fid("cls", 30.0, 0.999, 0.97), fid("box", 12.5, 0.95, None)),
    )
    doc = json.loads(format_summary_as([r], "json"))
    rows = {x["variant"]: x for x in doc["results"][0]["records"]}
    assert rows["pruned/int8"]["snr_db"] == 12.5 and rows["pruned/int8"]["top1_agreement"] == 0.97
    assert rows["baseline/float32"]["snr_db"] is None  # identical: ∞ dB is not JSON
    header, *lines = format_summary_as([r], "csv").splitlines()
    assert "snr_db" in header.split(",") and ",12.5," in lines[1]
