"""The command line: a thin parser over one plain function per subcommand.

``main()`` is the one error boundary: an :class:`~edgebench.errors.EdgebenchError` becomes one
line on stderr and exit status 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from edgebench.errors import EdgebenchError

if TYPE_CHECKING:
    from edgebench.build.sweep import SweepOutcome

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def log(msg: str) -> None:
    """Progress and notes go to stderr; tables and verdicts go to stdout."""
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- argument types


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1; got {value}")
    return value


def nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0; got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0; got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0; got {value}")
    return value


def nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0; got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0; got {value}")
    return value


def cpu_mask(text: str) -> str:
    """A taskset CPU mask in hex, e.g. f0 (the big cores of many 4+4 phones)."""
    t = text.lower().removeprefix("0x")
    if not t or any(c not in "0123456789abcdef" for c in t) or int(t, 16) == 0:
        raise argparse.ArgumentTypeError(
            f"expected a hex CPU mask such as f0 or 0x0f; got {text!r}"
        )
    return t


def target_address(text: str) -> str:
    if text == "local" or "://" in text:
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a target; use local, ssh://[user@]host[:port] or adb://SERIAL"
    )


# --------------------------------------------------------------------------- shared helpers


def default_config() -> Path:
    from edgebench.build.config import default_pipeline_path

    return default_pipeline_path()


def load_config(path: Path | None):
    from edgebench.build.config import load_pipeline

    return load_pipeline(path or default_config())


def point_latest(out: Path, run_dir: Path) -> None:
    """Keep ``<out>/latest`` pointing at the newest run folder (atomic symlink swap)."""
    link = out / "latest"
    tmp = out / f".latest.{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(run_dir.resolve(), tmp)
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)


def resolve_run_dir(out: Path, run: str | None) -> Path:
    from edgebench.bench.orchestrate import new_run_id

    return out / (run or new_run_id())


def add_out(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=Path,
        default=Path("out"),
        metavar="DIR",
        help="output folder; each run writes into DIR/<run>/ and DIR/latest points at it "
        "(default: out)",
    )


def add_history_arg(p: argparse.ArgumentParser, writes: bool = False) -> None:
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


def history_path(args: argparse.Namespace) -> Path:
    """--history, else history.sqlite beside the runs in --out (default out/)."""
    from edgebench.bench.history import default_history_path

    if getattr(args, "history", None) is not None:
        return args.history
    # report's --out is the HTML file, not the runs folder: it reads the default history
    if getattr(args, "command", None) == "report":
        return default_history_path(Path("out"))
    return default_history_path(getattr(args, "out", None) or Path("out"))


def check_history(args: argparse.Namespace) -> None:
    """Refuse an unusable history before a bench spends minutes measuring."""
    if getattr(args, "no_history", False):
        return
    from edgebench.bench.history import open_history

    open_history(history_path(args)).close()


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
    from datetime import datetime

    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date such as 2025-01-31 or 2025-01-31T18:00; got {text!r}"
        ) from None
    return text


def add_bench_options(p: argparse.ArgumentParser) -> None:
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
        help="measure each model in N separate processes (default 1); compare and the report "
        "then use the median of the per-process medians, which one slow process cannot move",
    )
    g.add_argument("--warmup", type=nonneg_int, help="untimed invoke() calls before timing")
    g.add_argument("--threads", type=positive_int, help="interpreter threads")
    g.add_argument(
        "--no-xnnpack",
        dest="xnnpack",
        action="store_false",
        default=None,
        help="run without the default XNNPACK delegate",
    )
    g.add_argument("--timeout-s", type=positive_float, help="time limit per model, seconds")
    g.add_argument(
        "--eval-limit", type=nonneg_int, help="evaluate on the first N test samples (0 = all)"
    )
    g.add_argument(
        "--cooldown-s", type=nonneg_float, metavar="S",
        help="wait S seconds between models so each starts from a cooler chip (default 0)",
    )
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
    a.add_argument(
        "--benchmark-binary", type=Path, metavar="PATH",
        help="TFLite's benchmark_model built for the phone (bazel build -c opt "
        "--config=android_arm64 //tensorflow/lite/tools/benchmark:benchmark_model)",
    )
    a.add_argument(
        "--taskset", type=cpu_mask, metavar="MASK",
        help="pin benchmark_model to these CPUs (hex mask, e.g. f0 for cores 4-7)",
    )


def settings_from_args(base, args: argparse.Namespace):
    """Command-line values override the config's [bench] section."""
    changes = {
        k: getattr(args, k)
        for k in (
            "runs", "warmup", "threads", "xnnpack", "timeout_s", "eval_limit", "cooldown_s",
            "repeats",
        )
        if getattr(args, k, None) is not None
    }
    return replace(base, **changes)


