"""``edgebench history``, ``compare`` and ``report``: reading the history of bench runs
(:func:`edgebench.api.history`, :func:`~edgebench.api.compare_history`,
:func:`~edgebench.api.report`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgebench import api
from edgebench.bench.judgement.compare_settings import CompareSettings, NothingToCompare
from edgebench.bench.judgement.history import default_history_path
from edgebench.bench.judgement.model_store import DEFAULT_STORE_MB, ModelStore, store_folder
from edgebench.bench.outputs.export import (
    HISTORY_COLUMNS,
    format_comparisons_as,
    format_history_as,
    history_table_rows,
)
from edgebench.bench.outputs.table import format_table
from edgebench.commands.ab import add_rebench, rebench_settings
from edgebench.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    add_format,
    add_history,
    add_out,
    history_of,
    iso_date,
    log,
)
from edgebench.records import Record, format_snr, worst_fidelity
from edgebench.values import fraction, number, positive_int, probability


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


# --------------------------------------------------------------------------- history


def add_history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", choices=["gc"], metavar="gc",
                   help="gc: trim the model store (every benched model file, kept by SHA-256 so "
                   "past runs can be re-measured) to --store-mb, oldest runs' files first")
    p.add_argument("--store-mb", type=number(float, 0, strict=False), metavar="MB",
                   help=f"the model store's bound for gc (default {DEFAULT_STORE_MB:g})")
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
    if args.action == "gc":
        removed, freed, size = api.history_gc(history=path, store_mb=args.store_mb)
        print(f"history gc: removed {removed} model files ({freed / 1e6:.1f} MB); "
              f"{size.describe()}")
        return EXIT_OK
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
    log(ModelStore(store_folder(path)).size().describe())
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
    add_rebench(p)
    add_format(p, "the comparison")
    add_out(p)
    add_history(p)


def cmd_compare(args: argparse.Namespace) -> int:
    try:
        comparisons = api.compare_history(
            args.base, args.current, target=args.target, history=history_of(args),
            settings=compare_settings(args), rebench=rebench_settings(args),
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


HISTORY = Command(
    "history",
    "list the runs in the history; filter by target, variant, date",
    "Every edgebench bench appends its run to an SQLite history (default "
    "<out>/history.sqlite). List runs newest first, with commit, config hash and device. "
    "Example: edgebench history --target local --since 2025-01-01",
    add_history_args,
    cmd_history,
)

COMPARE = Command(
    "compare",
    "what changed between two runs, and is it real",
    "Compare two runs of one target on one device, variant by variant: zip bytes and "
    "accuracy as exact deltas; latency as a ratio with a verdict (faster, slower, same) "
    "from a Mann-Whitney U test on the raw samples plus a minimum effect size; peak memory "
    "as a ratio. Default: the latest run and the one before it. Runs from different "
    "targets or devices are refused (exit 2).",
    add_compare_args,
    cmd_compare,
)

REPORT = Command(
    "report",
    "one self-contained HTML report and a Markdown summary",
    "Write one HTML file that opens from disk (no network): the summary table, size "
    "against accuracy with the Pareto front, the latency distribution of every variant on "
    "every target and, from the history, trends over the last N runs with regressions "
    "marked. Also a Markdown summary for CI comments. History defaults to "
    "out/history.sqlite.",
    add_report_args,
    cmd_report,
)
