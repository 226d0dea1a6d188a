"""``edgebench run``: build, bench and gate in one go (:func:`edgebench.api.run`)."""

from __future__ import annotations

import argparse
import time

from edgebench import api
from edgebench.bench.outputs.export import format_run_as
from edgebench.commands.bench import (
    add_measurement,
    add_pytest_benchmark_json,
    bench_exit_status,
    bench_settings,
    check_exports,
    say_failures,
    target_options,
    write_exports,
)
from edgebench.commands.build import add_build_args, config_with_overrides
from edgebench.commands.common import (
    Command,
    add_format,
    add_history,
    history_of,
    log,
    progress_sink,
)
from edgebench.commands.gate import add_budgets, add_require_compatible, print_gate
from edgebench.commands.verbosity import shown


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
    with progress_sink() as progress:
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
    if args.format == "table" and shown():
        print(done)
    else:
        log(done)
    return max(status, bench_exit_status(outcome.results))


RUN = Command(
    "run",
    "build, bench and gate in one go (the main job)",
    "The main job: build -> bench -> gate on the pipeline config, then one summary table. "
    "Exit 0 when every budget holds, 1 when one is broken, 2 on bad input.",
    add_run_args,
    cmd_run,
)
