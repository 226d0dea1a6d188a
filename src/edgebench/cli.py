"""The command line: each subcommand parses its own arguments, calls one function of
:mod:`edgebench.api`, and prints what it returned.

``main()`` is the one error boundary: an :class:`~edgebench.errors.EdgebenchError` becomes one
line on stderr and exit status 2. Anything else is a bug and keeps its traceback. Tables and
verdicts go to stdout; progress and notes go to stderr.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from edgebench import api
from edgebench._version import __version__
from edgebench.bench.judgement.compare_settings import CompareSettings, NothingToCompare
from edgebench.bench.judgement.gate import GateReport
from edgebench.bench.judgement.history import default_history_path
from edgebench.bench.orchestration.flows import FLOWS
from edgebench.bench.orchestration.flows.benchmark_model import OWN_FLAGS
from edgebench.bench.orchestration.flows.runner_flow import parse_delegate
from edgebench.bench.orchestration.hostfacts import is_commit_sha
from edgebench.bench.orchestration.progress import Progress
from edgebench.bench.orchestration.reference import DEFAULT_SAMPLES as DEFAULT_REFERENCE_SAMPLES
from edgebench.bench.outputs.export import (
    FORMATS,
    HISTORY_COLUMNS,
    format_comparisons_as,
    format_doctor_as,
    format_gate_as,
    format_history_as,
    format_run_as,
    format_summary_as,
    history_table_rows,
)
from edgebench.bench.outputs.junit import write_junit
from edgebench.bench.outputs.pytest_benchmark_json import require_pytest_benchmark
from edgebench.bench.outputs.table import format_table
from edgebench.errors import EdgebenchError, ErrorKind
from edgebench.records import BenchSettings, Record, Results, format_snr, worst_fidelity

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def log(msg: str) -> None:
    """Progress and notes go to stderr; tables and verdicts go to stdout."""
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- argument types


def _number(kind: type, low: float, strict: bool) -> Callable[[str], float]:
    """An argparse type: a ``kind`` (int or float) above ``low`` (``strict``) or at least it."""
    words = {int: "a whole number", float: "a number"}[kind]
    bound = f"{'>' if strict else '>='} {low:g}"

    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {words} {bound}; got {text!r}") from None
        if not (value > low if strict else value >= low):
            raise argparse.ArgumentTypeError(f"expected {words} {bound}; got {value}")
        return value

    return convert


positive_int = _number(int, 1, strict=False)
nonneg_int = _number(int, 0, strict=False)
positive_float = _number(float, 0, strict=True)
nonneg_float = _number(float, 0, strict=False)


def cpu_mask(text: str) -> str:
    """A taskset CPU mask in hex, e.g. f0 (the big cores of many 4+4 phones)."""
    t = text.lower().removeprefix("0x")
    if not t or any(c not in "0123456789abcdef" for c in t) or int(t, 16) == 0:
        raise argparse.ArgumentTypeError(
            f"expected a hex CPU mask such as f0 or 0x0f; got {text!r}"
        )
    return t


def thread_counts(text: str) -> tuple[int, ...]:
    """``--threads 1,2,4``: every count is its own record (a matrix with --xnnpack)."""
    counts = []
    for word in text.split(","):
        word = word.strip()
        if not word.isdigit() or int(word) < 1:
            raise argparse.ArgumentTypeError(
                f"expected thread counts >= 1 separated by commas, such as 1,2,4; got {text!r} "
                f"({word!r} is not one)"
            )
        counts.append(int(word))
    return tuple(dict.fromkeys(counts))


def xnnpack_modes(text: str) -> tuple[bool, ...]:
    """``--xnnpack on,off``: with and without the XNNPACK delegate, each its own record."""
    words = {"on": True, "off": False, "true": True, "false": False}
    modes = []
    for word in text.lower().split(","):
        if word.strip() not in words:
            raise argparse.ArgumentTypeError(f"expected on, off or on,off; got {text!r}")
        modes.append(words[word.strip()])
    return tuple(dict.fromkeys(modes))


def cpu_pin(text: str) -> str:
    """``--cpu-pin 2,3`` or ``0-3`` (CPU numbers, as taskset -c takes them) or a hex mask
    ``0xf0``; returns the hex mask that taskset gets on every device."""
    t = text.strip().lower()
    if t.startswith("0x"):
        return cpu_mask(t)
    mask = 0
    for part in t.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()) or (dash and int(hi) < int(lo)):
            raise argparse.ArgumentTypeError(
                f"expected CPU numbers such as 2,3 or 0-3 (or a hex mask such as 0xf0); "
                f"got {text!r}"
            )
        for cpu in range(int(lo), int(hi if dash else lo) + 1):
            mask |= 1 << cpu
    return f"{mask:x}"


def benchmark_flag(text: str) -> str:
    """One more benchmark_model flag, passed as it is: ``--benchmark-flag=--gpu_backend=cl``."""
    m = re.fullmatch(r"--([A-Za-z0-9_]+)(=.*)?", text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"expected one benchmark_model flag such as --gpu_backend=cl (write "
            f"--benchmark-flag=--name=value); got {text!r}"
        )
    if m.group(1) in OWN_FLAGS:
        raise argparse.ArgumentTypeError(
            f"--{m.group(1)} is set by edgebench; use {OWN_FLAGS[m.group(1)]} instead"
        )
    return text


def delegate_spec(text: str) -> str:
    """``--delegate PATH.so[:key=value,...]``, checked for its form here."""
    try:
        parse_delegate(text)
    except EdgebenchError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def target_address(text: str) -> str:
    if text == "local" or "://" in text:
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a target; use local, ssh://[user@]host[:port] or adb://SERIAL"
    )


def fraction(text: str) -> float:
    """A share written as a percentage ("10%") or a fraction ("0.1")."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a percentage such as 10% or a fraction such as 0.1; got {text!r}"
        ) from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"expected a share between 0% and 1000%; got {text!r}")
    return value


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1); got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), e.g. 0.01; got {value}")
    return value


