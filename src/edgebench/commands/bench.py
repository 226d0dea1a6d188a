"""``edgebench bench`` and ``edgebench doctor``: measuring on devices
(:func:`edgebench.api.bench_models`, :func:`edgebench.api.doctor`), and the measurement
options that ``edgebench run`` shares."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from edgebench import api
from edgebench.bench.orchestration.reference import DEFAULT_SAMPLES as DEFAULT_REFERENCE_SAMPLES
from edgebench.bench.outputs.export import format_doctor_as, format_summary_as
from edgebench.bench.outputs.pytest_benchmark_json import require_pytest_benchmark
from edgebench.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    add_config,
    add_format,
    add_history,
    add_out,
    commit_sha,
    history_of,
    log,
    progress_sink,
    say_error,
)
from edgebench.declare import add_flags, given
from edgebench.errors import EdgebenchError, ErrorKind
from edgebench.records import DEFAULT_TARGETS, BenchSettings, BenchTargets, Manifest, Results
from edgebench.values import output_file, positive_float, positive_int, target_address


def add_measurement(p: argparse.ArgumentParser) -> None:
    """Targets, how to measure ([bench] of the config: BenchSettings' flags), and the
    per-kind target options (bench and run)."""
    g = p.add_argument_group("measurement (defaults from the pipeline config's [bench])")
    add_target_options(p)
    bm = p.add_argument_group("the benchmark_model flow (adb:// targets, or --flow "
                              "benchmark_model)")
    add_flags(g, BenchTargets)
    add_flags(g, BenchSettings, groups={"": g, "benchmark_model": bm})
    g.add_argument(
        "--commit", type=commit_sha, metavar="SHA",
        help="the commit of your code these models come from, recorded in the results and the "
        "history (default: $GITHUB_SHA or $CI_COMMIT_SHA, else git rev-parse HEAD in the "
        "repository holding the config or the models, else none)",
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
    """The config's [bench] (or the defaults) with what the command line sets."""
    return replace(base, **given(args, BenchSettings))


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


# --------------------------------------------------------------------------- bench


def add_bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help="a manifest.json (or its run folder) from edgebench build, or .tflite "
                   "files")
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
    targets = args.targets or list(config.targets if config else DEFAULT_TARGETS)
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
    models: Manifest | api.PathLike | Sequence[api.PathLike],
    targets: Sequence[str],
    settings: BenchSettings,
    run: str | None,
    reference: dict | None = None,
) -> list[Results]:
    """api.bench_models with the live progress line, then one stderr line per failure."""
    targets = list(dict.fromkeys(targets))  # the same address twice would race for one file
    with progress_sink() as progress:
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
            say_error(f"edgebench: error: {about}")
        for rec in res.records:
            if not rec.ok and rec.extra.get("error_kind") != ErrorKind.NOT_RUN:
                say_error(f"edgebench: {res.target} {rec.variant}: {rec.error}")


def bench_exit_status(results: Sequence[Results]) -> int:
    """2 when an input was bad or a target failed (the user can fix it), 1 when a model
    failed or was incompatible, else 0."""
    kinds = [r.extra.get("error_kind") for res in results for r in res.records if not r.ok]
    fixable = (ErrorKind.INPUT, ErrorKind.TARGET)  # the user can fix these
    if any(k in fixable for k in kinds) or any(res.error for res in results):
        return EXIT_USAGE
    return EXIT_FAILED if kinds else EXIT_OK


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


BENCH = Command(
    "bench",
    "measure models on targets; write results-<target>.json",
    "Run each model in its own process on each target: load/allocate time, first "
    "inference, timed invoke() percentiles, resident memory, accuracy when the data has "
    "labels, and output fidelity against the float32 reference (streamed shard by shard, "
    "so memory stays flat). Examples: edgebench bench out/latest/manifest.json "
    "--target ssh://pi@raspberrypi.local; edgebench bench q.tflite --reference f.tflite",
    add_bench_args,
    cmd_bench,
)

DOCTOR = Command(
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
)
