"""How much a command says: ``-q`` (errors and the final table), the default (edgebench's own
progress and warnings), ``-v`` (also what TensorFlow and the TFLite runtime print themselves).

At the default and ``-q``, what native libraries write to the process's standard error goes to
a temporary file instead: absl's "All log messages before absl::InitializeLog()", oneDNN's
notice, "Could not find cuda drivers", the ``E0000 … cuInit`` line, the XNNPACK delegate's
"INFO: Created …", the converter's "fully_quantize: 0, inference_type: 6" lines. They come from
C++ through file descriptor 2, so only a redirection of that descriptor keeps them out; Python's
own ``sys.stderr`` is moved to a copy of the real descriptor, so edgebench's lines still show.
Processes started meanwhile inherit the redirection (the sweep's workers). When a command
ends in a bug (a traceback), what the libraries said is printed before it.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from edgebench.errors import EdgebenchError

QUIET, DEFAULT, VERBOSE = -1, 0, 1

#: TensorFlow's Python warnings that no user of edgebench can act on, dropped below -v. Any
#: other TensorFlow warning still shows: a new one is not assumed to be noise.
TF_NOISE = (
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


class _TfNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(TF_NOISE)


def _on_fd2(stream: TextIO) -> bool:
    """True when ``stream`` writes to descriptor 2 itself (not pytest's or a caller's capture)."""
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


@contextmanager
def native_output_hidden(level: int) -> Iterator[None]:
    """Below ``-v``, keep native libraries' stderr chatter and TensorFlow's known noise out of
    the terminal for the body of the ``with``."""
    if level >= VERBOSE:
        yield
        return
    tf_log = logging.getLogger("tensorflow")
    noise = _TfNoise()
    tf_log.addFilter(noise)
    sys.stderr.flush()
    real = os.dup(2)
    sink = tempfile.TemporaryFile()
    os.dup2(sink.fileno(), 2)
    python_stderr = sys.stderr
    if _on_fd2(python_stderr):
        sys.stderr = io.TextIOWrapper(
            io.FileIO(real, "w", closefd=False), encoding=python_stderr.encoding,
            errors=python_stderr.errors, line_buffering=True, write_through=True,
        )
    bug = False
    try:
        yield
    except (EdgebenchError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException:
        bug = True
        raise
    finally:
        sys.stderr.flush()
        sys.stderr = python_stderr
        os.dup2(real, 2)
        os.close(real)
        tf_log.removeFilter(noise)
        if bug:
            sink.seek(0)
            said = sink.read().decode(errors="replace").strip()
            if said:
                print(f"what the native libraries printed before the error:\n{said}",
                      file=sys.stderr)
        sink.close()
