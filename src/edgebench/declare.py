"""One declaration per setting: a dataclass field whose metadata says what the setting means.

    runs: int = setting(100, help="timed invoke() calls per model", minimum=1, flag="--runs")

The field's name is the TOML key and the API keyword, its type and default are the setting's,
and the metadata (a :class:`Setting`) carries the help, the unit, the bounds and the
command-line spelling. Everything else derives from that one field:

- :func:`from_table` builds the dataclass from a TOML table: unknown keys are refused with the
  nearest known one, types and bounds are checked with messages that name the key;
- :func:`add_flags` adds its flags to an argparse parser (converter, help and default from
  the declaration) and :func:`given` reads back the values the command line set;
- :func:`check_values` is what the dataclass's ``__post_init__`` calls, so Python callers
  meet the same bounds and choices as the TOML file and the command line.

This module knows no setting; the declarations live beside their dataclasses and
:mod:`edgebench.settings` lists them all.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from edgebench.errors import ConfigError
from edgebench.values import number

_KEY = "setting"  # the dataclass field metadata key that holds a Setting


@dataclass(frozen=True)
class Alias:
    """Another flag for the same setting, e.g. ``--no-xnnpack`` (a constant) or ``--taskset``
    (the same value written another way)."""

    flag: str
    help: str
    parse: Callable[[str], Any] | None = None  # None: the flag takes no value, sets ``const``
    const: Any = None
    metavar: str | None = None
    group: str = ""


@dataclass(frozen=True)
class Setting:
    """What one setting means, beside its dataclass field (name, type, default)."""

    help: str
    unit: str = ""  # of the value, e.g. "s", "°C" (the field's name ends with it too)
    flag: str | None = None  # the command-line flag; None: TOML and Python only
    parse: Callable[[str], Any] | None = None  # argparse type=; else from the type and bounds
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None  # value (each value of a list) >= minimum
    above: float | None = None  # value > above
    repeat: bool = False  # the flag may be given again; each adds one value
    group: str = ""  # which argument group of the parser the flag goes to
    aliases: tuple[Alias, ...] = ()
    relative: bool = False  # a path, relative to the config file's folder in TOML
    scalar: bool = False  # TOML: one value or a list of them (for a tuple field)
    words: str = ""  # the TOML values allowed, when the type alone says it badly
    from_toml: Callable[[Any], Any] | None = None  # TOML value -> field value, checked
    example: Any = None  # a TOML value to show (docs, tests), other than the default
    shown: str | None = None  # how help shows the default, where the value reads badly


def setting(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING,
            **meta: Any) -> Any:
    """A dataclass field with its :class:`Setting` (``factory`` for a mutable default)."""
    return dataclasses.field(default=default, default_factory=factory,
                             metadata={_KEY: Setting(**meta)})


def declared(cls: type) -> list[tuple[dataclasses.Field, Setting]]:
    """The declared settings of a dataclass, in field order, with their metadata."""
    return [(f, f.metadata[_KEY]) for f in dataclasses.fields(cls) if _KEY in f.metadata]


def declaration(cls: type, name: str) -> Setting:
    """The :class:`Setting` of one field."""
    return next(s for f, s in declared(cls) if f.name == name)


def default_of(f: dataclasses.Field) -> Any:
    """A field's default (its factory's value for a mutable default)."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def section_of(cls: type) -> str:
    """The TOML table a declared dataclass is read from (its ``toml_section``), or ""."""
    return str(getattr(cls, "toml_section", ""))


def show(value: Any) -> str:
    """A default as a person writes it: ``true``, ``1,2``, ``0.1``, ``local``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(show(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


# --------------------------------------------------------------------------- checks


def check_values(obj: Any) -> None:
    """The declared bounds and choices of a dataclass instance: what ``__post_init__`` calls."""
    for f, s in declared(type(obj)):
        message = _not_allowed(getattr(obj, f.name), s)
        if message:
            raise ConfigError(f"{f.name} {message}")


def _not_allowed(value: Any, s: Setting, choices: bool = True) -> str | None:
    values = value if isinstance(value, (tuple, list)) else (value,)
    for v in values:
        if choices and s.choices and v is not None and v not in s.choices:
            return f"must be one of {', '.join(map(str, s.choices))}; got {value!r}"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if s.minimum is not None and not v >= s.minimum:
            return f"must be >= {s.minimum:g}; got {value!r}"
        if s.above is not None and not v > s.above:
            return f"must be > {s.above:g}; got {value!r}"
    return None


def reject_unknown(table: Mapping[str, Any], known: Iterable[str], section: str,
                   where: str) -> None:
    """Refuse a key that is not ``known``, naming the nearest known one."""
    known = list(known)
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
            raise ConfigError(f"unknown key {key!r} in {section} of {where}; {hint}")


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
               Path: "a string"}
_PLURAL = {str: "strings", int: "whole numbers", float: "numbers", bool: "true or false values"}


def _is(value: Any, tp: Any) -> bool:
    return {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
        Path: isinstance(value, (str, Path)),
    }.get(tp, True)


def check_type(value: Any, tp: Any, key: str, where: str, *, scalar: bool = False,
               words: str = "") -> Any:
    """A TOML value of type ``tp`` (lists become tuples, integers floats where a float is
    due), or a ConfigError that names ``key`` and what it must be."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = options[0] if len(options) == 1 else tp
        origin = typing.get_origin(tp)
    if tp is Path and isinstance(value, Path):
        return value
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        items = [value] if scalar and not isinstance(value, list) else value
        if isinstance(items, list) and all(_is(v, inner) for v in items):
            return tuple(float(v) if inner is float else v for v in items)
        allowed = words or f"a list of {_PLURAL.get(inner, inner)}"
        raise ConfigError(f"{key} must be {allowed}; got {value!r} (in {where})")
    if origin is dict:
        if isinstance(value, dict):
            return dict(value)
        raise ConfigError(f"{key} must be a table; got {value!r} (in {where})")
    if not _is(value, tp):
        allowed = words or _TYPE_WORDS.get(tp, tp)
        raise ConfigError(f"{key} must be {allowed}; got {value!r} (in {where})")
    return float(value) if tp is float else value


