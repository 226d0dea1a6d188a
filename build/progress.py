"""How the build stage reports what it does: one line at a time, to a sink the caller gives."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def print_progress(line: str) -> None:
    """The default progress sink: one flushed line, so a CI log follows the build live."""
    print(line, flush=True)
