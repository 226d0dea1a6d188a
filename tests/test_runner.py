"""The on-device runner: self-contained (one archive, runner.pyz), measures one model, prints
one JSON line."""

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edgebench.bench.device.pack import PACKAGE, runner_archive
from edgebench.bench.device.runner.cli import FAILURE_KINDS, MARKER
from edgebench.bench.device.runner.evaldata import EvalData, eval_shard_paths, select_samples
from edgebench.bench.device.runner.evaluate import evaluate
from edgebench.bench.device.runner.facts import device_info, emulation_evidence
from edgebench.bench.device.runner.preprocess import PREPROCESS_MODES, preprocess
from edgebench.bench.device.runner.tensors import quantize
from edgebench.bench.device.shards import model_outputs, write_eval_data
from edgebench.errors import ErrorKind

RUNNER = runner_archive()  # the archive, as it is copied to devices
FIX = Path(__file__).parent / "fixtures"
SHARDS = sorted((FIX / "tiny_eval").glob("shard-*.npz"))  # 64 images in 3 shards


def run_runner(*args, env=None):
    proc = subprocess.run(
        [sys.executable, str(RUNNER), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    assert len(lines) == 1, proc.stdout + proc.stderr
    return proc.returncode, json.loads(lines[0][len(MARKER) :])


def shipped_sources():
    """Every Python file in the archive, as it reaches a device."""
    with zipfile.ZipFile(RUNNER) as archive:
        return {n: archive.read(n).decode() for n in archive.namelist() if n.endswith(".py")}


def test_runner_imports_only_stdlib_numpy_and_an_interpreter():
    mods = set()
    for text in shipped_sources().values():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                mods |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:  # relative: its own modules
                mods.add(node.module.split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"numpy", "ai_edge_litert", "tflite_runtime"}
    allowed.add(PACKAGE)  # the runner's own package inside the archive
    assert mods - allowed == {"tensorflow"}  # only as the last-resort interpreter
    assert "bench" not in mods and "deploy" not in mods


def test_every_error_kind_the_runner_emits_is_an_error_kind():
    """The runner imports nothing of edgebench, so it writes its error kinds as plain strings
    (literally, or from its FAILURE_KINDS table); each must be one the host knows
    (edgebench.errors.ErrorKind)."""
    emitted = {kind for _, kind in FAILURE_KINDS}
    for name, text in shipped_sources().items():
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "error_kind":
                    if isinstance(value, ast.Name) and value.id == "kind":
                        continue  # failure(): a kind from FAILURE_KINDS
                    assert isinstance(value, ast.Constant), f"{name}: write the kind literally"
                    emitted.add(value.value)
    assert emitted == {"crash", "runtime", "incompatible", "input", "delegate", "meter"}
    assert emitted <= {kind.value for kind in ErrorKind}


def test_runner_parses_as_python_3_9():
    for name, text in shipped_sources().items():
        ast.parse(text, filename=name, feature_version=(3, 9))


@pytest.mark.parametrize("kind", ["float32", "int8", "dynamic"])
def test_runner_measures_a_model(kind):
    code, rec = run_runner(
        "run", "--model", FIX / f"tiny_{kind}.tflite", "--runs", 20, "--warmup", 2,
        "--eval", *SHARDS,
    )
    assert code == 0 and rec["status"] == "ok"
    assert len(rec["samples_ns"]) == 20 and all(s > 0 for s in rec["samples_ns"])
    assert rec["init_ms"] > 0 and rec["first_inference_us"] > 0
    rss = rec["rss_mb"]
    assert 0 < rss["before"] <= rss["after_init"] <= rss["peak"]
    assert rec["eval_n"] == 64 and rec["eval_method"].startswith("batched")
    assert rec["eval_selection"] == "all 64 samples" and rec["accuracy_metric"] == "top1"
    assert 0.0 <= rec["accuracy"] <= 1.0
    assert rec["runtime_name"] == "ai-edge-litert"
    (fid,) = rec["fidelity"]
    assert fid["output"] == "dense" and fid["n"] == 64 and rec["reference"] == "tiny_float32"
    if kind == "float32":  # the reference itself, on the host's preprocessed inputs: exact
        assert fid["max_abs"] == 0.0 and fid["snr_db"] is None and fid["cosine"] == 1.0
    else:
        assert 0 < fid["max_abs"] < 0.1 and fid["snr_db"] > 30 and fid["top1_agreement"] > 0.9


def test_runner_without_eval_data_gives_null_accuracy():
    code, rec = run_runner("run", "--model", FIX / "tiny_float32.tflite", "--runs", 5)
    assert code == 0 and rec["accuracy"] is None and rec["eval_method"] is None
    assert rec["fidelity"] is None


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

    write_eval_data(tmp_path / "eval", {"x": np.zeros((4, 32, 32), np.uint8)},
                           {"x": "unit"}, labels=np.zeros(4, np.int64))
    code, rec = run_runner("run", "--model", FIX / "tiny_float32.tflite", "--eval",
                           *sorted((tmp_path / "eval").glob("shard-*.npz")))
    assert code == 1 and rec["error_kind"] == "input"
    assert "takes samples [28, 28] but the eval data has [32, 32]" in rec["error"]


def test_an_old_eval_npz_is_one_line_that_names_the_fix(tmp_path):
    import numpy as np

    old = tmp_path / "eval.npz"
    np.savez(old, x=np.zeros((4, 28, 28), np.uint8), y=np.zeros(4, np.int64),
             x_scale=np.float32(1 / 255))
    code, rec = run_runner("run", "--model", FIX / "tiny_float32.tflite", "--eval", old)
    assert code == 1 and rec["error_kind"] == "input"
    assert "not an edgebench evaluation shard" in rec["error"] and "edgebench build" in rec["error"]


def _labels_by_float32(tmp_path):
    """Eval shards of the fixture's images labelled by the float32 model's own predictions."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    data = EvalData(SHARDS)
    (x,) = [np.concatenate([c[0]["input_1"] for c in data.chunks()])]
    f32 = Interpreter(model_path=str(FIX / "tiny_float32.tflite"))
    scores = model_outputs(f32, {"input_1": preprocess(x, "unit")})["dense"]
    labels = scores.argmax(axis=1)
    assert len(set(labels.tolist())) > 1  # otherwise agreement would mean nothing
    write_eval_data(tmp_path / "agree", {"input_1": x}, {"input_1": "unit"},
                           labels=labels, reference={"dense": scores}, label_output="dense")
    return tmp_path / "agree", scores


def test_int8_eval_honours_quantisation(tmp_path):
    """Labelled by the float32 model's own predictions, the int8 model must agree with it.

    If the runner fed raw floats into the int8 input (ignoring scale and zero point), or read
    its int8 output without the output's scale and zero point, the int8 model's predictions
    and outputs would be unrelated to float32's.
    """
    from ai_edge_litert.interpreter import Interpreter

    folder, _ = _labels_by_float32(tmp_path)
    interp = Interpreter(model_path=str(FIX / "tiny_int8.tflite"))
    interp.allocate_tensors()
    out = evaluate(interp, str(folder), eval_batch=16)
    assert out["accuracy"] >= 0.85, out
    assert out["eval_method"] == "batched(16)" and out["eval_n"] == 64
    (fid,) = out["fidelity"]
    assert fid["top1_agreement"] == out["accuracy"]  # the labels are float32's argmax
    assert fid["snr_db"] > 30 and fid["cosine"] > 0.999


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
def test_quantize_is_the_runners_rule_for_every_caller(dtype):
    """One rule feeds integer inputs everywhere (the runner, the build's stripping check, the
    tests' second runtime): round(x / float32(scale) + zero_point), clipped to the dtype. It
    gives what the runner computed before it became a helper, for float32 and float64 samples,
    and what the build's own copy computed on float32 samples (x / scale with a Python float)."""
    import numpy as np

    rng = np.random.default_rng(0)
    x32 = np.concatenate([rng.random(20000, dtype=np.float32) * 3 - 1,
                          np.arange(256, dtype=np.float32) / np.float32(255)])
    info = np.iinfo(dtype)
    for scale, zero in ((1 / 255, -128), (0.0078125, 0), (0.02352941, 5), (1e-3, 127)):
        for x in (x32, x32.astype(np.float64)):
            runner = np.clip(np.round(x / np.float32(scale) + zero), info.min, info.max)
            got = quantize(x, dtype, scale, zero)
            assert got.dtype == np.dtype(dtype)
            assert got.tobytes() == runner.astype(dtype).tobytes()
        build = np.clip(np.round(x32 / scale + zero), info.min, info.max).astype(dtype)
        assert quantize(x32, dtype, scale, zero).tobytes() == build.tobytes()
    assert quantize(x32, np.float32, 0.0, 0) is x32  # a float input: as it is
    assert quantize(x32, "int8", 0.0, 0).tobytes() == x32.astype(np.int8).tobytes()  # no scale


def test_streaming_shard_by_shard_gives_what_one_shard_gives(tmp_path):
    """The test set split into shards of 7 images is evaluated exactly as in one shard."""
    from ai_edge_litert.interpreter import Interpreter

    folder, scores = _labels_by_float32(tmp_path)
    data = EvalData(folder)
    import numpy as np

    x = np.concatenate([c[0]["input_1"] for c in data.chunks()])
    write_eval_data(tmp_path / "small", {"input_1": x}, {"input_1": "unit"},
                           labels=data.labels if data.labels is not None else scores.argmax(1),
                           reference={"dense": scores}, shard_bytes=7 * (784 + 40))
    assert len(eval_shard_paths(tmp_path / "small")) == 10
    results = []
    for where in (folder, tmp_path / "small"):
        interp = Interpreter(model_path=str(FIX / "tiny_int8.tflite"))
        results.append(evaluate(interp, str(where), eval_batch=5))
    assert results[0] == results[1]


def test_eval_limit_takes_a_stratified_subset_and_says_so():
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(FIX / "tiny_int8.tflite"))
    out = evaluate(interp, SHARDS, eval_batch=8, eval_limit=20)
    assert out["eval_n"] == 20 and out["fidelity"][0]["n"] == 20
    assert out["eval_selection"] == (
        "stratified: 20 of 64 samples, 10 classes in proportion, seed 0"
    )
    labels = EvalData(SHARDS, need_labels=True).labels
    picked, _ = select_samples(labels, 64, 20, seed=0)
    counts, totals = np.bincount(labels[picked], minlength=10), np.bincount(labels, minlength=10)
    assert counts.sum() == 20 and np.all(np.abs(counts - totals * 20 / 64) < 1)
    again, _ = select_samples(labels, 64, 20, seed=0)
    np.testing.assert_array_equal(picked, again)  # host and device choose the same samples


def test_without_labels_a_limit_takes_evenly_spaced_samples():
    import numpy as np

    picked, how = select_samples(None, 10, 4)
    np.testing.assert_array_equal(picked, [0, 2, 5, 7])
    assert how == "evenly spaced: 4 of 10 samples (no labels to stratify by)"
    assert select_samples(None, 10, 0) == (None, "all 10 samples")


def test_top_k_accuracy_counts_a_label_anywhere_in_the_k_best(tmp_path):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    data = EvalData(SHARDS, need_labels=True)
    x = np.concatenate([c[0]["input_1"] for c in data.chunks()])
    results = {}
    for metric in ("top1", "top5", "top10"):
        write_eval_data(tmp_path / metric, {"input_1": x}, {"input_1": "unit"},
                               labels=data.labels, metric=metric)
        interp = Interpreter(model_path=str(FIX / "tiny_float32.tflite"))
        out = evaluate(interp, str(tmp_path / metric))
        assert out["accuracy_metric"] == metric
        results[metric] = out["accuracy"]
    assert results["top1"] <= results["top5"] < results["top10"] == 1.0


def test_a_model_with_two_inputs_and_two_outputs_is_fed_and_read_by_name(tmp_path):
    """The TFLite tensor order (meta before image) is neither the model's nor alphabetical:
    feeding by position would put the image into the meta input."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    meta = rng.random((40, 5)).astype(np.float32)
    f32 = Interpreter(model_path=str(FIX / "two_io_float32.tflite"))
    assert [d["name"] for d in f32.get_input_details()][0].endswith("meta:0")
    ref = model_outputs(f32, {"image": preprocess(image, "unit"), "meta": meta})
    assert sorted(ref) == ["cls", "reg"] and ref["cls"].shape == (40, 3)
    labels = ref["cls"].argmax(axis=1)
    write_eval_data(tmp_path / "e", {"meta": meta, "image": image},
                           {"image": "unit", "meta": "none"}, labels=labels, reference=ref,
                           label_output="cls")
    for kind in ("float32", "int8"):
        code, rec = run_runner("run", "--model", FIX / f"two_io_{kind}.tflite", "--runs", 3,
                               "--eval", *sorted((tmp_path / "e").glob("shard-*.npz")))
        assert code == 0, rec
        fid = {f["output"]: f for f in rec["fidelity"]}
        assert sorted(fid) == ["cls", "reg"]
        assert fid["cls"]["top1_agreement"] is not None and fid["reg"]["top1_agreement"] is None
        if kind == "float32":
            assert rec["accuracy"] == 1.0 and fid["cls"]["max_abs"] == fid["reg"]["max_abs"] == 0
        else:
            assert rec["accuracy"] > 0.8 and fid["cls"]["snr_db"] > 15 and fid["reg"]["snr_db"] > 15


def test_preprocessing_is_bitwise_the_same_whole_or_in_batches():
    """The host preprocesses whole arrays; the runner, batch by batch into the model. Both are
    elementwise float32 operations, so the floats agree to the last bit."""
    import numpy as np

    ramp = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=3)
    rnd = np.random.RandomState(7).randint(0, 256, size=(300, 16, 16, 3)).astype(np.uint8)
    x = np.concatenate([ramp, rnd])
    for mode in PREPROCESS_MODES:
        whole = preprocess(x, mode)
        parts = np.concatenate([preprocess(x[s:s + 37], mode) for s in range(0, 301, 37)])
        assert whole.dtype == np.float32 and whole.tobytes() == parts.tobytes(), mode
    unit = preprocess(ramp, "unit")
    assert np.array_equal(unit, ramp.astype(np.float32) / np.float32(255))
    # what the runner did before: x * float32(1/255) differs in the last bit for many values
    assert np.count_nonzero(ramp.astype(np.float32) * np.float32(1 / 255) != unit) > 100
    sym = preprocess(ramp, "symmetric")
    assert sym.min() == -1.0 and sym.max() == 1.0


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
                           "--eval", *SHARDS)
    assert code == 0 and rec["status"] == "ok"
    assert rec["xnnpack"] is False
    assert "XNNPack" in rec["delegate_fallback"] or "delegate" in rec["delegate_fallback"]
    assert rec["accuracy"] is not None and len(rec["samples_ns"]) == 5


@pytest.mark.parametrize("mode", ["unit", "symmetric", "imagenet", "none"])
def test_the_host_and_the_runner_feed_the_model_bitwise_identical_inputs(tmp_path, mode):
    """The host computes the reference outputs from whole preprocessed arrays; the runner, in
    a process of its own, streams the raw samples shard by shard and preprocesses each batch.
    With the same float32 model the outputs agree to the last bit only if the inputs do."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (50, 8, 8, 3), dtype=np.uint8)
    meta = rng.random((50, 5)).astype(np.float32)
    model = FIX / "two_io_float32.tflite"
    host = {"image": preprocess(image, mode), "meta": meta}
    ref = model_outputs(Interpreter(model_path=str(model)), host, eval_batch=50)
    write_eval_data(tmp_path / "e", {"image": image, "meta": meta},
                           {"image": mode, "meta": "none"}, reference=ref,
                           shard_bytes=12 * (8 * 8 * 3 + 5 * 4 + 16))  # 5 shards
    shards = sorted((tmp_path / "e").glob("shard-*.npz"))
    assert len(shards) == 5
    code, rec = run_runner("run", "--model", model, "--runs", 2, "--eval-batch", 7,
                           "--eval", *shards)
    assert code == 0, rec
    assert [f["max_abs"] for f in rec["fidelity"]] == [0.0, 0.0]
    if mode == "unit":  # the control: inputs one rounding apart would show in the outputs
        old = {"image": image.astype(np.float32) * np.float32(1 / 255), "meta": meta}
        moved = model_outputs(Interpreter(model_path=str(model)), old, eval_batch=50)
        assert any(not np.array_equal(moved[k], ref[k]) for k in ref)


def test_this_machine_is_not_emulated():
    """Under qemu-user the runner sees qemu (tests/test_emulated_pi.py); here it must not."""
    assert emulation_evidence() is None
    info = device_info()
    assert info["emulated"] is False and info["emulation_evidence"] is None
    assert info["extra"]["cpu_affinity"] == sorted(os.sched_getaffinity(0))