def iso_date(text: str) -> str:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date such as 2025-01-31 or 2025-01-31T18:00; got {text!r}"
        ) from None
    return text


def output_format(text: str) -> str:
    if text not in FORMATS:
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(FORMATS)}; got {text!r}"
        )
    return text


def commit_sha(text: str) -> str:
    """A git commit as its hex SHA (7 to 40 digits, or 64 in a SHA-256 repository)."""
    if not is_commit_sha(text.strip()):
        raise argparse.ArgumentTypeError(
            f"expected a git commit's hex SHA (7 to 40 digits), e.g. $(git rev-parse HEAD); "
            f"got {text!r}"
        )
    return text.strip().lower()


def output_file(text: str) -> Path:
    """A file to write: not a folder (its parent folder is made when missing)."""
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(
            f"{text!r} is a folder; name a file in it, e.g. {Path(text) / 'results.json'}"
        )
    return path


def ray_address(text: str) -> str:
    host, _, port = text.removeprefix("ray://").rpartition(":")
    if text == "auto" or (host and port.isdigit()):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a Ray address; use HOST:PORT (e.g. 127.0.0.1:6379) or auto"
    )


# --------------------------------------------------------------------------- option groups


def add_out(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=Path,
        default=api.DEFAULT_OUT,
        metavar="DIR",
        help="output folder; each run writes into DIR/<run>/ and DIR/latest points at it "
        "(default: out)",
    )


def add_history(p: argparse.ArgumentParser, writes: bool = False) -> None:
    p.add_argument(
        "--history",
        type=Path,
        metavar="PATH",
        help="the SQLite history of every bench run (default: <out>/history.sqlite)",
    )
    if writes:
        p.add_argument(
            "--no-history",
            action="store_true",
            help="do not append this run to the history (one-off measurements)",
        )


def add_format(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--format", type=output_format, default="table", metavar="FORMAT",
        help=f"how to print {what}: table (default, for people), json (with schema_version, "
        "for CI steps), csv, or markdown (for CI comments)",
    )


def history_of(args: argparse.Namespace) -> Path:
    """--history, else history.sqlite beside the runs in --out."""
    return args.history or default_history_path(args.out)


#: Where build, run and gate take their pipeline from when no --config is given: a CI job (or
#: a test running the README's examples as written) points them at its own pipeline this way.
CONFIG_ENV = "EDGEBENCH_CONFIG"


def add_config(p: argparse.ArgumentParser, what: str, from_env: bool = False) -> None:
    default = None
    if from_env:
        what += f"; ${CONFIG_ENV}, when set, is the default"
        if os.environ.get(CONFIG_ENV):
            default = Path(os.environ[CONFIG_ENV])
    p.add_argument("--config", type=Path, metavar="TOML", default=default, help=what)


def check_config_env(args: argparse.Namespace) -> None:
    """A $EDGEBENCH_CONFIG that names no file is refused in one line that names the variable."""
    value = os.environ.get(CONFIG_ENV)
    if value and vars(args).get("config") == Path(value) and not Path(value).is_file():
        raise EdgebenchError(f"${CONFIG_ENV} is {value}, which is not a file; point it at a "
                             f"pipeline TOML or unset it")


