"""The report's charts: matplotlib on the Agg canvas, each returned as inline SVG text.

Every chart is drawn on its own ``Figure`` (no pyplot state), saved as SVG with text
kept as text, and stripped of the XML prolog, DOCTYPE and metadata so the page
refers to nothing outside itself. Each chart gets its own id salt, so ids of clip
paths and markers never collide between charts in one page.
"""

from __future__ import annotations

import io
import re
from itertools import count

import numpy as np
import pandas as pd

ACCENT = "#2557a7"
SECOND = "#e07b39"
TARGET = "#c0392b"
_PROLOG = re.compile(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<metadata>.*?</metadata>", re.S)
_SIZE = re.compile(r'(<svg[^>]*?)\s(width|height)="[^"]*"')
_salt = count()


def figure(size=(6.4, 3.8)):
    """A new figure and axes on the non-interactive Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e7eb", lw=0.8)
    ax.set_axisbelow(True)
    return fig, ax


def _wrap_titles(fig) -> None:
    """Wrap each axes' title to the figure's width: the browser draws the SVG's text in
    its own font, often wider than the one measured, and a long title would be cut."""
    import textwrap

    width_pt = fig.get_figwidth() * 72
    for ax in fig.axes:
        for loc in ("left", "center"):
            title = ax.get_title(loc=loc)
            if not title:
                continue
            size = ax.title.get_fontsize()  # the three titles share one size
            chars = max(20, int(0.85 * width_pt / (0.62 * size)))
            if len(title) > chars:
                ax.set_title("\n".join(textwrap.wrap(title, chars)), loc=loc)


def wilson(k, n, z: float = 1.959963984540054) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson 95% interval of the shares ``k / n`` (arrays)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, k / n, np.nan)
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def to_svg(fig) -> str:
    """The figure as self-contained SVG markup (no prolog, no outside references)."""
    import matplotlib

    _wrap_titles(fig)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"c{next(_salt)}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = _PROLOG.sub("", buf.getvalue()).strip()
    for _ in range(2):
        text = _SIZE.sub(r"\1", text, count=1)
    return text.replace("<svg ", '<svg class="chart" role="img" overflow="visible" ', 1)


def _pct_axis(ax, axis="y"):
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, decimals=0))


def loss_over_time(monthly: pd.DataFrame, rolling: pd.DataFrame, target: float) -> str:
    """The 12-month loss rate by count and revenue, and each month's annualised rate,
    against the target."""
    fig, ax = figure((10.0, 3.8))
    x = pd.to_datetime(monthly["period"])
    ax.plot(x, monthly["annualised_loss_rate"], color=ACCENT, lw=0.8, alpha=0.45,
            label="each month, annualised")
    if len(rolling):
        xr = pd.to_datetime(rolling["window_end"])
        ax.plot(xr, rolling["loss_rate"], marker="o", ms=3, lw=2, color=ACCENT,
                label="customers, last 12 months")
        ax.plot(xr, rolling["revenue_loss_rate"], marker="s", ms=3, lw=2, color=SECOND,
                label="revenue, last 12 months")
    ax.axhline(target, color=TARGET, ls="--", lw=1.2, label=f"target {target:.0%} a year")
    ax.set_ylim(bottom=0)
    _pct_axis(ax)
    ax.set_title("Share of customers lost", loc="left")
    ax.legend(frameon=False, fontsize=8)
    fig.autofmt_xdate()
    return to_svg(fig)


def loss_by(table: pd.DataFrame, dim: str, target: float) -> str:
    """Loss rate over the last 12 months per group, against the target, each with its
    count and Wilson 95% interval; ranked by the interval's lower end, so a group of one
    lost customer does not top the chart on a 100% rate."""
    t = table[table["at_risk"] > 0].copy()
    t["low"], t["high"] = wilson(t["lost"], t["at_risk"])
    t = t.sort_values(["low", "at_risk"])
    fig, ax = figure((6.4, max(2.4, 0.32 * len(t) + 1.2)))
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#e5e7eb", lw=0.8)
    colours = [TARGET if lo > target else ACCENT for lo in t["low"]]
    names = [f"{g} ({n:,})" for g, n in zip(t[dim].astype(str), t["at_risk"], strict=True)]
    ax.barh(names, t["loss_rate"], color=colours,
            xerr=[t["loss_rate"] - t["low"], t["high"] - t["loss_rate"]],
            error_kw={"ecolor": "#374151", "lw": 1, "capsize": 2})
    ax.axvline(target, color="#111827", ls="--", lw=1, label=f"target {target:.0%}")
    _pct_axis(ax, "x")
    ax.set_title(f"Customers lost in the last 12 months, by {dim} (customers; 95% "
                 "interval)", loc="left")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return to_svg(fig)


def cohort_curves(curves: pd.DataFrame) -> str:
    """Kaplan-Meier retention by acquisition cohort."""
    fig, ax = figure((10.0, 4.2))
    cohorts = sorted(curves["cohort"].unique())
    cmap = __import__("matplotlib").colormaps["viridis"]
    for i, c in enumerate(cohorts):
        g = curves[curves["cohort"] == c]
        ax.step(g["months"], g["retained"], where="post",
                color=cmap(i / max(1, len(cohorts) - 1)),
                label=f"{pd.Timestamp(c):%Y-%m} ({int(g['customers'].iloc[0]):,})")
    ax.set_ylim(0, 1.02)
    _pct_axis(ax)
    ax.set_xlabel("months since the first purchase")
    ax.set_ylabel("still customers")
    ax.set_title("Retention by acquisition cohort (Kaplan-Meier)", loc="left")
    ax.legend(frameon=False, fontsize=7, ncol=2, title="cohort (customers)", title_fontsize=7)
    return to_svg(fig)


def revenue_retention(rr: pd.DataFrame, label: str) -> str:
    """NRR and GRR over successive windows, with the 100% line."""
    fig, ax = figure((10.0, 3.6))
    x = pd.to_datetime(rr["window_end"])
    ax.plot(x, rr["nrr"], marker="o", ms=3, color=ACCENT, label="net revenue retention")
    ax.plot(x, rr["grr"], marker="s", ms=3, color=SECOND, label="gross revenue retention")
    ax.axhline(1.0, color="#6b7280", lw=1)
    _pct_axis(ax)
    ax.set_title(f"Revenue retention ({label})", loc="left")
    ax.legend(frameon=False, fontsize=8)
    fig.autofmt_xdate()
    return to_svg(fig)


def lorenz(conc) -> str:
    """The Lorenz curve of value: customers ranked from the most valuable."""
    fig, ax = figure((5.2, 4.0))
    lz = conc.lorenz
    ax.plot(lz["share_customers"], lz["share_value"], color=ACCENT, lw=2)
    ax.plot([0, 1], [0, 1], color="#9ca3af", ls=":", lw=1, label="equal value")
    f, s = conc.top_fraction, conc.top_share
    ax.plot([f, f, 0], [0, s, s], color=TARGET, ls="--", lw=1)
    ax.annotate(f"top {f:.0%} hold {s:.0%}", (f, s), xytext=(8, -14),
                textcoords="offset points", fontsize=9)
    _pct_axis(ax)
    _pct_axis(ax, "x")
    ax.set_xlabel("customers, most valuable first")
    ax.set_ylabel("share of value")
    ax.set_title("Value concentration", loc="left")
    return to_svg(fig)


def at_risk_by(table: pd.DataFrame, dim: str) -> str:
    """Value at risk (p_leave x value) per group."""
    t = table.sort_values("value_at_risk")
    fig, ax = figure((6.4, max(2.4, 0.32 * len(t) + 1.2)))
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#e5e7eb", lw=0.8)
    ax.barh(t[dim].astype(str), t["value_at_risk"], color=SECOND)
    ax.set_title(f"Value at risk by {dim}", loc="left")
    return to_svg(fig)


def service_chart(fn, report) -> str:
    """One of the service report's own plots (``service_plots``), as SVG."""
    fig, ax = figure()
    fn(report, ax=ax)
    return to_svg(fig)


def nps_over_time(monthly: pd.DataFrame) -> str:
    """Monthly NPS (promoters minus detractors, in points)."""
    fig, ax = figure()
    x = pd.to_datetime(monthly["month"])
    ax.plot(x, monthly["nps"], marker="o", ms=3, color=ACCENT)
    ax.axhline(0, color="#6b7280", lw=1)
    ax.set_ylabel("NPS (points)")
    ax.set_title("Net Promoter Score by month", loc="left")
    fig.autofmt_xdate()
    return to_svg(fig)


def relationship_over_time(monthly: pd.DataFrame) -> str:
    """Mean satisfaction, trust and commitment (1-5) by month."""
    fig, ax = figure()
    x = pd.to_datetime(monthly["month"])
    for col, colour in (("satisfaction", "#6b7280"), ("trust", ACCENT),
                        ("commitment", SECOND)):
        if monthly[col].notna().any():
            ax.plot(x, monthly[col], marker="o", ms=3, color=colour, label=col)
    lo = np.nanmin(monthly[["satisfaction", "trust", "commitment"]].to_numpy(dtype=float))
    ax.set_ylim(max(1.0, np.floor(lo) - 0.5) if np.isfinite(lo) else 1.0, 5.0)
    ax.set_ylabel("mean answer (1-5)")
    ax.set_title("Satisfaction, trust and commitment by month", loc="left")
    ax.legend(frameon=False, fontsize=8)
    fig.autofmt_xdate()
    return to_svg(fig)
