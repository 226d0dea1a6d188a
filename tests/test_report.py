"""report: one self-contained HTML file and a Markdown summary, from the history or a folder."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest

from edgebench.bench.history import open_history
from edgebench.bench.report.plots import pareto_front
from edgebench.cli import main
from tests.history_helpers import make_results, write_history


def plot_sources(html: str) -> list[str]:
    return re.findall(r'<img class="plot" src="([^"]+)"', html)


def decode_png(src: str):
    import matplotlib.image

    assert src.startswith("data:image/png;base64,")
    return matplotlib.image.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), "png")


def test_pareto_front_keeps_only_undominated_points():
    pts = [(10, 0.80), (20, 0.90), (15, 0.70), (30, 0.89), (40, 0.95), (20, 0.85)]
    assert pareto_front(pts) == [(10, 0.80), (20, 0.90), (40, 0.95)]


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
    assert "slower" in md and "same" in md


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


def test_report_help(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    for flag in ("--out", "--markdown", "--last", "--history", "--min-effect", "--target"):
        assert flag in out


def test_history_compare_and_report_never_import_tensorflow(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path;"
        "import edgebench.bench.history, edgebench.bench.compare, edgebench.bench.report;"
        "import edgebench.bench.progress;"
        "from tests.history_helpers import write_history;"
        f"p = Path({str(tmp_path)!r}) / 'h.sqlite'; write_history(p, n_runs=2);"
        "from edgebench.cli import main;"
        "assert main(['report', '--history', str(p), '--out', str(p.with_suffix('.html'))]) == 0;"
        "assert main(['compare', '--history', str(p)]) == 0;"
        "bad = [m for m in ('tensorflow', 'tf_keras') if m in sys.modules]; print(bad);"
        "sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).parent.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
