"""The benchmark_model flow: TFLite's own benchmark tool on the device; accuracy on the host.

For a device without Python (an Android phone) or where TFLite's own numbers are wanted. It
pushes the ``benchmark_model`` binary the user supplies (``--benchmark-binary``, built for the
device's ABI) and the models, runs the binary once per model with the configured threads,
XNNPACK on/off, warm-up and run counts, optional ``taskset`` mask and
``--report_peak_memory_footprint=true``, and reads its output into the same record fields as
the runner. A figure the output lacks stays null. Accuracy comes from this machine, with the
same model file and the local runner, and is marked ``accuracy_source: "host"``. The model's
memory (``rss_mb.model``) is the tool's "memory footprint delta from the start of the tool"
(the growth of its peak RSS: a bare C++ process that loads and invokes the model). The
continuous run (``--sustained``, ``--power android``) is
:mod:`~edgebench.bench.orchestration.flows.benchmark_sustained`.
"""

from __future__ import annotations

import hashlib
import math
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from edgebench.bench.device.pack import runner_archive
from edgebench.bench.device.runner.power import MeterError
from edgebench.bench.orchestration.flows.base import Flow, SetupError
from edgebench.bench.orchestration.flows.benchmark_output import (
    parse_benchmark_output,
    parse_op_profile,
)
from edgebench.bench.orchestration.flows.benchmark_sustained import (
    BatteryMeter,
    ShellState,
    WindowError,
    sustained_and_energy,
)
from edgebench.bench.orchestration.flows.compat import incompatibility_from, incompatible_record
from edgebench.bench.orchestration.flows.continuous import (
    continuous_warnings,
    energy_from,
    sustained_from,
)
from edgebench.bench.orchestration.flows.runner_flow import (
    evaluation_fields,
    parse_runner_output,
    runner_argv,
)
from edgebench.bench.orchestration.plan import BenchItem, BenchPlan
from edgebench.deploy import CommandResult, RuntimeMissing, Target, TargetTimeout
from edgebench.deploy.base import tail
from edgebench.errors import EdgebenchError, ErrorKind
from edgebench.records import (
    BenchSettings,
    DeviceInfo,
    LatencyStats,
    OpTime,
    Record,
    RssMb,
    Setup,
    Status,
)

#: ELF e_machine of each Android ABI / Linux machine, to catch a binary built for another CPU
_ABI_MACHINE = {"arm64-v8a": 183, "aarch64": 183, "armeabi-v7a": 40, "armeabi": 40,
                "armv7l": 40, "x86_64": 62, "x86": 3}
_MACHINE_NAME = {183: "arm64 (aarch64)", 40: "32-bit ARM", 62: "x86-64", 3: "x86"}
BUILD_HINT = ("build it with: bazel build -c opt --config=android_arm64 "
              "//tensorflow/lite/tools/benchmark:benchmark_model")


def check_benchmark_binary(path: str | os.PathLike | None, address: str) -> Path:
    """The benchmark_model file, if it exists and is an ELF executable (checked on the host)."""
    if path is None:
        raise EdgebenchError(
            f"{address}: the benchmark_model flow needs TFLite's benchmark_model; pass "
            f"--benchmark-binary PATH ({BUILD_HINT})"
        )
    p = Path(path).expanduser()
    if not p.is_file():
        raise EdgebenchError(f"--benchmark-binary {p}: no such file; {BUILD_HINT}")
    with p.open("rb") as fh:
        head = fh.read(20)
    if head[:4] != b"\x7fELF":
        raise EdgebenchError(
            f"--benchmark-binary {p} is not an executable (no ELF header); pass the "
            f"benchmark_model binary itself; {BUILD_HINT}"
        )
    return p


def elf_machine(path: Path) -> int | None:
    """The ELF header's e_machine (183 = aarch64), or None for a file that is not ELF."""
    with Path(path).open("rb") as fh:
        head = fh.read(20)
    if head[:4] != b"\x7fELF" or len(head) < 20:
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


