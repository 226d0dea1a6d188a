"""The bench stage: put the runner and models on each target, run one process per model, collect.

Reads a build manifest (or bare ``.tflite`` files) and writes ``results-<target>.json`` per
target. Never imports TensorFlow.
"""

from __future__ import annotations

import abc
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from edgebench.errors import EdgebenchError, ModelFileError
from edgebench.files import zip_bytes
from edgebench.records import (
    BenchSettings,
    DeviceInfo,
    LatencyStats,
    Manifest,
    OpInfo,
    Record,
    Results,
    RssMb,
    Status,
    from_dict,
)

RUNNER = Path(__file__).with_name("runner.py")
#: set by Ctrl-C: every target stops after the model it is running, which is killed
CANCEL = threading.Event()
MARKER = "EDGEBENCH_JSON "

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchItem:
    """One model to measure, with the facts the host already knows about it."""

    variant: str
    path: Path
    file_bytes: int
    zip_bytes: int
    compression_ratio: float | None = None
    ops: tuple[OpInfo, ...] = ()
    labelled: bool = False
    problem: str | None = None  # a host-side check already failed: record it, don't run it

    def facts(self) -> dict:
        """What the host knows about this model, as Record fields."""
        return dict(
            variant=self.variant,
            model_path=str(self.path),
            file_bytes=self.file_bytes,
            zip_bytes=self.zip_bytes,
            compression_ratio=self.compression_ratio,
        )


@dataclass(frozen=True)
class BenchPlan:
    """Everything the bench stage will run: from a manifest, or from loose .tflite files."""

    run_id: str
    items: tuple[BenchItem, ...]
    eval_data: Path | None
    manifest: Path | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- inputs


def check_tflite_file(path: Path) -> None:
    """Cheap host-side checks that name the fix: missing, empty, or not a TFLite flatbuffer."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file; check the path")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{path}: the file is empty (0 bytes); rebuild or re-copy it")
    with path.open("rb") as fh:
        head = fh.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise ModelFileError(
            f"{path}: not a TFLite model (no TFL3 identifier); convert it with "
            "tf.lite.TFLiteConverter or pass the .tflite file, not the Keras model"
        )


def plan_from_inputs(inputs: Sequence[Path], run_id: str | None = None) -> BenchPlan:
    """Turn the command line's positional inputs into a plan.

    One manifest (or a run folder holding ``manifest.json``), or any number of ``.tflite`` files.
    """
    if not inputs:
        raise EdgebenchError("give a manifest.json (from edgebench build) or .tflite files")
    paths = [Path(p) for p in inputs]
    manifests = [p for p in paths if p.suffix == ".json" or p.is_dir()]
    if manifests:
        if len(paths) != 1:
            raise EdgebenchError("give one manifest, or .tflite files, not both")
        mpath = paths[0] / "manifest.json" if paths[0].is_dir() else paths[0]
        return plan_from_manifest(mpath)
    items = []
    for p in paths:
        problem = None
        try:
            check_tflite_file(p)
        except ModelFileError as exc:
            problem = str(exc)
        exists = p.is_file()
        items.append(
            BenchItem(
                variant=_unique_name(p.stem, items),
                path=p.resolve() if exists else p,
                file_bytes=p.stat().st_size if exists else 0,
                zip_bytes=zip_bytes(p) if exists else 0,
                problem=problem,
            )
        )
    return BenchPlan(run_id=run_id or new_run_id(), items=tuple(items), eval_data=None)


def plan_from_manifest(path: Path) -> BenchPlan:
    """The TFLite artifacts of a build manifest, with the eval data when it has labels."""
    manifest = Manifest.load(path)
    folder = path.parent
    items = []
    for a in manifest.tflite_artifacts():
        p = folder / a.path
        problem = None
        try:
            check_tflite_file(p)
        except ModelFileError as exc:
            problem = str(exc)
        items.append(
            BenchItem(
                variant=a.name,
                path=p.resolve() if p.exists() else p,
                file_bytes=p.stat().st_size if p.exists() else a.file_bytes,
                zip_bytes=zip_bytes(p) if p.is_file() else a.zip_bytes,
                compression_ratio=a.compression_ratio,
                ops=a.ops,
                labelled=manifest.eval_data is not None,
                problem=problem,
            )
        )
    eval_path = folder / manifest.eval_data if manifest.eval_data else None
    if eval_path is not None and not eval_path.is_file():
        raise EdgebenchError(f"{eval_path} is missing; rerun edgebench build for this run")
    return BenchPlan(
        run_id=manifest.run_id,
        items=tuple(items),
        eval_data=eval_path,
        manifest=path.resolve(),
    )


def _unique_name(stem: str, items: Sequence[BenchItem]) -> str:
    taken = {i.variant for i in items}
    name, k = stem, 2
    while name in taken:
        name, k = f"{stem}-{k}", k + 1
    return name


def new_run_id() -> str:
    """A sortable run id from the current UTC time."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


