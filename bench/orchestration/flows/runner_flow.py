"""The runner flow: edgebench's own runner (``runner.pyz``) on a device, one process a model.

The runner, the evaluation data, every model (and a delegate library from this machine) are
copied to the device in one step; each model is then measured by its own ``python runner.pyz
run …`` under the target's time limit, once per cell of the threads x XNNPACK matrix, pinned
with ``taskset`` when asked, and prints one JSON record. A process that the runtime crashes in
the batched accuracy pass is measured again with the accuracy pass one sample at a time, and
the record says so.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from edgebench.bench.device.pack import runner_archive
from edgebench.bench.device.runner.cli import MARKER
from edgebench.bench.device.runner.measure import EVAL_MARK
from edgebench.bench.device.runner.power import MeterError, open_meter
from edgebench.bench.orchestration.flows.base import Flow, SetupError
from edgebench.bench.orchestration.flows.compat import (
    Incompatibility,
    incompatibility_from,
    incompatible_record,
)
from edgebench.bench.orchestration.flows.continuous import (
    continuous_warnings,
    energy_from,
    rss_from,
    sustained_from,
    weight_cache_from,
)
from edgebench.bench.orchestration.plan import BenchItem
from edgebench.deploy import (
    RuntimeMissing,
    Target,
    TargetError,
    TargetTimeout,
    TargetUnreachable,
    target_scheme,
)
from edgebench.errors import EdgebenchError, ErrorKind
from edgebench.records import (
    BenchSettings,
    DeviceInfo,
    LatencyStats,
    OutputFidelity,
    Record,
    Setup,
    Status,
    from_dict,
)
from edgebench.values import parse_delegate

#: ELF e_machine of a device's ``uname -m``, to catch a delegate library built for another CPU
ELF_MACHINES = {"aarch64": 183, "arm64": 183, "armv7l": 40, "armv6l": 40, "x86_64": 62,
                "i686": 3, "i386": 3, "riscv64": 243}
ELF_NAMES = {183: "aarch64", 40: "32-bit ARM", 62: "x86-64", 3: "x86", 243: "riscv64"}


def check_shared_object(path: Path, machine: str | None, address: str) -> None:
    """A delegate library on this machine must be an ELF shared object for the device's CPU."""
    with Path(path).open("rb") as fh:
        head = fh.read(20)
    if head[:4] != b"\x7fELF" or len(head) < 20:
        raise SetupError(f"--delegate {path} is not a shared library (no ELF header); pass the "
                         "delegate's .so file")
    order: Literal["little", "big"] = "little" if head[5] == 1 else "big"
    e_type, e_machine = (int.from_bytes(head[16:18], order), int.from_bytes(head[18:20], order))
    if e_type != 3:  # ET_DYN
        raise SetupError(f"--delegate {path} is an ELF file but not a shared library (.so); "
                         "pass the delegate library, not a program")
    want = ELF_MACHINES.get((machine or "").lower())
    if want is not None and e_machine != want:
        built = ELF_NAMES.get(e_machine, f"ELF machine {e_machine}")
        raise SetupError(f"{address}: --delegate {path.name} is built for {built} but the device "
                         f"is {machine}; build the delegate for {machine}")


def parse_runner_output(stdout: str) -> dict | None:
    """The runner's one JSON line, or None when it printed none (it crashed)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                return json.loads(line[len(MARKER) :])
            except json.JSONDecodeError:
                return None
    return None


def device_python(target: Target) -> str:
    """The device's Python for the runner; a target without one (a phone) is refused here."""
    if target.python is None:
        raise EdgebenchError(
            f"{target.address} has no Python for edgebench's runner; measure it with "
            "TFLite's benchmark_model instead (--flow benchmark_model --benchmark-binary PATH)"
        )
    return target.python


