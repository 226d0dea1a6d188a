"""The runner flow: edgebench's own ``runner.py`` on the device, one process per model.

The runner is copied to the device once with the evaluation data; each model is then measured
by its own ``python runner.py run …`` under the target's time limit, and prints one JSON record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from edgebench.bench import runner
from edgebench.bench.compat import Incompatibility, incompatibility_from, incompatible_record
from edgebench.bench.flows.base import Flow
from edgebench.bench.plan import BenchItem
from edgebench.deploy import (
    RuntimeMissing,
    Target,
    TargetError,
    TargetTimeout,
    TargetUnreachable,
)
from edgebench.errors import EdgebenchError
from edgebench.records import (
    BenchSettings,
    DeviceInfo,
    LatencyStats,
    OutputFidelity,
    Record,
    RssMb,
    Status,
    from_dict,
)

RUNNER = Path(runner.__file__)


def parse_runner_output(stdout: str) -> dict | None:
    """The runner's one JSON line, or None when it printed none (it crashed)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(runner.MARKER):
            try:
                return json.loads(line[len(runner.MARKER) :])
            except json.JSONDecodeError:
                return None
    return None


def describe_target(target: Target, runner_remote: str, timeout_s: float = 60.0) -> DeviceInfo:
    """Ask the runner on the device what it is (runtime, CPU, governor, temperature).

    Raises :class:`~edgebench.deploy.RuntimeMissing` when the device has no usable Python,
    numpy or TFLite runtime, with the command that installs it.
    """
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
        **evaluation_fields(data),
        latency_us=latency,
        init_ms=data.get("init_ms"),
        first_inference_us=data.get("first_inference_us"),
        warmup_runs=data.get("warmup_runs"),
        rss_mb=RssMb(rss.get("before"), rss.get("after_init"), rss.get("peak"),
                     rss.get("eval_peak")),
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


def evaluation_fields(data: dict) -> dict:
    """The runner's evaluation figures as Record fields: the accuracy metric, how the samples
    were chosen, and output fidelity against the reference model."""
    return {
        "accuracy_metric": data.get("accuracy_metric"),
        "eval_selection": data.get("eval_selection"),
        "fidelity": tuple(from_dict(OutputFidelity, f) for f in data.get("fidelity") or ()),
        "reference": data.get("reference"),
    }


def runner_argv(
    python: str, runner: str, model: str, eval_paths: Sequence[str] | None, s: BenchSettings
):
    """The command line that measures one model on a device (``eval_paths``: the evaluation
    shards there, in order)."""
    argv = [python, runner, "run", "--model", model]
    argv += ["--runs", str(s.runs), "--warmup", str(s.warmup), "--threads", str(s.threads)]
    if not s.xnnpack:
        argv.append("--no-xnnpack")
    if eval_paths:
        argv += ["--eval", *eval_paths, "--eval-batch", str(s.eval_batch)]
        argv += ["--eval-limit", str(s.eval_limit)]
    return argv


class RunnerFlow(Flow):
    """The self-contained runner on the device: one process per model, one time limit each."""

    runner_remote: str
    eval_remote: list[str] | None  # the evaluation shards on the device, in order
    models_remote: dict[Path, str]

    @classmethod
    def check(cls, target: Target, settings: BenchSettings) -> None:
        if target.python is None:
            raise EdgebenchError(
                f"{target.address} has no Python for edgebench's runner; measure it with "
                "TFLite's benchmark_model instead (--flow benchmark_model --benchmark-binary PATH)"
            )

    def prepare(self) -> DeviceInfo:
        t, plan = self.target, self.plan
        self.runner_remote = t.push([RUNNER])[RUNNER]
        self.device = describe_target(t, self.runner_remote)
        shards = plan.eval_shards()
        pushed = t.push(shards) if shards else {}
        self.eval_remote = [pushed[p] for p in shards] or None
        self.models_remote = {}
        return self.device

    def check_compat(self, items: Sequence[BenchItem]) -> dict[str, Record]:
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
