"""Records to and from JSON: dataclasses as plain dicts, and versioned files checked on load.

Every file has a ``schema_version``; an older one is migrated by the small ``upgrade_from_N``
functions its kind registers (``{from_version: upgrade}``), a newer one is refused.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

from edgebench.errors import SchemaError

#: dataclass field metadata: kept in memory, not written to the file
NOT_SAVED = {"not_saved": True}


def to_dict(obj: Any) -> Any:
    """A JSON-ready dict of a record dataclass (enums as their values, NaN as null)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: to_dict(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not f.metadata.get("not_saved")
        }
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def from_dict(cls: type, data: Any) -> Any:
    """Rebuild a (nested) record dataclass from :func:`to_dict` output; unknown keys are dropped."""
    if data is None:
        return None
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        kwargs[f.name] = _coerce(hints[f.name], data[f.name])
    return cls(**kwargs)


def _coerce(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(args[0], value) if len(args) == 1 else value
    if origin is tuple:
        (inner, *_rest) = typing.get_args(tp)
        return tuple(_coerce(inner, v) for v in value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_dict(tp, value)
    return value


def require_kind(path: Path, data: dict, want: str) -> None:
    """A results file where a manifest belongs (or the reverse) gets one line naming the fix."""
    is_manifest = "artifacts" in data and "baseline" in data
    is_results = "records" in data and "target" in data
    if want == "results" and not is_results:
        if is_manifest:
            raise SchemaError(
                f"{path} is a build manifest, not a results file; bench it first: "
                f"edgebench bench {path}"
            )
        raise SchemaError(f"{path} is not an edgebench results file (no target and records)")
    if want == "manifest" and not is_manifest:
        if is_results:
            raise SchemaError(
                f"{path} is a results file, not a build manifest; give it to edgebench gate, "
                "compare or report, or bench the manifest.json beside it"
            )
        raise SchemaError(f"{path} is not an edgebench manifest (no artifacts and baseline)")


def read_versioned(
    path: Path, what: str, current: int, upgrades: dict[int, Callable[[dict], dict]]
) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SchemaError(
            f"{what} file {path} does not exist; run the stage that writes it first"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{path} is not a valid {what} JSON file ({exc}); rebuild it") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise SchemaError(f"{path} has no schema_version, so it is not an edgebench {what} file")
    other = "results" if what == "manifest" else "manifest"
    if _looks_like(data, other):  # the other kind of file, before its version is judged
        require_kind(path, data, what)
    version = data["schema_version"]
    if not isinstance(version, int) or version > current:
        raise SchemaError(
            f"{path} has {what} schema_version {version!r}, newer than this edgebench "
            f"understands ({current}); upgrade edgebench"
        )
    require_kind(path, data, what)  # a results file given as a manifest: say so, not "old"
    while version < current:
        if version not in upgrades:
            raise SchemaError(
                f"{path}: no upgrade from {what} schema_version {version}; rebuild it"
            )
        try:
            data = upgrades[version](data)
        except SchemaError as exc:
            raise SchemaError(f"{path}: {exc}") from None
        version = data["schema_version"]
    require_kind(path, data, what)
    return data


def _looks_like(data: dict, what: str) -> bool:
    if what == "manifest":
        return "artifacts" in data and "baseline" in data
    return "records" in data and "target" in data
