"""report: one self-contained HTML file and a Markdown summary, from the history or a folder."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from history_helpers import make_record, make_results, write_history

from edgebench.bench.judgement.compare import Regression, compare_runs
from edgebench.bench.judgement.compare_settings import CompareSettings, Verdict
from edgebench.bench.judgement.history import append_results, open_history
from edgebench.bench.outputs.report import gather
from edgebench.bench.outputs.report.plots import (
    REGRESSION_RED,
    TREND_PANELS,
    plot_trends,
    size_quality,
    variant_colors,
)
from edgebench.cli import main


def plot_sources(html: str) -> list[str]:
    return re.findall(r'<img class="plot" src="([^"]+)"', html)


def decode_png(src: str):
    import matplotlib.image

    assert src.startswith("data:image/png;base64,")
    return matplotlib.image.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), "png")


def test_the_size_plots_front_keeps_exact_ties_and_drops_beaten_variants():
    sized = [  # variant, zip bytes, accuracy
        ("a", 10, 0.80),
        ("b", 20, 0.90),
        ("c", 15, 0.70),  # beaten by a
        ("d", 30, 0.89),  # beaten by b
        ("e", 40, 0.95),
        ("f", 20, 0.85),  # as small as b, less accurate
        ("g", 20, 0.90),  # b's exact tie: neither beats the other
        ("h", 25, 0.90),  # as accurate as b, bigger
    ]
    res = make_results("run01", [make_record(v, 100.0, z, acc) for v, z, acc in sized])
    sq = size_quality(res)
    assert sq.by_accuracy and len(sq.points) == len(sized)
    assert [p.variant for p in sq.front] == ["a", "b", "g", "e"]


def test_without_accuracy_the_front_is_of_the_fastest():
    recs = [  # variant, p50 µs, zip bytes; same seed, same samples: fast and twin tie exactly
        make_record("slow", 200.0, 10, None, seed=1),
        make_record("fast", 50.0, 20, None, seed=2),
        make_record("twin", 50.0, 20, None, seed=2),
        make_record("slower", 300.0, 30, None, seed=3),  # bigger and slower than fast
    ]
    sq = size_quality(make_results("run01", recs))
    assert not sq.by_accuracy
    assert [p.variant for p in sq.front] == ["slow", "fast", "twin"]
    assert sq.front[0].value == pytest.approx(200.0, rel=0.05)


def nightly(run_id: str, median_us: float, seed: int, **kw):
    return make_results(run_id, [make_record("m", median_us, seed=seed, **kw)])


@pytest.fixture(scope="module")
def three_nights(tmp_path_factory):
    """run02 is 1.15x slower: significant, yet within the default 20% floor, so compare says same;
    run03 is 3x slower, one byte bigger, less accurate and uses 20% more memory."""
    hist = tmp_path_factory.mktemp("trend") / "history.sqlite"
    runs = [
        nightly("run01", 100.0, seed=1),
        nightly("run02", 115.0, seed=2),
        nightly("run03", 450.0, seed=3, zip_bytes=10_001, accuracy=0.89, peak_mb=60.0),
    ]
    for res in runs:
        append_results(hist, [res])
    return hist, runs


def test_trend_marks_are_compares_verdicts(three_nights):
    hist, runs = three_nights
    moved = compare_runs(runs[0], runs[1]).change("m").latency
    assert moved.p_value < 0.01 and moved.ratio > 1.1 and moved.verdict is Verdict.SAME
    with open_history(hist, create=False) as history:
        (section,) = gather([runs[-1]], history).sections
        (strict,) = gather([runs[-1]], history, settings=CompareSettings(min_effect=0.1)).sections
    worse = ("latency", "zip", "accuracy", "memory")
    assert section.comparison.change("m").regressed_metrics == worse
    assert sorted(section.trend_regressions) == sorted(("run03", "m", m) for m in worse)
    # a lower floor turns run02's move into a slowdown: the marks follow compare's settings too
    assert set(strict.trend_regressions) - set(section.trend_regressions) == {
        ("run02", "m", "latency")
    }


def test_every_regression_of_a_drawn_point_has_a_trend_panel():
    assert {panel[-1] for panel in TREND_PANELS} == set(Regression) - {Regression.FAILED}


def red_pixels(src: str) -> int:
    rgb = decode_png(src)[..., :3]
    red = np.array([int(REGRESSION_RED[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    return int((np.abs(rgb - red).max(axis=-1) < 0.08).sum())


def test_the_trend_plot_rings_the_marked_points(three_nights):
    hist, runs = three_nights
    with open_history(hist, create=False) as history:
        (section,) = gather([runs[-1]], history).sections
    colors = variant_colors([section])
    slower = (("run03", "m", Regression.LATENCY),)
    none, latency, every = (
        red_pixels(plot_trends(replace(section, trend_regressions=marks), colors))
        for marks in ((), slower, section.trend_regressions)
    )
    assert none > 0  # the legend's ring
    # latency rings its p50 and p90 points; all four regressions ring five panels
    assert 2 < (every - none) / (latency - none) < 3, (none, latency, every)


@pytest.fixture(scope="module")
def history_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    hist = folder / "history.sqlite"
    write_history(hist)
    out = folder / "site" / "report.html"
    assert main(["report", "--history", str(hist), "--out", str(out), "--last", "10"]) == 0
    return out


def test_the_html_is_self_contained(history_report):
    html = history_report.read_text()
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r'(src|href)="(?!data:)', html), "only data: URIs may be referenced"
    assert not re.search(r"https?://", html)
    assert 'rel="stylesheet"' not in html
    # two targets: size/quality, latency and trends for each
    srcs = plot_sources(html)
    assert len(srcs) == 6
    for src in srcs:
        img = decode_png(src)
        assert img.shape[0] > 200 and img.shape[1] > 300
        assert img[..., :3].std() > 0.05, "a plot must not be blank"


def test_the_report_names_the_regression(history_report):
    html = history_report.read_text()
    assert "regressed since the previous run" in html
    assert html.count('class="regressed"') == 2  # pruned50/int8 on both targets
    assert "raspberrypi" in html and "Trends over the last 5 runs" in html
    md = history_report.with_suffix(".md").read_text()
    assert "**2 regressed**" in md and "`pruned50/int8` on local" in md
    assert "| **pruned50/int8** ⚠ |" in md
    assert md.count("| baseline/float32 |") == 2
    assert "slower" in md and "within ±" in md  # `same` says how close it is


def test_a_run_folder_reports_without_history(tmp_path, capsys):
    folder = tmp_path / "run01"
    folder.mkdir()
    make_results("run01").save(folder / "results-local.json")
    out = tmp_path / "r.html"
    argv = ["report", str(folder), "--out", str(out), "--history", str(tmp_path / "none.sqlite")]
    assert main(argv) == 0
    html = out.read_text()
    assert len(plot_sources(html)) == 2  # no trends without history
    assert "nothing to compare with yet" in html
    assert not (tmp_path / "none.sqlite").exists()


def test_an_empty_history_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    hist = tmp_path / "history.sqlite"
    open_history(hist).close()
    out = tmp_path / "r.html"
    assert main(["report", "--history", str(hist), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds no runs" in err and "edgebench bench" in err
    assert not out.exists() and not out.with_suffix(".md").exists()
    assert main(["report", "--history", str(tmp_path / "missing.sqlite"), "--out", str(out)]) == 2
    assert "no history" in capsys.readouterr().err


def test_report_help(cli):
    out = cli("report", "--help").out
    for flag in ("--out", "--markdown", "--last", "--history", "--min-effect", "--target"):
        assert flag in out


def test_history_compare_and_report_never_import_tensorflow(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path;"
        "import edgebench.bench.judgement.history, edgebench.bench.judgement.compare;"
        "import edgebench.bench.outputs.report;"
        "import edgebench.bench.orchestration.progress;"
        "from history_helpers import write_history;"
        f"p = Path({str(tmp_path)!r}) / 'h.sqlite'; write_history(p, n_runs=2);"
        "from edgebench.cli import main;"
        "assert main(['report', '--history', str(p), '--out', str(p.with_suffix('.html'))]) == 0;"
        "assert main(['compare', '--history', str(p)]) == 0;"
        "bad = [m for m in ('tensorflow', 'tf_keras') if m in sys.modules]; print(bad);"
        "sys.exit(1 if bad else 0)"
    )
    # history_helpers, before the checkout (or installed package) this suite runs against
    path = [str(Path(__file__).parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def sustained_run(run_id: str):
    """A run whose record slowed down by 30% as the device heated and throttled, with the
    model's memory, the energy and the weight cache."""
    from edgebench.records import Energy, RssMb, Sustained, SustainedWindow, WeightCache

    windows = tuple(SustainedWindow(float(t), 1000 - 50 * t, 100.0 + 10 * t, 50.0 + 5 * t,
                                    1800.0 - 100 * t, ("throttled",) if t > 2 else ())
                    for t in range(4))
    rec = replace(make_record("m", 100.0, seed=1),
                  rss_mb=RssMb(40.0, 50.0, 52.0, None, 51.5, 11.5, 4.0, 4.1, 30.0, 25.0),
                  sustained=Sustained(4.0, 1.0, windows, 1.3, ("throttled",)),
                  energy=Energy("rapl", "counter", 0.002, 5.5, 3.5, 11.0, 4.0, 2.0, 2.0, 2000, 4),
                  weight_cache=WeightCache("CompiledModel", 15.1, 11.2, 3.9, 4.0, 4.0, 9.3, 7.0,
                                           2.7))
    return make_results(run_id, [rec])


