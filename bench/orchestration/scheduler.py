"""Running a plan on targets: every target in its own thread, every model in its own process.

Writes ``results-<target>.json`` after every model, so a crash, a hang or Ctrl-C costs only the
model that was running. When a whole target fails (unreachable, refused, offline, no runtime)
its results file says why in ``error``, keeps the records already measured, and lists every
model not run as failed with that reason, so a gate can never pass on models that never ran.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from edgebench._version import __version__
from edgebench.bench.judgement.repeats import merge_repeats
from edgebench.bench.orchestration.flows import Flow, flow_class
from edgebench.bench.orchestration.hostfacts import host_info
from edgebench.bench.orchestration.plan import BenchItem, BenchPlan
from edgebench.deploy import Target, TargetError, target_for
from edgebench.errors import EdgebenchError, ErrorKind
from edgebench.records import (
    BenchSettings,
    DeviceInfo,
    Record,
    Results,
    Setup,
    Status,
    format_snr,
    worst_fidelity,
)

Progress = Callable[[str], None]


class Cancellation:
    """Ctrl-C for one bench: every target stops after the model it is running, which is
    killed at once (its processes, and the ssh or adb client in front of them)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._targets: list[Target] = []

    def watch(self, target: Target) -> None:
        self._targets.append(target)

    def cancel(self) -> None:
        self._event.set()
        for t in self._targets:
            t.kill()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> None:
        """Sleep (a cool-down between models), but wake at once when cancelled."""
        self._event.wait(seconds)


@dataclass(frozen=True)
class TargetJob:
    """One target of a bench: its address, the transport, and the flow that measures there."""

    address: str
    target: Target
    flow: type[Flow]
    results_path: Path


def plan_targets(
    plan: BenchPlan,
    run_dir: Path,
    settings: BenchSettings,
    addresses: Sequence[str],
    target_options: dict[str, dict] | None = None,
) -> list[TargetJob]:
    """Resolve every address and its flow before anything runs, so a typo costs nothing."""
    jobs: list[TargetJob] = []
    for address in dict.fromkeys(addresses):
        options = dict((target_options or {}).get(address, {}))
        options.setdefault("label", plan.run_id)
        target = target_for(address, **options)
        clash = next((j.address for j in jobs if j.target.name == target.name), None)
        if clash is not None:
            raise EdgebenchError(
                f"targets {clash!r} and {address!r} are the same device "
                f"(both write results-{target.name}.json); give it once"
            )
        flow = flow_class(address, settings)
        flow.check(target, settings)
        jobs.append(TargetJob(address, target, flow, run_dir / f"results-{target.name}.json"))
    return jobs


