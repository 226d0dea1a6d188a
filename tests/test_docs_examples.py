"""Every shell example of Getting started and the guides, run as written, in the site's order,
in one empty folder, with `edgebench` on PATH and $EDGEBENCH_CONFIG naming the small test
pipeline gated by the shipped regression rules (as a user's CI names theirs). A block that
needs what this machine cannot have (a Raspberry Pi, a phone, hours of CPU, your own model)
opens with `# needs: …`: it is listed with that reason, never silently left out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from shell_examples import ROOT, sh, shell_env, small_pipeline_with_shipped_rules

# Slow (not in the fast tier): the examples build and bench the small pipeline four times.
pytestmark = pytest.mark.slow

DOCS = ROOT / "docs"
SECTIONS = ("Getting started", "Guides")


def example_pages() -> list[Path]:
    """The pages of Getting started and the guides, in the order of the site's nav."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    pages = []
    for entry in nav:
        for title, items in entry.items():
            if title in SECTIONS:
                pages += [DOCS / path for item in items for path in item.values()]
    return pages


def shell_blocks(page: Path) -> list[list[str]]:
    """The ```sh blocks of a page, each as its command lines: continuations joined, comments
    dropped; a block needing what this machine cannot have keeps its `# needs:` line first."""
    blocks = []
    for block in re.findall(r"```sh\n(.*?)```", page.read_text(), flags=re.S):
        text = block.replace("\\\n", " ")
        lines = [ln.split("  #")[0].strip() for ln in text.splitlines()]
        needs = [ln for ln in lines if ln.startswith("# needs:")]
        blocks.append(needs[:1] + [ln for ln in lines if ln and not ln.startswith("#")])
    return blocks


def test_every_page_of_getting_started_and_the_guides_is_found():
    pages = example_pages()
    assert DOCS / "getting-started" / "this-machine.md" == pages[0]
    assert len(pages) >= 10 and all(p.is_file() for p in pages)
    runnable = [b for p in pages for b in shell_blocks(p) if not b[0].startswith("# needs:")]
    assert len(runnable) >= 5


def test_every_shell_example_runs_green_in_order(tmp_path):
    env = shell_env(tmp_path, EDGEBENCH_CONFIG=str(small_pipeline_with_shipped_rules(tmp_path)))
    work = tmp_path / "work"
    work.mkdir()
    ran, needing = [], []
    for page in example_pages():
        for block in shell_blocks(page):
            if block[0].startswith("# needs:"):
                needing.append(f"{page.relative_to(DOCS)}: {block[0]}")
                continue
            for line in block:
                done = sh(line, work, env)
                assert done.returncode == 0, f"{page.name}: {line}\n{done.stdout}\n{done.stderr}"
                ran.append(line)
                if " gate " in f" {line} ":
                    assert "gate: PASSED" in done.stdout
                    regression = [ln for ln in done.stdout.splitlines() if "_vs_base" in ln]
                    assert len(regression) == 4 * 3  # the shipped regression rules, every variant
                if line.startswith("edgebench run"):  # quiet by default: no library chatter
                    for chatter in CHATTER:
                        assert chatter not in done.stderr + done.stdout, (line, chatter)
    print("\n".join(["not run here:", *needing]))
    assert "edgebench run --run rc-1.4" in ran and "edgebench compare --fail-on-regression" in ran
    assert (work / "out" / "gate.xml").is_file() and (work / "out" / "report.html").is_file()
    runs = json.loads(sh("edgebench history --format json", work, env).stdout)["runs"]
    assert [r["run_id"] for r in runs][:2] == ["rc-1.4", "release-1.3"]


#: What TensorFlow and the TFLite runtime print themselves, which only -v shows (issue 21).
CHATTER = (
    "absl::InitializeLog",
    "oneDNN custom operations",
    "Could not find cuda drivers",
    "cuInit",
    "Created TensorFlow Lite XNNPACK delegate",
    "compiled metrics have yet to be built",
    "fully_quantize:",
)
