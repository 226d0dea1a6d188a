"""The report: one self-contained HTML file a person opens from disk, and a Markdown summary.

The HTML has no external files and makes no requests: CSS is inline, plots are matplotlib PNGs
embedded as ``data:`` URIs, and a Content-Security-Policy forbids anything else. A small inline
script marks the page ``data-ready="yes"`` once every plot has decoded, which the browser test
reads. The Markdown is the same summary for a CI comment.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from edgebench.bench.compare import CompareSettings, Comparison, Verdict, compare_runs, effect_text
from edgebench.bench.history import History, describe_device
from edgebench.bench.summary import COLUMNS as SUMMARY_COLUMNS
from edgebench.bench.summary import summary_rows
from edgebench.errors import EdgebenchError
from edgebench.files import write_text_atomic
from edgebench.records import Results

DEFAULT_LAST_N = 20
PALETTE = (
    "#4269d0",
    "#efb118",
    "#ff725c",
    "#6cc5b0",
    "#3ca951",
    "#ff8ab7",
    "#a463f2",
    "#97bbf5",
    "#9c6b4e",
    "#9498a0",
)
REGRESSION_RED = "#d62728"


class ReportError(EdgebenchError):
    """Nothing to report on, or a report that cannot be written."""


@dataclass(frozen=True)
class TargetSection:
    """What the report shows about one target: its run, the comparison, its recent history."""

    results: Results
    comparison: Comparison | None = None
    series: tuple[Results, ...] = ()  # oldest first, ending with ``results``
    trend_regressions: tuple[tuple[str, str, str], ...] = ()  # (run_id, variant, metric)


@dataclass(frozen=True)
class ReportData:
    sections: tuple[TargetSection, ...]
    settings: CompareSettings
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def regressions(self) -> list[tuple[str, str]]:
        """(target, variant) of every variant that regressed against the previous run."""
        return [
            (s.results.target, c.variant)
            for s in self.sections
            if s.comparison
            for c in s.comparison.changes
            if c.regressed
        ]


# --------------------------------------------------------------------------- gathering


def gather(
    current: Sequence[Results],
    history: History | None,
    last_n: int = DEFAULT_LAST_N,
    settings: CompareSettings | None = None,
) -> ReportData:
    """For each target of the run: the previous run on that device and the last N runs."""
    settings = settings or CompareSettings()
    sections = []
    for res in current:
        comparison, series, marks = None, (), ()
        row = history.find(res) if history else None
        if row is not None:
            series = tuple(history.series(row, last_n))
            if len(series) >= 2:
                comparison = compare_runs(series[-2], series[-1], settings)
            marks = tuple(trend_regressions(series, settings))
        sections.append(TargetSection(res, comparison, series, marks))
    return ReportData(tuple(sections), settings)


def trend_regressions(series: Sequence[Results], settings: CompareSettings):
    """(run_id, variant, metric) wherever a run regressed against the run before it."""
    for prev, cur in zip(series, series[1:], strict=False):
        for c in compare_runs(prev, cur, settings).changes:
            if c.latency is not None and c.latency.verdict is Verdict.SLOWER:
                yield cur.run_id, c.variant, "p50"
                yield cur.run_id, c.variant, "p90"
            if (c.zip_delta_bytes or 0) > 0:
                yield cur.run_id, c.variant, "zip"
            if (c.accuracy_delta or 0) < 0:
                yield cur.run_id, c.variant, "accuracy"
            if c.memory_verdict is Verdict.LARGER:
                yield cur.run_id, c.variant, "peak"


# --------------------------------------------------------------------------- plots


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _colors(variants: Sequence[str]) -> dict[str, str]:
    return {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(variants)}


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats: smaller (x) and at least as good (higher y)."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or y > front[-1][1]:
            front.append((x, y))
    return front


MARKERS = {"float32": "o", "dynamic": "s", "float16": "D", "int8": "^", "keras": "P"}


def plot_size_quality(section: TargetSection, colors: dict[str, str]) -> tuple[str, str]:
    """Zip bytes against accuracy (higher is better), or against p50 latency when no labels."""
    recs = [r for r in section.results.records if r.ok and r.zip_bytes]
    with_acc = [r for r in recs if r.accuracy is not None]
    fig = _figure(6.4, 4.0 + 0.16 * ((len(recs) + 3) // 3))
    ax = fig.add_subplot()
    if with_acc:
        pts = [(r.zip_bytes, r.accuracy, r.variant) for r in with_acc]
        ylabel = "top-1 accuracy"
        caption = "Zip size against accuracy; the dashed line is the Pareto front"
        front = pareto_front([(x, y) for x, y, _ in pts])
    else:
        pts = [(r.zip_bytes, r.latency_us.p50, r.variant) for r in recs if r.latency_us]
        ylabel = "p50 latency (µs)"
        caption = (
            "Zip size against median latency (no accuracy: the run had no labelled "
            "data); the dashed line is the Pareto front"
        )
        neg = pareto_front([(x, -y) for x, y, _ in pts])
        front = [(x, -y) for x, y in neg]
    if front:
        xs, ys = zip(*front, strict=True)
        ax.step(xs, ys, where="post", color="#888", lw=1.3, ls="--", zorder=1, label="Pareto front")
    on_front = set(front)
    for x, y, v in pts:
        best = (x, y) in on_front
        ax.scatter(
            [x],
            [y],
            s=80 if best else 50,
            marker=MARKERS.get(v.rsplit("/", 1)[-1], "o"),
            color=colors[v],
            zorder=3,
            edgecolor="black" if best else "white",
            linewidth=1,
            label=v,
        )
        if best:
            ax.annotate(v, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=7.5)
    if pts and max(p[0] for p in pts) / min(p[0] for p in pts) > 5:
        ax.set_xscale("log")
    ax.set_xlabel("zip bytes" + (" (log scale)" if ax.get_xscale() == "log" else ""))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.xaxis.set_major_formatter(_thousands())
    ax.xaxis.set_minor_formatter(_thousands(minor=True))
    ax.tick_params(axis="x", which="both", labelsize=7.5)
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=7, frameon=False
    )
    ax.set_title(f"{section.results.target}: size vs {ylabel.split(' (')[0]}", fontsize=11)
    ax.margins(x=0.08, y=0.12)
    return _png(fig), caption


def _thousands(minor: bool = False):
    """1,000-separated tick labels; minor ticks only at 2x and 5x a power of ten."""
    import math

    from matplotlib.ticker import FuncFormatter

    def fmt(x: float, _pos: int) -> str:
        if minor and x > 0:
            lead = x / 10 ** math.floor(math.log10(x))
            if round(lead, 6) not in (2.0, 5.0):
                return ""
        return f"{x:,.0f}"

    return FuncFormatter(fmt)


def plot_latency(section: TargetSection, colors: dict[str, str]) -> str | None:
    """Violin plus box of the raw latency samples of each variant (log axis when they spread)."""
    import numpy as np

    recs = [r for r in section.results.records if r.ok and len(r.samples_us) >= 2]
    if not recs:
        return None
    raw = [np.asarray(r.samples_us, dtype=float) for r in recs]
    # Draw the body of each distribution: rare outliers beyond 0.5-99.5% would flatten it.
    cuts = [np.percentile(d, [0.5, 99.5]) for d in raw]
    data = [
        d[(d >= lo) & (d <= hi)] if d.size >= 20 else d
        for d, (lo, hi) in zip(raw, cuts, strict=True)
    ]
    fig = _figure(6.4, max(4.0, 0.42 * len(recs) + 1.5))
    ax = fig.add_subplot()
    pos = list(range(1, len(recs) + 1))
    parts = ax.violinplot(
        data, positions=pos, orientation="horizontal", showextrema=False, widths=0.85
    )
    for body, r in zip(parts["bodies"], recs, strict=True):
        body.set_facecolor(colors[r.variant])
        body.set_edgecolor(colors[r.variant])
        body.set_alpha(0.55)
    ax.boxplot(
        data,
        positions=pos,
        orientation="horizontal",
        widths=0.28,
        showfliers=False,
        medianprops={"color": "black", "linewidth": 1.5},
        whiskerprops={"color": "#555"},
        capprops={"color": "#555"},
        boxprops={"color": "#333"},
    )
    ax.set_yticks(pos, [r.variant for r in recs], fontsize=8)
    medians = [float(np.median(d)) for d in data]
    if min(medians) > 0 and max(medians) / min(medians) > 20:
        ax.set_xscale("log")
    ax.set_xlabel("latency per invoke() (µs)")
    ax.grid(axis="x", alpha=0.3)
    ax.invert_yaxis()
    ax.set_title(
        f"{section.results.target}: latency distribution ({recs[0].latency_us.n} runs per model)",
        fontsize=11,
    )
    return _png(fig)


TREND_PANELS = (
    ("zip", "zip bytes", lambda r: r.zip_bytes),
    ("accuracy", "accuracy", lambda r: r.accuracy),
    ("p50", "p50 latency (µs)", lambda r: r.latency_us.p50 if r.latency_us else None),
    ("p90", "p90 latency (µs)", lambda r: r.latency_us.p90 if r.latency_us else None),
    ("peak", "peak RSS (MB)", lambda r: r.rss_mb.peak if r.rss_mb else None),
)


def plot_trends(section: TargetSection, colors: dict[str, str]) -> str | None:
    """Each metric over the last N runs, one line per variant; regressions ringed in red."""
    series = section.series
    if len(series) < 2:
        return None
    variants = list(colors)
    marks = set(section.trend_regressions)
    fig = _figure(10, 7.2)
    axes = fig.subplots(3, 2).flatten()
    xs = list(range(len(series)))
    for ax, (key, label, read) in zip(axes, TREND_PANELS, strict=False):
        drawn = False
        for v in variants:
            pts = []
            for i, res in enumerate(series):
                rec = next((r for r in res.records if r.variant == v and r.ok), None)
                val = read(rec) if rec is not None else None
                if val is not None:
                    pts.append((i, val, (res.run_id, v, key) in marks))
            if not pts:
                continue
            drawn = True
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                marker="o",
                ms=3.5,
                lw=1.4,
                color=colors[v],
                label=v,
            )
            bad = [p for p in pts if p[2]]
            if bad:
                ax.scatter(
                    [p[0] for p in bad],
                    [p[1] for p in bad],
                    s=140,
                    facecolor="none",
                    edgecolor=REGRESSION_RED,
                    linewidth=2,
                    zorder=4,
                )
        ax.set_title(label, fontsize=10)
        if not drawn:
            ax.text(
                0.5,
                0.5,
                "not measured in these runs",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="#888",
                fontsize=9,
            )
            ax.set_yticks([])
        ax.grid(alpha=0.3)
        ax.set_xticks(xs, [_short_run(r) for r in series], rotation=45, ha="right", fontsize=7)
        if key == "zip":
            ax.yaxis.set_major_formatter(_thousands())
    legend_ax = axes[-1]
    legend_ax.axis("off")
    handles, labels = axes[2].get_legend_handles_labels()
    if not handles:
        handles, labels = axes[0].get_legend_handles_labels()
    from matplotlib.lines import Line2D

    handles = list(handles) + [
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            ms=11,
            markerfacecolor="none",
            markeredgecolor=REGRESSION_RED,
            markeredgewidth=2,
        )
    ]
    labels = list(labels) + ["regression vs the run before"]
    legend_ax.legend(handles, labels, loc="center", fontsize=8, frameon=False)
    fig.suptitle(
        f"{section.results.target}: last {len(series)} runs on "
        f"{describe_device(section.results.device)}",
        fontsize=11,
    )
    return _png(fig)


def _short_run(res: Results) -> str:
    """Run name and start time (a build benched twice shows up twice under one name)."""
    name = res.run_id if len(res.run_id) <= 16 else res.run_id[:15] + "…"
    when = res.created_at[5:16].replace("T", " ")
    return f"{name}\n{when}"


# --------------------------------------------------------------------------- tables


def table_rows(section: TargetSection) -> tuple[list[str], list[tuple[list[str], bool]]]:
    """The summary table, plus what changed since the previous run when there is one."""
    header = list(SUMMARY_COLUMNS[1:])
    rows = summary_rows([section.results])
    cmp = section.comparison
    if cmp is not None:
        header[-1:-1] = ["Δ zip", "Δ accuracy", "p50 ratio", "latency", "memory"]
    out = []
    for rec, row in zip(section.results.records, rows, strict=False):
        cells = list(row[1:])
        regressed = False
        if cmp is not None:
            ch = cmp.change(rec.variant)
            lat = ch.latency
            extra = [
                "—" if ch.zip_delta_bytes is None else f"{ch.zip_delta_bytes:+,}",
                "—" if ch.accuracy_delta is None else f"{ch.accuracy_delta:+.4f}",
                f"{lat.ratio:.2f}×" if lat else "—",
                lat.verdict.value if lat else (ch.note or "n/a"),
                ch.memory_verdict.value,
            ]
            cells[-1:-1] = extra
            regressed = ch.regressed
        out.append((cells, regressed))
    return header, out


# --------------------------------------------------------------------------- HTML

CSS = """
:root { --fg:#1d1f24; --muted:#5b6270; --line:#e3e6eb; --bg:#f6f7f9; --card:#fff;
        --bad:#c62828; --good:#2e7d32; --accent:#4269d0; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 18px 0 8px; color: var(--muted); }
.meta { color: var(--muted); font-size: 13px; }
.meta code { background: #eceef2; padding: 1px 5px; border-radius: 4px; }
.banner { margin: 16px 0; padding: 12px 16px; border-radius: 8px; font-weight: 600; }
.banner.ok { background: #e8f5e9; color: var(--good); border: 1px solid #c8e6c9; }
.banner.bad { background: #ffebee; color: var(--bad); border: 1px solid #ffcdd2; }
.banner.info { background: #e8eefc; color: #233f8c; border: 1px solid #cdd9f7; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
        padding: 14px 16px; margin: 12px 0; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px;
        font-variant-numeric: tabular-nums; }
th, td { padding: 6px 9px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { text-align: left; color: var(--muted); font-weight: 600; background: #fafbfc; }
td.num { text-align: right; }
tr.regressed td { background: #fff5f5; }
tr.regressed td:first-child { box-shadow: inset 3px 0 0 var(--bad); }
.v-slower, .v-larger { color: var(--bad); font-weight: 600; }
.v-faster, .v-smaller { color: var(--good); font-weight: 600; }
.v-same { color: var(--muted); }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 6px; text-align: center; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 12px; }
footer { color: var(--muted); font-size: 12px; margin-top: 32px; }
"""

# Marks the page ready once every plot loaded with a real size; records script errors. The load
# event waits for every image, so a plot that failed to decode has naturalWidth 0 by then.
SCRIPT = """
(function () {
  var root = document.documentElement;
  window.addEventListener('error', function (e) {
    root.setAttribute('data-errors', (root.getAttribute('data-errors') || '') + e.message + ';');
  });
  window.addEventListener('load', function () {
    var imgs = Array.prototype.slice.call(document.querySelectorAll('img.plot'));
    var n = imgs.filter(function (img) {
      return img.complete && img.naturalWidth > 0 && img.naturalHeight > 0;
    }).length;
    document.body.setAttribute('data-plots-total', String(imgs.length));
    document.body.setAttribute('data-plots-loaded', String(n));
    document.body.setAttribute('data-ready', n === imgs.length ? 'yes' : 'no');
  });
})();
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _e(text: object) -> str:
    return html.escape(str(text))


def _cell(text: str, column: str) -> str:
    numeric = column not in ("variant", "status", "latency", "memory")
    cls = []
    if numeric:
        cls.append("num")
    if column in ("latency", "memory"):
        cls.append(f"v-{text}")
    attr = f' class="{" ".join(cls)}"' if cls else ""
    return f"<td{attr}>{_e(text)}</td>"


def _img(src: str, alt: str, caption: str | None = None) -> str:
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img class="plot" src="{src}" alt="{_e(alt)}">{cap}</figure>'


def render_html(data: ReportData) -> str:
    """The whole page as one string."""
    variants: list[str] = []
    for s in data.sections:
        for res in (*s.series, s.results):
            for r in res.records:
                if r.variant not in variants:
                    variants.append(r.variant)
    colors = _colors(variants)
    first = data.sections[0].results
    regressions = data.regressions
    compared = any(s.comparison for s in data.sections)
    if regressions:
        names = ", ".join(f"{v} on {t}" for t, v in regressions)
        banner = (
            f'<div class="banner bad">{len(regressions)} regressed since the previous run: '
            f"{_e(names)}</div>"
        )
    elif compared:
        banner = '<div class="banner ok">No regressions since the previous run.</div>'
    else:
        banner = (
            '<div class="banner info">First run on this device: nothing to compare with yet.</div>'
        )
    body = [
        "<h1>edgebench report</h1>",
        f'<div class="meta">run <code>{_e(first.run_id)}</code> · {_e(first.created_at)} · '
        f"commit <code>{_e((first.git_commit or '—')[:10])}</code> · "
        f"{len(data.sections)} target(s)</div>",
        banner,
    ]
    for s in data.sections:
        res = s.results
        body.append(
            f"<h2>{_e(res.target)} <span class='meta'>on "
            f"{_e(describe_device(res.device))} · {_e(res.device.runtime_name or '')} "
            f"{_e(res.device.runtime_version or '')} · {res.settings.threads} thread(s), "
            f"{res.settings.runs} runs</span></h2>"
        )
        if s.comparison is not None:
            b = s.comparison.base
            st = data.settings
            body.append(
                f"<div class='meta'>compared with run <code>{_e(b.run_id)}</code> "
                f"({_e(b.created_at)}): latency verdicts need Mann-Whitney U p &lt; "
                f"{st.alpha:g} and a median change beyond {_e(effect_text(st))}.</div>"
            )
        header, rows = table_rows(s)
        trs = ["<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"]
        for cells, regressed in rows:
            cls = ' class="regressed"' if regressed else ""
            trs.append(
                f"<tr{cls}>"
                + "".join(_cell(c, h) for c, h in zip(cells, header, strict=False))
                + "</tr>"
            )
        body.append(f'<div class="card"><table>{"".join(trs)}</table></div>')
        size_png, caption = plot_size_quality(s, colors)
        lat_png = plot_latency(s, colors)
        figs = [_img(size_png, f"{res.target} size against quality", caption)]
        if lat_png:
            figs.append(
                _img(
                    lat_png,
                    f"{res.target} latency distribution",
                    "Raw invoke() latencies: violin = density, box = quartiles (the rarest 1% of "
                    "outliers are left out of the drawing, not of the statistics)",
                )
            )
        body.append(
            f'<div class="grid">{"".join(f"<div class=card>{f}</div>" for f in figs)}</div>'
        )
        trend = plot_trends(s, colors)
        if trend:
            body.append(f"<h3>Trends over the last {len(s.series)} runs</h3>")
            body.append(
                '<div class="card">'
                + _img(
                    trend,
                    f"{res.target} trends",
                    "Red rings: a regression against the run before (latency slower, size up, "
                    "accuracy down, memory up)",
                )
                + "</div>"
            )
    body.append(
        f"<footer>Made by edgebench on {_e(data.created_at)}. This file is "
        "self-contained: it opens from disk and loads nothing.</footer>"
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>edgebench report {_e(first.run_id)}</title><style>{CSS}</style>"
        f"<script>{SCRIPT}</script></head>\n<body><main>\n"
        + "\n".join(body)
        + "\n</main></body></html>\n"
    )


# --------------------------------------------------------------------------- Markdown


def render_markdown(data: ReportData) -> str:
    """The summary for a CI comment: a verdict line, then one table per target."""
    regressions = data.regressions
    first = data.sections[0].results
    lines = [f"## edgebench: run `{first.run_id}`", ""]
    if regressions:
        lines.append(
            f"**{len(regressions)} regressed** since the previous run: "
            + ", ".join(f"`{v}` on {t}" for t, v in regressions)
        )
    elif any(s.comparison for s in data.sections):
        lines.append("No regressions since the previous run.")
    else:
        lines.append("First run on this device: nothing to compare with yet.")
    for s in data.sections:
        res = s.results
        lines += ["", f"### {res.target} on {describe_device(res.device)}", ""]
        header, rows = table_rows(s)
        lines.append("| " + " | ".join(header) + " |")
        lines.append(
            "|" + "|".join("---" if h in ("variant", "status") else "---:" for h in header) + "|"
        )
        for cells, regressed in rows:
            if regressed:
                cells = [f"**{cells[0]}** ⚠"] + cells[1:]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- entry point


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
    from edgebench.bench.compare import load_results_paths, resolve_ref
    from edgebench.bench.history import open_history

    is_path = run is not None and Path(run).exists()
    if is_path and not Path(history_path).exists():
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
