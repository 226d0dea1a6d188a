"""The documentation's reference pages, generated from the code: every subcommand and flag
(from the argparse parsers of :mod:`edgebench.commands`), every key of the pipeline, sweep and
budgets files (from their one declaration, :func:`edgebench.settings.describe`), and the
results, manifest and history formats (from :mod:`edgebench.records` and the history's own
schema). ``docs/gen_reference.py`` writes them when MkDocs builds the site, so a new flag or
key is documented the moment it is declared; the site's strict build fails on a broken link.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import sqlite3
import tempfile
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edgebench.bench.judgement.history import open_history
from edgebench.bench.judgement.history_schema import HISTORY_SCHEMA_VERSION
from edgebench.build.recipes import get_recipe, recipe_names
from edgebench.cli import COMMANDS, make_parser
from edgebench.records import (
    MANIFEST_SCHEMA_VERSION,
    RESULTS_SCHEMA_VERSION,
    Manifest,
    Results,
)
from edgebench.settings import SettingInfo, describe, type_name

#: The generated pages, by their path under the site's docs folder.
PAGES = {
    "reference/cli.md": "cli_page",
    "reference/config.md": "config_page",
    "reference/formats.md": "formats_page",
}


def _cell(text: object) -> str:
    """Text fit for one cell of a Markdown table: pipes escaped, and ``<`` outside code spans
    (``[recipes.<name>]`` in a help text is not an HTML tag)."""
    parts = str(text).replace("|", "\\|").replace("\n", " ").split("`")
    parts[::2] = [p.replace("<", "&lt;") for p in parts[::2]]
    return "`".join(parts).strip()


def _code(text: object) -> str:
    return f"`{text}`" if text not in (None, "") else ""


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the command line


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


class Undocumented(ValueError):
    """A flag or a declared config key without help text: the site's build stops on it."""


def _option_row(action: argparse.Action) -> tuple[str, ...]:
    if action.option_strings:
        names = ", ".join(f"`{o}`" for o in action.option_strings)
        if action.nargs != 0:
            names += f" `{action.metavar or action.dest.upper()}`"
    else:
        names = f"`{action.metavar or action.dest}` (positional)"
    default = action.default
    shown = "" if default in (None, False, [], argparse.SUPPRESS) or action.nargs == 0 else default
    help_text = (action.help or "").replace("%%", "%")
    return names, _code(shown), help_text


