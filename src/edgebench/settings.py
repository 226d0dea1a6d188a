"""Every setting of build, bench, sweep and gate: where each is read, and :func:`describe`, the
list a reference (every flag, every key of pipeline.toml, sweep.toml and budgets.toml, with
type, default, unit and help) is generated from.

A setting is declared once, as a dataclass field (:mod:`edgebench.declare`). :data:`SECTIONS`
says where each declared dataclass is read: which TOML table of which files, which
subcommands take its flags, and which API functions take those flags as keywords.
:func:`describe` adds what has no dataclass of its own: the rules of a budgets file (the
gate's metrics, :data:`edgebench.bench.gate.METRICS`), each recipe's own keys (its params
dataclass), and the command-line options that have no TOML key (read from the parser).
tests/test_settings.py holds the command line, the TOML loader and the API to these
declarations, so a new setting is checked as soon as it is declared.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from edgebench import api
from edgebench.bench.judgement.ab_settings import AbSettings
from edgebench.bench.judgement.budgets import BUDGETS_SCHEMA_VERSION as _BUDGETS_VERSION
from edgebench.bench.judgement.budgets import Budgets
from edgebench.bench.judgement.gate_rules import COMPAT_KEY, METRICS, REGRESSION_METRICS
from edgebench.build import sections
from edgebench.build.config import PIPELINE_SCHEMA_VERSION, PipelineConfig
from edgebench.build.recipes import get_recipe, recipe_names
from edgebench.build.sweep_config import SweepConfig
from edgebench.cli import make_parser
from edgebench.declare import Setting, declared, default_of
from edgebench.records import BenchSettings, BenchTargets

PIPELINE_FILES = ("pipeline.toml", "sweep.toml")


@dataclass(frozen=True)
class Section:
    """Where the settings of one declared dataclass are read.

    ``api`` are functions that take each of its flags as a keyword; with ``via`` they take the
    dataclass itself under that keyword instead (``bench_models(settings=BenchSettings(…))``).
    """

    cls: type
    table: str  # "[bench]", "[recipes.<name>]"
    files: tuple[str, ...] = PIPELINE_FILES
    commands: tuple[str, ...] = ()  # the subcommands that take its flags
    api: tuple[Callable[..., Any], ...] = ()
    via: str | None = None


SECTIONS: tuple[Section, ...] = (
    Section(sections.DataConfig, "[data]", commands=("build", "run", "sweep"),
            api=(PipelineConfig.with_overrides,)),
    Section(sections.ModelConfig, "[model]"),
    Section(sections.TrainConfig, "[train]", commands=("build", "run", "sweep"),
            api=(PipelineConfig.with_overrides,)),
    Section(sections.BaselineConfig, "[baseline]"),
    Section(sections.RecipeConfig, "[recipes.<name>]"),
    Section(BenchTargets, "[bench]", commands=("bench", "run"), api=(api.bench_models, api.run)),
    Section(BenchSettings, "[bench]", commands=("bench", "run"),
            api=(api.bench_models, api.run), via="settings"),
    Section(sections.GateConfig, "[gate]", commands=("gate", "run"), api=(api.gate, api.run)),
    Section(AbSettings, "", files=(), commands=("ab",), api=(api.ab,), via="settings"),
    Section(SweepConfig, "[sweep]", files=("sweep.toml",), commands=("sweep",),
            api=(api.sweep,)),
)


@dataclass(frozen=True)
class SettingInfo:
    """One entry of the reference: a config key, a flag, or both (one declaration)."""

    name: str  # the TOML key and the API keyword; a flag-only option's argparse dest
    table: str  # "[bench]", '[budgets."<variant or glob>"]', "top level"; "" = flag only
    files: tuple[str, ...]  # the config files the key belongs to; () = flag only
    type: str  # "int", "float", "str", "bool", "path", "list[int]", "table", …
    default: Any  # as TOML writes it (lists, strings); None = not set
    unit: str
    help: str
    flag: str | None = None
    commands: tuple[str, ...] = ()  # the subcommands that take the flag
    api: tuple[str, ...] = ()  # how Python passes it, e.g. "BenchSettings(runs=)"
    choices: tuple[str, ...] = ()


def describe() -> list[SettingInfo]:
    """Every setting: the declared ones by section, the top-level keys, each recipe's own keys,
    the budgets file's keys, then the command-line options without a TOML key."""
    entries = [_top_level("top level", PIPELINE_FILES, PIPELINE_SCHEMA_VERSION)]
    for section in SECTIONS:
        entries += [_declared(section, f, s) for f, s in declared(section.cls)]
    entries += _recipe_params()
    entries += _budgets()
    return entries + _flags_only(entries)


def _declared(section: Section, f: dataclasses.Field, s: Setting) -> SettingInfo:
    hint = typing.get_type_hints(section.cls)[f.name]
    cls_name = section.cls.__name__
    if section.via is not None:
        calls = (f"{cls_name}({f.name}=)", *(f"{fn.__name__}({section.via}=)"
                                             for fn in section.api))
    elif s.flag is not None and section.api:
        calls = tuple(f"{fn.__name__}({f.name}=)" for fn in section.api)
    else:
        calls = (f"{cls_name}({f.name}=)",)
    return SettingInfo(
        name=f.name, table=section.table, files=section.files, type=type_name(hint),
        default=_plain(default_of(f)), unit=s.unit, help=s.help, flag=s.flag,
        commands=section.commands if s.flag else (), api=calls,
        choices=tuple(map(str, s.choices)),
    )


