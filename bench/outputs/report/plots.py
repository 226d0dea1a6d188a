"""The report's plots: matplotlib figures rendered to PNG ``data:`` URIs, one function a plot.

matplotlib is imported inside the functions that draw, not at the top: importing it took two to
three seconds on the development VM, which anything that imports the report only to gather its
data or reach its entry points would otherwise pay.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgebench.bench.judgement.compare import Regression
from edgebench.bench.judgement.history import describe_device
from edgebench.bench.outputs.report.gather import TargetSection
from edgebench.pareto import pareto_front
from edgebench.records import Record, Results, worst_fidelity

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
MARKERS = {"float32": "o", "dynamic": "s", "float16": "D", "int8": "^", "keras": "P"}


def variant_colors(sections: Sequence[TargetSection]) -> dict[str, str]:
    """One colour per variant across every plot of the page, in order of first appearance."""
    variants: list[str] = []
    for s in sections:
        for res in (*s.series, s.results):
            for r in res.records:
                if r.key not in variants:
                    variants.append(r.key)
    return {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(variants)}


def _figure(width: float, height: float):
    """An empty figure of this size in inches, laid out so labels never overlap."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig) -> str:
    """The figure as a PNG ``data:`` URI, so the page needs no other file."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass(frozen=True)
class SizePoint:
    """One variant on the size plot."""

    variant: str
    zip_bytes: int
    value: float  # accuracy; else SNR dB when the run had fidelity; else p50 µs


@dataclass(frozen=True)
class SizeQuality:
    """The size plot's points and their Pareto front (exact ties stay on it together)."""

    points: tuple[SizePoint, ...]
    front: tuple[SizePoint, ...]  # smallest first
    by_accuracy: bool  # False: the quality is SNR or p50 latency
    quality: str = "accuracy"  # "accuracy", "snr" (higher is better) or "latency" (lower)


def _sized(results: Results) -> list[Record]:
    """The records the size plot can place: they ran and have a zip size."""
    return [r for r in results.records if r.ok and r.zip_bytes]


def _finite_snr(rec: Record) -> float | None:
    worst = worst_fidelity(rec.fidelity)
    if worst is None or worst.snr_db is None or not np.isfinite(worst.snr_db):
        return None
    return worst.snr_db


def size_quality(results: Results) -> SizeQuality:
    """Zip bytes against accuracy; without labels against the worst output's SNR (unlabelled
    detectors, segmenters, embedders); without either against p50 latency."""
    recs = _sized(results)
    with_acc = [r for r in recs if r.accuracy is not None]
    with_snr = [r for r in recs if _finite_snr(r) is not None]
    if with_acc:
        quality = "accuracy"
        values = [(r, r.accuracy) for r in with_acc]
    elif with_snr:
        quality = "snr"
        values = [(r, _finite_snr(r)) for r in with_snr]
    else:
        quality = "latency"
        values = [(r, r.latency_us.p50 if r.latency_us else None) for r in recs]
    points = tuple(SizePoint(r.key, r.zip_bytes, v) for r, v in values
                   if r.zip_bytes is not None and v is not None)
    sign = -1.0 if quality == "latency" else 1.0  # the front maximises quality
    front = pareto_front(points, lambda p: p.zip_bytes, lambda p: sign * p.value)
    return SizeQuality(points, tuple(front), bool(with_acc), quality)