def target_options_from_args(args: argparse.Namespace, targets: Sequence[str]) -> dict:
    """Per-address keyword options for each target, from the command line."""
    options: dict[str, dict] = {}
    for address in targets:
        scheme = address.split("://", 1)[0]
        opts: dict = {}
        if scheme == "ssh":
            if getattr(args, "python", None):
                opts["python"] = args.python
            if getattr(args, "accept_new_host_key", False):
                opts["accept_new_host_key"] = True
            if getattr(args, "ssh_config", None):
                opts["ssh_config"] = args.ssh_config
            if getattr(args, "ssh_options", None):
                opts["ssh_options"] = tuple(args.ssh_options)
        elif scheme == "adb":
            if getattr(args, "adb", None):
                opts["adb"] = args.adb
            if getattr(args, "benchmark_binary", None):
                opts["benchmark_binary"] = args.benchmark_binary
            if getattr(args, "taskset", None):
                opts["taskset"] = args.taskset
        options[address] = opts
    return options


# --------------------------------------------------------------------------- build


def cmd_build(args: argparse.Namespace) -> int:
    manifest = do_build(args)
    print(f"manifest: {manifest}")
    return EXIT_OK


def do_build(args: argparse.Namespace) -> Path:
    config = load_config(args.config)
    config = apply_build_overrides(config, args)
    from edgebench.build.pipeline import build_pipeline

    run_dir = resolve_run_dir(args.out, args.run)
    if (run_dir / "manifest.json").exists():
        raise EdgebenchError(
            f"{run_dir} already holds a build; choose another --run name or delete that folder"
        )
    t0 = time.monotonic()
    fresh = not run_dir.exists()
    try:
        manifest = build_pipeline(config, run_dir, model_path=args.model, progress=log)
    except BaseException:
        if fresh and run_dir.exists():  # a build that failed leaves no half-made run folder
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    point_latest(args.out, run_dir)
    log(f"build: done in {time.monotonic() - t0:.1f} s -> {run_dir}")
    return manifest


def apply_build_overrides(config, args: argparse.Namespace):
    """--epochs / --train-limit / --test-limit replace the config's values for this run."""
    data, train = config.data, config.train
    if args.train_limit is not None:
        data = replace(data, train_limit=args.train_limit)
    if args.test_limit is not None:
        data = replace(data, test_limit=args.test_limit)
    if args.epochs is not None:
        train = replace(train, epochs=args.epochs)
    return replace(config, data=data, train=train)


def add_build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        help="pipeline TOML (default: models/pipeline.toml shipped with edgebench)",
    )
    p.add_argument(
        "--model",
        type=Path,
        help="your own trained Keras model (.keras or .h5) to use as the dense baseline",
    )
    p.add_argument("--run", help="name of the run folder under --out (default: UTC timestamp)")
    g = p.add_argument_group("quick runs (override the config)")
    g.add_argument("--epochs", type=positive_int, help="baseline training epochs")
    g.add_argument("--train-limit", type=nonneg_int, help="use the first N training samples")
    g.add_argument("--test-limit", type=nonneg_int, help="use the first N test samples")
    add_out(p)


# --------------------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace) -> int:
    results = do_bench(args, args.inputs)
    from edgebench.bench.summary import format_summary

    print(format_summary(results))
    return bench_exit_status(results)


def do_bench(args: argparse.Namespace, inputs: Sequence[Path], run: str | None = None):
    from edgebench.bench.orchestrate import bench, plan_from_inputs

    config = load_config(args.config) if args.config else None
    from edgebench.records import BenchSettings

    settings = settings_from_args(config.bench if config else BenchSettings(), args)
    targets = args.targets or (list(config.targets) if config else ["local"])
    targets = list(dict.fromkeys(targets))  # the same address twice would race for one file
    check_history(args)
    plan = plan_from_inputs(inputs, run_id=run or getattr(args, "run", None))
    run_dir = args.out / plan.run_id
    log(f"bench: {len(plan.items)} models on {', '.join(targets)} -> {run_dir}")
    options = target_options_from_args(args, targets)
    from edgebench.bench.progress import Progress

    with Progress() as progress:
        results = bench(plan, run_dir, settings, targets, progress=progress, target_options=options)
    point_latest(args.out, run_dir)
    if results and not getattr(args, "no_history", False):
        from edgebench.bench.history import append_results

        append_results(history_path(args), results)
        log(f"bench: appended to history {history_path(args)}")
    for res in results:
        if res.error:  # one line for the target, not one per model it never ran
            about = res.error if res.error.startswith(res.target) else f"{res.target}: {res.error}"
            log(f"edgebench: error: {about}")
        for rec in res.records:
            if not rec.ok and rec.extra.get("error_kind") != "not_run":
                log(f"edgebench: {res.target} {rec.variant}: {rec.error}")
    return results