def add_quick_overrides(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("quick runs (override the config)")
    g.add_argument("--epochs", type=positive_int, help="baseline training epochs")
    g.add_argument("--train-limit", type=nonneg_int, help="use the first N training samples")
    g.add_argument("--test-limit", type=nonneg_int, help="use the first N test samples")


def config_with_overrides(args: argparse.Namespace, default: Path | None = None):
    """The pipeline config of --config (or ``default``) with --epochs / --*-limit applied."""
    config = api.load_config(args.config or default)
    return config.with_overrides(
        train_limit=args.train_limit, test_limit=args.test_limit, epochs=args.epochs
    )


def add_measurement(p: argparse.ArgumentParser) -> None:
    """Targets, how to measure, and the per-kind target options (bench and run)."""
    g = p.add_argument_group("measurement (defaults from the pipeline config's [bench])")
    g.add_argument(
        "--target",
        dest="targets",
        action="append",
        type=target_address,
        metavar="T",
        help="where to run: local (default), ssh://[user@]host[:port], adb://SERIAL; repeatable",
    )
    g.add_argument("--runs", type=positive_int, help="timed invoke() calls per model")
    g.add_argument(
        "--repeats",
        type=positive_int,
        help="measure each model in N separate processes (default 5); compare and the report "
        "use the median of the per-process medians, which one slow process cannot move, and "
        "need 3 or more per side for a latency verdict",
    )
    g.add_argument("--warmup", type=nonneg_int, help="untimed invoke() calls before timing")
    g.add_argument(
        "--threads", type=thread_counts, metavar="N[,N…]",
        help="interpreter threads; a list (1,2,4) measures every model with each count, each "
        "its own record; a count above the device's cores is measured with a warning",
    )
    g.add_argument(
        "--xnnpack", type=xnnpack_modes, metavar="on|off|on,off",
        help="with the default XNNPACK delegate (on), without it (off), or both: each its own "
        "record; with --threads a list it is a matrix",
    )
    g.add_argument(
        "--no-xnnpack", dest="xnnpack", action="store_const", const=(False,),
        help="the same as --xnnpack off",
    )
    g.add_argument(
        "--cpu-pin", dest="taskset", type=cpu_pin, metavar="CPUS",
        help="pin every measured process to these CPUs with taskset on the device: 2,3 or 0-3 "
        "(or a hex mask, 0xf0); every flow and target",
    )
    g.add_argument(
        "--max-start-temp-c", dest="hot_start_c", type=positive_float, metavar="C",
        help="warn (output and record) when a model starts with the SoC hotter than C °C "
        "(default 70)",
    )
    g.add_argument(
        "--delegate", type=delegate_spec, metavar="PATH.so[:KEY=VALUE,…]",
        help="run every model through this TFLite delegate (load_delegate), e.g. "
        "libedgetpu.so.1 or /opt/armnn/libarmnnDelegate.so:backends=CpuAcc; a file here is "
        "copied to an SSH device, another path or name is the device's own. A delegate that "
        "does not load, or takes none of a model, fails instead of running on the CPU",
    )
    g.add_argument("--timeout-s", type=positive_float, help="time limit per model, seconds")
    g.add_argument(
        "--eval-limit", type=nonneg_int, metavar="N",
        help="evaluate on a stratified subset of N test samples (each class in proportion; "
        "evenly spaced without labels; 0 = all); the record says how many and how chosen",
    )
    g.add_argument(
        "--cooldown-s", type=nonneg_float, metavar="S",
        help="wait S seconds between models so each starts from a cooler chip (default 0)",
    )
    g.add_argument(
        "--commit", type=commit_sha, metavar="SHA",
        help="the commit of your code these models come from, recorded in the results and the "
        "history (default: $GITHUB_SHA or $CI_COMMIT_SHA, else git rev-parse HEAD in the "
        "repository holding the config or the models, else none)",
    )
    g.add_argument(
        "--flow", choices=sorted(FLOWS),
        help="how models are measured: runner (edgebench's runner.py, where Python runs; the "
        "default for local and ssh://) or benchmark_model (TFLite's tool; the default for adb://)",
    )
    add_target_options(p)
    a = p.add_argument_group("the benchmark_model flow (adb:// targets, or --flow benchmark_model)")
    a.add_argument(
        "--benchmark-binary", type=Path, metavar="PATH",
        help="TFLite's benchmark_model built for the device (bazel build -c opt "
        "--config=android_arm64 //tensorflow/lite/tools/benchmark:benchmark_model)",
    )
    a.add_argument(
        "--taskset", type=cpu_mask, metavar="MASK",
        help="the same as --cpu-pin, as a hex mask (f0 = CPUs 4-7)",
    )
    a.add_argument("--use-gpu", action="store_true",
                   help="benchmark_model's GPU delegate (--use_gpu=true)")
    a.add_argument("--use-nnapi", action="store_true",
                   help="benchmark_model's NNAPI delegate (--use_nnapi=true)")
    a.add_argument(
        "--benchmark-flag", dest="benchmark_args", action="append", type=benchmark_flag,
        metavar="=--FLAG=VALUE",
        help="one more benchmark_model flag, passed as it is; repeatable; write it with '=': "
        "--benchmark-flag=--gpu_backend=cl",
    )
    a.add_argument(
        "--op-profile", action="store_true",
        help="benchmark_model's per-operator profile (--enable_op_profiling=true): op type, "
        "count, avg ms and %% of total go to the record and the report",
    )


def add_target_options(p: argparse.ArgumentParser) -> None:
    """How to reach SSH and adb targets (bench, run, doctor)."""
    s = p.add_argument_group("SSH targets (ssh://[user@]host[:port], via your OpenSSH client)")
    s.add_argument(
        "--python", metavar="CMD",
        help="the device's Python that runs the runner (default: python3)",
    )
    s.add_argument(
        "--accept-new-host-key", action="store_true",
        help="trust a device's host key on first contact (StrictHostKeyChecking=accept-new); "
        "a changed key is still refused",
    )
    s.add_argument("--ssh-config", type=Path, metavar="PATH", help="ssh client config (ssh -F)")
    s.add_argument(
        "--ssh-option", dest="ssh_options", action="append", default=[], metavar="KEY=VALUE",
        help="an extra ssh -o option, e.g. IdentityFile=~/.ssh/pi_ed25519; repeatable",
    )
    a = p.add_argument_group("Android targets (adb://SERIAL, or adb:// for the one phone)")
    a.add_argument("--adb", metavar="PATH", help="the adb client to use (default: adb on PATH)")


def bench_settings(args: argparse.Namespace, base: BenchSettings) -> BenchSettings:
    """The config's [bench] with what the command line sets."""
    given = {
        "runs": args.runs, "warmup": args.warmup, "threads": args.threads,
        "xnnpack": args.xnnpack, "timeout_s": args.timeout_s, "eval_limit": args.eval_limit,
        "cooldown_s": args.cooldown_s, "repeats": args.repeats, "flow": args.flow,
        "taskset": args.taskset, "hot_start_c": args.hot_start_c, "delegate": args.delegate,
        "benchmark_args": tuple(args.benchmark_args) if args.benchmark_args else None,
        "use_gpu": args.use_gpu or None, "use_nnapi": args.use_nnapi or None,
        "op_profile": args.op_profile or None,
        "benchmark_binary": str(args.benchmark_binary) if args.benchmark_binary else None,
    }
    return replace(base, **{k: v for k, v in given.items() if v is not None})


def target_options(args: argparse.Namespace, targets: Sequence[str]) -> dict[str, dict]:
    """Per-address keyword options for each target's transport."""
    options: dict[str, dict] = {}
    for address in targets:
        opts: dict = {}
        if address.startswith("ssh://"):
            opts.update(
                {k: v for k, v in (("python", args.python), ("ssh_config", args.ssh_config))
                 if v is not None}
            )
            if args.accept_new_host_key:
                opts["accept_new_host_key"] = True
            if args.ssh_options:
                opts["ssh_options"] = tuple(args.ssh_options)
        elif address.startswith("adb://") and args.adb:
            opts["adb"] = args.adb
        options[address] = opts
    return options


def add_compare_options(p: argparse.ArgumentParser) -> None:
    d = CompareSettings()
    g = p.add_argument_group("when is a change real")
    g.add_argument(
        "--alpha",
        type=probability,
        default=d.alpha,
        help=f"Mann-Whitney U p-value below which latencies differ (default {d.alpha:g})",
    )
    g.add_argument(
        "--min-effect",
        type=fraction,
        default=None,
        metavar="SHARE",
        help="smallest change of the median of per-process medians called faster/slower, "
        "e.g. 30%% (default: the floor learnt from the device's --repeats runs, else 25%%); "
        "one process per side gets a verdict only beyond the learnt spread",
    )
    g.add_argument(
        "--min-memory-effect",
        type=fraction,
        default=d.min_memory_effect,
        metavar="SHARE",
        help="smallest change of peak RSS called a change "
        f"(default {d.min_memory_effect * 100:.0f}%%)",
    )


def compare_settings(args: argparse.Namespace) -> CompareSettings:
    return CompareSettings(args.alpha, args.min_effect, args.min_memory_effect)


def add_require_compatible(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--require-compatible",
        action="append",
        default=[],
        type=target_address,
        metavar="TARGET",
        help="fail unless every variant benched on TARGET loads with its runtime (no "
        "'incompatible' record); repeatable. Per variant glob: require_compatible in budgets",
    )


# --------------------------------------------------------------------------- build


def add_build_args(p: argparse.ArgumentParser) -> None:
    add_config(p, "pipeline TOML (default: the models/pipeline.toml shipped with edgebench)",
               from_env=True)
    p.add_argument(
        "--model",
        type=Path,
        help="your own trained model as the dense baseline: a .keras or .h5 file (tf-keras or "
        "Keras 3) is pruned and converted; a SavedModel folder is converted to the quantised "
        "variants only",
    )
    p.add_argument("--run", help="name of the run folder under --out (default: UTC timestamp)")
    add_quick_overrides(p)
    add_out(p)


def cmd_build(args: argparse.Namespace) -> int:
    manifest = api.build_models(
        config_with_overrides(args), out=args.out, run=args.run, model=args.model, progress=log
    )
    print(f"manifest: {manifest.path}")
    return EXIT_OK


# --------------------------------------------------------------------------- bench


def add_bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="a manifest.json (or its run folder) from edgebench build, or .tflite files",
    )
    add_config(p, "take [bench] settings and targets from this pipeline TOML")
    p.add_argument("--run", help="run folder name for loose .tflite inputs (default: timestamp); "
                   "a manifest is benched in its own run folder")
    r = p.add_argument_group(
        "output fidelity for models edgebench did not build (a build's manifest has its own "
        "float32 reference)"
    )
    r.add_argument(
        "--reference", type=Path, metavar="FLOAT.tflite",
        help="hold every model's outputs to this float model's: max and mean |Δ|, cosine, SNR "
        "dB and top-1 agreement per output, quantised outputs dequantised, no labels needed",
    )
    r.add_argument(
        "--reference-data", type=Path, metavar="NPZ",
        help="the inputs to compare on: an .npz with x (x_<input> for several inputs) in the "
        "model's float domain, and optional class labels y (default: random inputs)",
    )
    r.add_argument(
        "--reference-samples", type=positive_int, default=DEFAULT_REFERENCE_SAMPLES, metavar="N",
        help=f"random inputs to compare on without --reference-data (default "
        f"{DEFAULT_REFERENCE_SAMPLES})",
    )
    add_measurement(p)
    add_pytest_benchmark_json(p)
    add_format(p, "the summary")
    add_out(p)
    add_history(p, writes=True)


