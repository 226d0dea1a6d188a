"""The report in a real browser: headless Debian Chromium loads it from disk, with no network.

The page marks itself ``data-ready="yes"`` once every plot decoded with a real size and records
script errors in ``data-errors``; Chromium's console (CSP violations, failed loads, uncaught
errors) goes to stderr. The screenshot must show a page, not a blank canvas.
"""

from __future__ import annotations

import io
import re
import subprocess

import pytest
from history_helpers import write_history
from system_tools import need

from edgebench.cli import main

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium() -> str:
    return need("chromium")


def run_chromium(args: list[str], profile) -> subprocess.CompletedProcess:
    argv = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    write_history(folder / "history.sqlite")
    out = folder / "report.html"
    assert main(["report", "--history", str(folder / "history.sqlite"), "--out", str(out)]) == 0
    return out


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_chromium_loads_the_report_with_every_plot_and_no_errors(report, tmp_path):
    res = run_chromium(
        ["--virtual-time-budget=15000", "--dump-dom", report.resolve().as_uri()], tmp_path / "p"
    )
    assert res.returncode == 0, res.stderr[-2000:]
    body = re.search(r"<body[^>]*>", res.stdout)
    assert body, res.stdout[:500]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(0)))
    n_imgs = len(re.findall(r'<img class="plot"', report.read_text()))
    assert n_imgs == 6
    assert attrs.get("data-plots-total") == str(n_imgs)
    assert attrs.get("data-plots-loaded") == str(n_imgs)
    assert attrs.get("data-ready") == "yes"
    root = re.search(r"<html[^>]*>", res.stdout).group(0)
    assert "data-errors" not in root, root
    assert console_lines(res.stderr) == [], console_lines(res.stderr)


def test_the_screenshot_shows_a_page_not_a_blank(report, tmp_path):
    import matplotlib.image

    shot = tmp_path / "shot.png"
    res = run_chromium(
        [f"--screenshot={shot}", "--window-size=1200,2000", report.resolve().as_uri()],
        tmp_path / "p",
    )
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    img = matplotlib.image.imread(io.BytesIO(shot.read_bytes()), "png")[..., :3]
    assert img.shape[:2] == (2000, 1200)
    assert img.std() > 0.05
    # the top of the page (title, banner, table) and the plots below it both have content
    top, middle = img[:400], img[600:1400]
    assert top.std() > 0.02 and middle.std() > 0.05
    assert console_lines(res.stderr) == []
