"""The report as one self-contained HTML page: CSS, plots and a small script all inline.

The page makes no requests: plots are PNG ``data:`` URIs and a Content-Security-Policy forbids
anything else. The inline script marks the page ``data-ready="yes"`` once every plot has
decoded, which the browser test reads.
"""

from __future__ import annotations

from html import escape

from edgebench.bench.judgement.history import describe_device
from edgebench.bench.outputs.compare_table import describe_spread, effect_text
from edgebench.bench.outputs.continuous_table import CONTINUOUS_COLUMNS, continuous_rows
from edgebench.bench.outputs.report.gather import ReportData
from edgebench.bench.outputs.report.plots import (
    plot_latency,
    plot_size_quality,
    plot_sustained,
    plot_trends,
    variant_colors,
)
from edgebench.bench.outputs.report.tables import (
    MEMORY_COLUMNS,
    OP_PROFILE_COLUMNS,
    memory_rows,
    op_profile_rows,
    table_rows,
)
from edgebench.bench.outputs.weight_cache_table import (
    WEIGHT_CACHE_COLUMNS,
    WEIGHT_CACHE_TITLE,
    weight_cache_rows,
)

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
.v-within { color: var(--muted); }
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
    return escape(str(text))


MEMORY_NOTE = (
    "The model's memory is what the process grew by from just before the model was loaded to "
    "after warm-up (a bare process that only loads and invokes the model measures the same). "
    "The mapped file is the .tflite's resident pages; anonymous memory is the tensor arena "
    "and, for float weights under XNNPACK, a packed copy of the weights about as large as "
    "the weights themselves (XNNPACK repacks them for its kernels); the rest is the runtime's "
    "own code, first touched by the load. PSS and USS are the whole process's, as the OS "
    "reports them."
)


def _table(header: list[str], rows: list[list[str]] | list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    cells = "".join("<tr>" + "".join(_cell(c, h) for c, h in zip(row, header, strict=True))
                    + "</tr>" for row in rows)
    return f'<div class="card"><table><tr>{head}</tr>{cells}</table></div>'


def _cell(text: str, column: str) -> str:
    numeric = column not in ("variant", "status", "latency", "memory", "target", "throttling",
                             "meter", "operator")
    cls = []
    if numeric:
        cls.append("num")
    if column in ("latency", "memory"):
        cls.append(f"v-{text.split()[0] if text else text}")  # within ±x% -> v-within
    attr = f' class="{" ".join(cls)}"' if cls else ""
    return f"<td{attr}>{_e(text)}</td>"


def _img(src: str, alt: str, caption: str | None = None) -> str:
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img class="plot" src="{src}" alt="{_e(alt)}">{cap}</figure>'


def render_html(data: ReportData) -> str:
    """The whole page as one string."""
    colors = variant_colors(data.sections)
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
            f"{_e(res.device.runtime_version or '')} · "
            f"{_e(', '.join(map(str, res.settings.threads)))} thread(s), "
            f"{res.settings.runs} runs</span></h2>"
        )
        if res.device.emulated:
            body.append(
                "<div class='banner bad'>This device's CPU was emulated "
                f"({_e(res.device.emulation_evidence or 'qemu-user')}): its latencies are the "
                "emulator's, not the device's, and are never compared with a real device's."
                "</div>"
            )
        notes = [f"{r.key}: {w}" for r in res.records for w in r.warnings]
        if notes:
            body.append("<div class='meta'>Warnings: " + "; ".join(_e(n) for n in notes)
                        + "</div>")
        if s.comparison is not None:
            b = s.comparison.base
            st = data.settings
            body.append(
                f"<div class='meta'>compared with run <code>{_e(b.run_id)}</code> "
                f"({_e(b.created_at)}): latency verdicts need Mann-Whitney U p &lt; "
                f"{st.alpha:g}, a 95% interval over processes that excludes 1, and a median "
                f"change beyond the floor: {_e(effect_text(st))}. Spread: "
                f"{_e(describe_spread(s.comparison.spread))}.</div>"
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
        for key, op_rows in op_profile_rows(s):
            body.append(f"<h3>Operators of {_e(key)} (benchmark_model's profile)</h3>"
                        + _table(OP_PROFILE_COLUMNS, op_rows))
        mem = memory_rows(s)
        if mem:
            body.append("<h3>Memory of the model</h3>" + _table(MEMORY_COLUMNS, mem)
                        + f"<div class='meta'>{_e(MEMORY_NOTE)}</div>")
        cache = [row[1:] for row in weight_cache_rows([res])]
        if cache:
            body.append("<h3>XNNPACK's weight cache</h3>"
                        + _table(list(WEIGHT_CACHE_COLUMNS[1:]), cache)
                        + f"<div class='meta'>{_e(WEIGHT_CACHE_TITLE[0].upper())}"
                        f"{_e(WEIGHT_CACHE_TITLE[1:])}.</div>")
        continuous = [row[1:] for row in continuous_rows([res])]
        if continuous:
            body.append("<h3>Sustained speed and energy per inference</h3>"
                        + _table(list(CONTINUOUS_COLUMNS[1:]), continuous))
        size_png, caption = plot_size_quality(s, colors)
        lat_png = plot_latency(s, colors)
        figs = [_img(size_png, f"{res.target} size against quality", caption)]
        sustained_png = plot_sustained(s, colors)
        if sustained_png:
            figs.append(_img(sustained_png, f"{res.target} sustained speed",
                             "Each 1 s window's median latency during the sustained run; "
                             "sustained ratio = the last window's over the first's"))
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

