"""What the bench stage plans to measure: manifests, loose files, names, bad inputs."""

from pathlib import Path

import pytest

from edgebench.bench.orchestration.plan import plan_from_inputs
from edgebench.errors import EdgebenchError
from edgebench.files import zip_bytes
from edgebench.records import BenchSettings

FIX = Path(__file__).parent / "fixtures"
FAST = BenchSettings(runs=10, warmup=1, timeout_s=60, repeats=1)


def test_plan_from_loose_tflite_files():
    plan = plan_from_inputs([FIX / "tiny_float32.tflite", FIX / "tiny_int8.tflite"], run_id="r")
    assert [i.variant for i in plan.items] == ["tiny_float32", "tiny_int8"]
    assert plan.eval_data is None and all(not i.labelled for i in plan.items)
    assert plan.items[0].zip_bytes == zip_bytes(FIX / "tiny_float32.tflite")
    assert 0 < plan.items[0].zip_bytes < plan.items[0].file_bytes


def test_same_stem_twice_gets_two_names(tmp_path):
    a = tmp_path / "a" / "m.tflite"
    b = tmp_path / "b" / "m.tflite"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes((FIX / "tiny_int8.tflite").read_bytes())
    plan = plan_from_inputs([a, b], run_id="r")
    assert [i.variant for i in plan.items] == ["m", "m-2"]


def test_no_inputs_is_a_user_error():
    with pytest.raises(EdgebenchError, match="give a manifest"):
        plan_from_inputs([])