def bench_exit_status(results) -> int:
    """2 when an input was bad or a target failed (the user can fix it), 1 when a model
    failed or was incompatible, else 0."""
    kinds = [r.extra.get("error_kind") for res in results for r in res.records if not r.ok]
    if any(k in ("input", "target") for k in kinds) or any(res.error for res in results):
        return EXIT_USAGE
    return EXIT_FAILED if kinds else EXIT_OK


def add_bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="a manifest.json (or its run folder) from edgebench build, or .tflite files",
    )
    p.add_argument("--config", type=Path, help="take [bench] settings and targets from this TOML")
    p.add_argument("--run", help="run folder name for loose .tflite inputs (default: timestamp)")
    add_bench_options(p)
    add_out(p)
    add_history_arg(p, writes=True)


# --------------------------------------------------------------------------- gate


def cmd_gate(args: argparse.Namespace) -> int:
    return do_gate(args, args.results)


def do_gate(args: argparse.Namespace, inputs: Sequence[Path], brief: bool = False) -> int:
    from edgebench.bench.gate import evaluate, format_report, load_budgets, write_junit
    from edgebench.records import Results

    paths = results_paths(inputs or [args.out / "latest"])
    budgets_path = args.budgets or budgets_from_config(args)
    budgets = load_budgets(budgets_path)
    results = [Results.load(p) for p in paths]
    against = getattr(args, "against", None)
    base = None
    if against:
        from edgebench.bench.compare import load_ref

        base = load_ref(history_path(args), against)
    elif budgets.regressions:
        log(f"gate: {len(budgets.regressions)} regression rules skipped; pass --against BASE")
    report = evaluate(
        budgets,
        results,
        against=base,
        alpha=getattr(args, "alpha", None),
        require_compatible=getattr(args, "require_compatible", None) or (),
    )
    print(format_report(report, failures_only=brief))
    if args.junit:
        write_junit(report, args.junit)
        log(f"gate: JUnit XML -> {args.junit}")
    return EXIT_OK if report.passed else EXIT_FAILED


def budgets_from_config(args: argparse.Namespace) -> Path:
    config = load_config(getattr(args, "config", None))
    if config.budgets is None:
        raise EdgebenchError("no budgets file: pass --budgets PATH or set [gate] budgets")
    return config.budgets


def results_paths(inputs: Sequence[Path]) -> list[Path]:
    """Results files from explicit paths or run folders (every results-*.json inside)."""
    paths: list[Path] = []
    for p in inputs:
        p = Path(p)
        if p.is_dir():
            found = sorted(p.glob("results-*.json"))
            if not found:
                raise EdgebenchError(f"{p} holds no results-*.json; run edgebench bench first")
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            raise EdgebenchError(f"{p} does not exist; give a results file or a run folder")
    return paths


def add_gate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "results",
        nargs="*",
        type=Path,
        metavar="RESULTS",
        help="results-<target>.json files or run folders (default: <out>/latest)",
    )
    p.add_argument(
        "--budgets",
        type=Path,
        help="budgets TOML (default: [gate] budgets of the pipeline config)",
    )
    p.add_argument("--config", type=Path, help="pipeline TOML whose [gate] names the budgets")
    p.add_argument("--junit", type=Path, metavar="PATH", help="also write JUnit XML for CI")
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
    add_out(p)
    add_history_arg(p)


def add_require_compatible(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--require-compatible",
        action="append",
        type=target_address,
        metavar="TARGET",
        help="fail unless every variant benched on TARGET loads with its runtime (no "
        "'incompatible' record); repeatable. Per variant glob: require_compatible in budgets",
    )


# --------------------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    from edgebench.bench.gate import load_budgets

    # Every input the gate and the history need is checked before minutes of training.
    load_budgets(args.budgets or budgets_from_config(args))
    check_history(args)
    manifest = do_build(args)
    results = do_bench(args, [manifest])
    from edgebench.bench.summary import format_summary

    print(format_summary(results))
    print()
    status = do_gate(args, [manifest.parent], brief=True)  # every check: edgebench gate
    print(f"run: {manifest.parent} in {time.monotonic() - t0:.1f} s")
    return max(status, bench_exit_status(results))


