"""The Android target: a phone over adb, measured with TFLite's own ``benchmark_model``.

A phone has no Python for the runner, so this target brings its own flow
(:class:`BenchmarkModelFlow`): it pushes the ``benchmark_model`` binary the user supplies
(``--benchmark-binary``, an android_arm64 build) and the models to
``/data/local/tmp/edgebench/<run>/``, runs the binary once per model with the configured
threads, XNNPACK on/off, warm-up and run counts, optional ``taskset`` mask and
``--report_peak_memory_footprint=true``, and parses what it prints into the same record fields
as the runner. A figure the output lacks stays null. Accuracy comes from the host, with the same
model file and the local runner, and is marked ``accuracy_source: "host"``.

Uses Debian's ``adb`` client (``--adb PATH`` overrides). Every command is an argument list; the
one string ``adb shell`` hands to the phone's shell is built from :func:`shlex.quote`-d words.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from edgebench.bench.orchestrate import (
    RUNNER,
    BenchItem,
    BenchPlan,
    Flow,
    parse_runner_output,
)
from edgebench.deploy.base import (
    GRACE_S,
    KILL_AFTER_S,
    CommandResult,
    RuntimeMissing,
    Target,
    TargetError,
    TargetTimeout,
    TargetUnreachable,
    run_process,
    timed_out,
    timed_shell_script,
    timeout_error,
)
from edgebench.records import BenchSettings, DeviceInfo, LatencyStats, Record, RssMb, Status

DEVICE_ROOT = "/data/local/tmp/edgebench"

#: ELF e_machine of each Android ABI, to catch a benchmark_model built for the wrong CPU
_ABI_MACHINE = {"arm64-v8a": 183, "armeabi-v7a": 40, "armeabi": 40, "x86_64": 62, "x86": 3}
_MACHINE_NAME = {183: "arm64 (aarch64)", 40: "32-bit ARM", 62: "x86-64", 3: "x86"}
_THERMAL_STATUS = ["none", "light", "moderate", "severe", "critical", "emergency", "shutdown"]


class AdbTarget(Target):
    """A phone over adb: ``adb://SERIAL``, or ``adb://`` for the one attached device."""

    def __init__(
        self,
        address: str,
        adb: str | os.PathLike | None = None,
        benchmark_binary: str | os.PathLike | None = None,
        taskset: str | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(address)
        if not address.startswith("adb://"):
            raise TargetError(f"{address!r} is not an adb address; use adb://SERIAL or adb://")
        self.serial = address[len("adb://") :].strip("/") or None
        if self.serial and (self.serial.startswith("-") or any(c.isspace() for c in self.serial)):
            raise TargetError(
                f"{address!r}: {self.serial!r} is not a device serial; see adb devices"
            )
        self.adb = str(adb) if adb else "adb"
        self.benchmark_binary = check_benchmark_binary(benchmark_binary)
        self.taskset = taskset
        self.run_id = run_id
        self._workdir: str | None = None
        self._pushed = 0

    @property
    def name(self) -> str:
        return "adb-" + (re.sub(r"[^A-Za-z0-9._-]+", "_", self.serial) if self.serial else "device")

    @property
    def python(self) -> str:
        raise RuntimeMissing(f"{self.address}: a phone runs benchmark_model, not the Python runner")

    def flow(self, plan: BenchPlan, settings: BenchSettings) -> Flow:
        self.run_id = self.run_id or plan.run_id
        return BenchmarkModelFlow(self, plan, settings)

    # ----------------------------------------------------------------- the Target interface

    @property
    def workdir(self) -> str:
        """``/data/local/tmp/edgebench/<run>`` on the phone (made on first use)."""
        if self._workdir is None:
            run = re.sub(r"[^A-Za-z0-9._-]+", "_", self.run_id or f"run-{os.getpid()}")
            path = f"{DEVICE_ROOT}/{run}"
            res = self.shell(f"mkdir -p {shlex.quote(path)}", timeout_s=60)
            if res.returncode != 0:
                raise TargetError(
                    f"{self.address}: cannot make {path} on the phone ({_tail(res)}); "
                    "check that /data/local/tmp is writable (adb shell touch /data/local/tmp/x)"
                )
            self._workdir = path
        return self._workdir

    def push(self, paths: Sequence[Path]) -> dict[Path, str]:
        placed: dict[Path, str] = {}
        for p in paths:
            p = Path(p)
            if not p.is_file():
                raise TargetError(f"{p}: no such file to copy to {self.address}; check the path")
            self._pushed += 1
            remote = f"{self.workdir}/{self._pushed:02d}-{_safe_name(p.name)}"
            res = self._adb(["push", str(p), remote], timeout_s=max(120.0, p.stat().st_size / 2e6))
            if res.returncode != 0:
                raise adb_error(self, res, f"copying {p.name}")
            placed[p] = remote
        return placed

    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        argv = tuple(str(a) for a in argv)
        script = timed_shell_script(self.workdir, argv, timeout_s)
        start = time.monotonic()
        res = self.shell(script, timeout_s=timeout_s + KILL_AFTER_S + GRACE_S, argv=argv)
        if timed_out(res.returncode, time.monotonic() - start, timeout_s):
            raise timeout_error(argv, self.address, timeout_s)
        return res

    def fetch(self, remote: str, local: Path) -> Path:
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        res = self._adb(["pull", remote, str(local)], timeout_s=300)
        if res.returncode != 0:
            raise adb_error(self, res, f"fetching {remote}")
        return local

    def cleanup(self) -> None:
        if self._workdir is None:
            return
        workdir, self._workdir = self._workdir, None
        try:
            # The run's folder, then edgebench/ itself when no other run is using it.
            res = self.shell(
                f"rm -rf {shlex.quote(workdir)}; rmdir {DEVICE_ROOT} 2>/dev/null; true",
                timeout_s=60,
            )
            ok = res.returncode == 0
        except TargetError:
            ok = False
        if not ok:
            print(f"edgebench: could not remove {workdir} on {self.address}; remove it with "
                  f"adb shell rm -rf {workdir}", file=sys.stderr)

    # ----------------------------------------------------------------- adb plumbing

    def shell(self, script: str, timeout_s: float, argv: Sequence[str] = ()) -> CommandResult:
        """``adb shell SCRIPT``; adb-level failures (offline, unauthorized…) raise."""
        res = self._adb(["shell", script], timeout_s=timeout_s)
        if _adb_failed(res):
            raise adb_error(self, res, "running a command")
        return CommandResult(tuple(argv) or res.argv, res.returncode, res.stdout, res.stderr,
                             res.seconds)

    def _adb(self, args: list[str], timeout_s: float) -> CommandResult:
        argv = [self.adb, *(["-s", self.serial] if self.serial else []), *args]
        fix = "install adb (sudo apt install adb) or pass --adb PATH"
        res, _ = run_process(argv, timeout_s, fix)
        return res


_ADB_SIGNS = ("device offline", "unauthorized", "not found", "no devices", "more than one device",
              "cannot connect to daemon", "device still authorizing", "closed")


def _adb_failed(res: CommandResult) -> bool:
    """True when adb itself failed (as opposed to the command on the phone)."""
    text = res.stderr.splitlines()
    first = next((ln for ln in text if ln.strip()), "")
    return res.returncode != 0 and (
        first.startswith(("error:", "adb: error:", "adb: device", "* daemon"))
        and any(s in res.stderr for s in _ADB_SIGNS)
    )


def adb_error(target: AdbTarget, res: CommandResult, doing: str) -> TargetError:
    """One line naming the fix for what adb printed."""
    text = res.stderr + res.stdout
    who = target.address
    if "unauthorized" in text or "still authorizing" in text:
        return TargetUnreachable(
            f"{who}: the phone has not authorized this computer; unlock it, accept the "
            "'Allow USB debugging?' dialog, then check that adb devices lists it as 'device'"
        )
    if "offline" in text:
        return TargetUnreachable(
            f"{who}: the phone is offline; reconnect the cable (or run adb reconnect) and check "
            "that adb devices lists it as 'device'"
        )
    if "more than one device" in text:
        return TargetError(
            f"{who}: more than one phone is attached; name one with adb://SERIAL "
            "(serials from adb devices)"
        )
    if "no devices" in text:
        return TargetUnreachable(
            f"{who}: no phone is attached; connect one with USB debugging on "
            "(adb devices lists it)"
        )
    if re.search(r"device '.*' not found", text):
        return TargetUnreachable(
            f"{who}: no phone with serial {target.serial!r} is attached; pick one from adb devices"
        )
    if "cannot connect to daemon" in text or "closed" in text:
        return TargetUnreachable(
            f"{who}: the adb server lost the phone ({_tail(res)}); reconnect it and run "
            "adb devices"
        )
    return TargetError(f"{who}: adb failed while {doing}: {_tail(res)}")


def check_benchmark_binary(path: str | os.PathLike | None) -> Path | None:
    """The benchmark_model file, if it exists and is an ELF executable (checked on the host)."""
    if path is None:
        return None
    p = Path(path).expanduser()
    build = ("build it with: bazel build -c opt --config=android_arm64 "
             "//tensorflow/lite/tools/benchmark:benchmark_model")
    if not p.is_file():
        raise TargetError(f"--benchmark-binary {p}: no such file; {build}")
    with p.open("rb") as fh:
        head = fh.read(20)
    if head[:4] != b"\x7fELF":
        raise TargetError(
            f"--benchmark-binary {p} is not an executable (no ELF header); pass the "
            f"benchmark_model binary itself; {build}"
        )
    return p


def elf_machine(path: Path) -> int | None:
    with Path(path).open("rb") as fh:
        head = fh.read(20)
    if head[:4] != b"\x7fELF" or len(head) < 20:
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


# --------------------------------------------------------------------------- the adb flow


class BenchmarkModelFlow(Flow):
    """Measure each model with ``benchmark_model`` on the phone; accuracy on the host."""

    target: AdbTarget

    def prepare(self) -> DeviceInfo:
        t = self.target
        if t.benchmark_binary is None:
            raise TargetError(
                f"{t.address}: a phone needs TFLite's benchmark_model; pass --benchmark-binary "
                "PATH (bazel build -c opt --config=android_arm64 "
                "//tensorflow/lite/tools/benchmark:benchmark_model)"
            )
        self.device = self.describe()
        abi = self.device.machine
        machine = elf_machine(t.benchmark_binary)
        want = _ABI_MACHINE.get(abi or "")
        if want is not None and machine is not None and machine != want:
            raise RuntimeMissing(
                f"{t.address}: {t.benchmark_binary.name} is built for "
                f"{_MACHINE_NAME.get(machine, f'ELF machine {machine}')} but the phone is {abi}; "
                "build benchmark_model with --config=android_arm64 (or the phone's ABI)"
            )
        placed = t.push([t.benchmark_binary])[t.benchmark_binary]
        self.binary_remote = placed
        res = t.shell(f"chmod 755 {shlex.quote(placed)}", timeout_s=60)
        if res.returncode != 0:
            raise RuntimeMissing(
                f"{t.address}: cannot make benchmark_model executable on the phone "
                f"({_tail(res)}); check that /data/local/tmp allows programs"
            )
        self.models_remote: dict[Path, str] = {}
        self.host_eval = _HostAccuracy(self.plan, self.settings)
        return self.device

    def describe(self) -> DeviceInfo:
        """getprop facts, core count, memory and thermal status of the phone."""
        t = self.target
        props = parse_getprop(t.shell("getprop", timeout_s=60).stdout)
        facts = t.shell("nproc; grep MemTotal /proc/meminfo; cat "
                        "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", timeout_s=60)
        cores = mem = governor = None
        for line in facts.stdout.splitlines():
            line = line.strip()
            if line.isdigit():
                cores = int(line)
            elif line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024.0, 1)
            elif line and " " not in line and not line.startswith("cat:"):
                governor = line
        thermal = self.thermal()
        release = props.get("ro.build.version.release")
        sdk = props.get("ro.build.version.sdk")
        sha = hashlib.sha256(t.benchmark_binary.read_bytes()).hexdigest()
        return DeviceInfo(
            hostname=props.get("ro.product.model"),
            os=f"Android {release}" + (f" (SDK {sdk})" if sdk else "") if release else None,
            machine=props.get("ro.product.cpu.abi"),
            cpu=props.get("ro.soc.model") or props.get("ro.board.platform"),
            cores=cores,
            mem_total_mb=mem,
            python=None,
            runtime_name="benchmark_model",
            runtime_version=None,  # the binary does not say; its sha256 identifies it
            governor=governor,
            temperature_c=thermal.get("temperature_c"),
            extra={
                "serial": t.serial,
                "ro.product.model": props.get("ro.product.model"),
                "ro.product.manufacturer": props.get("ro.product.manufacturer"),
                "ro.board.platform": props.get("ro.board.platform"),
                "ro.build.version.release": release,
                "ro.build.version.sdk": sdk,
                "ro.product.cpu.abi": props.get("ro.product.cpu.abi"),
                "thermal_status": thermal.get("status"),
                "benchmark_binary": t.benchmark_binary.name,
                "benchmark_binary_sha256": sha,
            },
        )

    def thermal(self) -> dict:
        """``dumpsys thermalservice``: the status name and the hottest CPU reading, if any."""
        res = self.target.shell("dumpsys thermalservice", timeout_s=60)
        return parse_thermalservice(res.stdout) if res.returncode == 0 else {}

    def check_compat(self, items: Sequence[BenchItem]) -> dict[str, Record]:
        # benchmark_model *is* the phone's runtime: a model it cannot load fails within its
        # first second with the runtime's own "Didn't find op" line, which measure() turns
        # into an `incompatible` record. A separate probe would double the adb round trips.
        self.models_remote.update(self.target.push([i.path for i in items]))
        return {}

    def measure(self, item: BenchItem) -> Record:
        t, s = self.target, self.settings
        if item.path not in self.models_remote:
            self.models_remote.update(t.push([item.path]))
        argv = benchmark_argv(self.binary_remote, self.models_remote[item.path], s, t.taskset)
        base = dict(item.facts(), threads=s.threads, xnnpack=s.xnnpack)
        before = self.thermal().get("temperature_c")
        try:
            res = t.run(argv, timeout_s=s.timeout_s)
        except TargetTimeout as exc:
            return Record(status=Status.FAILED.value, error=str(exc),
                          extra={"error_kind": "timeout"}, **base)
        text = res.stdout + "\n" + res.stderr
        from edgebench.bench.compat import incompatibility_from, incompatible_record

        inc = incompatibility_from(text, "benchmark_model", None)
        if inc is not None:
            return incompatible_record(inc, ops=item.ops, **item.facts())
        if res.returncode in (126, 127) or _cannot_execute(text):
            raise RuntimeMissing(
                f"{t.address}: benchmark_model cannot run on the phone ({_tail(res)}); pass "
                "--benchmark-binary an android_arm64 build of benchmark_model"
            )
        parsed = parse_benchmark_output(text)
        if res.returncode != 0 or parsed.get("inference_avg_us") is None:
            why = _crash_reason(res)
            return Record(status=Status.FAILED.value, error=why,
                          extra={"error_kind": "crash", "exit_status": res.returncode}, **base)
        after = self.thermal().get("temperature_c")
        acc = self.host_eval.accuracy(item)
        return record_from_benchmark(parsed, base, before, after, acc)