def cli_page() -> str:
    """Every subcommand: what it does, each option with its default, and its ``--help``."""
    parser = make_parser()
    subs = _subparsers(parser)
    lines = [
        "# Command line",
        "",
        "Generated from the parsers of `edgebench.commands` when this site was built; "
        "`edgebench COMMAND --help` prints the same.",
        "",
        _table(["command", "what it does"], ((f"[`{c.name}`](#edgebench-{c.name})", c.help)
                                             for c in COMMANDS)),
        "",
        "Every command: exit 2 with one line that names the fix on bad input; `-q` prints only "
        "errors and the final table, `-v` adds the chatter TensorFlow and the TFLite runtime "
        "print themselves (oneDNN, CUDA, XNNPACK and converter notices). `edgebench --version` "
        "says which edgebench this is.",
    ]
    for c in COMMANDS:
        sub = subs[c.name]
        bare = [a.option_strings[0] if a.option_strings else a.dest for a in sub._actions
                if not (a.help or "").strip()]
        if bare:
            raise Undocumented(f"edgebench {c.name}: {', '.join(bare)} has no help text; give "
                               "its add_argument (or its setting()) a help=")
        rows = [_option_row(a) for a in sub._actions if a.dest != "help"]
        lines += [
            "",
            f"## edgebench {c.name}",
            "",
            c.description,
            "",
            _table(["option", "default", "what it does"], rows),
            "",
            f'??? note "edgebench {c.name} --help"',
            "    ```text",
            *(f"    {line}".rstrip() for line in sub.format_help().splitlines()),
            "    ```",
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- config files


def _default(value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def field_comments(cls: type) -> dict[str, str]:
    """The comment beside each field of a dataclass and of its bases (``epochs: int = 2  #
    …``): the help of a recipe's keys, which are declared as plain fields."""
    comments: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(base):
            continue
        try:
            source = inspect.getsource(base)
        except (OSError, TypeError):
            continue
        for name, comment in re.findall(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+)$", source, flags=re.M):
            comments[name] = comment.strip()
    return comments


def _recipe_help() -> dict[tuple[str, str], str]:
    """(table, key) -> the comment beside a recipe key's field."""
    out = {}
    for name in recipe_names():
        for key, comment in field_comments(get_recipe(name).params_cls).items():
            out[(f'[recipes.<name>] recipe = "{name}"', key)] = comment
    return out


def _setting_row(e: SettingInfo) -> tuple[str, ...]:
    flag = f"`{e.flag}` ({', '.join(e.commands)})" if e.flag else ""
    help_text = e.help + (f"; one of: {', '.join(e.choices)}" if e.choices else "")
    return f"`{e.name}`", e.type, _default(e.default), e.unit, flag, help_text


FILES = (
    ("pipeline.toml", "The pipeline file (`models/pipeline.toml`, `--config`)",
     "What to build, how to bench it, and which budgets gate it. Paths are relative to the "
     "file; an unknown key is an error that names the nearest known one."),
    ("sweep.toml", "The sweep file (`models/sweep.toml`)",
     "A pipeline file with a `[sweep]` table: every key of the pipeline file, plus these."),
    ("budgets.toml", "The budgets file (`models/budgets.toml`, `--budgets`)",
     "Rules keyed by variant name or glob (`\"pruned/int8\"`, `\"*/int8\"`, `\"*\"`). The "
     "regression rules apply only with `gate --against BASE`."),
)


def config_page() -> str:
    """Every key of every config file, by file and table, with its flag when it has one."""
    recipe_help = _recipe_help()
    entries = [e if e.help.strip() else dataclasses.replace(e, help=recipe_help.get(
        (e.table, e.name), "")) for e in describe()]
    bare = [f"{e.table} {e.name}" for e in entries
            if not e.help.strip() and not e.table.startswith("[recipes.<name>] recipe")]
    if bare:
        raise Undocumented(f"{', '.join(bare)} has no help text; give its setting() a help=")
    lines = [
        "# Config files",
        "",
        "Generated from the one declaration of each setting (`edgebench.settings.describe()`) "
        "when this site was built. A key with a flag can also be given on the command line "
        "(the flag wins); the same name is the keyword of the Python API.",
    ]
    header = ["key", "type", "default", "unit", "flag", "what it does"]
    for file, title, intro in FILES:
        lines += ["", f"## {title}", "", intro]
        tables: dict[str, list[SettingInfo]] = {}
        for e in entries:
            own = file in e.files and (file != "sweep.toml" or e.files == ("sweep.toml",))
            if own:
                tables.setdefault(e.table, []).append(e)
        for table, items in tables.items():
            lines += ["", f"### `{table}`" if table != "top level" else "### Top level", "",
                      _table(header, (_setting_row(e) for e in items))]
    flags = [e for e in entries if not e.files]
    lines += ["", "## Options without a config key", "",
              "Options of the command line that no file declares (the subcommands that take "
              "each are in brackets); the [command line](cli.md) page lists them per command.",
              "", _table(header, (_setting_row(e) for e in flags))]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- file formats


def _dataclasses_in(root: type) -> list[type]:
    """``root`` and every dataclass its fields hold, depth first, each once."""
    seen: list[type] = []

    def walk(cls: type) -> None:
        if cls in seen or not dataclasses.is_dataclass(cls):
            return
        seen.append(cls)
        for hint in typing.get_type_hints(cls).values():
            for inner in _types_in(hint):
                walk(inner)

    walk(root)
    return seen


def _types_in(hint: Any) -> list[type]:
    args = typing.get_args(hint)
    if not args:
        return [hint] if isinstance(hint, type) else []
    return [t for a in args for t in _types_in(a)]


def _fields_table(cls: type) -> str:
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        inner = [t.__name__ for t in _types_in(hints[f.name]) if dataclasses.is_dataclass(t)]
        kind = type_name(hints[f.name]) if not inner else ", ".join(inner)
        rows.append((f"`{f.name}`", kind))
    return _table(["field", "type"], rows)


def _doc(cls: type) -> str:
    return " ".join((cls.__doc__ or "").split())


def _history_schema() -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite"
        open_history(path).close()
        conn = sqlite3.connect(path)
        try:
            sql = [row[0] for row in conn.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type DESC, name")]
        finally:
            conn.close()
    return ";\n\n".join(sql) + ";"


def formats_page() -> str:
    """The results and manifest JSON, field by field, and the history's SQLite schema."""
    lines = [
        "# File formats",
        "",
        "Generated from `edgebench.records` and the history's own schema when this site was "
        "built. Every file carries a `schema_version`, is checked on load (an older one is "
        "upgraded, a newer one refused) and written atomically. Units are in the field names "
        "(`zip_bytes`, `p90_us`, `peak_rss_mb`).",
    ]
    for root, title, version, where in (
        (Results, "Results", RESULTS_SCHEMA_VERSION, "`out/<run>/results-<target>.json`"),
        (Manifest, "Manifest", MANIFEST_SCHEMA_VERSION, "`out/<run>/manifest.json`"),
    ):
        lines += ["", f"## {title} ({where}, schema version {version})"]
        for cls in _dataclasses_in(root):
            lines += ["", f"### {cls.__name__}", "", _doc(cls), "", _fields_table(cls)]
    lines += [
        "",
        f"## History (`out/history.sqlite`, schema version {HISTORY_SCHEMA_VERSION})",
        "",
        "One row per run and target, one per record, with the raw latency samples. The version "
        "is SQLite's `PRAGMA user_version`; an older file is upgraded in place, one "
        "transaction per step.",
        "",
        "```sql",
        _history_schema(),
        "```",
    ]
    return "\n".join(lines) + "\n"


def page(path: str) -> str:
    """The generated page at ``path`` (a key of :data:`PAGES`)."""
    return {"cli_page": cli_page, "config_page": config_page,
            "formats_page": formats_page}[PAGES[path]]()
