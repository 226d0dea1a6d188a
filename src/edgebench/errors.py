"""The project's one error type for expected failures, and the kinds of failure a record names.

Raise :class:`EdgebenchError` (or a subclass) with a message that names the fix.
Only ``edgebench.cli.main`` turns it into one line and exit status 2.
"""

from __future__ import annotations

import enum


class EdgebenchError(Exception):
    """An expected failure caused by input the user can fix. The message names the fix."""


class ConfigError(EdgebenchError):
    """A pipeline or budgets file that is missing, malformed or has unknown keys."""


class DatasetError(EdgebenchError):
    """A dataset that cannot be found or does not fit the model."""


class ModelFileError(EdgebenchError):
    """A model file that is empty, truncated or not the format it claims to be."""


class SchemaError(EdgebenchError):
    """A manifest or results file from an unknown schema version."""


class ErrorKind(str, enum.Enum):
    """Why one model's record is not ``ok``: ``extra["error_kind"]`` of a failed or
    incompatible record. Stored as its value, so results files and the history hold the same
    plain strings as ever; the runner on a device emits those strings itself (it imports
    nothing of edgebench), and a test holds every one of them to this list."""

    CRASH = "crash"  # the process died: a signal, a traceback, or no result line
    TIMEOUT = "timeout"  # it outlived --timeout-s and was killed
    TARGET = "target"  # the transport failed on this model while the device stayed reachable
    RUNTIME = "runtime"  # the device's TFLite runtime is missing or failed
    INCOMPATIBLE = "incompatible"  # the runtime lacks an operator (version) the model needs
    INPUT = "input"  # the model file or its eval data is wrong: the user can fix it
    DELEGATE = "delegate"  # the delegate cannot load, or takes none of the model
    METER = "meter"  # the energy meter (--power) is missing or stopped answering
    NOT_RUN = "not_run"  # never run: its target failed before the model's turn