# --------------------------------------------------------------------------- running


def parse_runner_output(stdout: str) -> dict | None:
    """The runner's one JSON line, or None when it printed none (it crashed)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                return json.loads(line[len(MARKER) :])
            except json.JSONDecodeError:
                return None
    return None


def describe_target(target, runner_remote: str, timeout_s: float = 60.0) -> DeviceInfo:
    """Ask the runner on the device what it is (runtime, CPU, governor, temperature).

    Raises :class:`~deploy.base.RuntimeMissing` when the device has no usable Python, numpy or
    TFLite runtime, with the command that installs it.
    """
    from edgebench.deploy.base import RuntimeMissing

    res = target.run([target.python, runner_remote, "info"], timeout_s=timeout_s)
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
    if device.runtime_name is None:
        numpy_missing = not (device.extra or {}).get("numpy")
        need = "numpy and a TFLite runtime" if numpy_missing else "a TFLite runtime"
        raise RuntimeMissing(
            f"{target.address}: {target.python} (Python {device.python}) has no {need}; "
            f"install one there: {target.python} -m pip install tflite-runtime "
            "(or ai-edge-litert)" + (" numpy" if numpy_missing else "")
        )
    return device


def record_from_runner(item: BenchItem, data: dict | None, fallback_error: str | None) -> Record:
    """Merge what the host knows about a model with what the runner measured."""
    base = item.facts()
    if data is not None and data.get("error_kind") == "incompatible":
        from edgebench.bench.compat import (
            Incompatibility,
            incompatibility_from,
            incompatible_record,
        )

        text = data.get("error") or ""
        rt = (data.get("runtime_name"), data.get("runtime_version"))
        inc = incompatibility_from(text, *rt) or Incompatibility(None, None, *rt, text)
        return incompatible_record(inc, ops=item.ops, **item.facts())
    if data is None or data.get("status") != Status.OK.value:
        error = (data or {}).get("error") or fallback_error or "the runner printed no result"
        extra = {"error_kind": (data or {}).get("error_kind", "crash")}
        return Record(status=Status.FAILED.value, error=error, extra=extra, **base)
    samples = data.get("samples_ns") or []
    latency = LatencyStats.from_samples(samples) if samples else None
    rss = data.get("rss_mb") or {}
    return Record(
        status=Status.OK.value,
        accuracy=data.get("accuracy"),
        accuracy_source="device" if data.get("accuracy") is not None else None,
        eval_method=data.get("eval_method"),
        eval_n=data.get("eval_n"),
        latency_us=latency,
        init_ms=data.get("init_ms"),
        first_inference_us=data.get("first_inference_us"),
        warmup_runs=data.get("warmup_runs"),
        rss_mb=RssMb(rss.get("before"), rss.get("after_init"), rss.get("peak")),
        threads=data.get("threads"),
        xnnpack=data.get("xnnpack"),
        delegate_fallback=data.get("delegate_fallback"),
        runtime_name=data.get("runtime_name"),
        runtime_version=data.get("runtime_version"),
        temp_c_before=data.get("temp_c_before"),
        temp_c_after=data.get("temp_c_after"),
        samples_us=tuple(round(s / 1000.0, 1) for s in samples),
        **base,
    )


def runner_argv(python: str, runner: str, model: str, eval_path: str | None, s: BenchSettings):
    """The command line that measures one model on a device."""
    argv = [python, runner, "run", "--model", model]
    argv += ["--runs", str(s.runs), "--warmup", str(s.warmup), "--threads", str(s.threads)]
    if not s.xnnpack:
        argv.append("--no-xnnpack")
    if eval_path is not None:
        argv += ["--eval", eval_path, "--eval-batch", str(s.eval_batch)]
        argv += ["--eval-limit", str(s.eval_limit)]
    return argv


class Flow(abc.ABC):
    """How one target measures models. Targets that run Python use :class:`RunnerFlow`; a
    target that cannot (a phone) brings its own (``deploy/adb.py``). One interface for all.
    """

    def __init__(self, target, plan: BenchPlan, settings: BenchSettings) -> None:
        self.target = target
        self.plan = plan
        self.settings = settings

    @abc.abstractmethod
    def prepare(self) -> DeviceInfo:
        """Put what every model needs on the device and describe it. Raises TargetError."""

    @abc.abstractmethod
    def check_compat(self, items: Sequence[BenchItem]) -> dict[str, Record]:
        """Before anything runs: a record for each model the device's runtime cannot load."""

    @abc.abstractmethod
    def measure(self, item: BenchItem) -> Record:
        """Measure one model. Raises TargetUnreachable / RuntimeMissing when the whole
        target is lost; anything that costs only this model becomes its record."""