def benchmark_argv(binary: str, model: str, s: BenchSettings, taskset: str | None) -> list[str]:
    """The benchmark_model command line for one model (exact run counts: min_secs=0)."""
    argv = [] if not taskset else ["taskset", taskset]
    argv += [
        binary,
        f"--graph={model}",
        f"--num_threads={s.threads}",
        f"--use_xnnpack={'true' if s.xnnpack else 'false'}",
        # benchmark_model's "First inference" is its first warm-up run, so keep at least one.
        f"--warmup_runs={max(1, s.warmup)}",
        "--warmup_min_secs=0",
        f"--num_runs={s.runs}",
        "--min_secs=0",
        f"--max_secs={max(1, math.ceil(s.timeout_s))}",
        "--report_peak_memory_footprint=true",
    ]
    return argv


class _HostAccuracy:
    """Top-1 accuracy of a model file on this machine, with the local runner (one process)."""

    def __init__(self, plan: BenchPlan, settings: BenchSettings) -> None:
        self.plan, self.settings = plan, settings

    def accuracy(self, item: BenchItem) -> dict:
        if not item.labelled or self.plan.eval_data is None:
            return {}
        from edgebench.bench.orchestrate import runner_argv
        from edgebench.records import BenchSettings as S

        quick = S(runs=1, warmup=0, threads=self.settings.threads, xnnpack=True,
                  eval_batch=self.settings.eval_batch, eval_limit=self.settings.eval_limit)
        argv = runner_argv(sys.executable, str(RUNNER), str(item.path),
                           str(self.plan.eval_data), quick)
        try:
            out = subprocess.run(argv, capture_output=True, text=True,
                                 timeout=self.settings.timeout_s)
        except subprocess.TimeoutExpired:
            return {"host_accuracy_error": "host evaluation timed out"}
        data = parse_runner_output(out.stdout) or {}
        if data.get("status") != "ok":
            return {"host_accuracy_error": data.get("error") or "host evaluation failed"}
        return {k: data.get(k) for k in ("accuracy", "eval_method", "eval_n")}


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
    peak = parsed.get("peak_mem_mb")
    extra = {k: parsed[k] for k in ("warmup_avg_us", "mem_delta_init_mb", "mem_delta_overall_mb",
                                    "output_form") if parsed.get(k) is not None}
    if "host_accuracy_error" in acc:
        extra["host_accuracy_error"] = acc["host_accuracy_error"]
    init_us = parsed.get("init_us")
    return Record(
        status=Status.OK.value,
        accuracy=acc.get("accuracy"),
        accuracy_source="host" if acc.get("accuracy") is not None else None,
        eval_method=acc.get("eval_method"),
        eval_n=acc.get("eval_n"),
        latency_us=latency,
        init_ms=None if init_us is None else round(init_us / 1000.0, 3),
        first_inference_us=parsed.get("first_inference_us"),
        warmup_runs=(parsed.get("warmup_stat") or {}).get("count"),
        rss_mb=RssMb(before=None, after_init=None, peak=peak) if peak is not None else None,
        runtime_name="benchmark_model",
        temp_c_before=temp_before,
        temp_c_after=temp_after,
        extra=extra,
        **base,
    )