def describe_target(target: Target, runner_remote: str, timeout_s: float = 60.0) -> DeviceInfo:
    """Ask the runner on the device what it is (runtime, CPU, governor, temperature).

    Raises :class:`~edgebench.deploy.RuntimeMissing` when the device has no usable Python,
    numpy or TFLite runtime, with the command that installs it.
    """
    res = target.run([device_python(target), runner_remote, "info"], timeout_s=timeout_s)
    data = parse_runner_output(res.stdout)
    if res.returncode == 127 or (data is None and "not found" in res.stderr):
        raise RuntimeMissing(
            f"{target.address}: there is no {target.python} on the device; install Python 3.9+ "
            "there (sudo apt install python3 python3-numpy) or name another with --python"
        )
    if res.returncode != 0 or data is None:
        tail = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeMissing(
            f"{target.address}: the runner could not start with {target.python} ({tail}); "
            "install Python 3.9+ with numpy and ai-edge-litert or tflite-runtime there"
        )
    device = from_dict(DeviceInfo, data)
    traps = (device.extra or {}).get("runtime_traps") or []
    if device.runtime_name is None:
        if traps:  # installed, but it fails to import: say why, not "not installed"
            raise RuntimeMissing(f"{target.address}: {traps[0]['problem']}; "
                                 f"fix: {traps[0]['fix']}")
        numpy_missing = not (device.extra or {}).get("numpy")
        need = "neither numpy nor a TFLite runtime" if numpy_missing else "no TFLite runtime"
        install = (device.extra or {}).get("install_hint") or (
            f"{target.python} -m pip install ai-edge-litert")
        raise RuntimeMissing(
            f"{target.address}: {target.python} (Python {device.python}) has {need}; "
            f"install one there (it brings numpy): {install}"
        )
    for trap in traps:
        if "runtime" not in trap:  # a runtime that loads but fails every model (numpy 2)
            raise RuntimeMissing(f"{target.address}: {trap['problem']}; fix: {trap['fix']}")
    return device


# The runner's figures a Record keeps as they come (None where the runner did not report one).
AS_REPORTED = ("init_ms", "first_inference_us", "warmup_runs", "threads", "xnnpack",
               "delegate_fallback", "runtime_name", "runtime_version", "temp_c_before",
               "temp_c_after")


def record_from_runner(item: BenchItem, data: dict | None, fallback_error: str | None) -> Record:
    """Merge what the host knows about a model with what the runner measured."""
    base = item.facts()
    extra = {k: data[k] for k in ("delegate", "delegate_partitions", "cpu_affinity")
             if data and data.get(k) is not None}
    if data is not None and data.get("error_kind") == ErrorKind.INCOMPATIBLE:
        text = data.get("error") or ""
        rt = (data.get("runtime_name"), data.get("runtime_version"))
        inc = incompatibility_from(text, *rt) or Incompatibility(None, None, *rt, text)
        return incompatible_record(inc, ops=item.ops, **item.facts())
    if data is None or data.get("status") != Status.OK.value:
        error = (data or {}).get("error") or fallback_error or "the runner printed no result"
        extra = {"error_kind": (data or {}).get("error_kind", ErrorKind.CRASH.value)}
        return Record(status=Status.FAILED.value, error=error, extra=extra, **base)
    samples = data.get("samples_ns") or []
    latency = LatencyStats.from_samples(samples) if samples else None
    sustained = sustained_from(data.get("sustained"))
    energy = energy_from(data.get("energy"))
    weight_cache = weight_cache_from(data.get("weight_cache"))
    reported: dict[str, Any] = {k: data.get(k) for k in AS_REPORTED}
    return Record(
        status=Status.OK.value,
        **evaluation_fields(data, "device"),
        latency_us=latency,
        **reported,
        rss_mb=rss_from(data.get("rss_mb")),
        sustained=sustained,
        energy=energy,
        weight_cache=weight_cache,
        warnings=tuple(continuous_warnings(sustained, energy, weight_cache)),
        samples_us=tuple(round(s / 1000.0, 1) for s in samples),
        extra=extra,
        **base,
    )