class RunnerFlow(Flow):
    """The self-contained runner on the device: one process per model, one time limit each."""

    runner_remote: str
    eval_remote: str | None
    models_remote: dict[Path, str]

    def prepare(self) -> DeviceInfo:
        t, plan = self.target, self.plan
        self.runner_remote = t.push([RUNNER])[RUNNER]
        self.device = describe_target(t, self.runner_remote)
        self.eval_remote = t.push([plan.eval_data])[plan.eval_data] if plan.eval_data else None
        self.models_remote = {}
        return self.device

    def check_compat(self, items: Sequence[BenchItem]) -> dict[str, Record]:
        from edgebench.bench.compat import incompatibility_from, incompatible_record
        from edgebench.deploy.base import TargetTimeout

        paths = [i.path for i in items]
        if not paths:
            return {}
        self.models_remote.update(self.target.push(paths))
        argv = [self.target.python, self.runner_remote, "compat"]
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

    def measure(self, item: BenchItem) -> Record:
        from edgebench.deploy.base import (
            RuntimeMissing,
            TargetError,
            TargetTimeout,
            TargetUnreachable,
        )

        t = self.target
        if item.path not in self.models_remote:
            self.models_remote.update(t.push([item.path]))
        argv = runner_argv(
            t.python,
            self.runner_remote,
            self.models_remote[item.path],
            self.eval_remote if item.labelled else None,
            self.settings,
        )
        try:
            res = t.run(argv, timeout_s=self.settings.timeout_s)
        except TargetTimeout as exc:
            return record_from_runner(item, {"error": str(exc), "error_kind": "timeout"}, None)
        except (TargetUnreachable, RuntimeMissing):
            raise
        except TargetError as exc:
            return record_from_runner(item, {"error": str(exc), "error_kind": "target"}, None)
        data = parse_runner_output(res.stdout)
        tail = (res.stderr.strip().splitlines() or [""])[-1]
        why = f"runner exited with status {res.returncode}: {tail}".strip(": ")
        return record_from_runner(item, data, why)


def _problem_record(item: BenchItem) -> Record:
    return Record(
        variant=item.variant,
        model_path=str(item.path),
        status=Status.FAILED.value,
        error=item.problem,
        file_bytes=item.file_bytes or None,
        zip_bytes=item.zip_bytes or None,
        extra={"error_kind": "input"},
    )


def _not_run_record(item: BenchItem, why: str) -> Record:
    return Record(
        variant=item.variant,
        model_path=str(item.path),
        status=Status.FAILED.value,
        error=f"not run: {why}",
        file_bytes=item.file_bytes or None,
        zip_bytes=item.zip_bytes or None,
        compression_ratio=item.compression_ratio,
        extra={"error_kind": "not_run"},
    )


