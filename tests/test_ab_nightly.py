"""The nightly path, as a nightly job runs it: bench a model into the history, overwrite the
file with a heavier model, bench again, and ``compare --rebench`` re-measures last night's
stored file against tonight's. The verdict asserted is the instruction count's (deterministic);
with time, only that the re-measurement happened (never a verdict on live timing)."""

from __future__ import annotations

import json
import shutil

import pytest
from history_helpers import FIXTURES

from edgebench.bench.judgement.history import open_history
from edgebench.bench.judgement.model_store import sha256_of

CONV5, CONV6 = FIXTURES / "conv5_float32.tflite", FIXTURES / "conv6_float32.tflite"


@pytest.fixture
def two_nights(cli, tmp_path):
    model = tmp_path / "model.tflite"
    out = tmp_path / "out"
    shutil.copyfile(CONV5, model)
    assert cli("bench", model, "--out", out, "--runs", "20").code == 0
    shutil.copyfile(CONV6, model)  # tonight's model is 1.2x the convolutions
    assert cli("bench", model, "--out", out, "--runs", "20").code == 0
    return out


def test_rebench_reads_the_first_file_from_the_store(cli, two_nights) -> None:
    with open_history(two_nights / "history.sqlite") as h:
        last_night = h.runs()[-1]
        assert sha256_of(h.model_files(last_night)["model"]) == sha256_of(CONV5)
    done = cli("compare", "--rebench", "--format", "json", "--out", two_nights)
    assert done.code == 0, done.err
    (variant,) = json.loads(done.out)["comparisons"][0]["variants"]
    assert variant["measure"] == "time" and variant["rounds"] >= 12
    assert variant["latency_verdict"] in ("slower", "inconclusive", "same", "faster")


@pytest.mark.slow
def test_rebench_by_instructions_calls_the_heavier_model_slower(cli, two_nights) -> None:
    done = cli("compare", "--rebench", "instructions", "--fail-on-regression", "--format",
               "json", "--out", two_nights)
    assert done.code == 1, done.err  # a regression, and --fail-on-regression says so
    (variant,) = json.loads(done.out)["comparisons"][0]["variants"]
    assert variant["latency_verdict"] == "slower" and variant["measure"] == "instructions"
    assert 1.19 <= variant["ratio"] <= 1.21
    assert "latency" in variant["regressed_metrics"]
