"""The one way tests run the command line: in this process (fast), or as a real process.

``cli(...)`` (the conftest fixture) calls :func:`edgebench.cli.main` with captured output;
:func:`edgebench_process` runs ``python -m edgebench`` as a user would, for what needs a
process of its own (signals, a clean import state, the installed entry point).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgebench.cli import main


@dataclass(frozen=True)
class CliRun:
    """What one command did: exit status, standard output, standard error."""

    code: int
    out: str
    err: str

    def error_line(self, *fragments: str) -> str:
        """The one ``edgebench: error:`` line of a refused command (exit 2, no traceback),
        checked to contain every fragment."""
        assert self.code == 2, f"exit {self.code}\n{self.out}\n{self.err}"
        assert "Traceback" not in self.err, self.err
        errors = [ln for ln in self.err.splitlines() if ln.startswith("edgebench: error:")]
        assert len(errors) == 1, self.err
        for f in fragments:
            assert f in errors[0], errors[0]
        return errors[0]


def run_in_process(capsys: pytest.CaptureFixture[str], *args: object) -> CliRun:
    capsys.readouterr()  # what earlier steps of the test printed is not this command's
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse: --help, --version, bad option values
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return CliRun(code, out, err)


def edgebench_process(
    *args: object,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> CliRun:
    """``python -m edgebench ARGS`` in its own process (cwd: a neutral folder by default)."""
    proc = subprocess.run(
        [sys.executable, "-m", "edgebench", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or Path(os.sep),
        env=env,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)