def bench_target(
    address: str,
    plan: BenchPlan,
    settings: BenchSettings,
    results_path: Path,
    progress: Progress = print,
    target_options: dict | None = None,
) -> Results:
    """Run every model of the plan on one target; write results after each model.

    When the target itself fails (unreachable, refused, offline, no runtime) the results file
    says why in ``error``, keeps the records already measured, and lists every model not run
    as failed with that reason, so a gate can never pass on models that never ran.
    """
    from edgebench.deploy import TargetError, target_for

    host = host_info()
    started = time.monotonic()
    results = Results(
        run_id=plan.run_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        target=address,
        manifest=str(plan.manifest) if plan.manifest else None,
        host=host,
        device=DeviceInfo(),
        settings=settings,
        git_commit=git_commit(),
        records=(),
    )
    n = len(plan.items)
    done: set[str] = set()

    def keep(rec: Record, t0: float) -> None:
        nonlocal results
        rec = replace(rec, wall_s=round(time.monotonic() - t0, 2))
        results = replace(results, records=results.records + (rec,))
        results.save(results_path)  # each record survives whatever comes next
        done.add(rec.variant)
        progress(_progress_line(len(done), n, address, rec, time.monotonic() - started))

    try:
        target = target_for(address, **(target_options or {}))
        with target:
            flow = target.flow(plan, settings)
            results = replace(results, device=flow.prepare())
            results.save(results_path)
            runnable = [i for i in plan.items if not i.problem]
            verdicts = flow.check_compat(runnable)
            first = True
            announce = getattr(progress, "started", None)  # a live terminal line (bench.progress)
            for i, item in enumerate(plan.items, 1):
                if announce is not None:
                    announce(address, i, n, item.variant)
                if item.problem:
                    keep(_problem_record(item), time.monotonic())
                    continue
                if item.variant in verdicts:
                    keep(verdicts[item.variant], time.monotonic())
                    continue
                if CANCEL.is_set():
                    break
                if not first and settings.cooldown_s > 0:
                    CANCEL.wait(settings.cooldown_s)
                first = False
                t0 = time.monotonic()
                recs = [flow.measure(item)]
                while len(recs) < settings.repeats and recs[-1].ok and not CANCEL.is_set():
                    recs.append(flow.measure(item))
                if CANCEL.is_set():
                    break  # its process was killed by Ctrl-C: not a measurement
                keep(merge_repeats(recs), t0)
    except TargetError as exc:
        why = _one_line(exc)
        rest = tuple(_not_run_record(i, why) for i in plan.items if i.variant not in done)
        results = replace(results, error=why, records=results.records + rest)
        results.save(results_path)
        progress(f"target failed: {_about(address, why)}")
    if CANCEL.is_set():
        why = "interrupted (Ctrl-C) before this model ran"
        rest = tuple(_not_run_record(i, why) for i in plan.items if i.variant not in done)
        results = replace(results, error="interrupted (Ctrl-C)", records=results.records + rest)
        results.save(results_path)
    return results


def merge_repeats(recs: Sequence[Record]) -> Record:
    """One record from the same model measured in several processes.

    Latency statistics come from the pooled samples; ``extra["process_p50_us"]`` keeps each
    process's median, so a comparison can use their median, which one process that ran in a
    slow state for its whole life cannot move. Memory is the worst process's; accuracy and
    load times are the first process's and the median, respectively.
    """
    import statistics

    first = recs[0]
    if len(recs) == 1 or not all(r.ok for r in recs):
        return next((r for r in recs if not r.ok), first)
    samples = tuple(s for r in recs for s in r.samples_us)
    latency = first.latency_us
    if samples:
        latency = LatencyStats.from_samples([s * 1000 for s in samples])
    p50s = [r.latency_us.p50 for r in recs if r.latency_us and r.latency_us.p50 is not None]
    peaks = [r.rss_mb.peak for r in recs if r.rss_mb and r.rss_mb.peak is not None]

    def median_of(name: str) -> float | None:
        values = [getattr(r, name) for r in recs if getattr(r, name) is not None]
        return round(statistics.median(values), 3) if values else None

    rss = first.rss_mb
    if rss is not None and peaks:
        rss = RssMb(rss.before, rss.after_init, max(peaks))
    extra = dict(first.extra, repeats=len(recs), process_p50_us=p50s)
    return replace(
        first,
        latency_us=latency,
        samples_us=samples,
        rss_mb=rss,
        init_ms=median_of("init_ms"),
        first_inference_us=median_of("first_inference_us"),
        temp_c_after=recs[-1].temp_c_after,
        extra=extra,
    )


def _about(address: str, message: str) -> str:
    """``address: message``, unless the message already starts with the address."""
    return message if message.startswith(address) else f"{address}: {message}"


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines) or type(exc).__name__