def bench_targets(
    plan: BenchPlan,
    run_dir: Path,
    settings: BenchSettings,
    addresses: Sequence[str] = ("local",),
    progress: Progress = print,
    target_options: dict[str, dict] | None = None,
    commit: str | None = None,
) -> list[Results]:
    """Bench a plan on every target (concurrently); one results file per target.

    ``commit`` is the commit of the user's code being measured (see
    :func:`edgebench.bench.orchestration.hostfacts.user_commit`); the results record it beside
    edgebench's own version.

    Raises EdgebenchError when every target failed as a whole; a target that failed while
    others ran says so in its own results' ``error``.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    jobs = plan_targets(plan, run_dir, settings, addresses, target_options)
    cancel = Cancellation()
    for job in jobs:
        cancel.watch(job.target)
    host = host_info()
    outcomes: list[Results] = []
    errors: list[str] = []

    def one(job: TargetJob) -> Results:
        keep_previous(job.results_path)
        return bench_target(job, plan, settings, progress, cancel, host, commit)

    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = {job.address: pool.submit(one, job) for job in jobs}
        try:
            for fut in futures.values():
                fut.exception()  # wait, but let Ctrl-C in
        except KeyboardInterrupt:
            cancel.cancel()
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


def bench_target(
    job: TargetJob,
    plan: BenchPlan,
    settings: BenchSettings,
    progress: Progress,
    cancel: Cancellation,
    host: DeviceInfo,
    commit: str | None,
) -> Results:
    """Run every model of the plan on one target; write its results after each model."""
    address, path = job.address, job.results_path
    started = time.monotonic()
    results = Results(
        run_id=plan.run_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        target=address,
        manifest=str(plan.manifest) if plan.manifest else None,
        host=host,
        device=DeviceInfo(),
        settings=settings,
        git_commit=commit,
        records=(),
        edgebench_version=__version__,
    )
    setups = settings.setups()
    n = len(plan.items) * len(setups)
    done: set[str] = set()
    device = DeviceInfo()

    def keep(rec: Record, t0: float, setup: Setup) -> None:
        nonlocal results
        rec = stamp(rec, setup, device, settings)
        rec = replace(rec, wall_s=round(time.monotonic() - t0, 2))
        results = replace(results, records=results.records + (rec,))
        results.save(path)  # each record survives whatever comes next
        done.add(rec.key)
        progress(_progress_line(len(done), n, address, rec, time.monotonic() - started))
        for warning in rec.warnings:
            progress(f"warning: {address} {rec.key}: {warning}")

    def not_run(why: str) -> tuple[Record, ...]:
        """A failed record for every model and cell that did not run."""
        return tuple(
            stamp(_not_run_record(item, why), setup, device, settings)
            for item in plan.items
            for setup in setups
            if key_of(item.variant, setup) not in done
        )

    try:
        with job.target as target:
            flow = job.flow(target, plan, settings)
            device = flow.prepare()
            results = replace(results, device=device)
            results.save(path)
            for warning in device_warnings(device, settings):
                progress(f"warning: {address}: {warning}")
            verdicts = flow.check_compat([i for i in plan.items if not i.problem])
            first = True
            announce = getattr(progress, "started", None)  # a live terminal line (bench.progress)
            i = 0
            for item in plan.items:
                for setup in setups:
                    i += 1
                    if announce is not None:
                        announce(address, i, n, key_of(item.variant, setup))
                    if item.problem:
                        keep(_problem_record(item), time.monotonic(), setup)
                        continue
                    if item.variant in verdicts:
                        keep(verdicts[item.variant], time.monotonic(), setup)
                        continue
                    if cancel.cancelled:
                        break
                    if not first and settings.cooldown_s > 0:
                        cancel.wait(settings.cooldown_s)
                    first = False
                    t0 = time.monotonic()
                    recs = [flow.measure(item, setup)]
                    while len(recs) < settings.repeats and recs[-1].ok and not cancel.cancelled:
                        # Accuracy is the same in every process (the first one's is kept):
                        # the repeats only time, so they skip the evaluation pass and the
                        # continuous run (sustained speed, energy).
                        recs.append(flow.measure(replace(item, labelled=False, repeat=True),
                                                 setup))
                    if cancel.cancelled:
                        break  # its process was killed by Ctrl-C: not a measurement
                    keep(merge_repeats(recs), t0, setup)
                if cancel.cancelled:
                    break
    except TargetError as exc:
        why = _one_line(exc)
        results = replace(results, error=why, records=results.records + not_run(why))
        results.save(path)
        progress(f"target failed: {_about(address, why)}")
    if cancel.cancelled:
        why = "interrupted (Ctrl-C) before this model ran"
        results = replace(results, error="interrupted (Ctrl-C)",
                          records=results.records + not_run(why))
        results.save(path)
    return results


def key_of(variant: str, setup: Setup) -> str:
    """The record key a model gets in one cell of the matrix (see records.record_key)."""
    return Record(variant=variant, model_path="", status="", setup=setup).key


def device_warnings(device: DeviceInfo, settings: BenchSettings) -> list[str]:
    """What about the device may skew every measurement on it."""
    found = []
    if device.emulated:
        found.append(f"the CPU is emulated ({device.emulation_evidence}): its latencies say "
                     "nothing about the device; compare and gate --against will not hold them "
                     "against a real device's")
    if device.governor and device.governor != "performance":
        found.append(f"the CPU frequency governor is {device.governor!r}, not 'performance': "
                     "clocks ramp during a run and latencies wander (set it with: echo "
                     "performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/"
                     "scaling_governor)")
    copy = (device.extra or {}).get("file_copy")
    if copy and not copy.startswith("scp (SFTP)"):
        found.append(f"files were copied with {copy}")
    over = [t for t in settings.threads if device.cores and t > device.cores]
    if over:
        found.append(f"--threads {','.join(map(str, over))}: more threads than the device's "
                     f"{device.cores} cores; those records measure contention")
    return found


def stamp(rec: Record, setup: Setup, device: DeviceInfo, settings: BenchSettings) -> Record:
    """A record with the cell it ran in, the device's machine and emulation, and warnings
    about what may have skewed it (governor, a hot start, more threads than cores)."""
    warnings = list(rec.warnings)
    if rec.ok:
        if device.governor and device.governor != "performance":
            warnings.append(f"governor {device.governor}, not performance")
        start = rec.temp_c_before
        if start is not None and start > settings.hot_start_c:
            warnings.append(f"started hot: {start:g} °C, above {settings.hot_start_c:g} °C "
                            "(--cooldown-s lets the chip cool between models)")
        if device.cores and setup.threads > device.cores:
            warnings.append(f"{setup.threads} threads on {device.cores} cores")
    return replace(rec, setup=setup, machine=device.machine, emulated=device.emulated,
                   warnings=tuple(dict.fromkeys(warnings)))


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


def _problem_record(item: BenchItem) -> Record:
    return Record(
        variant=item.variant,
        model_path=str(item.path),
        status=Status.FAILED.value,
        error=item.problem,
        file_bytes=item.file_bytes or None,
        zip_bytes=item.zip_bytes or None,
        extra={"error_kind": ErrorKind.INPUT.value},
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
        extra={"error_kind": ErrorKind.NOT_RUN.value},
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
        emulated = " (emulated)" if rec.emulated else ""
        what = f"ok  {figure} µs{emulated}  accuracy {acc}"
        worst = worst_fidelity(rec.fidelity)
        if worst is not None:
            what += f"  SNR {format_snr(worst.snr_db)} dB"
    else:
        what = f"{rec.status.upper()}  {rec.error}"
    return f"[{i}/{n}] {address} {rec.key}: {what}  ({elapsed:.1f} s elapsed)"
