"""The command line: ``edgebench COMMAND``. Each subcommand (:mod:`edgebench.commands`) parses
its own arguments, calls one function of :mod:`edgebench.api`, and prints what it returned.

``main()`` is the one error boundary: an :class:`~edgebench.errors.EdgebenchError` becomes one
line on stderr and exit status 2, and so does a command line argparse refuses (an unknown
option names the nearest known one). Anything else is a bug and keeps its traceback. Tables
and verdicts go to stdout; progress and notes go to stderr, and what TensorFlow and the TFLite
runtime print themselves shows only with -v (:mod:`edgebench.commands.verbosity`).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from edgebench._version import __version__
from edgebench.commands import COMMANDS, Command
from edgebench.commands.common import (
    EXIT_OK,
    EXIT_USAGE,
    add_verbosity,
    check_config_env,
    check_verbosity,
)
from edgebench.commands.verbosity import native_output_hidden, set_verbosity
from edgebench.errors import EdgebenchError

__all__ = ["COMMANDS", "Command", "main", "make_parser"]


class Parser(argparse.ArgumentParser):
    """argparse whose refusals are one line, ``edgebench: error: …``, and exit status 2, like
    every other refusal of bad input; an unknown option or command names the nearest one."""

    def error(self, message: str) -> NoReturn:
        choice = re.match(r"argument COMMAND: invalid choice: '(.*?)'", message)
        if choice:
            message = f"unknown command {choice.group(1)!r}{_nearest(choice.group(1), _names())}"
        self.exit(EXIT_USAGE, f"edgebench: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = self._subcommand(getattr(parsed, "command", None))
            (command or self).error(_unknown(extras, command or self))
        return parsed

    def _subcommand(self, name: str | None) -> argparse.ArgumentParser | None:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and name in action.choices:
                return action.choices[name]
        return None


def _names() -> list[str]:
    return [c.name for c in COMMANDS]


def _nearest(word: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown(extras: Sequence[str], parser: argparse.ArgumentParser) -> str:
    """What argparse could not place, with the nearest option the parser has."""
    option = next((e.split("=", 1)[0] for e in extras if e.startswith("-")), None)
    if option is None:
        return f"unexpected argument {extras[0]!r}"
    flags = [flag for action in parser._actions for flag in action.option_strings]
    return f"unknown option {option!r}{_nearest(option, flags)}"


def make_parser() -> argparse.ArgumentParser:
    """The whole command line: one subparser per :data:`COMMANDS` entry."""
    parser = Parser(
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
        add_verbosity(p)
        p.set_defaults(handler=c.handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``edgebench``: parse, run one subcommand, and turn expected failures into exit 2."""
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        check_config_env(args)
        check_verbosity(args)
        set_verbosity(args.verbosity)
        with native_output_hidden(args.verbosity):
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