def add_run_args(p: argparse.ArgumentParser) -> None:
    add_build_args(p)
    add_bench_options(p)
    p.add_argument("--budgets", type=Path, help="budgets TOML (default: [gate] of the config)")
    p.add_argument("--junit", type=Path, metavar="PATH", help="also write the gate's JUnit XML")
    add_require_compatible(p)
    add_history_arg(p, writes=True)


# --------------------------------------------------------------------------- history


def cmd_history(args: argparse.Namespace) -> int:
    from edgebench.bench.history import open_history
    from edgebench.bench.summary import format_table

    path = history_path(args)
    if args.add:
        from edgebench.bench.compare import load_results_paths
        from edgebench.bench.history import append_results

        for item in args.add:
            append_results(path, load_results_paths(item))
            log(f"history: added {item}")
    with open_history(path, create=False) as h:
        rows = h.runs(args.target, args.variant, args.since, args.until, limit=args.limit)
    table = [
        (f"#{r.bench}", r.run_id, r.target, r.created_at, f"{r.n_ok}/{r.n_records}",
         (r.git_commit or "—")[:10], (r.config_sha256 or "—")[:12], r.device_name)
        for r in rows
    ]
    header = ("bench", "run", "target", "created_at", "ok", "commit", "config", "device")
    print(format_table(table, header) if table else "history: no runs match")
    return EXIT_OK


def add_history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", help="only runs on this target address, e.g. local")
    p.add_argument("--variant", help="only runs that measured this variant, e.g. pruned/int8")
    p.add_argument("--since", type=iso_date, metavar="DATE", help="runs on or after DATE")
    p.add_argument("--until", type=iso_date, metavar="DATE", help="runs up to DATE (inclusive)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="the newest N runs only")
    p.add_argument(
        "--add",
        action="append",
        type=Path,
        metavar="RESULTS",
        help="first import a results-<target>.json or run folder (e.g. benched --no-history)",
    )
    add_out(p)
    add_history_arg(p)


# --------------------------------------------------------------------------- compare


def compare_settings(args: argparse.Namespace):
    from edgebench.bench.compare import CompareSettings

    return CompareSettings(args.alpha, args.min_effect, args.min_memory_effect)


def cmd_compare(args: argparse.Namespace) -> int:
    from edgebench.bench.compare import comparisons_for, format_comparison

    comparisons = comparisons_for(
        history_path(args), args.base, args.current, args.target, compare_settings(args)
    )
    print("\n\n".join(format_comparison(c) for c in comparisons))
    return EXIT_OK


def add_compare_options(p: argparse.ArgumentParser) -> None:
    from edgebench.bench.compare import CompareSettings

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
        help="smallest change of median latency called faster/slower, e.g. 25%% (default "
        "100%%: ~5%% of runner processes ran 1.2-1.6x slow on the development VM; 20%% when "
        "both runs used --repeats 5 or more, which compares the median of per-process medians)",
    )
    g.add_argument(
        "--min-memory-effect",
        type=fraction,
        default=d.min_memory_effect,
        metavar="SHARE",
        help="smallest change of peak RSS called a change "
        f"(default {d.min_memory_effect * 100:.0f}%%)",
    )


def add_compare_args(p: argparse.ArgumentParser) -> None:
    refs = ("a run id or #N from edgebench history, latest, latest~N, a results-<target>.json "
            "or a run folder")
    p.add_argument("base", nargs="?", help=f"the earlier run: {refs} "
                   "(default: the run before CURRENT on the same target and device)")
    p.add_argument("current", nargs="?", help="the later run (default: latest)")
    p.add_argument("--target", help="compare only this target")
    add_compare_options(p)
    add_out(p)
    add_history_arg(p)


# --------------------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace) -> int:
    from edgebench.bench.report import make_report

    data, md = make_report(
        history_path(args), args.run, args.target, args.last, compare_settings(args),
        args.out, args.markdown,
    )
    print(f"report: {args.out}")
    print(f"report: {md}")
    n = len(data.regressions)
    log(f"report: {n} regression(s) since the previous run" if n else "report: no regressions")
    return EXIT_OK


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
        default=Path("out/report.html"),
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
    add_history_arg(p)