def add_pytest_benchmark_json(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pytest-benchmark-json", type=output_file, metavar="PATH",
        help="also write the latencies in pytest-benchmark's JSON format, for pytest-benchmark "
        "compare and the dashboards that read it (github-action-benchmark and others)",
    )


def check_exports(args: argparse.Namespace) -> None:
    """What the exports need is checked before minutes of benching."""
    if args.pytest_benchmark_json:
        require_pytest_benchmark()


def write_exports(args: argparse.Namespace, results: Sequence[Results]) -> None:
    if args.pytest_benchmark_json and results:
        api.write_pytest_benchmark_json(results, args.pytest_benchmark_json)
        log(f"bench: pytest-benchmark JSON -> {args.pytest_benchmark_json}")


def cmd_bench(args: argparse.Namespace) -> int:
    config = api.load_config(args.config) if args.config else None
    settings = bench_settings(args, config.bench if config else BenchSettings())
    targets = args.targets or (list(config.targets) if config else ["local"])
    if args.reference is None and (args.reference_data is not None):
        raise EdgebenchError("--reference-data needs --reference FLOAT.tflite to compare with")
    check_exports(args)
    results = bench_with_progress(
        args, args.inputs, targets, settings, args.run,
        reference=dict(reference=args.reference, reference_data=args.reference_data,
                       reference_samples=args.reference_samples),
    )
    write_exports(args, results)
    print(format_summary_as(results, args.format))
    return bench_exit_status(results)


