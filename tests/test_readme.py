"""The README is one page: at most 250 lines, the quick start's two commands, and links that
lead somewhere (the rest lives in the documentation site, docs/)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_readme_fits_on_a_page():
    assert len(README.splitlines()) <= 250


def test_the_quick_start_is_the_two_commands():
    quick = README.split("## Quick start\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, flags=re.S).group(1)
    assert [line.split("#")[0].strip() for line in block.splitlines()] == ["tox -e run", "tox"]


def test_every_link_of_the_readme_leads_to_a_file():
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
    assert links
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing
