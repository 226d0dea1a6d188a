"""``edgebench bench q.tflite --reference f.tflite``: output fidelity for models edgebench did
not build, on random inputs or on the user's samples, and the references it must refuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgebench.bench.device.runner.evaldata import EvalData
from edgebench.bench.device.runner.preprocess import preprocess
from edgebench.records import Results

FIX = Path(__file__).parent / "fixtures"


def results(out: Path) -> Results:
    (res,) = [Results.load(p) for p in (out / "latest").glob("results-*.json")]
    return res


def test_bench_with_a_reference_prints_fidelity_per_output(cli, tmp_path: Path) -> None:
    run = cli("bench", FIX / "tiny_int8.tflite", FIX / "tiny_dynamic.tflite",
              "--reference", FIX / "tiny_float32.tflite", "--runs", "3", "--out", tmp_path,
              "--no-history")
    assert run.code == 0, run.err
    assert "held to tiny_float32.tflite on 100 random inputs" in run.err
    assert "output fidelity against the float32 reference (tiny_float32.tflite" in run.out
    res = results(tmp_path)
    for rec in res.records:
        (fid,) = rec.fidelity
        assert fid.output == "dense" and fid.n == 100 and rec.reference == "tiny_float32.tflite"
        assert 20 < fid.snr_db < 80 and 0.99 < fid.cosine <= 1 and fid.top1_agreement > 0.8
        assert rec.accuracy is None and rec.eval_selection == "all 100 samples"
        assert f"{fid.snr_db:.1f}" in run.out
    # the shards the runner streamed are in the run folder, with the reference's outputs
    data = EvalData(tmp_path / "latest" / "eval")
    assert data.n_total == 100 and data.reference_outputs == ["dense"]


def test_the_reference_against_itself_is_identical(cli, tmp_path: Path) -> None:
    run = cli("bench", FIX / "tiny_float32.tflite", "--reference", FIX / "tiny_float32.tflite",
              "--runs", "3", "--out", tmp_path, "--no-history", "--reference-samples", "20")
    assert run.code == 0, run.err
    (fid,) = results(tmp_path).records[0].fidelity
    assert fid.max_abs == 0.0 and fid.snr_db is None and fid.snr == float("inf")
    assert "    ∞" in run.out


def test_reference_data_with_labels_gives_accuracy_too(cli, tmp_path: Path) -> None:
    data = EvalData(sorted((FIX / "tiny_eval").glob("shard-*.npz")), need_labels=True)
    x = np.concatenate([c[0]["input_1"] for c in data.chunks()])
    np.savez(tmp_path / "mine.npz", x=preprocess(x, "unit"), y=data.labels)
    run = cli("bench", FIX / "tiny_int8.tflite", "--reference", FIX / "tiny_float32.tflite",
              "--reference-data", tmp_path / "mine.npz", "--runs", "3", "--out", tmp_path / "o",
              "--no-history", "--eval-limit", "30")
    assert run.code == 0, run.err
    rec = results(tmp_path / "o").records[0]
    assert rec.accuracy is not None and rec.eval_n == 30 and rec.fidelity[0].n == 30
    assert rec.eval_selection.startswith("stratified: 30 of 64 samples")


def test_a_model_with_two_inputs_and_outputs_against_its_float_reference(cli, tmp_path) -> None:
    run = cli("bench", FIX / "two_io_int8.tflite", "--reference", FIX / "two_io_float32.tflite",
              "--runs", "3", "--out", tmp_path, "--no-history")
    assert run.code == 0, run.err
    fid = {f.output: f for f in results(tmp_path).records[0].fidelity}
    assert sorted(fid) == ["cls", "reg"] and fid["cls"].snr_db > 15


def test_a_reference_whose_outputs_differ_is_one_line_and_nothing_runs(cli, tmp_path) -> None:
    first = cli("bench", FIX / "tiny_int8.tflite", "--reference", FIX / "tiny_float32.tflite",
                "--runs", "3", "--out", tmp_path, "--run", "first", "--no-history")
    assert first.code == 0, first.err
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    run = cli("bench", FIX / "tiny_int8.tflite", "--reference", FIX / "two_io_float32.tflite",
              "--runs", "3", "--out", tmp_path, "--no-history")
    run.error_line("tiny_int8.tflite and the reference two_io_float32.tflite differ in their "
                   "inputs", "give the float model this variant was converted from")
    assert "[1/1]" not in run.err
    # the earlier run (results, eval shards, latest) is as it was, and nothing was added
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert results(tmp_path).run_id == "first"
    # The same input but other outputs: one more, or the same one with another shape.
    for reference, outputs in (("tiny_two_out_float32", "[aux [4], dense [10]]"),
                               ("tiny_dense5_float32", "[dense [5]]")):
        run = cli("bench", FIX / "tiny_int8.tflite", "--reference", FIX / f"{reference}.tflite",
                  "--runs", "3", "--out", tmp_path, "--no-history")
        run.error_line(f"tiny_int8.tflite and the reference {reference}.tflite differ in their "
                       f"outputs: [dense [10]] vs {outputs}", "give the float model")
        assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_reference_data_without_the_inputs_is_one_line(cli, tmp_path: Path) -> None:
    np.savez(tmp_path / "bad.npz", images=np.zeros((3, 28, 28), np.float32))
    run = cli("bench", FIX / "tiny_int8.tflite", "--reference", FIX / "tiny_float32.tflite",
              "--reference-data", tmp_path / "bad.npz", "--out", tmp_path, "--no-history")
    run.error_line("bad.npz lacks x; --reference-data needs the inputs of tiny_float32.tflite")


def test_reference_data_alone_and_a_missing_reference_are_refused(cli, tmp_path: Path) -> None:
    cli("bench", FIX / "tiny_int8.tflite", "--reference-data", tmp_path / "x.npz",
        "--out", tmp_path).error_line("--reference-data needs --reference")
    cli("bench", FIX / "tiny_int8.tflite", "--reference", tmp_path / "nope.tflite",
        "--out", tmp_path).error_line("nope.tflite: no such file")
