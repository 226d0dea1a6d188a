"""An emulated arm64 Raspberry Pi as an SSH target: the real loopback sshd, a Debian arm64
Python under qemu-user as the device's ``python3``, and the real aarch64 wheels of its runtime.

The sysroots (tests/pi_sysroot.py) are built once and cached under ~/.cache/edgebench/sysroots
(about a minute each on a fresh machine). When the registries refuse a package, the tests of
that profile skip with the package's name; everything else still runs. Emulated timings are
slow (seconds per model start), so these tests bench a few models with few runs, and carry
the ``emulated`` mark: ``tox -e fast`` leaves them out, ``tox`` runs them.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from pathlib import Path

import pi_sysroot
import pytest
from system_tools import need

from edgebench.bench.judgement.compare import compare_runs
from edgebench.bench.judgement.compare_settings import CompareError
from edgebench.cli import main
from edgebench.records import Artifact, Manifest, Results

pytestmark = pytest.mark.emulated

FIX = Path(__file__).parent / "fixtures"
_BUILT: dict[str, object] = {}


def emulated_python(profile: str, folder: Path) -> str:
    """The profile's wrapper (the device's python3), or a skip that names what is missing."""
    need("qemu")  # a missing host tool: one reason, and a failure under .ci/run
    if profile not in _BUILT:
        try:
            _BUILT[profile] = pi_sysroot.build_sysroot(profile)
        except pi_sysroot.SysrootUnavailable as exc:
            _BUILT[profile] = exc
    root = _BUILT[profile]
    if isinstance(root, pi_sysroot.SysrootUnavailable):
        pytest.skip(f"no emulated {profile} here: {root}")
    return str(pi_sysroot.write_python_wrapper(root, folder / f"{profile}-python3"))


@pytest.fixture(scope="module")
def pi_manifest(small_manifest, tmp_path_factory) -> Path:
    """The default pipeline's pruned variants (float32, dynamic, float16, int8), with the
    build's eval data and host accuracies: a small part of the default manifest, so that the
    emulated runs stay short."""
    m = Manifest.load(small_manifest)
    data = json.loads(small_manifest.read_text())
    data["artifacts"] = [a for a in data["artifacts"]
                         if a["name"].startswith("pruned/") and a["kind"] != "keras"]
    data["run_id"] = "pi-run"
    path = m.folder / "manifest-pi.json"
    path.write_text(json.dumps(data))
    return path


def bench_on_pi(sshd, python: str, inputs: list[Path], out: Path, *more: str):
    code = main(["bench", *map(str, inputs), "--target", sshd.address,
                 "--ssh-config", str(sshd.client_config), "--python", python,
                 "--runs", "3", "--repeats", "1", "--warmup", "1", "--timeout-s", "600",
                 "--out", str(out),
                 "--no-history", *more])
    (path,) = [p for p in out.glob("*/results-ssh*.json") if p.parent.name != "latest"]
    return code, Results.load(path)


def host_accuracy(manifest: Path) -> dict[str, float]:
    return {a.name: a.host_accuracy for a in Manifest.load(manifest).artifacts}


@pytest.mark.slow
def test_pi_os_12_with_tflite_runtime_2_14(sshd, pi_manifest, tmp_path, capsys):
    """The default manifest's variants on an emulated Pi 4 with Raspberry Pi OS 12's Python,
    tflite-runtime 2.14.0 and numpy < 2: float32, float16 and int8 run with the host's
    accuracy, dynamic-range is incompatible, and everything says aarch64 and emulated."""
    python = emulated_python("rpios12-tflite-runtime", tmp_path)
    code, res = bench_on_pi(sshd, python, [pi_manifest], tmp_path / "out")
    out, err = capsys.readouterr()
    assert code == 1  # an incompatible variant fails the run, it is not bad input
    d = res.device
    assert d.machine == "aarch64" and d.emulated is True
    assert "qemu" in d.emulation_evidence and d.python.startswith("3.11")
    assert (d.runtime_name, d.runtime_version) == ("tflite-runtime", "2.14.0")
    assert d.extra["numpy"].startswith("1.")
    host = host_accuracy(pi_manifest)
    by = {r.variant: r for r in res.records}
    assert set(by) == {"pruned/float32", "pruned/dynamic", "pruned/float16", "pruned/int8"}
    for variant, rec in by.items():
        assert rec.machine == "aarch64" and rec.emulated is True, variant
        if variant == "pruned/dynamic":
            assert rec.status == "incompatible"
            assert "FULLY_CONNECTED version 12" in rec.error and "2.14.0" in rec.error
            continue
        assert rec.ok, (variant, rec.error)
        assert (rec.runtime_name, rec.runtime_version) == ("tflite-runtime", "2.14.0")
        assert abs(rec.accuracy - host[variant]) <= 0.001, (variant, rec.accuracy, host[variant])
        assert rec.accuracy_source == "device" and rec.latency_us.n == 3
    assert "(emulated)" in out and "ran under CPU emulation" in out
    assert "the CPU is emulated" in err
    assert sshd.leftovers() == []
    latency_is_never_compared_with_a_real_device(sshd, res, tmp_path, capsys)


def latency_is_never_compared_with_a_real_device(sshd, pi: Results, tmp_path, capsys):
    """compare and gate --against refuse; the budgets' latency checks say they did not hold
    emulated latency to a limit."""
    # The same address measured on a real CPU: this machine's Python over the same sshd.
    _, real = bench_on_pi(sshd, sys.executable, [Path(pi.manifest)], tmp_path / "real")
    assert pi.device.emulated and not real.device.emulated
    with pytest.raises(CompareError, match="ran under CPU emulation.*never compared"):
        compare_runs(real, pi)
    pi_file = next((tmp_path / "out").glob("latest/results-*.json"))
    real_file = next((tmp_path / "real").glob("latest/results-*.json"))
    capsys.readouterr()
    assert main(["compare", str(real_file), str(pi_file)]) == 2
    assert "ran under CPU emulation" in capsys.readouterr().err
    budgets = tmp_path / "budgets.toml"
    budgets.write_text('[budgets."*"]\nmax_latency_p90_us = 1\nmax_latency_regression = "10%"\n')
    assert main(["gate", str(pi_file), "--budgets", str(budgets), "--against",
                 str(real_file)]) == 2
    assert "ran under CPU emulation" in capsys.readouterr().err
    assert main(["gate", str(pi_file), "--budgets", str(budgets)]) == 0  # 1 µs never checked
    assert "not checked: measured under CPU emulation" in capsys.readouterr().out


def test_a_crash_of_the_batched_accuracy_pass_is_measured_again_per_sample(sshd, tmp_path):
    """tflite-runtime 2.14's aarch64 wheel crashes (SIGSEGV in gemmlowp) on per-channel int8
    convolutions at batch > 1; batch 1 works. The flow measures such a model again with the
    accuracy pass one sample at a time, gets the host's accuracy, and says why."""
    python = emulated_python("rpios12-tflite-runtime", tmp_path)
    folder = tmp_path / "build"
    folder.mkdir()
    shutil.copyfile(FIX / "tiny_int8.tflite", folder / "int8.tflite")
    shutil.copytree(FIX / "tiny_eval", folder / "eval")  # 64 images in 3 shards
    size = (folder / "int8.tflite").stat().st_size
    art = Artifact(name="tiny/int8", recipe="tiny", kind="int8", path="int8.tflite",
                   file_bytes=size, zip_bytes=size, params=0, nonzero_params=0,
                   compression_ratio=1.0, host_accuracy=None)
    Manifest(run_id="crash", created_at="2025-01-01T00:00:00+00:00", config_path=None,
             config_sha256=None, dataset=None, eval_data="eval", baseline="tiny/int8",
             artifacts=(art,)).save(folder / "manifest.json")
    code, res = bench_on_pi(sshd, python, [folder / "manifest.json"], tmp_path / "out")
    (rec,) = res.records
    assert code == 0 and rec.ok, rec.error
    assert rec.accuracy == 0.15625  # the host's, on the tiny_eval shards
    assert rec.eval_method == "per-sample" and rec.eval_n == 64
    assert "batches of 256 crashed the runtime (SIGSEGV" in rec.extra["eval_retry"]
    assert sshd.leftovers() == []