class BenchmarkModelFlow(Flow):
    """Measure each model with ``benchmark_model`` on the device; accuracy on the host."""

    def __init__(self, target: Target, plan: BenchPlan, settings: BenchSettings) -> None:
        super().__init__(target, plan, settings)
        self.binary = check_benchmark_binary(settings.benchmark_binary, target.address)
        self.models_remote: dict[Path, str] = {}
        self.host_eval = HostAccuracy(plan, settings)

    @classmethod
    def check(cls, target: Target, settings: BenchSettings) -> None:
        check_benchmark_binary(settings.benchmark_binary, target.address)
        if settings.delegate:
            raise EdgebenchError(
                f"--delegate loads a library into edgebench's runner; benchmark_model on "
                f"{target.address} takes its delegates as flags: --use-gpu, --use-nnapi, or "
                "--benchmark-flag=--external_delegate_path=PATH"
            )
        if settings.xnnpack_weight_cache:
            raise EdgebenchError(
                f"--xnnpack-weight-cache is measured by edgebench's runner; benchmark_model on "
                f"{target.address} runs with a cache when you pass its own flag: "
                "--benchmark-flag=--xnnpack_weight_cache_file_path=/data/local/tmp/w.cache"
            )
        if settings.power and settings.power != "android":
            raise EdgebenchError(
                f"--power {settings.power}: {target.address} is measured by benchmark_model, "
                "where edgebench reads the battery (--power android); the other meters are "
                "read by edgebench's runner on the device (--flow runner, where Python runs)"
            )

    def prepare(self) -> DeviceInfo:
        t = self.target
        device = t.describe()
        abi = device.machine
        machine = elf_machine(self.binary)
        want = _ABI_MACHINE.get(abi or "")
        if want is not None and machine is not None and machine != want:
            raise RuntimeMissing(
                f"{t.address}: {self.binary.name} is built for "
                f"{_MACHINE_NAME.get(machine, f'ELF machine {machine}')} but the device is {abi}; "
                "build benchmark_model with --config=android_arm64 (or the device's ABI)"
            )
        models = [i.path for i in self.plan.items if not i.problem]
        pushed = t.push([self.binary, *models])  # one copy step for the binary and every model
        self.models_remote.update({p: pushed[p] for p in models})
        placed = self.binary_remote = pushed[self.binary]
        res = t.run(["chmod", "755", placed], timeout_s=60)
        if res.returncode != 0:
            raise RuntimeMissing(
                f"{t.address}: cannot make benchmark_model executable on the device "
                f"({_tail(res)}); check that its work folder allows programs"
            )
        sha = hashlib.sha256(self.binary.read_bytes()).hexdigest()
        self.state = ShellState(t, device.cores)
        self.meter = None
        if self.settings.power:
            try:
                self.meter = BatteryMeter(t)
            except MeterError as exc:
                raise SetupError(f"{t.address}: --power android: {exc}; no model was run"
                                 ) from None
        return replace(
            device,
            python=None,
            runtime_name="benchmark_model",
            runtime_version=None,  # the binary does not say; its sha256 identifies it
            extra={**device.extra, "benchmark_binary": self.binary.name,
                   "benchmark_binary_sha256": sha},
        )

    def check_compat(self, items: Sequence[BenchItem]) -> dict[str, Record]:
        # benchmark_model *is* the device's runtime: a model it cannot load fails within its
        # first second with the runtime's own "Didn't find op" line, which measure() turns
        # into an `incompatible` record. A separate probe would double the round trips.
        missing = [i.path for i in items if i.path not in self.models_remote]
        if missing:
            self.models_remote.update(self.target.push(missing))
        return {}

    def measure(self, item: BenchItem, setup: Setup) -> Record:
        t, s = self.target, self.settings.at(setup)
        if item.path not in self.models_remote:
            self.models_remote.update(t.push([item.path]))
        argv = benchmark_argv(self.binary_remote, self.models_remote[item.path], s)
        base = dict(item.facts(), threads=setup.threads, xnnpack=setup.xnnpack)
        before = t.temperature_c()
        try:
            res = t.run(argv, timeout_s=s.timeout_s)
        except TargetTimeout as exc:
            return Record(status=Status.FAILED.value, error=str(exc),
                          extra={"error_kind": ErrorKind.TIMEOUT.value}, **base)
        text = res.stdout + "\n" + res.stderr
        inc = incompatibility_from(text, "benchmark_model", None)
        if inc is not None:
            return incompatible_record(inc, ops=item.ops, **item.facts())
        if res.returncode in (126, 127) or _cannot_execute(text):
            raise RuntimeMissing(
                f"{t.address}: benchmark_model cannot run on the device ({_tail(res)}); pass "
                "--benchmark-binary a build of benchmark_model for the device's ABI"
            )
        parsed = parse_benchmark_output(text)
        if res.returncode != 0 or parsed.get("inference_avg_us") is None:
            why = _crash_reason(res)
            return Record(status=Status.FAILED.value, error=why,
                          extra={"error_kind": ErrorKind.CRASH.value,
                                 "exit_status": res.returncode}, **base)
        after = t.temperature_c()
        acc = self.host_eval.accuracy(item, setup)
        rec = record_from_benchmark(parsed, base, before, after, acc)
        if s.continuous_s is not None and not item.repeat:
            rec = self.continuous(rec, self.models_remote[item.path], s)
        if s.op_profile:
            ops = tuple(OpTime(**row) for row in parse_op_profile(text))
            if not ops:
                return replace(rec, warnings=rec.warnings + (
                    "--op-profile: benchmark_model printed no per-operator table (a build "
                    "without the profiler?)",))
            rec = replace(rec, op_profile=ops)
        return rec


    def continuous(self, rec: Record, model: str, s: BenchSettings) -> Record:
        """The sustained windows (and the battery's energy) of one model, into its record."""
        t = self.target
        argv = window_argv(self.binary_remote, model, s)

        def run_window() -> str:
            res = t.run(argv, timeout_s=s.timeout_s)
            return res.stdout + "\n" + res.stderr

        try:
            sustained, energy = sustained_and_energy(run_window, s.continuous_s or 0.0,
                                                     self.state, self.meter, s.power_idle_s)
        except MeterError as exc:
            raise SetupError(f"{t.address}: --power android: {exc}; the target stopped at "
                             "this model") from None
        except WindowError as exc:
            return replace(rec, warnings=rec.warnings + (
                f"--sustained: {exc} (its output: {_tail_text(exc.parsed)}); no sustained "
                "figures",))
        sus, en = sustained_from(sustained), energy_from(energy)
        warnings = continuous_warnings(sus, en)
        why = self.meter.external_power() if self.meter is not None else None
        if why:
            warnings.append(f"--power android: {why}: the phone draws from the cable, so the "
                            "battery's current is not its draw; measure unplugged, with adb "
                            "over Wi-Fi (adb tcpip 5555; adb connect PHONE)")
        return replace(rec, sustained=sus, energy=en, warnings=rec.warnings + tuple(warnings))


