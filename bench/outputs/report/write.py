"""The report's entry points: pick the run, gather what to show, write the HTML page and the
Markdown summary beside it."""

from __future__ import annotations

from pathlib import Path

from edgebench.bench.judgement.compare_settings import CompareSettings
from edgebench.bench.judgement.history import open_history
from edgebench.bench.judgement.run_refs import load_results_paths, resolve_ref
from edgebench.bench.outputs.report.gather import ReportData, gather
from edgebench.bench.outputs.report.html import render_html
from edgebench.bench.outputs.report.markdown import render_markdown
from edgebench.errors import EdgebenchError
from edgebench.files import write_text_atomic


class ReportError(EdgebenchError):
    """Nothing to report on, or a report that cannot be written."""


def write_report(data: ReportData, html_path: Path, md_path: Path | None = None) -> Path:
    """Write the HTML (and the Markdown beside it, ``.md``) atomically; return the .md path."""
    if not data.sections:
        raise ReportError("nothing to report: no results; run edgebench bench first")
    html_path = Path(html_path)
    md_path = Path(md_path) if md_path else html_path.with_suffix(".md")
    if md_path.resolve() == html_path.resolve():
        raise ReportError(
            f"--out {html_path} would be overwritten by the Markdown summary; give the HTML "
            "file (e.g. out/report.html) to --out and the Markdown path to --markdown"
        )
    write_text_atomic(html_path, render_html(data))
    write_text_atomic(md_path, render_markdown(data))
    for p in (html_path, md_path):
        p.chmod(0o644)  # a page to share, unlike the private temp file it was written as
    return md_path


def make_report(
    history_path: Path,
    run: str | None,
    target: str | None,
    last_n: int,
    settings: CompareSettings,
    html_path: Path,
    md_path: Path | None = None,
) -> tuple[ReportData, Path]:
    """What ``edgebench report`` does: pick the run, gather history, write both files."""
    is_path = run is not None and Path(run).exists()
    if run is not None and is_path and not Path(history_path).exists():
        current = load_results_paths(Path(run))
        data = gather(current, None, last_n, settings)
        return data, write_report(data, html_path, md_path)
    with open_history(history_path, create=False) as history:
        if not is_path and not history.benches(target):
            raise ReportError(
                f"the history {history_path} holds no runs"
                + (f" of {target}" if target else "")
                + "; run edgebench bench first, or name a results file or run folder"
            )
        current = resolve_ref(history, run or "latest", target)
        data = gather(current, history, last_n, settings)
    return data, write_report(data, html_path, md_path)