def plot_size_quality(section: TargetSection, colors: dict[str, str]) -> tuple[str, str]:
    """Zip bytes against accuracy (higher is better), or against p50 latency when no labels."""
    sq = size_quality(section.results)
    fig = _figure(6.4, 4.0 + 0.16 * ((len(_sized(section.results)) + 3) // 3))
    ax = fig.add_subplot()
    if sq.by_accuracy:
        metrics = {r.accuracy_metric for r in section.results.records if r.accuracy_metric}
        ylabel = f"{'/'.join(sorted(metrics)) or 'top1'} accuracy".replace("top", "top-")
        caption = "Zip size against accuracy; the dashed line is the Pareto front"
    elif sq.quality == "snr":
        ylabel = "SNR against the float32 reference (dB, worst output)"
        caption = (
            "Zip size against output fidelity (no labels: SNR of each variant's outputs "
            "against the float32 reference's); the dashed line is the Pareto front"
        )
    else:
        ylabel = "p50 latency (µs)"
        caption = (
            "Zip size against median latency (no accuracy: the run had no labelled "
            "data); the dashed line is the Pareto front"
        )
    if sq.front:
        xs = [p.zip_bytes for p in sq.front]
        ys = [p.value for p in sq.front]
        ax.step(xs, ys, where="post", color="#888", lw=1.3, ls="--", zorder=1, label="Pareto front")
    pts = [(p.zip_bytes, p.value, p.variant) for p in sq.points]
    on_front = {p.variant for p in sq.front}
    for x, y, v in pts:
        best = v in on_front
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
        body.set_facecolor(colors[r.key])
        body.set_edgecolor(colors[r.key])
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
    ax.set_yticks(pos, [r.key for r in recs], fontsize=8)
    medians = [float(np.median(d)) for d in data]
    if min(medians) > 0 and max(medians) / min(medians) > 20:
        ax.set_xscale("log")
    emulated = section.results.device.emulated
    ax.set_xlabel("latency per invoke() (µs)" + (" under CPU EMULATION: not the device's"
                                                  if emulated else ""))
    ax.grid(axis="x", alpha=0.3)
    ax.invert_yaxis()
    lat = recs[0].latency_us
    runs = lat.n if lat is not None else len(recs[0].samples_us)
    ax.set_title(
        f"{section.results.target}: latency distribution ({runs} runs per model)",
        fontsize=11,
    )
    return _png(fig)


def plot_sustained(section: TargetSection, colors: dict[str, str]) -> str | None:
    """The sustained run (--sustained) of each record: each 1 s window's median latency over
    time, as a share of the first window's (1.0: the speed held; models of any speed share
    the axis), and beneath it the device's temperature and CPU clock where they were read."""
    runs = [(r.key, r.sustained) for r in section.results.records
            if r.ok and r.sustained is not None and r.sustained.windows]
    if not runs:
        return None
    with_state = any(w.temp_c is not None or w.freq_mhz is not None
                     for _, s in runs for w in s.windows)
    fig = _figure(6.4, 5.6 if with_state else 3.8)
    axes = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2)) if with_state else [
        fig.add_subplot()]
    ax = axes[0]
    ax.axhline(1.0, color="#888", lw=1, ls=":")
    for key, s in runs:
        first = s.windows[0].p50_us or 1.0
        xs = [w.t_s + s.window_s / 2 for w in s.windows]
        ys = [w.p50_us / first for w in s.windows]
        ratio = "" if s.ratio is None else f", last {s.ratio:.2f}×"
        ax.plot(xs, ys, marker="o", ms=3, lw=1.4, color=colors[key],
                label=f"{key} (first {first:,.1f} µs{ratio})")
        flagged = [(x, y) for x, y, w in zip(xs, ys, s.windows, strict=True) if w.throttled]
        if flagged:
            ax.scatter(*zip(*flagged, strict=True), s=90, facecolor="none",
                       edgecolor=REGRESSION_RED, linewidth=1.6, zorder=4)
    statistic = "mean" if any(s.statistic == "mean" for _, s in runs) else "median"
    ax.set_ylabel(f"window {statistic} ÷ first window's")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(f"{section.results.target}: sustained speed, 1 s windows "
                 "(red rings: throttling flagged)", fontsize=11)
    if with_state:
        low = axes[1]
        for key, s in runs:
            xs = [w.t_s + s.window_s / 2 for w in s.windows]
            temps = [w.temp_c for w in s.windows]
            if any(t is not None for t in temps):
                low.plot(xs, temps, color=colors[key], lw=1.2)
        low.set_ylabel("°C (hottest sensor)")
        low.grid(alpha=0.3)
        clock = low.twinx()
        for key, s in runs:
            xs = [w.t_s + s.window_s / 2 for w in s.windows]
            freqs = [w.freq_mhz for w in s.windows]
            if any(f is not None for f in freqs):
                clock.plot(xs, freqs, color=colors[key], lw=1.2, ls="--")
        clock.set_ylabel("CPU MHz (dashed)")
        low.set_xlabel("seconds into the sustained run")
    else:
        ax.set_xlabel("seconds into the sustained run (no temperature or clock readable)")
    return _png(fig)


# (key, title, value of a record, the regression of compare's that rings a point in red). A
# failed record has no point to ring, so "failed" has no panel.
TREND_PANELS = (
    ("zip", "zip bytes", lambda r: r.zip_bytes, Regression.ZIP),
    ("accuracy", "accuracy", lambda r: r.accuracy, Regression.ACCURACY),
    ("p50", "p50 latency (µs)", lambda r: r.latency_us.p50 if r.latency_us else None,
     Regression.LATENCY),
    ("p90", "p90 latency (µs)", lambda r: r.latency_us.p90 if r.latency_us else None,
     Regression.LATENCY),
    ("peak", "peak RSS (MB)", lambda r: r.rss_mb.peak if r.rss_mb else None, Regression.MEMORY),
    ("snr", "SNR vs reference (dB, worst output)", _finite_snr, Regression.FIDELITY),
)


def plot_trends(section: TargetSection, colors: dict[str, str]) -> str | None:
    """Each metric over the last N runs, one line per variant; regressions ringed in red."""
    from matplotlib.lines import Line2D

    series = section.series
    if len(series) < 2:
        return None
    variants = list(colors)
    marks = set(section.trend_regressions)
    fig = _figure(10, 9.6)
    axes = fig.subplots(4, 2).flatten()  # the panels, then the legend
    xs = list(range(len(series)))
    for ax, (key, label, read, regression) in zip(axes, TREND_PANELS, strict=False):
        drawn = False
        for v in variants:
            pts = []
            for i, res in enumerate(series):
                rec = next((r for r in res.records if r.key == v and r.ok), None)
                val = read(rec) if rec is not None else None
                if val is not None:
                    pts.append((i, val, (res.run_id, v, regression) in marks))
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