def bench_with_progress(
    args: argparse.Namespace,
    models: object,
    targets: Sequence[str],
    settings: BenchSettings,
    run: str | None,
    reference: dict | None = None,
) -> list[Results]:
    """api.bench_models with the live progress line, then one stderr line per failure."""
    targets = list(dict.fromkeys(targets))  # the same address twice would race for one file
    with Progress() as progress:
        results = api.bench_models(
            models, targets, settings, out=args.out, run=run, history=history_of(args),
            record_history=not args.no_history, target_options=target_options(args, targets),
            progress=progress, commit=args.commit, **(reference or {}),
        )
    say_failures(results)
    return results


def say_failures(results: Sequence[Results]) -> None:
    """One stderr line per target that failed as a whole, and per model that failed."""
    for res in results:
        if res.error:  # one line for the target, not one per model it never ran
            about = res.error if res.error.startswith(res.target) else f"{res.target}: {res.error}"
            log(f"edgebench: error: {about}")
        for rec in res.records:
            if not rec.ok and rec.extra.get("error_kind") != ErrorKind.NOT_RUN:
                log(f"edgebench: {res.target} {rec.variant}: {rec.error}")


def bench_exit_status(results: Sequence[Results]) -> int:
    """2 when an input was bad or a target failed (the user can fix it), 1 when a model
    failed or was incompatible, else 0."""
    kinds = [r.extra.get("error_kind") for res in results for r in res.records if not r.ok]
    fixable = (ErrorKind.INPUT, ErrorKind.TARGET)  # the user can fix these
    if any(k in fixable for k in kinds) or any(res.error for res in results):
        return EXIT_USAGE
    return EXIT_FAILED if kinds else EXIT_OK


# --------------------------------------------------------------------------- gate


def add_gate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "results",
        nargs="*",
        type=Path,
        metavar="RESULTS",
        help="results-<target>.json files or run folders (default: <out>/latest)",
    )
    add_budgets(p)
    add_config(p, "pipeline TOML whose [gate] names the budgets", from_env=True)
    add_require_compatible(p)
    p.add_argument(
        "--against",
        metavar="BASE",
        help="also apply the regression rules (max_latency_regression, max_zip_growth_bytes, "
        "max_accuracy_drop_vs_base, max_peak_rss_growth) against BASE: a run id from "
        "edgebench history, latest~N, a results file or a run folder",
    )
    p.add_argument(
        "--alpha",
        type=probability,
        help="Mann-Whitney U p-value below which a latency change is real (default 0.01)",
    )
    add_format(p, "the checks")
    add_out(p)
    add_history(p)


