"""Runtime compatibility: the runtime's own words parsed into operator and version, one line per
incompatible variant, and a gate that can require release variants to load on a target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edgebench.bench.device.pack import runner_archive
from edgebench.bench.device.runner.cli import MARKER
from edgebench.bench.judgement.budgets import load_budgets
from edgebench.bench.judgement.gate import evaluate
from edgebench.bench.orchestration.flows.compat import (
    Incompatibility,
    incompatibility_from,
    parse_missing_op,
)
from edgebench.bench.outputs.gate_table import format_report
from edgebench.cli import main
from edgebench.errors import ConfigError
from edgebench.records import BenchSettings, DeviceInfo, LatencyStats, Record, Results

FIX = Path(__file__).parent / "fixtures"
TFLITE_214 = (
    "Didn't find op for builtin opcode 'FULLY_CONNECTED' version '12'. An older version of this "
    "builtin might be supported. Are you using an old TFLite binary with a newer model?\n"
    "Registration failed.\n"
)


def test_parse_builtin_and_custom_ops():
    assert parse_missing_op(TFLITE_214) == ("FULLY_CONNECTED", 12)
    assert parse_missing_op("Encountered unresolved custom op: Convolution2DTransposeBias.") == (
        "Convolution2DTransposeBias", None)
    assert parse_missing_op("Didn't find custom op for name 'TFLite_Detection_PostProcess'") == (
        "TFLite_Detection_PostProcess", None)
    assert parse_missing_op("Could not open 'x.tflite'.") is None


def test_the_message_is_one_line_with_op_version_runtime_and_fix():
    inc = incompatibility_from(TFLITE_214, "tflite-runtime", "2.14.0")
    assert inc == Incompatibility("FULLY_CONNECTED", 12, "tflite-runtime", "2.14.0",
                                  inc.detail)
    msg = inc.message()
    assert "\n" not in msg
    assert "operator FULLY_CONNECTED version 12" in msg and "tflite-runtime 2.14.0" in msg
    assert "pip install ai-edge-litert" in msg


def test_runner_compat_mode_on_this_machines_runtime():
    """ai-edge-litert loads every fixture; a bad file is reported, not judged incompatible."""
    models = [str(FIX / "tiny_dynamic.tflite"), str(FIX / "not_a_model.tflite")]
    out = subprocess.run([sys.executable, str(runner_archive()), "compat",
                          *(a for m in models for a in ("--model", m))],
                         capture_output=True, text=True, timeout=120)
    data = [ln for ln in out.stdout.splitlines() if ln.startswith(MARKER)]
    import json

    verdict = json.loads(data[0][len(MARKER):])
    assert verdict["runtime_name"] == "ai-edge-litert"
    assert verdict["models"][models[0]]["loaded"] is True
    assert verdict["models"][models[1]]["loaded"] is None  # not a model: the run will say so


# --------------------------------------------------------------------------- the gate


def _rec(variant, status="ok", error=None):
    return Record(variant=variant, model_path=f"/{variant}.tflite", status=status, error=error,
                  zip_bytes=1000, accuracy=0.8,
                  latency_us=LatencyStats.from_samples([1000] * 3) if status == "ok" else None)


def _results(target, *records):
    return Results(run_id="r", created_at="t", target=target, manifest=None, host=DeviceInfo(),
                   device=DeviceInfo(), settings=BenchSettings(), git_commit=None,
                   records=records)


PI = "ssh://pi@raspberrypi.local"
INCOMPATIBLE = ("incompatible: needs operator FULLY_CONNECTED version 12, which tflite-runtime "
                "2.14.0 cannot load; install a newer runtime on the device (pip install "
                "ai-edge-litert) or leave this variant out of the release")


@pytest.fixture
def two_targets():
    local = _results("local", _rec("pruned/int8"), _rec("pruned/dynamic"))
    pi = _results(PI, _rec("pruned/int8"), _rec("pruned/dynamic", "incompatible", INCOMPATIBLE))
    return [local, pi]


def _budgets(tmp_path, body):
    """Budgets with a size rule on the int8 variants, plus ``body``. (Any rule that matches an
    incompatible record fails too: it did not run. require_compatible says so by name.)"""
    p = tmp_path / "budgets.toml"
    p.write_text('schema_version = 1\n[budgets."*/int8"]\nmax_zip_bytes = 5000\n' + body)
    return load_budgets(p)


def test_budgets_require_compatible_per_pattern_and_target(tmp_path, two_targets):
    b = _budgets(tmp_path, f'[budgets."pruned/*"]\nrequire_compatible = ["{PI}"]\n')
    report = evaluate(b, two_targets)
    compat = [c for c in report.checks if c.metric == "compatible"]
    assert [(c.target, c.variant, c.passed) for c in compat] == [
        (PI, "pruned/int8", True), (PI, "pruned/dynamic", False)]
    text = format_report(report)
    assert f"compatible with {PI} (incompatible: needs operator FULLY_CONNECTED" in text
    assert "gate: FAILED" in text


def test_require_compatible_true_means_every_target(tmp_path, two_targets):
    b = _budgets(tmp_path, '[budgets."pruned/int8"]\nrequire_compatible = true\n')
    compat = [c for c in evaluate(b, two_targets).checks if c.metric == "compatible"]
    assert {c.target for c in compat} == {"local", PI} and all(c.passed for c in compat)


def test_require_compatible_option_and_its_errors(tmp_path, two_targets):
    b = _budgets(tmp_path, "")
    report = evaluate(b, two_targets, require_compatible=[PI])
    assert [c.variant for c in report.failures if c.metric == "compatible"] == ["pruned/dynamic"]
    both = _budgets(tmp_path, f'[budgets."pruned/*"]\nrequire_compatible = ["{PI}"]\n')
    checks = evaluate(both, two_targets, require_compatible=[PI]).checks
    twice = [c for c in checks if c.metric == "compatible"]
    assert len(twice) == 2  # asked twice (budgets and option), checked once per record
    assert not [c for c in evaluate(b, two_targets, require_compatible=["local"]).failures]
    with pytest.raises(ConfigError, match="no results for target 'ssh://pi@other'.*bench on it"):
        evaluate(b, two_targets, require_compatible=["ssh://pi@other"])
    with pytest.raises(ConfigError, match="must be true or a list of targets"):
        _budgets(tmp_path, '[budgets."*/dynamic"]\nrequire_compatible = 3\n')
    with pytest.raises(ConfigError, match="did you mean 'require_compatible'"):
        _budgets(tmp_path, '[budgets."*/dynamic"]\nrequire_compatibel = true\n')


def test_gate_cli_require_compatible_exit_status(tmp_path, two_targets, capsys):
    for i, res in enumerate(two_targets):
        res.save(tmp_path / "run" / f"results-{i}.json")
    (tmp_path / "b.toml").write_text(
        'schema_version = 1\n[budgets."*/int8"]\nmax_zip_bytes = 5000\n')
    args = ["gate", str(tmp_path / "run"), "--budgets", str(tmp_path / "b.toml")]
    assert main(args) == 0
    assert main([*args, "--require-compatible", PI]) == 1
    assert "compatible with ssh://pi@raspberrypi.local (incompatible" in capsys.readouterr().out
    assert main([*args, "--require-compatible", "ssh://nowhere"]) == 2
