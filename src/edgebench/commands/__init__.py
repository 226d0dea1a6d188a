"""The subcommands of ``edgebench``, one module per family: :mod:`~edgebench.commands.build`
(build, sweep), :mod:`~edgebench.commands.bench` (bench, doctor), :mod:`~edgebench.commands.gate`,
:mod:`~edgebench.commands.run` and :mod:`~edgebench.commands.history` (history, compare,
report). Each is a parser over one function of :mod:`edgebench.api`; :mod:`edgebench.cli`
wires them into one command line."""

from __future__ import annotations

from edgebench.commands.ab import AB
from edgebench.commands.bench import BENCH, DOCTOR
from edgebench.commands.build import BUILD, SWEEP
from edgebench.commands.common import Command
from edgebench.commands.gate import GATE
from edgebench.commands.history import COMPARE, HISTORY, REPORT
from edgebench.commands.run import RUN

#: Every subcommand, in the order ``edgebench --help`` lists them.
COMMANDS: list[Command] = [BUILD, BENCH, GATE, SWEEP, RUN, DOCTOR, HISTORY, COMPARE, AB, REPORT]

__all__ = ["COMMANDS", "Command"]
