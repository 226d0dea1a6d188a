"""End to end on a small real pipeline: build -> bench -> gate through the command line."""

import json
import subprocess
import sys
from pathlib import Path

from edgebench.bench.plan import plan_from_inputs
from edgebench.bench.scheduler import bench_targets
from edgebench.records import BenchSettings, Manifest

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures"


def edgebench(*args):
    return subprocess.run(
        [sys.executable, "-m", "edgebench", *map(str, args)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )


def test_bench_and_gate_a_built_manifest(small_manifest, tmp_path):
    """A built manifest benches into 1 + 2 x 4 records with device accuracy, and gates."""
    manifest = Manifest.load(small_manifest)
    proc = edgebench("bench", small_manifest, "--out", tmp_path, "--runs", "10",
                     "--eval-limit", "200")
    assert proc.returncode == 0, proc.stderr
    assert "[9/9] local" in proc.stderr  # progress a person and a CI log can follow
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
    assert dense / smallest >= 8.0  # the size claim of the first slice
    assert records["pruned/int8"]["compression_ratio"] >= 8.0

    gate = edgebench("gate", run_dir, "--budgets", FIX / "small_budgets.toml",
                     "--junit", run_dir / "gate.xml")
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "gate: PASSED" in gate.stdout and (run_dir / "gate.xml").is_file()
    tight = tmp_path / "tight.toml"
    tight.write_text('[budgets."*/int8"]\nmax_zip_bytes = 100\n')
    failing = edgebench("gate", run_dir, "--budgets", tight)
    assert failing.returncode == 1
    assert failing.stdout.count("FAIL ") == 2 and "gate: FAILED, 2 of 2" in failing.stdout


def test_a_broken_artifact_fails_alone(small_manifest, tmp_path):
    """A truncated .tflite in a manifest costs its own record; the others keep theirs."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(small_manifest.parent, copy)
    victim = copy / Manifest.load(small_manifest).artifact("scratch/float16").path
    victim.write_bytes(victim.read_bytes()[:2000])
    plan = plan_from_inputs([copy / "manifest.json"])
    (res,) = bench_targets(plan, tmp_path / "out", BenchSettings(runs=5, warmup=1, eval_limit=50),
                   progress=lambda s: None)
    by = {r.variant: r for r in res.records}
    assert by["scratch/float16"].status == "failed"
    assert "re-export it" in by["scratch/float16"].error
    assert sum(r.ok for r in res.records) == 8


def test_run_is_build_bench_gate(tmp_path):
    """`edgebench run` on the small config: one summary table, gate verdict, exit 0."""
    proc = edgebench("run", "--config", FIX / "small_pipeline.toml", "--out", tmp_path,
                     "--run", "r", "--train-limit", "1000", "--test-limit", "200")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "gate: PASSED" in out
    table = out[out.index("target  variant"):]
    assert len([ln for ln in table.splitlines() if ln.startswith("local ")]) == 9
    assert (tmp_path / "r" / "manifest.json").is_file()
    assert (tmp_path / "r" / "results-local.json").is_file()
    assert (tmp_path / "latest").resolve() == (tmp_path / "r").resolve()
    again = edgebench("build", "--config", FIX / "small_pipeline.toml", "--out", tmp_path,
                      "--run", "r")
    assert again.returncode == 2 and "already holds a build" in again.stderr
    assert (tmp_path / "r" / "results-local.json").is_file()  # nothing already written is lost
