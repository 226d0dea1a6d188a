"""Real benches through the history: every run lands, compare and gate --against give their
verdicts, the report renders.

These bench the committed tiny models for real, so they assert only what the machine cannot
change: sizes, accuracies, record counts, that a latency verdict was given, and the regression
rules that do not depend on timing (a bigger file under the same name grows its zip bytes).
Which latency verdict is right is tested in test_compare.py on recorded and synthetic samples,
where the answer is known: two benches of the same files on a busy VM have given p50 ratios
from 0.47x to 1.95x.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from xml.etree import ElementTree as ET

import pytest
from history_helpers import FIXTURES, TINY

from edgebench.cli import main

BUDGETS = """
schema_version = 1
[budgets."*"]
max_zip_bytes = 200000
max_latency_regression = "100%"
max_zip_growth_bytes = 0
max_peak_rss_growth = "50%"
"""


VERDICTS = {"faster", "slower", "inconclusive"}


def is_verdict(text: str) -> bool:
    """A latency verdict as compare's table words it: `same` says how close, `within ±25%`."""
    return text in VERDICTS or re.fullmatch(r"within ±\d+%", text) is not None


def cells_of(line: str) -> list[str]:
    """A row of compare's table, cell by cell (cells are two or more spaces apart)."""
    return re.split(r"\s{2,}", line.strip())


def verdicts(out: str) -> dict[str, str]:
    """variant -> latency verdict, from compare's table."""
    found = {}
    for line in out.splitlines():
        cells = cells_of(line)
        if cells and cells[0].startswith("tiny_"):
            found[cells[0].split("@")[0]] = cells[-3]  # the key: variant@threads=…
    return found


@pytest.fixture(scope="module")
def benched(tmp_path_factory):
    """Two ordinary runs of the same models, then one with tiny_int8 swapped for the float32
    model, ~8x its zipped size."""
    root = tmp_path_factory.mktemp("real")
    out, hist = root / "out", root / "out" / "history.sqlite"
    # Three processes per model: compare then uses the median of the per-process medians, so
    # one process that runs in a slow state for its whole life cannot flip a verdict.
    common = ["--out", str(out), "--runs", "150", "--warmup", "20", "--repeats", "3"]
    for run in ("night1", "night2"):
        assert main(["bench", *map(str, TINY), "--run", run, *common]) == 0
    swapped = root / "swapped"
    swapped.mkdir()
    for src in TINY[:2]:
        shutil.copy(src, swapped / src.name)
    shutil.copy(FIXTURES / "tiny_float32.tflite", swapped / "tiny_int8.tflite")
    files = [swapped / p.name for p in TINY]
    assert main(["bench", *map(str, files), "--run", "night3", *common]) == 0
    (root / "budgets.toml").write_text(BUDGETS)
    return root, out, hist


def test_every_run_lands_in_the_history(benched, capsys):
    _root, out, hist = benched
    assert hist.is_file()
    conn = sqlite3.connect(hist)
    assert conn.execute("SELECT run_id FROM runs ORDER BY id").fetchall() == [
        ("night1",),
        ("night2",),
        ("night3",),
    ]
    assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 9
    n = conn.execute("SELECT min(json_array_length(samples_us)) FROM records").fetchone()[0]
    assert n == 3 * 150  # three processes' samples, pooled
    conn.close()
    assert main(["history", "--out", str(out), "--variant", "tiny_int8"]) == 0
    listing = capsys.readouterr().out
    assert all(run in listing for run in ("night1", "night2", "night3"))


def test_two_runs_of_the_same_models_compare_with_no_change_in_size(benched, capsys):
    _root, out, _hist = benched
    assert main(["compare", "--out", str(out), "night1", "night2"]) == 0
    text = capsys.readouterr().out
    v = verdicts(text)
    assert set(v) == {"tiny_float32", "tiny_dynamic", "tiny_int8"}
    assert all(map(is_verdict, v.values())), v
    for line in text.splitlines():
        if line.startswith("tiny_"):
            assert line.split()[2] == "+0", text  # same files: the zip bytes cannot move


def test_a_bigger_model_under_the_same_name_is_a_regression(benched, capsys):
    _root, out, _hist = benched
    assert main(["compare", "--out", str(out)]) == 0  # default: latest against the one before
    text = capsys.readouterr().out
    assert "base     night2" in text and "current  night3" in text
    v = verdicts(text)
    assert all(map(is_verdict, v.values())), text
    heavy = next(line for line in text.splitlines() if line.startswith("tiny_int8"))
    assert int(heavy.split()[2].replace(",", "")) > 0  # its zip bytes grew
    assert "tiny_int8" in text.split("variants regressed:")[-1], text


def test_gate_against_the_previous_run_fails_on_the_bigger_variant(benched, capsys):
    root, out, _hist = benched
    junit = root / "gate.xml"
    argv = ["gate", str(out / "night3"), "--budgets", str(root / "budgets.toml")]
    argv += ["--against", "night2", "--out", str(out), "--junit", str(junit)]
    assert main(argv) == 1
    text = capsys.readouterr().out
    failed = [line for line in text.splitlines() if line.startswith("FAIL")]
    assert any("tiny_int8" in f and "zip_bytes_growth_vs_base" in f for f in failed), text
    assert "gate: FAILED" in text
    suite = ET.parse(junit).getroot()
    failures = suite.get("failures") or suite.find("testsuite").get("failures")
    assert int(failures) == len(failed)
    # the same gate against itself passes: the rules only fire on a change
    argv[argv.index("night2")] = str(out / "night3")
    assert main(argv) == 0


@pytest.mark.slow
def test_the_small_build_benched_twice_lands_twice_compares_same_and_reports(
    small_manifest, tmp_path, capsys
):
    out = tmp_path / "out"
    for _ in range(2):
        argv = ["bench", str(small_manifest), "--out", str(out), "--runs", "150", "--repeats", "3"]
        assert main(argv + ["--eval-limit", "500"]) == 0
    capsys.readouterr()
    assert main(["history", "--out", str(out)]) == 0
    listing = capsys.readouterr().out
    assert listing.count(small_manifest.parent.name) == 2  # the same build, benched twice
    assert main(["compare", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if "/" in line.split(" ")[0]]
    assert len(rows) >= 4, text  # every variant of the small build
    for line in rows:
        cells = line.split()
        assert cells[2] == "+0" and cells[4] == "+0.0000", text  # exact: same files, same data
        assert is_verdict(cells_of(line)[-3]), text
    report = tmp_path / "report.html"
    assert main(["report", "--out", str(report), "--history", str(out / "history.sqlite")]) == 0
    html = report.read_text()
    assert "size vs top-1 accuracy" not in html  # titles live inside the PNGs, not the HTML
    assert html.count('<img class="plot"') == 3