def evaluation_fields(data: dict, source: str) -> dict:
    """The runner's evaluation figures as Record fields: the accuracy (measured on ``source``,
    "device" or "host") and its metric, how it was evaluated and on how many samples chosen
    how, and output fidelity against the reference model."""
    accuracy = data.get("accuracy")
    return {
        "accuracy": accuracy,
        "accuracy_source": source if accuracy is not None else None,
        "eval_method": data.get("eval_method"),
        "eval_n": data.get("eval_n"),
        "accuracy_metric": data.get("accuracy_metric"),
        "eval_selection": data.get("eval_selection"),
        "fidelity": tuple(from_dict(OutputFidelity, f) for f in data.get("fidelity") or ()),
        "reference": data.get("reference"),
    }


def runner_argv(
    python: str,
    runner: str,
    model: str,
    eval_paths: Sequence[str] | None,
    s: BenchSettings,
    setup: Setup | None = None,
    delegate: str | None = None,
    continuous: bool = True,
) -> list[str]:
    """The command line that measures one model on a device (``eval_paths``: the evaluation
    shards there, in order), with one cell of the matrix (default: the first), pinned to
    ``s.taskset``'s CPUs, with ``delegate`` (its path there), and the continuous run
    (--sustained, --power) unless ``continuous`` is False (a repeat process)."""
    setup = setup or s.setups()[0]
    argv = ["taskset", s.taskset] if s.taskset else []
    argv += [python, runner, "run", "--model", model]
    argv += ["--runs", str(s.runs), "--warmup", str(s.warmup), "--threads", str(setup.threads)]
    if not setup.xnnpack:
        argv.append("--no-xnnpack")
    if eval_paths:
        argv += ["--eval", *eval_paths, "--eval-batch", str(s.eval_batch)]
        argv += ["--eval-limit", str(s.eval_limit)]
    if delegate is not None and s.delegate:
        argv += ["--delegate", delegate]
        for key, value in parse_delegate(s.delegate)[1].items():
            argv += ["--delegate-option", f"{key}={value}"]
    if continuous and s.xnnpack_weight_cache and setup.xnnpack:
        argv.append("--xnnpack-weight-cache")
    if continuous and s.continuous_s is not None:
        argv += ["--sustained", f"{s.continuous_s:g}"]
        if s.power:
            argv += ["--power", s.power, "--power-idle-s", f"{s.power_idle_s:g}"]
    return argv


def crash_signal(returncode: int) -> str | None:
    """``SIGSEGV`` for a process a signal killed (-11 locally, 139 through a shell), else None."""
    sig = -returncode if returncode < 0 else returncode - 128 if 128 < returncode < 160 else 0
    if not sig:
        return None
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


