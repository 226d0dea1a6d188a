"""``edgebench ab BASE CURRENT``: measure two models side by side on one target
(:func:`edgebench.api.ab`), and the ``--rebench`` option that ``compare`` and ``gate`` share."""

from __future__ import annotations

import argparse

from edgebench import api
from edgebench.bench.judgement.ab_settings import MEASURES, AbSettings
from edgebench.bench.outputs.ab_table import format_ab_as
from edgebench.commands import common
from edgebench.commands.bench import add_target_options, target_options
from edgebench.commands.common import Command
from edgebench.declare import add_flags, given

#: what a shell reports for a job stopped by Ctrl-C (128 + SIGINT)
EXIT_INTERRUPTED = 130


def add_rebench(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rebench", nargs="?", const="time", choices=MEASURES, metavar="time|instructions",
        help="judge latency by measuring the base run's stored model files and the current "
        "files side by side now (edgebench ab's engine), not from records taken at different "
        "times; sizes, accuracy and fidelity stay exact from the records (default: time)")


def rebench_settings(args: argparse.Namespace) -> AbSettings | None:
    return None if args.rebench is None else AbSettings(measure=args.rebench)


def add_ab_args(p: argparse.ArgumentParser) -> None:
    what = ("a .tflite file, a manifest (manifest.json or its run folder), or a run in the "
            "history (latest, latest~N, #N, a run id), whose stored model files are used")
    p.add_argument("base", metavar="BASE", help=f"the reference: {what}")
    p.add_argument("current", metavar="CURRENT", help="the models to judge, the same kinds")
    add_flags(p, AbSettings)
    add_target_options(p)
    p.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 when any pair is slower")
    common.add_format(p, "the verdicts")
    common.add_out(p)
    common.add_history(p)


def cmd_ab(args: argparse.Namespace) -> int:
    settings = AbSettings(**given(args, AbSettings))
    report = api.ab(args.base, args.current, settings=settings, history=common.history_of(args),
                    progress=common.log,
                    target_options=target_options(args, [settings.target])[settings.target])
    print(format_ab_as(report, args.format, args.base, args.current))
    if report.interrupted:
        common.log("ab: interrupted; the rounds done are reported, undecided pairs as inconclusive")
        return EXIT_INTERRUPTED
    if args.fail_on_regression and report.regressed:
        common.log(f"ab: failing: {len(report.regressed)} pair(s) slower (--fail-on-regression)")
        return common.EXIT_FAILED
    return common.EXIT_OK


AB = Command(
    "ab",
    "measure two models side by side until the paired ratios decide",
    "Re-measure BASE and CURRENT on one target in interleaved rounds (ABBA), take the ratio "
    "within each round, and stop when a bootstrap interval on the median ratio lies wholly "
    "beyond ±threshold (faster/slower) or wholly inside it (same); inconclusive when the round "
    "or time budget runs out. --measure instructions counts instructions under valgrind "
    "instead (deterministic). Exit 0; 1 with --fail-on-regression when a pair is slower; 2 on "
    "bad input; 130 on Ctrl-C.",
    add_ab_args,
    cmd_ab,
)