# --------------------------------------------------------------------------- sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    outcome = do_sweep(args)
    print(f"manifest: {outcome.manifest}")
    if outcome.chosen is None:
        print("chosen: none (no variant reached the accuracy floor)")
        return EXIT_FAILED
    print(f"chosen: {outcome.manifest.parent / outcome.chosen}")
    return EXIT_OK


def do_sweep(args: argparse.Namespace) -> SweepOutcome:
    """Run the [sweep] of --config (default models/sweep.toml) into <out>/<run>."""
    from edgebench.build.config import default_sweep_path

    config = load_config(args.config or default_sweep_path())
    config = apply_build_overrides(config, args)
    if args.workers is not None and config.sweep is not None:
        config = replace(config, sweep=replace(config.sweep, workers=args.workers))
    from edgebench.build.sweep import run_sweep

    run_dir = resolve_run_dir(args.out, args.run)
    if (run_dir / "manifest.json").exists():
        raise EdgebenchError(
            f"{run_dir} already holds a build; choose another --run name or delete that folder"
        )
    cache_root = args.cache or args.out / (config.sweep.cache_dir if config.sweep else "cache")
    t0 = time.monotonic()
    outcome = run_sweep(config, run_dir, cache_root, ray_address=args.ray, progress=log)
    point_latest(args.out, run_dir)
    log(f"sweep: done in {time.monotonic() - t0:.1f} s -> {run_dir}")
    return outcome


def ray_address(text: str) -> str:
    host, _, port = text.removeprefix("ray://").rpartition(":")
    if text == "auto" or (host and port.isdigit()):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a Ray address; use HOST:PORT (e.g. 127.0.0.1:6379) or auto"
    )


def add_sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        help="pipeline TOML with a [sweep] section (default: models/sweep.toml)",
    )
    p.add_argument("--run", help="name of the run folder under --out (default: UTC timestamp)")
    p.add_argument(
        "--ray",
        type=ray_address,
        metavar="ADDRESS",
        help="run the trials on the Ray cluster at HOST:PORT (default: local worker processes)",
    )
    p.add_argument("--workers", type=positive_int, help="local worker processes (default: config)")
    p.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="trained-artifact cache (default: <out>/<[sweep] cache_dir>)",
    )
    g = p.add_argument_group("quick runs (override the config)")
    g.add_argument("--epochs", type=positive_int, help="baseline training epochs")
    g.add_argument("--train-limit", type=nonneg_int, help="use the first N training samples")
    g.add_argument("--test-limit", type=nonneg_int, help="use the first N test samples")
    p.set_defaults(model=None)
    add_out(p)


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
        "Train the dense baseline (or take yours with --model), prune it with every recipe of "
        "the pipeline config, convert each to TFLite variants, and write "
        "<out>/<run>/manifest.json with zip bytes, sparsity, operators and host accuracy.",
        add_build_args,
        cmd_build,
    ),
    Command(
        "bench",
        "measure models on targets; write results-<target>.json",
        "Run each model in its own process on each target: load/allocate time, first "
        "inference, timed invoke() percentiles, resident memory and top-1 accuracy when the "
        "manifest has labels. Example: edgebench bench out/latest/manifest.json",
        add_bench_args,
        cmd_bench,
    ),
    Command(
        "gate",
        "check results against budgets; exit 1 when one is broken",
        "Hold every record against the rules of a budgets TOML (max_zip_bytes, min_accuracy, "
        "max_accuracy_drop, max_latency_p90_us, max_peak_rss_mb, require_compatible, keyed by "
        "variant or glob); with --against BASE also its regression rules against that run. "
        "Exit 0 when all pass, 1 when any fails, 2 on bad input.",
        add_gate_args,
        cmd_gate,
    ),
    Command(
        "sweep",
        "search recipes x sparsity x clusters x quantisation; choose the smallest that passes",
        "Search the [sweep] of the config (default models/sweep.toml) for the Pareto front of "
        "zipped bytes against test accuracy, choose the smallest variant at or above the "
        "accuracy floor, and write <out>/<run>/manifest.json with the front as artifacts, "
        "every trial, and the chosen file under 'chosen'. Trained stages are cached under "
        "<out>/cache, so a rerun trains only what changed. Exit 1 when nothing reaches the "
        "floor.",
        add_sweep_args,
        cmd_sweep,
    ),
    Command(
        "run",
        "build, bench and gate in one go (the main job)",
        "The main job: build -> bench -> gate on the pipeline config, then one summary table.",
        add_run_args,
        cmd_run,
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
        epilog="Each subcommand has --help. Bad input exits with status 2 and one line.",
    )
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