def test_the_sustained_plot_draws_the_windows_and_the_device_state():
    from edgebench.bench.outputs.report.plots import plot_sustained

    (section,) = gather([sustained_run("run01")], None).sections
    colors = variant_colors([section])
    with_state = decode_png(plot_sustained(section, colors))
    bare = replace(section, results=make_results("run01", [make_record("m", 100.0)]))
    assert plot_sustained(bare, colors) is None  # no sustained run, no plot
    assert with_state.shape[0] > 500  # the latency panel and the temperature/clock panel
    assert red_pixels(plot_sustained(section, colors)) > 0  # the throttled window is ringed


def test_the_report_shows_the_models_memory_and_the_continuous_run(tmp_path):
    folder = tmp_path / "run"
    sustained_run("run01").save(folder / "results-local.json")
    out = tmp_path / "report.html"
    assert main(["report", str(folder), "--out", str(out)]) == 0
    page = out.read_text()
    for words in ("Memory of the model", "packed copy of the weights",
                  "Sustained speed and energy per inference", "XNNPACK&#x27;s weight cache",
                  'alt="local sustained speed"', "<td class=\"num\">11.5</td>"):
        assert words in page, words
    md = out.with_suffix(".md").read_text()
    assert "Sustained speed and energy per inference" in md and "| 1.300 |" in md
