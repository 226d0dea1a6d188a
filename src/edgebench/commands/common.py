"""What every subcommand shares: the Command record, exit statuses, stderr notes (quiet under
-q), and the options several subcommands take (--out, --history, --format, --config, -q, -v)."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from edgebench import api
from edgebench.bench.judgement.history import default_history_path
from edgebench.bench.orchestration.hostfacts import is_commit_sha
from edgebench.bench.orchestration.progress import Progress
from edgebench.bench.outputs.export import FORMATS
from edgebench.commands.verbosity import DEFAULT, QUIET, VERBOSE, shown
from edgebench.errors import EdgebenchError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Command:
    """One subcommand: its parser's arguments and the handler that calls :mod:`edgebench.api`."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]


def log(msg: str) -> None:
    """Progress and notes go to stderr (not under -q); tables and verdicts go to stdout."""
    if shown(DEFAULT):
        print(msg, file=sys.stderr, flush=True)


def say_error(msg: str) -> None:
    """An error goes to stderr at every verbosity, -q included."""
    print(msg, file=sys.stderr, flush=True)


def progress_sink() -> Progress:
    """The live progress of a bench, or a silent one under -q."""
    return Progress() if shown(DEFAULT) else Progress(stream=io.StringIO(), live=False)


# --------------------------------------------------------------------------- argument types


def iso_date(text: str) -> str:
    """A date, or a date and time, as ISO 8601 writes it."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date such as 2025-01-31 or 2025-01-31T18:00; got {text!r}"
        ) from None
    return text


def output_format(text: str) -> str:
    """One of the export formats (table, json, csv, markdown)."""
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


# --------------------------------------------------------------------------- shared options


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


def history_of(args: argparse.Namespace) -> Path:
    """--history, else history.sqlite beside the runs in --out."""
    return args.history or default_history_path(args.out)


class _Given(argparse.Action):
    """Stores the value and notes that it was given (``--format`` refuses -q and -v)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, _option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.format_given = True


def add_format(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--format", type=output_format, default="table", metavar="FORMAT", action=_Given,
        help=f"how to print {what}: table (default, for people), json (with schema_version, "
        "for CI steps), csv, or markdown (for CI comments)",
    )


#: Where build, run and gate take their pipeline from when no --config is given: a CI job (or
#: a test running the documentation's examples as written) points them at its own pipeline this way.
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


def add_verbosity(p: argparse.ArgumentParser) -> None:
    """-q and -v, on every subcommand (:mod:`edgebench.commands.verbosity`)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "-v", "--verbose", dest="verbosity", action="store_const", const=VERBOSE,
        default=DEFAULT, help="also show the chatter TensorFlow and the TFLite runtime "
        "print themselves (oneDNN, CUDA, XNNPACK and converter notices), dropped by default",
    )
    group.add_argument(
        "-q", "--quiet", dest="verbosity", action="store_const", const=QUIET,
        help="print only errors and the final table or verdict",
    )


def check_verbosity(args: argparse.Namespace) -> None:
    """--format decides what is printed, so -q and -v beside it are refused in one line."""
    if args.verbosity != DEFAULT and vars(args).get("format_given"):
        flag = "-q" if args.verbosity == QUIET else "-v"
        raise EdgebenchError(
            f"--format and {flag} do not go together: --format already prints only the "
            f"{args.format} output on stdout (notes go to stderr); drop {flag}"
        )
