"""edgebench doctor against the loopback sshd, with device Pythons that really have each
problem: a good device, one that lacks a runtime, tflite-runtime 2.14 with numpy 2, and a
runtime whose shared object is damaged. Each gets its own one-line fix; bench diagnoses the
same traps before any model runs."""

from __future__ import annotations

import json

import pytest
from ssh_devices import FIX
from ssh_server import closed_port as _closed_port

from edgebench.bench.orchestration.doctor import checks_of
from edgebench.bench.orchestration.plan import plan_from_inputs
from edgebench.bench.orchestration.scheduler import bench_targets
from edgebench.errors import EdgebenchError
from edgebench.records import BenchSettings, Results


def doctor(cli, sshd, python, *extra):
    return cli("doctor", sshd.address, "--ssh-config", sshd.client_config, "--python", python,
               *extra)


def fixes(out: str) -> list[str]:
    return [ln.split("fix: ", 1)[1] for ln in out.splitlines() if ln.strip().startswith("fix:")]


def test_a_good_device_is_ready(cli, sshd, remote_python):
    proc = doctor(cli, sshd, remote_python)
    assert proc.code == 0, proc.out + proc.err
    assert "OK    python       Python 3.11" in proc.out
    assert "OK    numpy        numpy 1.26.4" in proc.out
    assert "OK    runtime      tflite-runtime 2.14.0" in proc.out
    assert "MB free in " + str(sshd.remote_tmp) in proc.out
    assert f"doctor: {sshd.address} is ready to bench" in proc.out
    assert fixes(proc.out) == []  # the VM's missing governor and sensor are warnings only
    assert sshd.leftovers() == []


def test_a_device_without_a_runtime_is_told_which_to_install(cli, sshd, no_runtime_python):
    proc = doctor(cli, sshd, no_runtime_python)
    assert proc.code == 1
    assert "FAIL  runtime      no TFLite runtime is installed" in proc.out
    assert fixes(proc.out) == [f"{no_runtime_python} -m pip install ai-edge-litert"]


def test_tflite_runtime_2_14_with_numpy_2_is_told_numpy_lt_2(cli, sshd, numpy2_python):
    proc = doctor(cli, sshd, numpy2_python)
    assert proc.code == 1
    assert "FAIL  numpy" in proc.out and "SystemError in CreateWrapperFromFile" in proc.out
    assert fixes(proc.out) == [f'{numpy2_python} -m pip install "numpy<2"']


def test_a_runtime_that_fails_to_import_names_the_real_error(cli, sshd, broken_runtime_python):
    proc = doctor(cli, sshd, broken_runtime_python)
    assert proc.code == 1
    line = next(ln for ln in proc.out.splitlines() if "runtime" in ln and "FAIL" in ln)
    assert "tflite-runtime 2.14.0 is installed but fails to import: ImportError:" in line
    assert "_pywrap_tensorflow_interpreter_wrapper" in line  # the damaged file, named
    assert "not installed" not in proc.out and "has no a" not in proc.out
    assert fixes(proc.out) == [
        f"{broken_runtime_python} -m pip install --force-reinstall tflite-runtime"]


def test_doctor_json(cli, sshd, numpy2_python):
    doc = json.loads(doctor(cli, sshd, numpy2_python, "--format", "json").out)
    assert doc["kind"] == "doctor" and doc["ready"] is False
    (numpy,) = [c for c in doc["checks"] if c["name"] == "numpy"]
    assert numpy["status"] == "fail" and numpy["fix"].endswith('pip install "numpy<2"')


def test_an_unreachable_device_is_one_line_exit_2(cli, sshd):
    address = f"ssh://root@127.0.0.1:{_closed_port()}"
    proc = cli("doctor", address, "--ssh-config", sshd.client_config)
    proc.error_line("connection refused", "enable the SSH server")
    assert proc.out == ""


def test_doctor_on_this_machine(cli):
    proc = cli("doctor")
    assert proc.code == 0, proc.out
    assert "OK    runtime      ai-edge-litert" in proc.out


@pytest.mark.parametrize("python_fixture, fragment", [
    ("numpy2_python", 'fix: {py} -m pip install "numpy<2"'),
    ("broken_runtime_python", "is installed but fails to import: ImportError"),
])
def test_bench_stops_on_the_same_traps_before_any_model_runs(
    request, sshd, tmp_path, python_fixture, fragment
):
    python = request.getfixturevalue(python_fixture)
    plan = plan_from_inputs([FIX / "tiny_float32.tflite", FIX / "tiny_int8.tflite"], run_id="r")
    opts = {sshd.address: sshd.options(python=python)}
    with pytest.raises(EdgebenchError) as exc:
        bench_targets(plan, tmp_path, BenchSettings(runs=5, repeats=1), [sshd.address],
                      lambda s: None, opts)
    message = str(exc.value)
    assert fragment.format(py=python) in message and "\n" not in message
    (path,) = tmp_path.glob("results-*.json")
    res = Results.load(path)
    assert [r.status for r in res.records] == ["failed", "failed"]
    assert all(r.error.startswith("not run: ") for r in res.records)  # no model ran
    assert sshd.leftovers() == []


def test_a_wheel_built_for_a_newer_glibc_is_named_with_both_versions():
    """What importing tflite-runtime 2.14 (manylinux_2_34) says on Raspberry Pi OS 11 (glibc
    2.31), as the runner records it; the check names both versions and the way out."""
    why = ("ImportError: /lib/aarch64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found "
           "(required by .../tflite_runtime/_pywrap_tensorflow_interpreter_wrapper.so)")
    facts = {"python": "3.9.2", "executable": "/home/pi/edgebench-venv/bin/python",
             "numpy": "1.26.4", "runtime": None, "glibc": "2.31", "machine": "aarch64",
             "tmp": {"path": "/tmp", "free_mb": 900.0}, "governor": "ondemand",
             "temperature_c": 48.3, "install_hint": "pip install ai-edge-litert",
             "traps": [{"runtime": "tflite-runtime",
                        "problem": "tflite-runtime 2.14.0 is installed but its wheel needs "
                                   "glibc 2.34 and this device has glibc 2.31 (" + why + ")",
                        "fix": "uninstall it, then pip install ai-edge-litert"}]}
    checks = {c.name: c for c in checks_of(facts)}
    assert checks["runtime"].status == "fail" and "glibc 2.34" in checks["runtime"].found
    assert checks["governor"].status == "warn" and "scaling_governor" in checks["governor"].fix
    assert checks["temperature"].status == "ok"