# --------------------------------------------------------------------------- TOML


def from_table(
    cls: type,
    table: Mapping[str, Any],
    section: str,
    where: str,
    *,
    base: Path | None = None,
    also: tuple[str, ...] = (),
    parsed: Mapping[str, Any] | None = None,
    sep: str = ".",
) -> Any:
    """``cls`` built from the TOML table ``[section]``: unknown keys, types, bounds, then the
    class's own checks, every message prefixed with ``section.`` and naming the file.

    Every field is a key (a field without a declaration takes its type alone). ``also`` are
    keys the caller reads itself; ``parsed`` holds values the caller has already made (its
    keys are skipped here); relative paths resolve against ``base``. The class's own
    complaint is prefixed with ``section`` and ``sep``.
    """
    fields = dataclasses.fields(cls)
    reject_unknown(table, [*(f.name for f in fields), *also], f"[{section}]", where)
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = dict(parsed or {})
    for f in fields:
        if f.name not in table or f.name in kwargs:
            continue
        s = f.metadata.get(_KEY) or Setting(help="")
        key, value = f"{section}.{f.name}", table[f.name]
        if s.from_toml is not None:
            try:
                kwargs[f.name] = s.from_toml(value)
            except ConfigError as exc:
                raise ConfigError(f"{section}.{exc} (in {where})") from None
            continue
        value = check_type(value, hints[f.name], key, where, scalar=s.scalar, words=s.words)
        message = _not_allowed(table[f.name], s, choices=False)  # the class says which
        if message:
            raise ConfigError(f"{key} {message} (in {where})")
        if s.relative:
            path = (base or Path.cwd()) / value
            value = path if Path in (hints[f.name], *typing.get_args(hints[f.name])) else str(path)
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{section}{sep}{exc} (in {where})") from None


# --------------------------------------------------------------------------- command line


def converter(f: dataclasses.Field, s: Setting, hint: Any) -> Callable[[str], Any] | None:
    """The argparse ``type=`` of a declared flag: its own, else from its type and bounds."""
    if s.parse is not None:
        return s.parse
    options = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    tp = options[0]
    if tp in (int, float) and (s.minimum is not None or s.above is not None):
        low = s.minimum if s.minimum is not None else s.above
        assert low is not None
        return number(tp, low, strict=s.minimum is None)
    return tp if tp in (int, float, str, Path) else None


def flag_help(cls: type, f: dataclasses.Field, s: Setting) -> str:
    """The help of a declared flag: its help, and where its default comes from."""
    default = default_of(f)
    shown = s.shown if s.shown is not None else show(default)
    section = section_of(cls)
    if section:
        tail = f"the config's [{section}] {f.name}"
        tail += "" if default is None else f", else {shown}"
    else:
        tail = "" if default is None else shown
    text = f"{s.help} (default: {tail})" if tail else s.help
    return text.replace("%", "%%")


def add_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    groups: Mapping[str, Any] | None = None,
) -> None:
    """Add the flag of every declared setting of ``cls`` that has one (and its aliases).

    A flag not given leaves None, so the config (or the dataclass's default) decides; the
    help says which. ``groups`` maps a declaration's ``group`` to an argument group.
    """
    hints = typing.get_type_hints(cls)

    def place(group: str) -> Any:
        return (groups or {}).get(group, parser)

    for f, s in declared(cls):
        if s.flag is None:
            continue
        kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": flag_help(cls, f, s)}
        if hints[f.name] is bool and s.parse is None:
            kwargs["action"] = "store_true"
        else:
            kwargs["type"] = converter(f, s, hints[f.name])
            kwargs["metavar"] = s.metavar
            if s.choices:
                kwargs["choices"] = s.choices
            if s.repeat:
                kwargs["action"] = "append"
        place(s.group).add_argument(s.flag, **kwargs)
        for a in s.aliases:
            more: dict[str, Any] = {"dest": f.name, "help": a.help.replace("%", "%%")}
            if a.parse is None:
                more.update(action="store_const", const=a.const)
            else:
                more.update(type=a.parse, metavar=a.metavar)
            place(a.group).add_argument(a.flag, **more)


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The declared settings of ``cls`` that the command line set, as field values; the
    parser must have had :func:`add_flags` of ``cls`` (a flag it lacks is a KeyError)."""
    hints = typing.get_type_hints(cls)
    values = vars(args)
    out: dict[str, Any] = {}
    for f, s in declared(cls):
        value = values[f.name] if s.flag is not None else None
        if value is None:
            continue
        if isinstance(value, list) and typing.get_origin(hints[f.name]) is tuple:
            value = tuple(value)
        out[f.name] = value
    return out