class RunnerFlow(Flow):
    """The self-contained runner on the device: one process per model, one time limit each."""

    runner_remote: str
    eval_remote: list[str] | None  # the evaluation shards on the device, in order
    models_remote: dict[Path, str]
    delegate_remote: str | None = None  # the delegate library on the device, if one is loaded

    @classmethod
    def check(cls, target: Target, settings: BenchSettings) -> None:
        a = target.address
        device_python(target)
        flow_hint = "--flow benchmark_model --benchmark-binary PATH"
        if settings.op_profile:
            raise EdgebenchError(
                f"--op-profile: the runner on {a} cannot profile operators (the TFLite Python "
                f"API has no operator profiler); profile with TFLite's benchmark_model: {flow_hint}"
            )
        for flag, on in (("--use-gpu", settings.use_gpu), ("--use-nnapi", settings.use_nnapi)):
            if on:
                raise EdgebenchError(
                    f"{flag} picks a delegate of benchmark_model; on {a} the runner loads a "
                    f"delegate library instead: --delegate PATH.so (or {flow_hint})"
                )
        if settings.benchmark_args:
            raise EdgebenchError(
                f"--benchmark-flag {settings.benchmark_args[0]} is for benchmark_model; {a} is "
                f"measured by edgebench's runner (or pass {flow_hint})"
            )
        if settings.delegate:
            path, _ = parse_delegate(settings.delegate)
            if target_scheme(a) == "local" and "/" in path and not Path(path).is_file():
                raise EdgebenchError(f"--delegate {path}: no such file; check the path")
        if settings.power and target_scheme(a) == "local":
            try:  # this machine is the device: its meter is opened before anything runs
                open_meter(settings.power)
            except MeterError as exc:
                raise EdgebenchError(f"{a}: --power {settings.power}: {exc}; no model was "
                                     "run") from None

    def delegate_file(self) -> Path | None:
        """The delegate library to copy to the device: a file on this machine, else None (a
        path on the device, or a name the device's dynamic linker finds)."""
        if not self.settings.delegate:
            return None
        path = Path(parse_delegate(self.settings.delegate)[0]).expanduser()
        return path if "/" in str(path) and path.is_file() else None

    def prepare(self) -> DeviceInfo:
        """Copy the runner, the evaluation shards, every model and the delegate in one step,
        then ask the runner what the device is, and check the CPU pin and the delegate there."""
        t, plan, s = self.target, self.plan, self.settings
        local_delegate = self.delegate_file()
        shards = plan.eval_shards()
        models = [i.path for i in plan.items if not i.problem]
        archive = runner_archive()
        files = [archive, *shards, *models, *([local_delegate] if local_delegate else [])]
        placed = t.push(files)
        self.runner_remote = placed[archive]
        self.eval_remote = [placed[p] for p in shards] or None
        self.models_remote = {p: placed[p] for p in models if p in placed}
        device = describe_target(t, self.runner_remote)
        device = replace(device, extra={**device.extra, **t.facts()})
        if s.taskset:
            self.check_cpu_pin(device)
        self.delegate_remote = None
        if s.delegate:
            if local_delegate is not None:
                check_shared_object(local_delegate, device.machine, t.address)
                self.delegate_remote = placed[local_delegate]
            else:
                self.delegate_remote = parse_delegate(s.delegate)[0]
            self.check_delegate()
        if s.power:
            self.check_meter()
        self.device = device
        return device

    def check_meter(self) -> None:
        """Read the energy meter once on the device: one line and no measurement when it
        cannot be read (a machine without RAPL, a sensor that is not there)."""
        t, meter = self.target, self.settings.power
        res = t.run([device_python(t), self.runner_remote, "meter", "--power", meter or ""],
                    timeout_s=60)
        data = parse_runner_output(res.stdout) or {}
        if not data.get("ok"):
            why = data.get("error") or (res.stderr.strip().splitlines() or ["no output"])[-1]
            raise SetupError(f"{t.address}: --power {meter}: {why}; no model was run")

    def check_cpu_pin(self, device: DeviceInfo) -> None:
        """The pin must name CPUs the device has, and the device must have taskset."""
        t, mask = self.target, self.settings.taskset or ""
        if device.cores and int(mask, 16) >> device.cores:
            raise SetupError(
                f"{t.address}: --cpu-pin {mask} names CPUs the device does not have (it has "
                f"{device.cores}: 0-{device.cores - 1}); pin to those"
            )
        res = t.run(["taskset", mask, "true"], timeout_s=60)
        if res.returncode == 127 or "not found" in res.stderr:
            raise SetupError(
                f"{t.address}: --cpu-pin needs taskset on the device, which it lacks; install "
                "it there (sudo apt install util-linux) or bench without --cpu-pin"
            )
        if res.returncode != 0:
            why = (res.stderr.strip().splitlines() or ["no message"])[-1]
            raise SetupError(f"{t.address}: taskset {mask} failed on the device ({why}); "
                             "pin to CPUs the device has")

    def check_delegate(self) -> None:
        """Load the delegate once on the device: one line and no measurement when it cannot."""
        t = self.target
        assert self.delegate_remote is not None  # set in prepare when there is a delegate
        argv = [device_python(t), self.runner_remote, "delegate",
                "--delegate", self.delegate_remote]
        for key, value in parse_delegate(self.settings.delegate or "")[1].items():
            argv += ["--delegate-option", f"{key}={value}"]
        res = t.run(argv, timeout_s=self.settings.timeout_s)
        data = parse_runner_output(res.stdout) or {}
        if not data.get("loaded"):
            why = data.get("error") or (res.stderr.strip().splitlines() or ["no output"])[-1]
            raise SetupError(f"{t.address}: {why}; no model was run (none falls back to the CPU)")

    def check_compat(self, items: Sequence[BenchItem]) -> dict[str, Record]:
        paths = [i.path for i in items]
        if not paths:
            return {}
        missing = [p for p in paths if p not in self.models_remote]
        if missing:
            self.models_remote.update(self.target.push(missing))
        argv = [device_python(self.target), self.runner_remote, "compat"]
        for p in paths:
            argv += ["--model", self.models_remote[p]]
        try:
            res = self.target.run(argv, timeout_s=self.settings.timeout_s)
        except TargetTimeout:
            return {}  # no verdict: each model's own run will tell
        data = parse_runner_output(res.stdout)
        if not data or "models" not in data:
            return {}
        found = {}
        for item in items:
            verdict = data["models"].get(self.models_remote[item.path]) or {}
            if verdict.get("loaded") is not False:
                continue
            inc = incompatibility_from(
                verdict.get("missing_op") or "", data.get("runtime_name"),
                data.get("runtime_version"),
            )
            if inc is not None:
                found[item.variant] = incompatible_record(inc, ops=item.ops, **item.facts())
        return found

    def measure(self, item: BenchItem, setup: Setup) -> Record:
        """One process for one model and one cell of the matrix. When the runtime crashes in
        the batched accuracy pass (tflite-runtime 2.13/2.14 on aarch64 does, for per-channel
        int8 models at batch > 1), the model is measured again with accuracy one sample at a
        time, and the record says why."""
        rec = self._measure(item, setup, self.settings)
        crashed = rec.extra.pop("eval_crash", None)
        if crashed is None:
            return rec
        s = self.settings
        again = self._measure(item, setup, replace(s, eval_batch=1))
        note = (f"the accuracy pass in batches of {s.eval_batch} crashed the runtime "
                f"({crashed}); accuracy was measured again one sample at a time")
        if not again.ok:
            return replace(rec, error=f"{rec.error}; {note}, which failed too: {again.error}")
        return replace(again, extra={**again.extra, "eval_retry": note})

    def _measure(self, item: BenchItem, setup: Setup, s: BenchSettings) -> Record:
        t = self.target
        if item.path not in self.models_remote:
            self.models_remote.update(t.push([item.path]))
        argv = runner_argv(
            device_python(t),
            self.runner_remote,
            self.models_remote[item.path],
            self.eval_remote if item.labelled else None,
            s,
            setup,
            self.delegate_remote,
            continuous=not item.repeat,
        )
        try:
            res = t.run(argv, timeout_s=s.timeout_s)
        except TargetTimeout as exc:
            data: dict | None = {"error": str(exc), "error_kind": ErrorKind.TIMEOUT.value}
            return record_from_runner(item, data, None)
        except (TargetUnreachable, RuntimeMissing):
            raise
        except TargetError as exc:
            data = {"error": str(exc), "error_kind": ErrorKind.TARGET.value}
            return record_from_runner(item, data, None)
        data = parse_runner_output(res.stdout)
        if data is not None and data.get("error_kind") == ErrorKind.METER:
            # Every model after this one would fail the same way: the target stops, and
            # nothing of this model is kept as if it had been measured.
            raise SetupError(f"{t.address}: --power {s.power}: {data.get('error')}; the "
                             "target stopped at this model")
        tail = (res.stderr.strip().splitlines() or [""])[-1]
        sig = crash_signal(res.returncode)
        why = f"runner exited with status {res.returncode}: {tail}".strip(": ")
        if data is None and sig is not None:
            why = f"the runtime crashed ({sig}, exit status {res.returncode}): {tail}".strip(": ")
        rec = record_from_runner(item, data, why)
        in_eval = EVAL_MARK in res.stderr and s.eval_batch > 1
        if data is None and sig is not None and in_eval:
            rec = replace(rec, extra={**rec.extra, "eval_crash": f"{sig}, exit status "
                                                                f"{res.returncode}"})
        return rec
