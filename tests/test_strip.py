"""edgebench.build.strip: a stripped model loses its names and converter metadata, not one
output bit, in ai-edge-litert and in tflite-runtime 2.14 alike."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from runtime_digests import runtime_digests

from edgebench.bench.device.runner.evaluate import evaluate
from edgebench.bench.device.runner.ops import can_load, model_ops
from edgebench.bench.device.shards import write_eval_data
from edgebench.build import facts, strip
from edgebench.build._tf import import_tf
from edgebench.build.conversion import convert
from edgebench.build.recipes import masks as mk
from edgebench.files import zip_bytes
from edgebench.models.guide import pruning_guide_model
from edgebench.records import VariantKind

KINDS = ("float32", "float16", "dynamic", "int8")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The guide's model (random weights, Dense 90% zero) in all four variants, each as
    converted and stripped, as files; and inputs to compare them on."""
    _, keras, _ = import_tf()
    keras.utils.set_random_seed(0)
    model = pruning_guide_model(keras)
    mk.apply_masks(model, mk.magnitude_masks(mk.prunable_layers(model, ["dense"], "t"), 0.9))
    rng = np.random.default_rng(0)
    calibration = rng.random((20, 28, 28), dtype=np.float32)
    folder = tmp_path_factory.mktemp("strip")
    files = {}
    for kind in KINDS:
        flat = convert(model, VariantKind(kind), calibration)
        out, removed = strip.strip_flatbuffer(flat)
        (folder / f"{kind}.tflite").write_bytes(flat)
        (folder / f"{kind}-stripped.tflite").write_bytes(out)
        files[kind] = (folder / f"{kind}.tflite", folder / f"{kind}-stripped.tflite", removed)
    return files, rng.random((16, 28, 28), dtype=np.float32), folder


@pytest.mark.parametrize("kind", KINDS)
def test_stripping_removes_names_and_metadata_and_keeps_every_output_bit(models, kind) -> None:
    files, x, _ = models
    original, stripped, removed = files[kind]
    flat, out = original.read_bytes(), stripped.read_bytes()
    assert removed["tensor_names"] > 5 and removed["tensor_name_bytes"] > 100
    assert [s["key"] for s in removed["signature_defs"]] == ["serving_default"]
    assert set(removed["metadata"]) == {"min_runtime_version", "CONVERSION_METADATA"}
    assert removed["bytes_after"] == len(out) < len(flat) == removed["bytes_before"]
    assert zip_bytes(stripped) < zip_bytes(original) - 300
    assert strip.identical_outputs(flat, out, x)
    interp = Interpreter(model_content=out)
    assert all(d["name"] == "" for d in interp.get_tensor_details())
    # Without signature defs there is nothing for a signature runner: why the configs refuse
    # strip = true with signatures = true.
    assert interp.get_signature_list() == {}
    with pytest.raises(ValueError, match="0 Signatures"):
        interp.get_signature_runner()
    assert "tensor names" in strip.summary(removed)


def test_both_runtimes_give_the_same_bits_stripped_or_not(models, remote_python) -> None:
    """ai-edge-litert here and tflite-runtime 2.14 (numpy < 2) in a second Python: each
    stripped file answers exactly as its original. tflite-runtime 2.14 loads neither the
    dynamic-range original nor its stripped copy (FULLY_CONNECTED v12): stripping changes no
    operator version."""
    files, x, folder = models
    paths = [p for kind in KINDS for p in files[kind][:2]]
    for python in (sys.executable, remote_python):
        digests = runtime_digests(python, x, paths, folder)
        for kind in KINDS:
            original, stripped, _ = files[kind]
            assert digests[str(original)] == digests[str(stripped)], (python, kind)
            loads = not digests[str(original)].startswith("error")
            assert loads == (python == sys.executable or kind != "dynamic"), (python, kind)


def test_keep_signatures_leaves_get_signature_runner_working(models) -> None:
    files, _, _ = models
    flat = files["int8"][0].read_bytes()
    out, removed = strip.strip_flatbuffer(flat, keep_signatures=True)
    assert removed["signature_defs"] == []
    assert len(files["int8"][1].read_bytes()) < len(out) < len(flat)
    results = []
    for model in (flat, out):
        interp = Interpreter(model_content=model)
        run = interp.get_signature_runner("serving_default")
        (name,) = interp.get_signature_list()["serving_default"]["inputs"]
        sample = np.zeros((1, 28, 28), np.int8)
        results.append({k: v.tobytes() for k, v in run(**{name: sample}).items()})
    assert results[0] == results[1]


def test_the_runner_and_the_facts_read_a_stripped_model(models, tmp_path) -> None:
    files, _, _ = models
    original, stripped, _ = files["int8"]
    assert [o["name"] for o in model_ops(str(stripped))] == [
        o["name"] for o in model_ops(str(original))
    ]
    sparsity = facts.tflite_facts(stripped).layer_sparsity
    assert any(v >= 0.89 for v in sparsity.values())  # the Dense kernel, now named by index
    assert all(k.startswith("#") for k in sparsity)
    assert set(mk.tflite_weight_facts(stripped.read_bytes())) <= {f"#{i}" for i in range(99)}
    assert can_load([str(stripped)])[str(stripped)]["loaded"] is True
    x = np.random.default_rng(1).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    write_eval_data(tmp_path / "eval", {"x": x}, {"x": "unit"}, labels=np.arange(10))
    interp = Interpreter(model_path=str(stripped))
    interp.allocate_tensors()
    assert evaluate(interp, str(tmp_path / "eval"), 8)["eval_n"] == 10


@pytest.mark.slow
def test_a_pipeline_section_with_strip_ships_stripped_variants(tmp_path) -> None:
    from edgebench.build.config import parse_pipeline
    from edgebench.build.pipeline import build_pipeline
    from edgebench.records import Manifest

    text = (Path(__file__).parent / "fixtures" / "small_pipeline.toml").read_text()
    text = text.replace("train_limit = 2000", "train_limit = 600").replace(
        "test_limit = 500", "test_limit = 100"
    )
    start = text.index("[recipes.scratch]")
    text = text[:start] + text[text.index("[bench]") :]  # one recipe is enough
    text = text.replace(
        'variants = ["float32", "dynamic", "float16", "int8"]',
        'variants = ["float32", "int8"]\nstrip = true',
    )
    config = parse_pipeline(text, path=tmp_path / "p.toml")
    manifest = Manifest.load(build_pipeline(config, tmp_path / "run", progress=lambda _: None))
    for kind in ("float32", "int8"):
        art = manifest.artifact(f"pruned/{kind}")
        record = art.extra["strip"]
        assert record["mode"] == "all" and record["identical_outputs_on"] > 0
        assert art.zip_bytes < record["unstripped_zip_bytes"] - 300
        assert art.file_bytes == record["removed"]["bytes_after"]
        assert art.host_accuracy is not None
    assert "strip" not in manifest.artifact("baseline/float32").extra
