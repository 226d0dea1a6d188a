"""The names every stage shares: how a model fared, and the format of an artifact."""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """Outcome of one model on one target."""

    OK = "ok"
    FAILED = "failed"
    INCOMPATIBLE = "incompatible"


class VariantKind(str, Enum):
    """The export format of an artifact."""

    KERAS = "keras"
    FLOAT32 = "float32"
    DYNAMIC = "dynamic"
    FLOAT16 = "float16"
    INT8 = "int8"


TFLITE_KINDS = (VariantKind.FLOAT32, VariantKind.DYNAMIC, VariantKind.FLOAT16, VariantKind.INT8)