def _top_level(table: str, files: tuple[str, ...], version: int) -> SettingInfo:
    return SettingInfo("schema_version", table, files, "int", version, "",
                       f"the file's format; this edgebench reads version {version}")


def _recipe_params() -> list[SettingInfo]:
    """Each registered recipe's own keys (its params dataclass) in [recipes.<name>]."""
    out = []
    for name in recipe_names():
        cls = get_recipe(name).params_cls
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            s = f.metadata.get("setting")
            out.append(SettingInfo(
                name=f.name, table=f'[recipes.<name>] recipe = "{name}"', files=PIPELINE_FILES,
                type=type_name(hints[f.name]), default=_plain(default_of(f)),
                unit=s.unit if s else "", help=s.help if s else "",
                api=(f"{cls.__name__}({f.name}=)",),
            ))
    return out


def _budgets() -> list[SettingInfo]:
    """The keys of a budgets file: its top level, and the rules of each variant glob."""
    table, files = '[budgets."<variant or glob>"]', ("budgets.toml",)
    baseline = next(f for f in dataclasses.fields(Budgets) if f.name == "baseline")
    out = [
        _top_level("top level", files, _BUDGETS_VERSION),
        SettingInfo("baseline", "top level", files, "str", baseline.default, "",
                    "the variant max_accuracy_drop is measured against, in the same run"),
    ]
    for key, m in METRICS.items():
        bound = "at most" if m.upper else "at least"
        out.append(SettingInfo(key, table, files, "float", None, m.unit,
                               f"{bound} this {m.name} for every variant the glob matches"))
    for key, m in REGRESSION_METRICS.items():
        kind = 'a percentage string such as "10%"' if m.percent else "a number"
        out.append(SettingInfo(
            key, table, files, "str" if m.percent else "float", None, m.unit,
            f"with gate --against BASE: {m.name} at most this ({kind})",
        ))
    out.append(SettingInfo(
        COMPAT_KEY, table, files, "bool | list[str]", None, "",
        "the matching variants must load on these targets' runtimes (true: every target "
        "benched); see also --require-compatible",
        flag="--require-compatible", commands=("gate", "run"),
        api=("gate(require_compatible=)", "run(require_compatible=)"),
    ))
    return out


def _flags_only(entries: list[SettingInfo]) -> list[SettingInfo]:
    """The options of every subcommand that no entry above declares (--out, --history, …),
    one entry per flag and meaning, with the subcommands that take it."""
    declared_flags = {(e.flag, c) for e in entries if e.flag for c in e.commands}
    found: dict[tuple[str, str], SettingInfo] = {}
    for command, parser in _subparsers().items():
        for action in parser._actions:
            if not action.option_strings or action.dest == "help":
                continue
            flag = action.option_strings[0]
            if any((f, command) in declared_flags for f in action.option_strings) or (
                action.dest in _dests_declared(entries, command)
            ):
                continue
            help_text = (action.help or "").replace("%%", "%")
            key = (flag, help_text)
            if key in found:
                found[key] = dataclasses.replace(found[key],
                                                 commands=(*found[key].commands, command))
                continue
            found[key] = SettingInfo(
                name=action.dest, table="", files=(), type=_action_type(action),
                default=_plain(action.default), unit="", help=help_text, flag=flag,
                commands=(command,), choices=tuple(map(str, action.choices or ())),
            )
    return list(found.values())


def _dests_declared(entries: list[SettingInfo], command: str) -> set[str]:
    """Field names whose flag (or an alias of it, e.g. --no-xnnpack) ``command`` takes."""
    return {e.name for e in entries if e.flag and command in e.commands}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


#: The type a converter's values have, by the converter's name (the rest are strings).
_CONVERTED = {"int": "int", "float": "float", "probability": "float", "fraction": "float",
              "output_file": "path", "iso_date": "date"}


def _action_type(action: argparse.Action) -> str:
    if action.nargs == 0:
        return "bool"
    if action.type is Path:
        return "path"
    return _CONVERTED.get(getattr(action.type, "__name__", ""), "str")


def type_name(hint: Any) -> str:
    """A type as the reference shows it: ``int``, ``list[int]``, ``str | table``, ``path``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return " | ".join(type_name(a) for a in options)
    if origin is tuple:
        inner = typing.get_args(hint)[0]
        return "table" if typing.get_origin(inner) is tuple else f"list[{type_name(inner)}]"
    if origin is dict:
        return "table"
    if hint is Path:
        return "path"
    if isinstance(hint, type) and issubclass(hint, Enum):
        return "str"
    return getattr(hint, "__name__", str(hint))


def _plain(value: Any) -> Any:
    """A default as TOML writes it: tuples as lists, enums and paths as strings."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value
