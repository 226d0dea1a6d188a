"""One declaration per setting: the command line, the TOML loader and the API agree with the
declarations (edgebench.declare, edgebench.settings), checked by iterating them, so a setting
declared tomorrow is checked too; describe() lists every key and every flag; an unknown flag,
command or key gets one line that names the nearest known one."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from edgebench.bench.judgement.budgets import load_budgets
from edgebench.bench.judgement.gate_rules import COMPAT_KEY, METRICS, REGRESSION_METRICS
from edgebench.bench.orchestration.flows import FLOWS
from edgebench.build.config import default_sweep_path, load_pipeline, parse_pipeline
from edgebench.build.sweep_config import SweepConfig
from edgebench.cli import COMMANDS, make_parser
from edgebench.declare import Setting, declaration, declared, default_of, flag_help, show
from edgebench.errors import ConfigError
from edgebench.records import BenchSettings
from edgebench.settings import PIPELINE_FILES, SECTIONS, Section, describe

FLAGGED = [(sec, f, s) for sec in SECTIONS for f, s in declared(sec.cls) if s.flag]
#: every key of a config file (a section without files is the command line's and the API's only)
KEYS = [(sec, f, s) for sec in SECTIONS if sec.files for f, s in declared(sec.cls)]


def _id(item: tuple[Section, dataclasses.Field, Setting]) -> str:
    return f"{item[0].table}.{item[1].name}"


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    found = [a for a in parser._actions if flag in a.option_strings]
    assert found, f"{parser.prog} has no {flag}"
    return found[0]


# --------------------------------------------------------------------------- command line


@pytest.mark.parametrize("item", FLAGGED, ids=_id)
def test_every_flag_is_on_its_subcommands_with_the_declared_help_and_default(item) -> None:
    section, f, s = item
    assert section.commands, f"{_id(item)} has a flag but no subcommand takes it"
    parsers = subparsers()
    for command in section.commands:
        action = option(parsers[command], s.flag)
        assert action.dest == f.name
        assert action.default is None  # not given: the config, else the declared default
        assert action.help == flag_help(section.cls, f, s)
        assert s.help.replace("%", "%%") in action.help
        if default_of(f) is not None:
            shown = s.shown if s.shown is not None else show(default_of(f))
            assert (f"else {shown})" if section.files else f"(default: {shown})") in action.help
        for alias in s.aliases:
            assert option(parsers[command], alias.flag).dest == f.name


def test_the_command_line_sets_the_declared_fields() -> None:
    args = make_parser().parse_args(
        ["bench", "m.tflite", "--runs", "7", "--threads", "1,2", "--no-xnnpack", "--cpu-pin",
         "2,3", "--benchmark-flag=--gpu_backend=cl", "--target", "local", "--use-gpu"])
    from edgebench.commands.bench import bench_settings

    s = bench_settings(args, BenchSettings())
    assert (s.runs, s.threads, s.xnnpack, s.taskset) == (7, (1, 2), (False,), "c")
    assert s.benchmark_args == ("--gpu_backend=cl",) and s.use_gpu and not s.use_nnapi
    assert s.warmup == BenchSettings().warmup and args.targets == ["local"]


def test_flow_choices_are_the_registered_flows() -> None:
    assert set(declaration(BenchSettings, "flow").choices) == set(FLOWS)


# --------------------------------------------------------------------------- TOML

PIPELINE_DOC: dict[str, Any] = {"schema_version": 1}
RECIPES = {"recipes": {"gradual": {"recipe": "gradual"}}}
SWEEP = {**PIPELINE_DOC, **RECIPES, "sweep": {"recipes": ["gradual"], "min_accuracy": 0.5}}


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(map(toml_value, v)) + "]"
    return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml_text(doc: dict[str, Any]) -> str:
    lines = [f"{k} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for name, table in doc.items():
        if not isinstance(table, dict):
            continue
        nested = table and all(isinstance(v, dict) for v in table.values())
        for sub, inner in (table.items() if nested else [(None, table)]):
            lines.append(f"[{name}.{sub}]" if sub else f"[{name}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in inner.items()]
    return "\n".join(lines) + "\n"


def plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return getattr(value, "value", value)


def sample(f: dataclasses.Field, s: Setting, hint: Any) -> Any:
    """A value for the key that is not its default where one is easy to make."""
    if s.example is not None:
        return s.example
    default = plain(default_of(f))
    choices = [c for c in s.choices if c not in (default if isinstance(default, list)
                                                 else [default])]
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    if isinstance(default, float):
        return round(default + 0.05, 6)
    if choices:
        return [choices[0]] if isinstance(default, list) else choices[0]
    return default


def read_back(section: Section, text: str, path: Path) -> Any:
    path.write_text(text)
    config = load_pipeline(path)
    table = section.table
    if table == "[recipes.<name>]":
        return config.recipes[0]
    if section.cls.__name__ == "BenchTargets":
        return type("T", (), {"targets": config.targets})
    if table == "[gate]":
        return type("G", (), {"budgets": config.budgets})
    return getattr(config, table.strip("[]"))


@pytest.mark.parametrize("item", KEYS, ids=_id)
def test_every_declared_key_is_read_from_its_table(item, tmp_path) -> None:
    section, f, s = item
    hint = typing.get_type_hints(section.cls)[f.name]
    value = sample(f, s, hint)
    if value is None:
        pytest.fail(f"{_id(item)} needs an example= (its default is None)")
    name = section.table.strip("[]").split(".")[0]
    doc = json.loads(json.dumps({**PIPELINE_DOC, **(SWEEP if name == "sweep" else RECIPES)}))
    table = doc["recipes"]["gradual"] if name == "recipes" else doc.setdefault(name, {})
    table[f.name] = value
    if f.name == "max_accuracy_drop":
        del table["min_accuracy"]  # exactly one floor
    if f.name == "pruner":
        table["search"] = "optuna"  # a pruner stops Optuna trials
    got = getattr(read_back(section, toml_text(doc), tmp_path / "p.toml"), f.name)
    if s.relative:
        assert Path(got) == tmp_path / value
    elif s.from_toml is None and f.name != "vary":
        assert plain(got) == (value if isinstance(value, list) or not isinstance(hint, type)
                              or typing.get_origin(hint) is not tuple else [value])


@pytest.mark.parametrize("table", ["data", "model", "train", "baseline", "bench", "gate"])
def test_the_loader_knows_exactly_the_declared_keys(table) -> None:
    with pytest.raises(ConfigError) as err:
        parse_pipeline(toml_text({**PIPELINE_DOC, table: {"zzzz": 1}}))
    known = re.search(r"known keys: (.*)$", str(err.value)).group(1).split(", ")
    declared_here = [f.name for sec in SECTIONS if sec.table == f"[{table}]"
                     for f, _ in declared(sec.cls)]
    assert sorted(known) == sorted(declared_here)


def test_the_sweep_and_recipe_tables_know_exactly_the_declared_keys() -> None:
    with pytest.raises(ConfigError) as err:
        parse_pipeline(toml_text({**SWEEP, "sweep": {**SWEEP["sweep"], "zzzz": 1}}))
    known = re.search(r"known keys: (.*)$", str(err.value)).group(1).split(", ")
    assert sorted(known) == sorted(f.name for f, _ in declared(SweepConfig))
    with pytest.raises(ConfigError) as err:
        parse_pipeline(toml_text({"schema_version": 1,
                                  "recipes": {"g": {"recipe": "gradual", "zzzz": 1}}}))
    recipe_keys = [f.name for sec in SECTIONS if sec.table == "[recipes.<name>]"
                   for f, _ in declared(sec.cls)]
    assert set(recipe_keys) <= set(re.search(r"known keys: (.*)$", str(err.value)).group(1)
                                   .split(", "))


def test_the_shipped_sweep_agrees_with_the_declared_qat_rate() -> None:
    sweep = load_pipeline(default_sweep_path()).sweep
    declared_rate = default_of(next(f for f in dataclasses.fields(SweepConfig)
                                    if f.name == "qat_learning_rate"))
    assert sweep.qat_learning_rate == declared_rate == 1e-4


def test_an_unknown_key_names_the_nearest_one() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'runz' in \[bench\].*did you mean 'runs'"):
        parse_pipeline(toml_text({**PIPELINE_DOC, "bench": {"runz": 3}}))
    with pytest.raises(ConfigError, match=r"unknown key 'worker' in \[sweep\].*'workers'"):
        parse_pipeline(toml_text({**SWEEP, "sweep": {**SWEEP["sweep"], "worker": 3}}))


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize("section", [s for s in SECTIONS if s.api], ids=lambda s: s.table)
def test_the_api_takes_every_flag_as_a_keyword(section) -> None:
    fields = {f.name: f for f in dataclasses.fields(section.cls)}
    assert set(fields) <= set(inspect.signature(section.cls).parameters)
    for fn in section.api:
        params = inspect.signature(fn).parameters
        if section.via is not None:
            assert section.via in params and section.cls.__name__ in str(
                params[section.via].annotation), (fn.__name__, section.via)
            continue
        for f, s in declared(section.cls):
            if s.flag is None:
                continue
            assert f.name in params, f"{fn.__name__} takes no {f.name}="
            assert params[f.name].default in (inspect.Parameter.empty, None, default_of(f))


# --------------------------------------------------------------------------- describe()


def test_describe_lists_every_key_and_every_flag() -> None:
    entries = describe()
    flags = {(e.flag, c) for e in entries if e.flag for c in e.commands}
    names = {(e.name, c) for e in entries if e.flag for c in e.commands}
    for command, parser in subparsers().items():
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert (action.option_strings[0], command) in flags or (
                    action.dest, command) in names, (command, action.option_strings)
    for section in SECTIONS:
        for f, _ in declared(section.cls):
            assert any(e.name == f.name and e.table == section.table for e in entries)
    budget_keys = {e.name for e in entries if e.files == ("budgets.toml",)}
    assert {*METRICS, *REGRESSION_METRICS, COMPAT_KEY, "baseline"} <= budget_keys
    for e in entries:
        if not e.table.startswith("[recipes.<name>] recipe"):  # recipes' own: undocumented
            assert e.help, e
    (runs,) = [e for e in entries if e.name == "runs" and e.table == "[bench]"]
    assert (runs.type, runs.default, runs.flag, runs.commands, runs.files) == (
        "int", 100, "--runs", ("bench", "run"), PIPELINE_FILES)
    assert "BenchSettings(runs=)" in runs.api and "bench_models(settings=)" in runs.api
    (timeout,) = [e for e in entries if e.name == "timeout_s" and e.table == "[bench]"]
    assert timeout.unit == "s" and timeout.type == "float"
    (workers,) = [e for e in entries if e.name == "workers"]
    assert workers.files == ("sweep.toml",) and workers.api == ("sweep(workers=)",)


def test_every_budgets_key_describe_lists_is_accepted(tmp_path) -> None:
    path = tmp_path / "budgets.toml"
    for e in describe():
        if e.files != ("budgets.toml",):
            continue
        if e.table == "top level":
            value = e.default
            path.write_text(f'{e.name} = {toml_value(value)}\n[budgets."*"]\nmax_zip_bytes = 1\n')
        else:
            value = "10%" if e.type == "str" else True if e.name == COMPAT_KEY else 1
            path.write_text(f'[budgets."*"]\n{e.name} = {toml_value(value)}\n')
        load_budgets(path)  # no "unknown budget" (nor any other complaint)


# --------------------------------------------------------------------------- one line


def test_an_unknown_flag_or_command_is_one_line_naming_the_nearest(cli) -> None:
    # (a prefix such as --repeat is argparse's abbreviation of --repeats, not unknown)
    cli("bench", "m.tflite", "--warmpu", "3").error_line(
        "unknown option '--warmpu'", "did you mean '--warmup'?", "edgebench bench --help")
    cli("gate", "--budgtes", "b.toml").error_line("unknown option '--budgtes'", "'--budgets'")
    cli("bnech", "m.tflite").error_line("unknown command 'bnech'", "did you mean 'bench'?")
    cli("bench", "m.tflite", "--runs", "0").error_line("argument --runs", "expected a whole")


def test_help_says_where_each_default_comes_from(capsys) -> None:
    for command in ("bench", "run", "sweep", "build", "gate"):
        with pytest.raises(SystemExit):
            make_parser().parse_args([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        expect = {"bench": "(default: the config's [bench] runs, else 100)",
                  "run": "(default: the config's [bench] repeats, else 5)",
                  "sweep": "(default: the config's [sweep] workers, else 2)",
                  "build": "(default: the config's [train] epochs, else 4)",
                  "gate": "(default: the config's [gate] budgets)"}[command]
        assert expect in out, (command, out)
    assert [c.name for c in COMMANDS] == list(subparsers())
