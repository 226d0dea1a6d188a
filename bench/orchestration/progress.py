"""Progress of a long bench: a live status line on a terminal, plain lines in CI logs.

A :class:`Progress` is the ``progress`` callable the orchestrator already takes: every message
it is given is printed as a line of its own, as before. On a terminal it also keeps one live
line at the bottom, redrawn twice a second, naming the model each target is running now
(``[i/n] target variant``) and the time elapsed. The orchestrator tells it when a model starts
through the optional ``started`` method. In CI (``CI`` set), in a pipe, or with ``TERM=dumb``
there is no live line and no escape codes: only the plain lines.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from edgebench.closing import Closing


def is_live(stream: TextIO) -> bool:
    """A live line only on an interactive terminal outside CI."""
    isatty = getattr(stream, "isatty", None)
    return bool(
        isatty
        and isatty()
        and not os.environ.get("CI")
        and os.environ.get("TERM", "") not in ("", "dumb")
    )


class Progress(Closing):
    """Callable progress sink: ``progress(line)``, ``progress.started(target, i, n, variant)``."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = is_live(self.stream) if live is None else live
        self.t0 = time.monotonic()
        self.running: dict[str, str] = {}  # target -> "[i/n] variant"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if self.live:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()

    def __call__(self, message: str) -> None:
        with self._lock:
            self._clear()
            self.stream.write(message + "\n")
            self._draw()
            self.stream.flush()

    def started(self, target: str, i: int, n: int, variant: str) -> None:
        """A model began on a target; the live line shows it until the next one starts."""
        with self._lock:
            self.running[target] = f"[{i}/{n}] {variant}"
            self._clear()
            self._draw()
            self.stream.flush()

    def status(self) -> str:
        """The live line's text: what each target is running, and the time so far."""
        parts = [f"{t} {what}" for t, what in sorted(self.running.items())]
        elapsed = time.monotonic() - self.t0
        return f"running {' · '.join(parts) or '…'} · {elapsed:.0f} s"

    def close(self) -> None:
        """Stop the live line and leave the terminal clean."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(2)
        with self._lock:
            self._clear()
            self.stream.flush()
            self.live = False

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                self._clear()
                self._draw()
                self.stream.flush()

    def _clear(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[2K")

    def _draw(self) -> None:
        if self.live:
            width = _columns() - 1
            self.stream.write(self.status()[:width])


def _columns() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        return 100