def window_argv(binary: str, model: str, s: BenchSettings) -> list[str]:
    """One window of the sustained run: benchmark_model invoking for 1 s after one warm-up
    run, without the memory monitor or the profiler (they would cost the window time)."""
    keep = [a for a in benchmark_argv(binary, model, replace(s, op_profile=False))
            if not a.startswith(("--warmup_runs=", "--num_runs=", "--min_secs=", "--max_secs=",
                                 "--report_peak_memory_footprint="))]
    return keep + ["--warmup_runs=1", "--num_runs=1", "--min_secs=1", "--max_secs=5"]


def _tail_text(parsed: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in list(parsed.items())[:3]) or "no figures"


def benchmark_argv(binary: str, model: str, s: BenchSettings) -> list[str]:
    """The benchmark_model command line for one model (exact run counts: min_secs=0), with the
    first cell of ``s``'s matrix (the flow passes ``settings.at(setup)``)."""
    setup = s.setups()[0]
    argv = [] if not s.taskset else ["taskset", s.taskset]
    argv += [
        binary,
        f"--graph={model}",
        f"--num_threads={setup.threads}",
        f"--use_xnnpack={'true' if setup.xnnpack else 'false'}",
        # benchmark_model's "First inference" is its first warm-up run, so keep at least one.
        f"--warmup_runs={max(1, s.warmup)}",
        "--warmup_min_secs=0",
        f"--num_runs={s.runs}",
        "--min_secs=0",
        f"--max_secs={max(1, math.ceil(s.timeout_s))}",
        "--report_peak_memory_footprint=true",
    ]
    argv += ["--use_gpu=true"] if s.use_gpu else []
    argv += ["--use_nnapi=true"] if s.use_nnapi else []
    argv += ["--enable_op_profiling=true"] if s.op_profile else []
    return argv + list(s.benchmark_args)