# --------------------------------------------------------------------------- parsing

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_STAT = re.compile(r"\bcount=(?P<count>\d+)(?P<rest>(?:\s+\w+=" + _NUM + r")*)")
_PAIR = re.compile(r"(\w+)=(" + _NUM + r")")
_NEW = re.compile(
    rf"Inference timings in us: Init: (?P<init>{_NUM}), First inference: (?P<first>{_NUM}), "
    rf"Warmup \(avg\): (?P<warmup>{_NUM}), Inference \(avg\): (?P<inference>{_NUM})"
)
_OLD = re.compile(
    rf"Average inference timings in us: Warmup: (?P<warmup>{_NUM}), Init: (?P<init>{_NUM}), "
    rf"(?:Inference|no stats): (?P<inference>{_NUM})"
)
_MEM_DELTA = re.compile(
    rf"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): "
    rf"init=(?P<init>{_NUM}) overall=(?P<overall>{_NUM})"
)
_PEAK = re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: (?P<mb>{_NUM})")
_RUN_START = re.compile(r"Running benchmark for at least")


def parse_benchmark_output(text: str) -> dict:
    """The figures benchmark_model printed, by name; absent ones are absent (never guessed).

    Reads both summary forms, ``Inference timings in us: Init: …, First inference: …, Warmup
    (avg): …, Inference (avg): …`` and the older ``Average inference timings in us: Warmup: …,
    Init: …, Inference: …``, the per-phase ``count=… first=… curr=… min=… max=… avg=… std=…``
    lines (with `` p5=… median=… p95=…`` on newer builds), the memory footprint delta and the
    peak footprint from periodic monitoring. Lines may carry ``INFO:`` or logcat prefixes.
    """
    out: dict = {}
    m = _NEW.search(text)
    if m:
        out["output_form"] = "inference-timings"
        out["init_us"] = float(m["init"])
        out["first_inference_us"] = float(m["first"])
        out["warmup_avg_us"] = float(m["warmup"])
        out["inference_avg_us"] = float(m["inference"])
    else:
        m = _OLD.search(text)
        if m:
            out["output_form"] = "average-inference-timings"
            out["init_us"] = float(m["init"])
            out["warmup_avg_us"] = float(m["warmup"])
            out["inference_avg_us"] = float(m["inference"])
    # Each "Running benchmark for at least …" starts a phase (warm-up, then the timed runs),
    # and the phase's statistics line follows it.
    phases = []
    for chunk in _RUN_START.split(text)[1:]:
        sm = _STAT.search(chunk)
        if sm:
            stat = {k: float(v) for k, v in _PAIR.findall(sm.group(0))}
            stat["count"] = int(stat["count"])
            phases.append(stat)
    if len(phases) >= 2:
        out["warmup_stat"], out["inference_stat"] = phases[0], phases[-1]
    m = _MEM_DELTA.search(text)
    if m:
        out["mem_delta_init_mb"] = float(m["init"])
        out["mem_delta_overall_mb"] = float(m["overall"])
    m = _PEAK.search(text)
    if m:
        out["peak_mem_mb"] = float(m["mb"])
    return out