def add_budgets(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--budgets", type=Path, metavar="TOML",
        help="budgets TOML (default: [gate] budgets of the pipeline config)",
    )
    p.add_argument("--junit", type=Path, metavar="PATH", help="also write JUnit XML for CI")


def budgets_path(args: argparse.Namespace) -> Path:
    return args.budgets or api.budgets_of(api.load_config(args.config))


def cmd_gate(args: argparse.Namespace) -> int:
    budgets = api.load_budgets(budgets_path(args))
    results = args.results or [args.out / "latest"]
    if args.against is None and budgets.regressions:
        log(f"gate: {len(budgets.regressions)} regression rules skipped; pass --against BASE")
    report = api.gate(
        results, budgets, against=args.against, require_compatible=args.require_compatible,
        alpha=args.alpha, history=history_of(args),
    )
    return print_gate(report, args.junit, brief=False, fmt=args.format)


def print_gate(report: GateReport, junit: Path | None, brief: bool, fmt: str = "table") -> int:
    if fmt is not None:
        print(format_gate_as(report, fmt, failures_only=brief))
    if junit:
        write_junit(report, junit)
        log(f"gate: JUnit XML -> {junit}")
    return EXIT_OK if report.passed else EXIT_FAILED


# --------------------------------------------------------------------------- run


def add_run_args(p: argparse.ArgumentParser) -> None:
    add_build_args(p)
    add_measurement(p)
    add_budgets(p)
    add_require_compatible(p)
    add_pytest_benchmark_json(p)
    add_format(p, "the summary and the gate")
    add_history(p, writes=True)


def cmd_run(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    check_exports(args)
    config = config_with_overrides(args)
    targets = list(dict.fromkeys(args.targets or config.targets))
    with Progress() as progress:
        outcome = api.run(
            config, out=args.out, run=args.run, model=args.model, budgets=args.budgets,
            targets=targets, settings=bench_settings(args, config.bench),
            history=history_of(args), record_history=not args.no_history,
            require_compatible=args.require_compatible,
            target_options=target_options(args, targets), progress=progress,
            commit=args.commit,
        )
    say_failures(outcome.results)
    write_exports(args, outcome.results)
    print(format_run_as(outcome.results, outcome.gate, args.format))
    status = print_gate(outcome.gate, args.junit, brief=True, fmt=None)  # printed just above
    done = f"run: {outcome.manifest.folder} in {time.monotonic() - t0:.1f} s"
    if args.format == "table":
        print(done)
    else:
        log(done)
    return max(status, bench_exit_status(outcome.results))


# --------------------------------------------------------------------------- history


def add_history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", help="only runs on this target address, e.g. local")
    p.add_argument("--variant", help="only runs that measured this variant, e.g. pruned/int8")
    p.add_argument("--since", type=iso_date, metavar="DATE", help="runs on or after DATE")
    p.add_argument("--until", type=iso_date, metavar="DATE", help="runs up to DATE (inclusive)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="the newest N runs only")
    p.add_argument(
        "--add",
        action="append",
        default=[],
        type=Path,
        metavar="RESULTS",
        help="first import a results-<target>.json or run folder (e.g. benched --no-history)",
    )
    add_format(p, "the runs")
    add_out(p)
    add_history(p)


def cmd_history(args: argparse.Namespace) -> int:
    path = history_of(args)
    for item in args.add:
        api.add_to_history(item, history=path)
        log(f"history: added {item}")
    rows = api.history(target=args.target, variant=args.variant, since=args.since,
                       until=args.until, limit=args.limit, history=path)
    if args.variant and rows and args.format == "table":
        # that variant's quality in each run, beside the run
        recs = dict(api.variant_history(args.variant, target=args.target, since=args.since,
                                        until=args.until, limit=args.limit, history=path))
        table = [(*row, *_quality(recs.get(r)))
                 for row, r in zip(history_table_rows(rows), rows, strict=True)]
        print(format_table(table, (*HISTORY_COLUMNS, "accuracy", "SNR dB")))
    else:
        print(format_history_as(rows, args.format))
    return EXIT_OK


def _quality(rec: Record | None) -> tuple[str, str]:
    """A record's accuracy and worst-output SNR for a table."""
    if rec is None:
        return "—", "—"
    worst = worst_fidelity(rec.fidelity)
    acc = "—" if rec.accuracy is None else f"{rec.accuracy:.4f}"
    return acc, format_snr(worst.snr_db if worst else None)


# --------------------------------------------------------------------------- compare


def add_compare_args(p: argparse.ArgumentParser) -> None:
    refs = ("a run id or #N from edgebench history, latest, latest~N, a results-<target>.json "
            "or a run folder")
    p.add_argument("base", nargs="?", help=f"the earlier run: {refs} "
                   "(default: the run before CURRENT on the same target and device)")
    p.add_argument("current", nargs="?", help="the later run (default: latest)")
    p.add_argument("--target", help="compare only this target")
    p.add_argument(
        "--fail-on-regression", action="store_true",
        help="exit 1 when any variant regressed (slower, bigger, less accurate, more memory, or "
        "now failing), as asv continuous and pytest-benchmark --benchmark-compare-fail do; "
        "an inconclusive latency is not a regression",
    )
    add_compare_options(p)
    add_format(p, "the comparison")
    add_out(p)
    add_history(p)


def cmd_compare(args: argparse.Namespace) -> int:
    try:
        comparisons = api.compare_history(
            args.base, args.current, target=args.target, history=history_of(args),
            settings=compare_settings(args),
        )
    except NothingToCompare as exc:  # a nightly job's first night is not a failure
        print(f"compare: {exc}")
        return EXIT_OK
    print(format_comparisons_as(comparisons, args.format))
    regressed = [v for c in comparisons for v in c.regressed]
    if args.fail_on_regression and regressed:
        log(f"compare: failing: {len(regressed)} variant(s) regressed (--fail-on-regression)")
        return EXIT_FAILED
    return EXIT_OK


# --------------------------------------------------------------------------- report


def add_report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "run",
        nargs="?",
        help="the run to show: a run id from edgebench history, latest~N, a results file or a "
        "run folder (default: the latest run in the history)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=api.DEFAULT_OUT / "report.html",
        metavar="PATH",
        help="the HTML file to write (default: out/report.html)",
    )
    p.add_argument(
        "--markdown",
        type=Path,
        metavar="PATH",
        help="the Markdown summary for CI comments (default: --out with .md)",
    )
    p.add_argument("--target", help="only this target")
    p.add_argument(
        "--last",
        type=positive_int,
        default=20,
        metavar="N",
        help="trends over the last N runs of each target and device (default: 20)",
    )
    add_compare_options(p)
    p.add_argument(
        "--history",
        type=Path,
        metavar="PATH",
        help="the SQLite history of every bench run (default: out/history.sqlite)",
    )


def cmd_report(args: argparse.Namespace) -> int:
    files = api.report(
        args.run, out=args.out, markdown=args.markdown, target=args.target, last=args.last,
        settings=compare_settings(args),
        history=args.history or default_history_path(api.DEFAULT_OUT),
    )
    print(f"report: {files.html}")
    print(f"report: {files.markdown}")
    n = len(files.data.regressions)
    log(f"report: {n} regression(s) since the previous run" if n else "report: no regressions")
    return EXIT_OK


# --------------------------------------------------------------------------- doctor


def add_doctor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", default="local", type=target_address,
                   help="the device to check: local (default), ssh://[user@]host[:port], "
                   "adb://SERIAL")
    p.add_argument("--timeout-s", type=positive_float, default=120.0,
                   help="time limit for the device's checks, seconds (default 120)")
    add_target_options(p)
    add_format(p, "the checks")