@pytest.mark.slow
def test_pi_os_12_with_ai_edge_litert_2_3(sshd, pi_manifest, tmp_path, capsys):
    """ai-edge-litert 2.3's aarch64 wheel loads the dynamic-range model too (the truth on this
    runtime), with the host's accuracy for every variant."""
    python = emulated_python("rpios12-litert", tmp_path)
    code, res = bench_on_pi(sshd, python, [pi_manifest], tmp_path / "out")
    assert code == 0, capsys.readouterr().err
    assert (res.device.runtime_name, res.device.runtime_version) == ("ai-edge-litert", "2.3.0")
    assert res.device.machine == "aarch64" and res.device.emulated is True
    host = host_accuracy(pi_manifest)
    for rec in res.records:
        assert rec.ok, (rec.variant, rec.error)
        assert abs(rec.accuracy - host[rec.variant]) <= 0.001, rec.variant
        assert rec.runtime_version == "2.3.0" and rec.emulated is True
    assert sshd.leftovers() == []


def test_a_short_sustained_run_over_ssh_on_the_emulated_pi(sshd, tmp_path):
    """--sustained over SSH on the emulated Pi: the runner's windows come back with every
    field, the ratio from them, and the device state the emulated Pi can give (its sysfs is
    the host's: no thermal zone nor cpufreq here, so null with the reason); the model's memory
    is the runner's too. Shape only: emulated speed says nothing."""
    python = emulated_python("rpios12-litert", tmp_path)
    code, res = bench_on_pi(sshd, python, [FIX / "tiny_float32.tflite"], tmp_path / "out",
                            "--sustained", "2")
    (rec,) = res.records
    assert code == 0 and rec.ok, rec.error
    s = rec.sustained
    assert len(s.windows) == 2 and all(w.count > 0 and w.p50_us > 0 for w in s.windows)
    assert s.ratio == round(s.windows[-1].p50_us / s.windows[0].p50_us, 4)
    assert set(s.unreadable) >= {"temp_c", "freq_mhz"} and rec.energy is None
    assert rec.rss_mb.model is not None and rec.rss_mb.steady is not None
    assert sshd.leftovers() == []