def _progress_line(i: int, n: int, address: str, rec: Record, elapsed: float) -> str:
    if rec.ok and rec.latency_us is not None:
        acc = "-" if rec.accuracy is None else f"{rec.accuracy:.4f}"
        lat = rec.latency_us
        figure = f"p50 {lat.p50:,.1f}" if lat.p50 is not None else f"mean {lat.mean or 0:,.1f}"
        what = f"ok  {figure} µs  accuracy {acc}"
    else:
        what = f"{rec.status.upper()}  {rec.error}"
    return f"[{i}/{n}] {address} {rec.variant}: {what}  ({elapsed:.1f} s elapsed)"


def bench(
    plan: BenchPlan,
    run_dir: Path,
    settings: BenchSettings,
    targets: Sequence[str] = ("local",),
    progress: Progress = print,
    target_options: dict[str, dict] | None = None,
) -> list[Results]:
    """Bench a plan on every target (concurrently); one results file per target."""
    from edgebench.deploy import target_for
    from edgebench.deploy.base import kill_running

    run_dir.mkdir(parents=True, exist_ok=True)
    # Resolve every address before anything runs, so a typo costs nothing.
    targets = list(dict.fromkeys(targets))
    names: dict[str, str] = {}
    for address in targets:
        t = target_for(address, **((target_options or {}).get(address, {})))
        clash = next((a for a, n in names.items() if n == t.name), None)
        if clash is not None:
            raise EdgebenchError(
                f"targets {clash!r} and {address!r} are the same device "
                f"(both write results-{t.name}.json); give it once"
            )
        names[address] = t.name
    outcomes: list[Results] = []
    errors: list[str] = []

    def one(address: str) -> Results:
        path = run_dir / f"results-{names[address]}.json"
        keep_previous(path)
        return bench_target(
            address, plan, settings, path, progress, (target_options or {}).get(address)
        )

    CANCEL.clear()
    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
        futures = {a: pool.submit(one, a) for a in targets}
        try:
            for fut in futures.values():
                fut.exception()  # wait, but let Ctrl-C in
        except KeyboardInterrupt:
            CANCEL.set()  # each target stops after its current model ...
            kill_running()  # ... which is killed now
            raise
        for address, fut in futures.items():
            try:
                res = fut.result()
            except EdgebenchError as exc:
                errors.append(_about(address, _one_line(exc)))
                continue
            outcomes.append(res)
            if res.error:
                errors.append(_about(address, res.error))
    if errors and not any(res.error is None for res in outcomes):
        raise EdgebenchError("; ".join(errors))
    return outcomes


def keep_previous(path: Path) -> Path | None:
    """Move an earlier bench's results aside (``previous/``) instead of overwriting them.

    The run folder keeps one current ``results-<target>.json`` per target for the gate; the
    history has every bench, and ``previous/`` keeps the earlier files themselves.
    """
    if not path.exists():
        return None
    stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y%m%d-%H%M%S")
    dest = path.parent / "previous" / f"{path.stem}-{stamp}{path.suffix}"
    k = 2
    while dest.exists():
        dest = dest.with_name(f"{path.stem}-{stamp}-{k}{path.suffix}")
        k += 1
    dest.parent.mkdir(exist_ok=True)
    os.replace(path, dest)
    return dest


# --------------------------------------------------------------------------- host facts


def host_info() -> DeviceInfo:
    """This machine, where edgebench itself runs (psutil on the host; the runner on devices)."""
    import os
    import platform
    import socket

    import psutil

    from edgebench.bench import runner

    try:
        _, _, rt_name, rt_version = runner.load_runtime()
    except RuntimeError:
        rt_name = rt_version = None
    return DeviceInfo(
        hostname=socket.gethostname(),
        os=" ".join(platform.uname()),
        machine=platform.machine(),
        cpu=runner.cpu_model(),
        cores=os.cpu_count(),
        mem_total_mb=round(psutil.virtual_memory().total / 2**20, 1),
        python=platform.python_version(),
        runtime_name=rt_name,
        runtime_version=rt_version,
        governor=runner._read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        temperature_c=runner.temperature_c(),
    )


def git_commit() -> str | None:
    """The commit of the edgebench checkout, when there is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