class HostAccuracy:
    """Accuracy and output fidelity of a model file on this machine, with the local runner (one
    process)."""

    def __init__(self, plan: BenchPlan, settings: BenchSettings) -> None:
        self.plan, self.settings = plan, settings

    def accuracy(self, item: BenchItem, setup: Setup | None = None) -> dict:
        if not item.labelled or self.plan.eval_data is None:
            return {}
        threads = setup.threads if setup else self.settings.threads[0]
        quick = BenchSettings(runs=1, warmup=0, threads=(threads,), xnnpack=(True,),
                              eval_batch=self.settings.eval_batch,
                              eval_limit=self.settings.eval_limit)
        argv = runner_argv(sys.executable, str(runner_archive()), str(item.path),
                           [str(p) for p in self.plan.eval_shards()], quick)
        try:
            out = subprocess.run(argv, capture_output=True, text=True,
                                 timeout=self.settings.timeout_s)
        except subprocess.TimeoutExpired:
            return {"host_accuracy_error": "host evaluation timed out"}
        data = parse_runner_output(out.stdout) or {}
        if data.get("status") != "ok":
            return {"host_accuracy_error": data.get("error") or "host evaluation failed"}
        return {k: data.get(k) for k in ("accuracy", "eval_method", "eval_n", "accuracy_metric",
                                         "eval_selection", "fidelity", "reference")}


def record_from_benchmark(
    parsed: dict, base: dict, temp_before: float | None, temp_after: float | None, acc: dict
) -> Record:
    """A record from parsed benchmark_model output; what it did not print stays None."""
    stat = parsed.get("inference_stat") or {}
    latency = LatencyStats.from_summary(
        n=stat.get("count"),
        mean=stat.get("avg", parsed.get("inference_avg_us")),
        std=stat.get("std"),
        min=stat.get("min"),
        max=stat.get("max"),
        p50=stat.get("median"),
        p5=stat.get("p5"),
        p95=stat.get("p95"),
    )
    extra = {k: parsed[k] for k in ("warmup_avg_us", "mem_delta_init_mb", "mem_delta_overall_mb",
                                    "output_form") if parsed.get(k) is not None}
    if "host_accuracy_error" in acc:
        extra["host_accuracy_error"] = acc["host_accuracy_error"]
    init_us = parsed.get("init_us")
    return Record(
        status=Status.OK.value,
        **evaluation_fields(acc, "host"),
        latency_us=latency,
        init_ms=None if init_us is None else round(init_us / 1000.0, 3),
        first_inference_us=parsed.get("first_inference_us"),
        warmup_runs=(parsed.get("warmup_stat") or {}).get("count"),
        rss_mb=benchmark_memory(parsed),
        runtime_name="benchmark_model",
        temp_c_before=temp_before,
        temp_c_after=temp_after,
        extra=extra,
        **base,
    )


def benchmark_memory(parsed: dict) -> RssMb | None:
    """benchmark_model's memory figures: the peak from periodic monitoring, and the model's
    share, its footprint delta from the tool's start (overall), None where not printed."""
    peak, model = parsed.get("peak_mem_mb"), parsed.get("mem_delta_overall_mb")
    if peak is None and model is None:
        return None
    return RssMb(before=None, after_init=None, peak=peak, model=model)


def _cannot_execute(text: str) -> bool:
    return any(s in text for s in ("not executable", "can't execute", "inaccessible or not found",
                                   "Exec format error", "Permission denied"))


def _crash_reason(res: CommandResult) -> str:
    text = (res.stderr + "\n" + res.stdout).splitlines()
    errors = [ln.strip() for ln in text if ln.strip().startswith(("ERROR:", "E tflite"))]
    if res.returncode > 128:
        sig = res.returncode - 128
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        detail = f"; {errors[-1]}" if errors else ""
        return f"benchmark_model crashed ({name}, exit status {res.returncode}){detail}"
    if errors:
        return f"benchmark_model failed (exit status {res.returncode}): {errors[-1]}"
    return (f"benchmark_model printed no timings (exit status {res.returncode}): {_tail(res)}")


def _tail(res: CommandResult) -> str:
    return tail(res.stderr + "\n" + res.stdout)