def cmd_doctor(args: argparse.Namespace) -> int:
    opts = target_options(args, [args.target])[args.target]
    report = api.doctor(args.target, target_options=opts, timeout_s=args.timeout_s)
    print(format_doctor_as(report, args.format))
    return EXIT_OK if report.ready else EXIT_FAILED


# --------------------------------------------------------------------------- sweep


def add_sweep_args(p: argparse.ArgumentParser) -> None:
    add_config(p, "pipeline TOML with a [sweep] section (default: models/sweep.toml)")
    p.add_argument("--run", help="name of the run folder under --out (default: UTC timestamp)")
    p.add_argument(
        "--ray",
        type=ray_address,
        metavar="ADDRESS",
        help="run the trials on the Ray cluster at HOST:PORT (default: local worker processes)",
    )
    p.add_argument("--workers", type=positive_int, help="local worker processes (default: config)")
    p.add_argument(
        "--validation-split",
        type=probability,
        metavar="SHARE",
        help="share of the training data held out to choose on, in (0, 1) "
        "(default: [sweep] validation_split, 0.1)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="trained-artifact cache (default: <out>/<[sweep] cache_dir>)",
    )
    add_quick_overrides(p)
    add_out(p)


def cmd_sweep(args: argparse.Namespace) -> int:
    config = config_with_overrides(args, default=api.default_sweep_path())
    outcome = api.sweep(
        config, out=args.out, run=args.run, cache=args.cache, ray=args.ray,
        workers=args.workers, validation_split=args.validation_split, progress=log,
    )
    print(f"manifest: {outcome.manifest.path}")
    if outcome.chosen is None:
        print("chosen: none (no variant reached the accuracy floor on validation)")
        return EXIT_FAILED
    print(
        f"chosen: {outcome.chosen} (validation {outcome.chosen_val_accuracy:.2%}, "
        f"test {outcome.chosen_test_accuracy:.2%})"
    )
    return EXIT_OK


# --------------------------------------------------------------------------- wiring


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]


