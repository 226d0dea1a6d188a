"""``edgebench gate``: hold results to budgets (:func:`edgebench.api.gate`); the budgets and
require-compatible options that ``edgebench run`` shares."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgebench import api
from edgebench.bench.judgement.compare_settings import CompareSettings
from edgebench.bench.judgement.gate import GateReport
from edgebench.bench.judgement.gate_rules import COMPAT_KEY, METRICS, REGRESSION_METRICS
from edgebench.bench.outputs.export import format_gate_as
from edgebench.bench.outputs.junit import write_junit
from edgebench.build.config import GateConfig
from edgebench.commands.ab import add_rebench, rebench_settings
from edgebench.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    add_config,
    add_format,
    add_history,
    add_out,
    history_of,
    log,
)
from edgebench.declare import add_flags
from edgebench.values import probability, target_address


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


def add_gate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="*", type=Path, metavar="RESULTS",
                   help="results-<target>.json files or run folders (default: <out>/latest)")
    add_budgets(p)
    add_config(p, "pipeline TOML whose [gate] names the budgets", from_env=True)
    add_require_compatible(p)
    p.add_argument(
        "--against",
        metavar="BASE",
        help=f"also apply the regression rules ({', '.join(REGRESSION_METRICS)}) against "
        "BASE: a run id from edgebench history, latest~N, a results file or a run folder",
    )
    p.add_argument(
        "--alpha",
        type=probability,
        help="Mann-Whitney U p-value below which a latency change is real "
        f"(default {CompareSettings().alpha:g})",
    )
    add_rebench(p)
    add_format(p, "the checks")
    add_out(p)
    add_history(p)


def add_budgets(p: argparse.ArgumentParser) -> None:
    add_flags(p, GateConfig)
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
        alpha=args.alpha, history=history_of(args), rebench=rebench_settings(args),
    )
    return print_gate(report, args.junit, brief=False, fmt=args.format)


def print_gate(report: GateReport, junit: Path | None, brief: bool,
               fmt: str | None = "table") -> int:
    if fmt is not None:
        print(format_gate_as(report, fmt, failures_only=brief))
    if junit:
        write_junit(report, junit)
        log(f"gate: JUnit XML -> {junit}")
    return EXIT_OK if report.passed else EXIT_FAILED


GATE = Command(
    "gate",
    "check results against budgets; exit 1 when one is broken",
    f"Hold every record against the rules of a budgets TOML ({', '.join(METRICS)}, "
    f"{COMPAT_KEY}, keyed by variant or glob); with --against BASE also its regression rules "
    "against that run. "
    "Exit 0 when all pass, 1 when any fails, 2 on bad input.",
    add_gate_args,
    cmd_gate,
)