def test_pi_os_11_with_tflite_runtime_2_13(sshd, tmp_path):
    """Raspberry Pi OS 11 (bullseye: Python 3.9, glibc 2.31) stops at tflite-runtime 2.13."""
    python = emulated_python("rpios11-tflite-runtime", tmp_path)
    code, res = bench_on_pi(sshd, python, [FIX / "tiny_float32.tflite",
                                           FIX / "tiny_dynamic.tflite"], tmp_path / "out")
    assert code == 1
    assert res.device.python.startswith("3.9") and res.device.runtime_version == "2.13.0"
    by = {r.variant: r for r in res.records}
    assert by["tiny_float32"].ok and by["tiny_float32"].machine == "aarch64"
    assert by["tiny_dynamic"].status == "incompatible"


def test_a_delegate_for_another_cpu_is_refused_before_any_model_runs(sshd, tmp_path, capsys):
    """An x86-64 library as the delegate of the aarch64 device: one line, nothing measured."""
    python = emulated_python("rpios12-litert", tmp_path)
    x86_so = next(Path(p) for p in ("/lib/x86_64-linux-gnu/libm.so.6",
                                     "/usr/lib/x86_64-linux-gnu/libm.so.6") if Path(p).exists())
    code, res = bench_on_pi(sshd, python, [FIX / "tiny_float32.tflite"], tmp_path / "out",
                            "--delegate", str(x86_so))
    err = capsys.readouterr().err
    assert code == 2
    assert "built for x86-64 but the device is aarch64" in res.error
    assert "built for x86-64 but the device is aarch64" in err.strip().splitlines()[-1]
    assert [r.status for r in res.records] == ["failed"]
    assert sshd.leftovers() == []


def test_a_package_the_registry_refuses_names_itself(tmp_path):
    """The suite says which package could not be fetched (the emulated tests skip with it)."""
    need("qemu")
    bogus = pi_sysroot.Profile(
        name="bogus", summary="a profile with a package Debian does not have", suite="bookworm",
        python="3.11", debs=("edgebench-no-such-package",), wheels=("numpy==1.26.4",),
        wheel_platforms=pi_sysroot.BOOKWORM_TAGS, runtime_module="numpy",
    )
    with pytest.raises(pi_sysroot.SysrootUnavailable) as exc:
        pi_sysroot.build_sysroot(bogus, tmp_path)
    assert exc.value.what == "edgebench-no-such-package"
    assert "cannot fetch the arm64 package edgebench-no-such-package" in str(exc.value)
    assert "\n" not in str(exc.value)
    assert not pi_sysroot.sysroot_path(bogus, tmp_path).exists()  # nothing half-built is kept


def test_a_changed_recipe_is_another_sysroot(tmp_path):
    """The cache key is the recipe: a new pin or package list builds a new folder."""
    base = pi_sysroot.PROFILES["rpios12-tflite-runtime"]
    newer = dataclasses.replace(base, wheels=("tflite-runtime==2.14.0",
                                              "numpy==1.26.3"))
    assert pi_sysroot.sysroot_path(base, tmp_path) != pi_sysroot.sysroot_path(newer, tmp_path)
    assert pi_sysroot.sysroot_path(base, tmp_path).name.startswith("rpios12-tflite-runtime-")
    assert pi_sysroot.sysroot_path(base) == pi_sysroot.sysroot_path(base)  # stable