COMMANDS: list[Command] = [
    Command(
        "build",
        "train, prune and convert models; write a manifest",
        "Train the dense baseline (or take yours with --model: tf-keras or Keras 3 .keras/.h5, "
        "or a SavedModel folder, convert-only), prune it with every recipe of the pipeline "
        "config, convert each to TFLite variants, and write <out>/<run>/manifest.json with zip "
        "bytes, sparsity, operators, host accuracy and output fidelity against the float32 "
        "reference; the test set goes to <out>/<run>/eval/ as shards with the reference's "
        "outputs. Example: edgebench build --epochs 1 --train-limit 5000",
        add_build_args,
        cmd_build,
    ),
    Command(
        "bench",
        "measure models on targets; write results-<target>.json",
        "Run each model in its own process on each target: load/allocate time, first "
        "inference, timed invoke() percentiles, resident memory, accuracy when the data has "
        "labels, and output fidelity against the float32 reference (streamed shard by shard, "
        "so memory stays flat). Examples: edgebench bench out/latest/manifest.json "
        "--target ssh://pi@raspberrypi.local; edgebench bench q.tflite --reference f.tflite",
        add_bench_args,
        cmd_bench,
    ),
    Command(
        "gate",
        "check results against budgets; exit 1 when one is broken",
        "Hold every record against the rules of a budgets TOML (max_zip_bytes, min_accuracy, "
        "max_accuracy_drop, min_snr_db, min_cosine, min_top1_agreement, max_latency_p90_us, "
        "max_peak_rss_mb, require_compatible, keyed by variant or glob); with --against BASE "
        "also its regression rules against that run. "
        "Exit 0 when all pass, 1 when any fails, 2 on bad input.",
        add_gate_args,
        cmd_gate,
    ),
    Command(
        "sweep",
        "search recipes x sparsity x clusters x quantisation; choose the smallest that passes",
        "Search the [sweep] of the config (default models/sweep.toml) for the Pareto front of "
        "zipped bytes against validation accuracy (a seeded share of the training data, held "
        "out of every training run), choose the smallest variant at or above the accuracy "
        "floor there, then measure the front on the test set, and write "
        "<out>/<run>/manifest.json with the front as artifacts, every trial, and the chosen "
        "file under 'chosen' (its validation and test accuracy side by side). Trained stages "
        "are cached under <out>/cache, so a rerun trains only what changed. Exit 1 when "
        "nothing reaches the floor.",
        add_sweep_args,
        cmd_sweep,
    ),
    Command(
        "run",
        "build, bench and gate in one go (the main job)",
        "The main job: build -> bench -> gate on the pipeline config, then one summary table. "
        "Exit 0 when every budget holds, 1 when one is broken, 2 on bad input.",
        add_run_args,
        cmd_run,
    ),
    Command(
        "doctor",
        "check that a device can bench, and say what fixes it",
        "Check a device before benching on it: Python, numpy, a TFLite runtime that really "
        "loads (tflite-runtime <= 2.14 with numpy 2, a runtime that is installed but fails to "
        "import, a wheel built for a newer glibc), free disk in its temporary folder, the "
        "frequency governor and the temperature sensor. Each problem gets the one line that "
        "fixes it. Exit 0 when the device is ready, 1 when it is not, 2 when it cannot be "
        "reached. Example: edgebench doctor ssh://pi@raspberrypi.local --python "
        "~/edgebench-venv/bin/python",
        add_doctor_args,
        cmd_doctor,
    ),
    Command(
        "history",
        "list the runs in the history; filter by target, variant, date",
        "Every edgebench bench appends its run to an SQLite history (default "
        "<out>/history.sqlite). List runs newest first, with commit, config hash and device. "
        "Example: edgebench history --target local --since 2025-01-01",
        add_history_args,
        cmd_history,
    ),
    Command(
        "compare",
        "what changed between two runs, and is it real",
        "Compare two runs of one target on one device, variant by variant: zip bytes and "
        "accuracy as exact deltas; latency as a ratio with a verdict (faster, slower, same) "
        "from a Mann-Whitney U test on the raw samples plus a minimum effect size; peak memory "
        "as a ratio. Default: the latest run and the one before it. Runs from different "
        "targets or devices are refused (exit 2).",
        add_compare_args,
        cmd_compare,
    ),
    Command(
        "report",
        "one self-contained HTML report and a Markdown summary",
        "Write one HTML file that opens from disk (no network): the summary table, size "
        "against accuracy with the Pareto front, the latency distribution of every variant on "
        "every target and, from the history, trends over the last N runs with regressions "
        "marked. Also a Markdown summary for CI comments. History defaults to "
        "out/history.sqlite.",
        add_report_args,
        cmd_report,
    ),
]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgebench",
        description="Prune and quantise Keras models into TFLite variants, measure them where "
        "they ship, and gate them against budgets.",
        epilog="Each subcommand has --help. Bad input exits with status 2 and one line. "
        "Python API: import edgebench (build_models, bench_models, gate, compare, report).",
    )
    parser.add_argument("--version", action="version", version=f"edgebench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for c in COMMANDS:
        p = sub.add_parser(c.name, help=c.help, description=c.description)
        c.add_arguments(p)
        p.set_defaults(handler=c.handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        check_config_env(args)
        return args.handler(args)
    except EdgebenchError as exc:
        print(f"edgebench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("edgebench: interrupted; files already written are complete", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`edgebench history | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
