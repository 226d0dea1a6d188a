"""What the SSH transport costs per model: the same models benched on ``local`` and over the
loopback sshd (this machine's Python on both sides), the difference divided by the models.

A script, not a test: it runs against whichever edgebench is on PYTHONPATH, so the figures
before and after a change to deploy/ssh.py come from the same script::

    PYTHONPATH=<old checkout> python tests/benchmarks/ssh_overhead.py   # before
    PYTHONPATH=<this checkout> python tests/benchmarks/ssh_overhead.py  # after

Needs root (the loopback sshd logs in as root), like tests/test_deploy_ssh.py. Prints, per
round, the bench's wall time on each target and two overheads per model: of the whole bench
(copies, device facts, compat check, every model), and of each model's own measurement
(``wall_s`` of its record: one command on the device).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/ssh_server.py: the loopback sshd

from ssh_server import start_sshd, stop_sshd  # noqa: E402

from edgebench.bench.orchestration.plan import plan_from_inputs  # noqa: E402
from edgebench.bench.orchestration.scheduler import bench_targets  # noqa: E402
from edgebench.records import BenchSettings  # noqa: E402

MODELS = 6
ROUNDS = 5


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="edgebench-ssh-overhead-"))
    (root / "sshd").mkdir()
    server = start_sshd(root / "sshd")
    try:
        models = []
        for i in range(MODELS):
            p = root / f"model{i}.tflite"
            shutil.copyfile(HERE.parent / "fixtures" / "tiny_float32.tflite", p)
            models.append(p)
        settings = BenchSettings(runs=1, warmup=0, timeout_s=120)
        options = {server.address: {"ssh_config": server.client_config,
                                    "python": sys.executable}}
        whole, own = [], []
        for r in range(ROUNDS):
            walls = {}
            for target in ("local", server.address):
                plan = plan_from_inputs(models, run_id=f"r{r}")
                t0 = time.monotonic()
                (res,) = bench_targets(plan, root / f"{r}-{len(walls)}", settings, [target],
                                       lambda _line: None, options)
                walls[target] = (time.monotonic() - t0, [rec.wall_s for rec in res.records])
                assert all(rec.ok for rec in res.records), res.records
            (lw, lrec), (sw, srec) = walls["local"], walls[server.address]
            whole.append((sw - lw) / MODELS)
            own.append(statistics.mean(srec) - statistics.mean(lrec))
            print(f"round {r + 1}: local {lw:.2f} s, ssh {sw:.2f} s for {MODELS} models; "
                  f"per model: bench {whole[-1]:.3f} s, measurement {own[-1]:.3f} s",
                  flush=True)
        print(f"median overhead per model over SSH: {statistics.median(whole):.3f} s of the "
              f"bench, {statistics.median(own):.3f} s of each model's measurement "
              f"({server.logins()} SSH logins in {ROUNDS} rounds)")
    finally:
        stop_sshd(server)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