def parse_getprop(text: str) -> dict[str, str]:
    """``[key]: [value]`` lines of ``adb shell getprop``."""
    props = {}
    for m in re.finditer(r"^\[([^\]]+)\]: \[(.*)\]\s*$", text, re.M):
        props[m.group(1)] = m.group(2)
    return props


def parse_thermalservice(text: str) -> dict:
    """Thermal status (by name) and the hottest CPU temperature from ``dumpsys thermalservice``.

    Prefers "Current temperatures from HAL" over the "Cached temperatures" section.
    """
    out: dict = {}
    m = re.search(r"Thermal Status:\s*(\d+)", text)
    if m:
        n = int(m.group(1))
        out["status"] = _THERMAL_STATUS[n] if n < len(_THERMAL_STATUS) else str(n)
    section = text
    current = re.search(r"Current temperatures from HAL:(.*?)(?:\n\S|\Z)", text, re.S)
    if current:
        section = current.group(1)
    temps = [float(v) for v, kind in re.findall(
        r"Temperature\{mValue=(" + _NUM + r"), mType=(\d+)", section) if kind == "0"]
    if temps:
        out["temperature_c"] = round(max(temps), 1)
    return out


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


def _safe_name(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"
    return safe[:80]


def _tail(res: CommandResult) -> str:
    lines = [ln.strip() for ln in (res.stderr + "\n" + res.stdout).splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"
