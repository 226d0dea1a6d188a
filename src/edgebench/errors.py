"""The project's one error type for expected failures.

Raise :class:`EdgebenchError` (or a subclass) with a message that names the fix.
Only ``edgebench.cli.main`` turns it into one line and exit status 2.
"""

from __future__ import annotations


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
