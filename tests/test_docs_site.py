"""The documentation site: it builds strictly, and every subcommand, every flag of every
subcommand's --help and every key of models/pipeline.toml appears in it (the reference pages
are generated from the code, so a new flag or key appears without a hand edit)."""

from __future__ import annotations

import argparse
import html
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from edgebench import reference
from edgebench.cli import COMMANDS, make_parser

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason="tox -e docs and the test env install the docs extra")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict[str, str]:
    """The site built as `tox -e docs` builds it: page path -> its text (tags stripped)."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1",
             "DISABLE_MKDOCS_2_WARNING": "true"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    pages = {}
    for page in out.rglob("index.html"):
        text = html.unescape(re.sub(r"<[^>]+>", " ", page.read_text()))
        pages[str(page.parent.relative_to(out))] = re.sub(r"\s+", " ", text)
    return pages


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    return reference._subparsers(make_parser())


def test_every_subcommand_and_every_flag_of_its_help_is_in_the_site(site):
    cli = site["reference/cli"]
    for command in COMMANDS:
        assert f"edgebench {command.name}" in cli
        parser = _subparsers()[command.name]
        flags = re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", parser.format_help())
        missing = sorted({f for f in flags if f not in cli})
        assert not missing, f"edgebench {command.name}: {missing} not in the built reference"


def _keys(table: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in table.items():
        out.append(key)
        if isinstance(value, dict):
            out += _keys(value, f"{prefix}{key}.")
    return out


def test_every_key_of_the_shipped_pipeline_is_in_the_site(site):
    config = site["reference/config"]
    pipeline = tomllib.loads((ROOT / "models" / "pipeline.toml").read_text())
    tables = {"data", "model", "train", "baseline", "recipes", "bench", "gate"}
    keys = [k for k in _keys(pipeline) if k not in tables and k not in pipeline["recipes"]]
    missing = sorted({k for k in keys if not re.search(rf"\b{re.escape(k)}\b", config)})
    assert not missing, f"keys of models/pipeline.toml not in the config reference: {missing}"
    for table in tables:
        assert f"[{table}" in config


def test_the_formats_page_holds_the_results_fields_and_the_history_schema(site):
    formats = site["reference/formats"]
    for field in ("schema_version", "p90_us", "peak_rss_mb", "zip_bytes", "CREATE TABLE runs"):
        assert field in formats


def test_a_flag_without_help_stops_the_reference(monkeypatch):
    original = reference.make_parser

    def parser_with_a_bare_flag() -> argparse.ArgumentParser:
        parser = original()
        reference._subparsers(parser)["gate"].add_argument("--undocumented-thing")
        return parser

    monkeypatch.setattr(reference, "make_parser", parser_with_a_bare_flag)
    with pytest.raises(reference.Undocumented, match="edgebench gate: --undocumented-thing"):
        reference.cli_page()


def test_the_site_config_names_the_generated_pages_and_builds_strictly():
    text = (ROOT / "mkdocs.yml").read_text()
    assert "strict: true" in text and "anchors: warn" in text
    for path in reference.PAGES:
        assert path in text
