"""The on-device runner: self-contained, measures one model, prints one JSON line."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgebench.bench import runner

RUNNER = Path(runner.__file__)  # the installed file, as it is copied to devices
FIX = Path(__file__).parent / "fixtures"


def run_runner(*args, env=None):
    proc = subprocess.run(
        [sys.executable, str(RUNNER), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(runner.MARKER)]
    assert len(lines) == 1, proc.stdout + proc.stderr
    return proc.returncode, json.loads(lines[0][len(runner.MARKER) :])


def test_runner_imports_only_stdlib_numpy_and_an_interpreter():
    tree = ast.parse(RUNNER.read_text())
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mods.add(node.module.split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"numpy", "ai_edge_litert", "tflite_runtime"}
    assert mods - allowed == {"tensorflow"}  # only as the last-resort interpreter
    assert "bench" not in mods and "deploy" not in mods


def test_runner_parses_as_python_3_9():
    ast.parse(RUNNER.read_text(), feature_version=(3, 9))


@pytest.mark.parametrize("kind", ["float32", "int8", "dynamic"])
def test_runner_measures_a_model(kind):
    code, rec = run_runner(
        "run", "--model", FIX / f"tiny_{kind}.tflite", "--runs", 20, "--warmup", 2,
        "--eval", FIX / "tiny_eval.npz",
    )
    assert code == 0 and rec["status"] == "ok"
    assert len(rec["samples_ns"]) == 20 and all(s > 0 for s in rec["samples_ns"])
    assert rec["init_ms"] > 0 and rec["first_inference_us"] > 0
    rss = rec["rss_mb"]
    assert 0 < rss["before"] <= rss["after_init"] <= rss["peak"]
    assert rec["eval_n"] == 64 and rec["eval_method"].startswith("batched")
    assert 0.0 <= rec["accuracy"] <= 1.0
    assert rec["runtime_name"] == "ai-edge-litert"


def test_runner_without_eval_data_gives_null_accuracy():
    code, rec = run_runner("run", "--model", FIX / "tiny_float32.tflite", "--runs", 5)
    assert code == 0 and rec["accuracy"] is None and rec["eval_method"] is None


def test_runner_without_xnnpack():
    code, rec = run_runner("run", "--model", FIX / "tiny_int8.tflite", "--runs", 5, "--no-xnnpack")
    assert code == 0 and rec["xnnpack"] is False


@pytest.mark.parametrize(
    "name, expected",
    [
        ("truncated.tflite", "not a valid Flatbuffer"),
        ("not_a_model.tflite", "re-export it"),
    ],
)
def test_runner_reports_bad_models_as_input_errors(name, expected):
    code, rec = run_runner("run", "--model", FIX / name, "--runs", 5)
    assert code == 1
    assert rec["status"] == "failed" and rec["error_kind"] == "input"
    assert expected in rec["error"]


def test_runner_reports_shape_mismatch(tmp_path):
    import numpy as np

    bad = tmp_path / "eval.npz"
    np.savez(bad, x=np.zeros((4, 32, 32), np.uint8), y=np.zeros(4, np.int64))
    code, rec = run_runner("run", "--model", FIX / "tiny_float32.tflite", "--eval", bad)
    assert code == 1 and "does not fit the dataset" in rec["error"]


def test_int8_eval_honours_quantisation(tmp_path):
    """Labelled by the float32 model's own predictions, the int8 model must agree with it.

    If the runner fed raw floats into the int8 input (ignoring scale and zero point), the
    int8 model's predictions would be unrelated to float32's.
    """
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    data = np.load(FIX / "tiny_eval.npz")
    x = data["x"].astype(np.float32) * float(data["x_scale"])
    f32 = Interpreter(model_path=str(FIX / "tiny_float32.tflite"))
    f32.resize_tensor_input(0, [len(x), 28, 28])
    f32.allocate_tensors()
    f32.set_tensor(f32.get_input_details()[0]["index"], x)
    f32.invoke()
    labels = f32.get_tensor(f32.get_output_details()[0]["index"]).argmax(axis=1)
    assert len(set(labels.tolist())) > 1  # otherwise agreement would mean nothing
    eval_path = tmp_path / "agree.npz"
    np.savez(eval_path, x=data["x"], y=labels, x_scale=data["x_scale"])
    interp = Interpreter(model_path=str(FIX / "tiny_int8.tflite"))
    interp.allocate_tensors()
    out = runner.evaluate(interp, str(eval_path), eval_batch=16)
    assert out["accuracy"] >= 0.85, out
    assert out["eval_method"] == "batched(16)" and out["eval_n"] == len(x)


def test_info_describes_the_device():
    code, info = run_runner("info")
    assert code == 0
    assert info["cores"] >= 1 and info["python"].count(".") == 2
    assert info["runtime_name"] == "ai-edge-litert" and info["runtime_version"]


def test_ops_lists_operator_versions():
    _, ops = run_runner("ops", "--model", FIX / "tiny_dynamic.tflite")
    (listing,) = ops.values()
    versions = {o["name"]: o["version"] for o in listing}
    assert versions["FULLY_CONNECTED"] == 12  # what TF 2.21 writes for dynamic-range models
    assert "CONV_2D" in versions


def test_model_refused_by_xnnpack_is_retried_without_it_and_flagged():
    """An int8 EXPERIMENTAL_SPARSITY model: XNNPACK fails to prepare its sparse FULLY_CONNECTED."""
    code, rec = run_runner("run", "--model", FIX / "tiny_sparse_int8.tflite", "--runs", 5,
                           "--eval", FIX / "tiny_eval.npz")
    assert code == 0 and rec["status"] == "ok"
    assert rec["xnnpack"] is False
    assert "XNNPack" in rec["delegate_fallback"] or "delegate" in rec["delegate_fallback"]
    assert rec["accuracy"] is not None and len(rec["samples_ns"]) == 5


def test_this_machine_is_not_emulated():
    """Under qemu-user the runner sees qemu (tests/test_emulated_pi.py); here it must not."""
    assert runner.emulation_evidence() is None
    info = runner.device_info()
    assert info["emulated"] is False and info["emulation_evidence"] is None
    assert info["extra"]["cpu_affinity"] == sorted(os.sched_getaffinity(0))
