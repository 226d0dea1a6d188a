"""Runtime compatibility: can the target's TFLite runtime load each model, and if not, why.

A model converted by a new TensorFlow can need operator versions an older runtime lacks (TF 2.21
writes FULLY_CONNECTED version 12 into dynamic-range models; tflite-runtime 2.14 stops at 11).
The check asks the runtime itself: the runner builds an interpreter for each model and reports
the runtime's own "Didn't find op" line, which is parsed here into operator and version. That is
exact for whatever runtime the device has, with no table of versions to keep up to date.

No TensorFlow here: both flows use this module, on the host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgebench.errors import ErrorKind
from edgebench.records import OpInfo, Record, Status

_BUILTIN = re.compile(
    r"Didn't find op for builtin opcode '(?P<op>[A-Za-z0-9_]+)' version '(?P<v>\d+)'"
)
_CUSTOM = re.compile(
    r"(?:Didn't find custom op for name '|Encountered unresolved custom op: )(?P<op>[^'\s.]+)"
)


@dataclass(frozen=True)
class Incompatibility:
    """One model a runtime refuses: the operator it lacks and who said so."""

    op: str | None  # e.g. "FULLY_CONNECTED"; None when the runtime's line could not be parsed
    version: int | None  # the version the model needs; None for custom ops
    runtime_name: str | None
    runtime_version: str | None
    detail: str  # the runtime's own line

    @property
    def runtime(self) -> str:
        name = self.runtime_name or "the device's TFLite runtime"
        return f"{name} {self.runtime_version}" if self.runtime_version else name

    def message(self) -> str:
        """One line: operator, version needed, runtime, and the fix."""
        if self.op is None:
            what = f"needs an operator that {self.runtime} lacks ({self.detail})"
        elif self.version is None:
            what = f"needs custom operator {self.op}, which {self.runtime} does not have"
        else:
            what = (
                f"needs operator {self.op} version {self.version}, which {self.runtime} "
                "cannot load"
            )
        return (
            f"incompatible: {what}; install a newer runtime on the device "
            "(pip install ai-edge-litert) or leave this variant out of the release"
        )


def parse_missing_op(text: str) -> tuple[str, int | None] | None:
    """(operator, version) from a runtime's error text, or None when it names no missing op.

    >>> parse_missing_op("Didn't find op for builtin opcode 'FULLY_CONNECTED' version '12'.")
    ('FULLY_CONNECTED', 12)
    """
    m = _BUILTIN.search(text or "")
    if m:
        return m.group("op"), int(m.group("v"))
    m = _CUSTOM.search(text or "")
    if m:
        return m.group("op"), None
    return None


def incompatibility_from(
    text: str, runtime_name: str | None, runtime_version: str | None
) -> Incompatibility | None:
    """An :class:`Incompatibility` when ``text`` is a runtime's missing-operator error."""
    parsed = parse_missing_op(text)
    if parsed is None:
        return None
    op, version = parsed
    line = next((ln.strip() for ln in text.splitlines() if op in ln), text.strip())
    return Incompatibility(op, version, runtime_name, runtime_version, line)


def incompatible_record(
    inc: Incompatibility,
    *,
    variant: str,
    model_path: str,
    file_bytes: int | None = None,
    zip_bytes: int | None = None,
    compression_ratio: float | None = None,
    ops: tuple[OpInfo, ...] = (),
) -> Record:
    """The record of a model the target's runtime cannot load."""
    extra: dict = {"error_kind": ErrorKind.INCOMPATIBLE.value, "missing_op": inc.op}
    if inc.version is not None:
        extra["missing_op_version"] = inc.version
    if ops:  # what the build stage read from the flatbuffer, for the reader of the results
        extra["ops_needed"] = {o.name: o.version for o in ops}
    return Record(
        variant=variant,
        model_path=model_path,
        status=Status.INCOMPATIBLE.value,
        error=inc.message(),
        file_bytes=file_bytes,
        zip_bytes=zip_bytes,
        compression_ratio=compression_ratio,
        runtime_name=inc.runtime_name,
        runtime_version=inc.runtime_version,
        extra=extra,
    )
