"""The SSH target against a real OpenSSH server on 127.0.0.1 (tests/ssh_server.py), with a
second Python that has tflite-runtime 2.14 and numpy < 2 (no ai-edge-litert): a different
runtime, as on a Pi (``remote_python``, from tests/ssh_devices.py).
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from ssh_server import closed_port
from system_tools import need

from edgebench.bench.orchestration.plan import plan_from_inputs
from edgebench.bench.orchestration.scheduler import bench_targets
from edgebench.cli import main
from edgebench.deploy import SshTarget, TargetError, TargetTimeout, TargetUnreachable
from edgebench.deploy.ssh import parse_ssh_address
from edgebench.errors import EdgebenchError
from edgebench.records import BenchSettings, Results

FIX = Path(__file__).parent / "fixtures"
FAST = BenchSettings(runs=5, warmup=1, timeout_s=120, repeats=1)


# --------------------------------------------------------------------------- address


@pytest.mark.parametrize(
    "address, expected",
    [
        ("ssh://pi@raspberrypi.local", ("pi", "raspberrypi.local", None)),
        ("ssh://board:2222", (None, "board", 2222)),
        ("ssh://PiAlias", (None, "PiAlias", None)),  # a ~/.ssh/config alias keeps its case
        ("ssh://me@[::1]:2200", ("me", "::1", 2200)),
    ],
)
def test_ssh_addresses(address, expected):
    assert parse_ssh_address(address) == expected


@pytest.mark.parametrize("address", ["ssh://", "ssh://host/path", "ssh://host:99999",
                                     "ssh://-oProxyCommand=x", "ssh://u:pw@host"])
def test_bad_ssh_addresses_name_the_form(address):
    with pytest.raises(TargetError, match=r"ssh://\[user@\]host\[:port\]"):
        parse_ssh_address(address)


def test_host_key_checking_stays_on_unless_asked():
    with SshTarget("ssh://pi@board") as t:
        strict = t._options()
    assert "StrictHostKeyChecking=yes" in strict and "BatchMode=yes" in strict
    with SshTarget("ssh://pi@board", accept_new_host_key=True) as t:
        assert "StrictHostKeyChecking=accept-new" in t._options()


# --------------------------------------------------------------------------- transport


def test_arguments_reach_the_device_unchanged(sshd):
    odd = ["a b", "'quoted'", 'dq"x', "x; touch /tmp/pwned-edgebench", "$HOME", "`id`", "*"]
    with SshTarget(sshd.address, **sshd.options()) as t:
        res = t.run(["python3", "-c", "import sys, json; print(json.dumps(sys.argv[1:]))", *odd],
                    timeout_s=60)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == odd
        assert Path(t.workdir).parent == sshd.remote_tmp
    assert not Path("/tmp/pwned-edgebench").exists()
    assert sshd.leftovers() == []


def test_push_fetch_odd_file_names_and_clean_up(sshd, tmp_path):
    src = tmp_path / "my model; 'v1' \"final\".tflite"
    src.write_bytes(b"TFL3 payload")
    with SshTarget(sshd.address, **sshd.options()) as t:
        remote = t.push([src])[src]
        assert Path(remote).read_bytes() == b"TFL3 payload"
        back = t.fetch(remote, tmp_path / "back" / "copy.bin")
        assert back.read_bytes() == b"TFL3 payload"
    assert sshd.leftovers() == []


def test_a_command_that_outlives_its_limit_is_killed_on_the_device(sshd):
    marker = f"edgebench-hang-{uuid.uuid4().hex}"
    with SshTarget(sshd.address, **sshd.options()) as t:
        with pytest.raises(TargetTimeout, match="took longer than 2 s.*raise --timeout-s"):
            t.run(["python3", "-c", "import signal; signal.pause()", marker], timeout_s=2)
    # The device's `timeout` killed the command and reaped it before the ssh session ended,
    # so by the time TargetTimeout is raised it is gone: no waiting, no deadline.
    still = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert still.returncode == 1, f"the timed-out command still runs on the device: {still}"
    assert sshd.leftovers() == []


def test_unknown_host_key_names_keyscan_and_the_option(sshd):
    cfg = sshd.client("unknown", known=False)
    with pytest.raises(TargetUnreachable) as exc:
        with SshTarget(sshd.address, ssh_config=cfg) as t:
            t.run(["true"], timeout_s=30)
    msg = str(exc.value)
    assert "host key is not known" in msg and "ssh-keyscan -p" in msg
    assert "--accept-new-host-key" in msg and "\n" not in msg
    # The explicit option accepts it, and remembers it.
    with SshTarget(sshd.address, ssh_config=cfg, accept_new_host_key=True) as t:
        assert t.run(["true"], timeout_s=30).returncode == 0
    assert "[127.0.0.1]" in (sshd.root / "known_hosts-unknown").read_text()


def test_refused_key_names_ssh_copy_id(sshd):
    cfg = sshd.client("refused", identity=sshd.root / "other_key")
    with pytest.raises(TargetUnreachable, match=rf"ssh-copy-id -p {sshd.port} root@127.0.0.1"):
        with SshTarget(sshd.address, ssh_config=cfg) as t:
            t.run(["true"], timeout_s=30)


def test_nothing_listening_is_unreachable(sshd):
    address = f"ssh://root@127.0.0.1:{closed_port()}"
    with pytest.raises(TargetUnreachable, match="connection refused.*enable the SSH server"):
        with SshTarget(address, **sshd.options()) as t:
            t.push([FIX / "tiny_int8.tflite"])


# --------------------------------------------------------------------------- bench over SSH


def test_no_python_on_the_device_is_one_line_and_leaves_nothing(sshd, tmp_path):
    plan = plan_from_inputs([FIX / "tiny_int8.tflite"], run_id="r")
    opts = {sshd.address: sshd.options(python="/opt/no/python3")}
    with pytest.raises(EdgebenchError, match="no /opt/no/python3 on the device.*--python"):
        bench_targets(plan, tmp_path, FAST, [sshd.address], lambda s: None, opts)
    (path,) = tmp_path.glob("results-*.json")
    res = Results.load(path)
    assert "no /opt/no/python3" in res.error
    assert [r.status for r in res.records] == ["failed"]
    assert res.records[0].error.startswith("not run: ")
    assert sshd.leftovers() == []


def test_no_runtime_on_the_device_names_the_install(sshd, tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv",
                    "--without-pip", str(bare)], check=True)
    plan = plan_from_inputs([FIX / "tiny_int8.tflite"], run_id="r")
    opts = {sshd.address: sshd.options(python=str(bare / "bin" / "python"))}
    with pytest.raises(EdgebenchError,
                       match="has neither numpy nor a TFLite runtime.*pip install ai-edge-litert"):
        bench_targets(plan, tmp_path / "run", FAST, [sshd.address], lambda s: None, opts)
    assert sshd.leftovers() == []


def test_bench_over_ssh_with_an_older_runtime(sshd, remote_python, tmp_path):
    """tflite-runtime 2.14 runs float32 and int8 models, refuses the dynamic-range one (it needs
    FULLY_CONNECTED v12) as `incompatible`, and an odd file name is no problem."""
    odd = tmp_path / "my model; 'v1'.tflite"
    odd.write_bytes((FIX / "tiny_float32.tflite").read_bytes())
    plan = plan_from_inputs([odd, FIX / "tiny_dynamic.tflite", FIX / "tiny_int8.tflite"],
                            run_id="r")
    lines = []
    (res,) = bench_targets(plan, tmp_path / "run", FAST, [sshd.address], lines.append,
                   {sshd.address: sshd.options(python=remote_python)})
    by = {r.variant: r for r in res.records}
    assert by["my model; 'v1'"].ok and by["tiny_int8"].ok
    for r in (by["my model; 'v1'"], by["tiny_int8"]):
        assert r.runtime_name == "tflite-runtime" and r.runtime_version == "2.14.0"
        assert r.latency_us.n == 5
    dyn = by["tiny_dynamic"]
    assert dyn.status == "incompatible"
    assert "FULLY_CONNECTED version 12" in dyn.error and "tflite-runtime 2.14.0" in dyn.error
    assert "\n" not in dyn.error
    assert res.device.runtime_name == "tflite-runtime" and res.device.extra["numpy"] < "2"
    assert res.error is None and sshd.leftovers() == []


def test_two_targets_one_unreachable_the_other_completes(tmp_path, capsys):
    """Through the command line: local finishes every model; the unreachable one says why in
    one line, in its results file too, and the exit status is 2 (fix the address)."""
    dead = f"ssh://nobody@127.0.0.1:{closed_port()}"
    code = main(["bench", str(FIX / "tiny_float32.tflite"), str(FIX / "tiny_int8.tflite"),
                 "--target", "local", "--target", dead, "--runs", "3", "--repeats", "1",
                 "--warmup", "0",
                 "--out", str(tmp_path), "--run", "two"])
    err = capsys.readouterr().err
    assert code == 2
    local = Results.load(tmp_path / "two" / "results-local.json")
    assert [r.status for r in local.records] == ["ok", "ok"] and local.error is None
    (dead_file,) = [p for p in (tmp_path / "two").glob("results-ssh*.json")]
    failed = Results.load(dead_file)
    assert "connection refused" in failed.error and "\n" not in failed.error
    assert [r.status for r in failed.records] == ["failed", "failed"]
    assert f"{dead}: " in err and "connection refused" in err


@pytest.mark.slow
def test_default_build_over_ssh_on_tflite_runtime_2_14(sshd, remote_python, small_manifest,
                                                       tmp_path, capsys):
    """Done-when of issue 3: a built manifest benched over SSH on tflite-runtime 2.14: float32,
    float16 and int8 run; dynamic-range is `incompatible` (FULLY_CONNECTED v12) in one line;
    the device is described; nothing is left on it; and the gate can require compatibility."""
    out = tmp_path / "out"
    code = main(["bench", str(small_manifest), "--target", sshd.address,
                 "--ssh-config", str(sshd.client_config), "--python", remote_python,
                 "--runs", "5", "--repeats", "1", "--warmup", "1", "--cooldown-s", "0.1",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1  # incompatible variants are failures of the run, not bad input
    (path,) = (out / "small-run").glob("results-ssh*.json")
    res = Results.load(path)
    by = {r.variant: r for r in res.records}
    kinds = {v.split("/")[1] for v in by}
    assert kinds == {"float32", "dynamic", "float16", "int8"}
    for v, r in by.items():
        if v.endswith("/dynamic"):
            assert r.status == "incompatible", v
            assert r.error.startswith("incompatible: needs operator FULLY_CONNECTED version 12, "
                                      "which tflite-runtime 2.14.0 cannot load")
            assert r.extra["ops_needed"]["FULLY_CONNECTED"] == 12
        else:
            assert r.ok, (v, r.error)
            assert r.runtime_name == "tflite-runtime" and r.runtime_version == "2.14.0"
            assert r.accuracy_source == "device" and 0.3 < r.accuracy <= 1.0
            assert r.latency_us.n == 5 and r.rss_mb.peak > 0
    assert "incompatible: needs operator FULLY_CONNECTED version 12" in err
    d = res.device
    assert d.runtime_name == "tflite-runtime" and d.runtime_version == "2.14.0"
    assert d.python.startswith("3.") and d.cores and d.mem_total_mb and d.cpu and d.os
    assert res.settings.cooldown_s == 0.1 and res.error is None
    assert sshd.leftovers() == []

    budgets = tmp_path / "budgets.toml"
    budgets.write_text('schema_version = 1\n[budgets."*/int8"]\nmin_accuracy = 0.3\n')
    gate = ["gate", str(path), "--budgets", str(budgets)]
    assert main(gate) == 0
    assert main([*gate, "--require-compatible", sshd.address]) == 1
    report = capsys.readouterr().out
    assert re.search(rf"FAIL +{re.escape(sshd.address)} +pruned/dynamic@\S+ +compatible with",
                     report)


# --------------------------------------------------------------------------- boards people have


def test_a_device_without_sftp_gets_the_legacy_scp_protocol(sshd_no_sftp, tmp_path):
    """OpenSSH 9's scp speaks SFTP; without `Subsystem sftp` it fails with "Connection
    closed" although the device is reachable. The target falls back to scp -O, says so, and
    keeps using it (fetch too)."""
    src = tmp_path / "model.tflite"
    src.write_bytes(b"TFL3 payload")
    with SshTarget(sshd_no_sftp.address, **sshd_no_sftp.options()) as t:
        remote = t.push([src, FIX / "tiny_int8.tflite"])
        assert Path(remote[src]).read_bytes() == b"TFL3 payload"
        assert t.facts()["file_copy"].startswith("scp -O (the legacy SCP protocol")
        back = t.fetch(remote[src], tmp_path / "back.bin")
        assert back.read_bytes() == b"TFL3 payload"
    assert "subsystem request for sftp" in sshd_no_sftp.log.read_text()  # it really had none
    assert sshd_no_sftp.leftovers() == []


def test_without_sftp_or_scp_files_stream_through_tar(sshd_no_sftp_no_scp, tmp_path):
    src = tmp_path / "my model; 'v1'.tflite"
    src.write_bytes((FIX / "tiny_int8.tflite").read_bytes())
    server = sshd_no_sftp_no_scp
    with SshTarget(server.address, **server.options()) as t:
        shard = FIX / "tiny_eval" / "shard-00000.npz"
        remote = t.push([src, shard])
        assert Path(remote[src]).read_bytes() == src.read_bytes()
        assert Path(remote[shard]).read_bytes() == shard.read_bytes()
        assert "tar stream over ssh" in t.facts()["file_copy"]
        back = t.fetch(remote[src], tmp_path / "back.tflite")
        assert back.read_bytes() == src.read_bytes()
    assert server.leftovers() == []


def test_one_connection_serves_every_command_and_is_closed_afterwards(sshd, tmp_path):
    before = sshd.logins()
    with SshTarget(sshd.address, **sshd.options()) as t:
        t.push([FIX / "tiny_int8.tflite", FIX / "tiny_float32.tflite"])
        for _ in range(4):
            assert t.run(["true"], timeout_s=30).returncode == 0
        control = Path(t._control_dir)
        assert control.is_dir() and oct(control.stat().st_mode & 0o777) == "0o700"
        assert t.facts()["ssh_connection"].startswith("one, reused")
        masters = subprocess.run(["pgrep", "-f", str(control)], capture_output=True, text=True)
        (master,) = map(int, masters.stdout.split())
        try:
            master_ended = os.pidfd_open(master)  # readable once the master has exited
        except ProcessLookupError:
            master_ended = None
    assert sshd.logins() - before == 1  # mktemp, one scp, four commands, rm: one login
    assert not control.exists()
    # `ssh -O exit` returns once the master has its order; the master exits right after. Wait
    # for that event (the 60 s only turn a hang into a failure), then look again.
    if master_ended is not None:
        ready, _, _ = select.select([master_ended], [], [], 60)
        os.close(master_ended)
        assert ready, "the ControlPersist master outlived the target"
    assert subprocess.run(["pgrep", "-f", str(control)], capture_output=True).returncode == 1
    # Without reuse, each command is its own connection (how it was before).
    before = sshd.logins()
    with SshTarget(sshd.address, reuse_connection=False, **sshd.options()) as t:
        for _ in range(3):
            t.run(["true"], timeout_s=30)
    assert sshd.logins() - before == 5  # mktemp, three commands, rm


def test_unknown_host_key_of_an_alias_names_the_real_host_and_port(sshd):
    """ssh-keyscan does not read ssh_config: the hint says what `ssh -G` resolves the alias to,
    and the known_hosts file the config names."""
    cfg = sshd.client("alias", known=False, alias="pi-alias")
    with pytest.raises(TargetUnreachable) as exc:
        with SshTarget("ssh://pi-alias", ssh_config=cfg) as t:
            t.run(["true"], timeout_s=30)
    msg = str(exc.value)
    kh = sshd.root / "known_hosts-alias"
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {kh}" in msg, msg
    assert "ssh-keyscan pi-alias" not in msg
    # The hint works as printed.
    scan = subprocess.run(["ssh-keyscan", "-p", str(sshd.port), "127.0.0.1"],
                          capture_output=True, text=True, timeout=30)
    kh.write_text(scan.stdout)
    with SshTarget("ssh://pi-alias", ssh_config=cfg) as t:
        assert t.run(["true"], timeout_s=30).returncode == 0


def test_bench_on_a_device_without_sftp(sshd_no_sftp, tmp_path):
    """The whole bench works through the fallback, and the results say which copy was used."""
    plan = plan_from_inputs([FIX / "tiny_float32.tflite", FIX / "tiny_int8.tflite"], run_id="r")
    lines = []
    (res,) = bench_targets(plan, tmp_path, FAST, [sshd_no_sftp.address], lines.append,
                           {sshd_no_sftp.address: sshd_no_sftp.options(python=sys.executable)})
    assert res.error is None and [r.status for r in res.records] == ["ok", "ok"]
    assert res.device.extra["file_copy"].startswith("scp -O")
    assert any("scp -O" in line for line in lines)
    assert sshd_no_sftp.leftovers() == []


def test_cpu_pin_and_a_delegate_over_ssh(sshd, tmp_path):
    """--cpu-pin and --delegate reach an SSH device: taskset pins the runner there, and a
    delegate library from this machine is copied over and loaded with load_delegate (this one
    takes no operator, so the model fails instead of running on the CPU)."""
    gcc = need("gcc")
    lib = tmp_path / "libstub_delegate.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(lib),
                    str(FIX / "delegate" / "stub_delegate.c")], check=True)
    plan = plan_from_inputs([FIX / "tiny_float32.tflite"], run_id="r")
    opts = {sshd.address: sshd.options(python=sys.executable)}
    pinned = replace(FAST, taskset="1")
    (res,) = bench_targets(plan, tmp_path / "a", pinned, [sshd.address], lambda s: None, opts)
    (rec,) = res.records
    assert rec.ok and rec.extra["cpu_affinity"] == [0] and rec.key.endswith(",cpus=0")
    delegated = replace(FAST, delegate=f"{lib}:mode=test")
    (res,) = bench_targets(plan, tmp_path / "b", delegated, [sshd.address], lambda s: None,
                           opts)
    (rec,) = res.records
    assert rec.status == "failed" and rec.extra["error_kind"] == "delegate"
    assert "libstub_delegate.so took none of the model's" in rec.error
    assert sshd.leftovers() == []


def test_sustained_and_a_meter_over_ssh(sshd, tmp_path):
    """--sustained and --power reach an SSH device: the meter is opened there before any model
    runs (this machine has no RAPL: one line, nothing measured), and the windows come back."""
    plan = plan_from_inputs([FIX / "tiny_float32.tflite"], run_id="r")
    opts = {sshd.address: sshd.options(python=sys.executable)}
    with pytest.raises(EdgebenchError, match=r"--power rapl: no RAPL energy counters on this "
                                             r"machine: looked for .*; no model was run"):
        bench_targets(plan, tmp_path / "a", replace(FAST, power="rapl"), [sshd.address],
                      lambda s: None, opts)
    failed = Results.load(next((tmp_path / "a").glob("results-ssh*.json")))
    assert failed.records[0].error.startswith("not run:") and failed.records[0].energy is None
    (res,) = bench_targets(plan, tmp_path / "b", replace(FAST, sustained_s=1.0),
                           [sshd.address], lambda s: None, opts)
    (rec,) = res.records
    assert rec.ok and len(rec.sustained.windows) == 1 and rec.sustained.windows[0].count > 0
    assert sshd.leftovers() == []
