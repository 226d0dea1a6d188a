"""How much a command says: ``-q`` (errors and the final table), the default (edgebench's own
progress and warnings), ``-v`` (also what TensorFlow and the TFLite runtime print themselves).

Below ``-v`` the known chatter of those libraries is dropped: absl's "All log messages before
absl::InitializeLog()", oneDNN's notice, "Could not find cuda drivers", the ``E0000 … cuInit``
line, the XNNPACK delegate's "INFO: Created …", the converter's "fully_quantize: 0,
inference_type: 6" lines, tf-keras' "compiled metrics have yet to be built". Most come from C++
through file descriptor 2, so descriptor 2 becomes a pipe for the command's duration, read by a
thread that drops those lines and passes every other one on: a native error, or a progress line
of a worker process (the sweep's), still shows. Python's own ``sys.stderr`` writes straight to
the real descriptor, so edgebench's progress (and its live line) is untouched.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

QUIET, DEFAULT, VERBOSE = -1, 0, 1

#: The libraries' chatter dropped below -v: each a line no user of edgebench can act on. Any
#: other line still shows: a new one is not assumed to be noise.
CHATTER = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "Could not find cuda drivers",
    "failed call to cuInit",
    "Created TensorFlow Lite XNNPACK delegate for CPU",
    "fully_quantize: ",
    # tf-keras after load_model of a compiled model that has not been evaluated yet
    "Compiled the loaded model, but the compiled metrics have yet to be built",
)

_level = [DEFAULT]


def set_verbosity(level: int) -> None:
    """The command line's -q / -v, for :func:`shown` and the progress sinks."""
    _level[0] = level


def shown(level: int = DEFAULT) -> bool:
    """Whether a line of this level is printed at the current verbosity."""
    return _level[0] >= level


def is_chatter(line: str) -> bool:
    """Whether a line of stderr is known library chatter (dropped below -v)."""
    return any(c in line for c in CHATTER)


class _TfNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not is_chatter(record.getMessage())


def _on_fd2(stream: TextIO) -> bool:
    """True when ``stream`` writes to descriptor 2 itself (not pytest's or a caller's capture)."""
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


def _pump(source: int, sink: int) -> None:
    """Copy lines from ``source`` to ``sink`` until every writer has closed it, dropping
    chatter."""
    pending = b""
    while chunk := os.read(source, 65536):
        *lines, pending = (pending + chunk).split(b"\n")
        kept = [ln for ln in lines if not is_chatter(ln.decode(errors="replace"))]
        if kept:
            os.write(sink, b"\n".join(kept) + b"\n")
    if pending and not is_chatter(pending.decode(errors="replace")):
        os.write(sink, pending)


@contextmanager
def native_output_hidden(level: int) -> Iterator[None]:
    """Below ``-v``, drop the libraries' known chatter from descriptor 2 and TensorFlow's
    logger for the body of the ``with``; every other line passes."""
    if level >= VERBOSE:
        yield
        return
    tf_log = logging.getLogger("tensorflow")
    noise = _TfNoise()
    tf_log.addFilter(noise)
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    pump = threading.Thread(target=_pump, args=(read_end, real), name="stderr", daemon=True)
    pump.start()
    python_stderr = sys.stderr
    if _on_fd2(python_stderr):
        sys.stderr = io.TextIOWrapper(
            io.FileIO(real, "w", closefd=False), encoding=python_stderr.encoding,
            errors=python_stderr.errors, line_buffering=True, write_through=True,
        )
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr = python_stderr
        os.dup2(real, 2)  # closes this process's last write end: the pump sees the end
        pump.join(5)
        if not pump.is_alive():  # else a process still holds the pipe: the pump keeps both
            os.close(read_end)
            os.close(real)
        tf_log.removeFilter(noise)
