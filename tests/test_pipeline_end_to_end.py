"""The whole pipeline on a small real config: build -> bench -> gate through the installed
command line, as a user runs it."""

import json
from pathlib import Path

import pytest
from cli_runner import edgebench_process

from edgebench.bench.orchestration.plan import plan_from_inputs
from edgebench.bench.orchestration.scheduler import bench_targets
from edgebench.records import BenchSettings, Manifest

# Slow (not in the fast tier): real builds, which train TensorFlow models.
pytestmark = pytest.mark.slow

FIX = Path(__file__).parent / "fixtures"


def test_bench_and_gate_a_built_manifest(small_manifest, tmp_path):
    """A built manifest benches into 1 + 2 x 4 records with device accuracy, and gates."""
    manifest = Manifest.load(small_manifest)
    proc = edgebench_process("bench", small_manifest, "--out", tmp_path, "--runs", "10",
                             "--repeats", "1",
                     "--eval-limit", "200")
    assert proc.code == 0, proc.err
    assert "[9/9] local" in proc.err  # progress a person and a CI log can follow
    run_dir = tmp_path / manifest.run_id
    results = json.loads((run_dir / "results-local.json").read_text())
    records = {r["variant"]: r for r in results["records"]}
    expected = {"baseline/float32"} | {
        f"{r}/{k}" for r in ("pruned", "scratch") for k in ("float32", "dynamic", "float16", "int8")
    }
    assert set(records) == expected
    for name, r in records.items():
        assert r["status"] == "ok", (name, r["error"])
        assert r["accuracy_source"] == "device" and r["eval_n"] == 200
        assert r["latency_us"]["n"] == 10 and r["rss_mb"]["peak"] > 0
        host = manifest.artifact(name).host_accuracy
        # Same model, same data: the device agrees with the host build's accuracy
        # (the host evaluated 500 samples, the device the first 200).
        assert abs(r["accuracy"] - host) < 0.1, name
    smallest = min(r["zip_bytes"] for r in records.values())
    dense = manifest.artifact(manifest.baseline).zip_bytes
    assert dense / smallest >= 8.0  # the pruning guide's size claim
    assert records["pruned/int8"]["compression_ratio"] >= 8.0

    gate = edgebench_process("gate", run_dir, "--budgets", FIX / "small_budgets.toml",
                     "--junit", run_dir / "gate.xml")
    assert gate.code == 0, gate.out + gate.err
    assert "gate: PASSED" in gate.out and (run_dir / "gate.xml").is_file()
    tight = tmp_path / "tight.toml"
    tight.write_text('[budgets."*/int8"]\nmax_zip_bytes = 100\n')
    failing = edgebench_process("gate", run_dir, "--budgets", tight)
    assert failing.code == 1
    assert failing.out.count("FAIL ") == 2 and "gate: FAILED, 2 of 2" in failing.out


def test_a_broken_artifact_fails_alone(small_manifest, tmp_path):
    """A truncated .tflite in a manifest costs its own record; the others keep theirs."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(small_manifest.parent, copy)
    victim = copy / Manifest.load(small_manifest).artifact("scratch/float16").path
    victim.write_bytes(victim.read_bytes()[:2000])
    plan = plan_from_inputs([copy / "manifest.json"])
    (res,) = bench_targets(plan, tmp_path / "out", BenchSettings(runs=5, warmup=1, eval_limit=50,
                                                                  repeats=1),
                   progress=lambda s: None)
    by = {r.variant: r for r in res.records}
    assert by["scratch/float16"].status == "failed"
    assert "re-export it" in by["scratch/float16"].error
    assert sum(r.ok for r in res.records) == 8


def test_run_is_build_bench_gate(tmp_path):
    """`edgebench run` on the small config: one summary table, gate verdict, exit 0."""
    proc = edgebench_process("run", "--config", FIX / "small_pipeline.toml", "--out", tmp_path,
                     "--run", "r", "--train-limit", "1000", "--test-limit", "200",
                     "--repeats", "1")
    assert proc.code == 0, proc.out[-3000:] + proc.err[-3000:]
    out = proc.out
    assert "gate: PASSED" in out
    table, fidelity = out[out.index("target  variant"):].split("\n\n")[:2]
    assert len([ln for ln in table.splitlines() if ln.startswith("local ")]) == 9
    assert fidelity.startswith("output fidelity against the float32 reference")
    assert len([ln for ln in fidelity.splitlines() if ln.startswith("local ")]) == 9
    assert (tmp_path / "r" / "manifest.json").is_file()
    assert (tmp_path / "r" / "results-local.json").is_file()
    assert (tmp_path / "latest").resolve() == (tmp_path / "r").resolve()
    again = edgebench_process("build", "--config", FIX / "small_pipeline.toml", "--out", tmp_path,
                      "--run", "r")
    assert again.code == 2 and "already holds a build" in again.err
    assert (tmp_path / "r" / "results-local.json").is_file()  # nothing already written is lost


def test_run_in_an_empty_folder_uses_the_configs_shipped_in_the_package(tmp_path):
    """`edgebench run` from any folder: the default pipeline and budgets come from the installed
    package, and everything lands in ./out."""
    proc = edgebench_process("run", "--epochs", "1", "--train-limit", "12000",
                             "--test-limit", "300", "--runs", "5", "--repeats", "1",
                             cwd=tmp_path)
    assert proc.code in (0, 1), proc.out[-3000:] + proc.err[-3000:]  # 1: a budget broke
    table = proc.out[proc.out.index("target  variant"):].split("\n\n")[0]
    rows = [ln for ln in table.splitlines() if ln.startswith("local ")]
    assert [r.split()[1] for r in rows] == [  # each record's key: variant@settings
        f"{v}@threads=1,xnnpack=on" for v in (
            "baseline/float32",
            *(f"{r}/{k}" for r in ("pruned", "scratch") for k in ("float32", "dynamic",
                                                                   "float16", "int8")),
        )
    ]
    assert "gate: " in proc.out  # the shipped budgets were found and checked
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    # out/ holds the run, latest and the history with its model store (history.models/)
    (run,) = [p for p in (tmp_path / "out").iterdir()
              if p.is_dir() and p.name not in ("latest", "history.models")]
    assert (run / "manifest.json").is_file() and (run / "results-local.json").is_file()
