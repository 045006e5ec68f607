"""Charts of the relationship: the importance-performance map, key drivers, reliability.

Each function takes ``ax=None`` (a new figure on the Agg canvas when None) and returns
the axes, as lifelines' ``plot_*`` do; matplotlib is imported only when drawing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.relationship.gap import QUADRANTS

_COLOURS = {"concentrate here": "#c0392b", "keep up the good work": "#1e8449",
            "low priority": "#7f8c8d", "possible overkill": "#e07b39"}


def _axes(ax, size):
    if ax is not None:
        return ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_importance_performance(table: pd.DataFrame, ax=None, segment: str | None = None):
    """The importance-performance map: each attribute at (performance, importance) with
    95% intervals, the cross-hairs at the centre, the four quadrants named."""
    ax = _axes(ax, (6.8, 5.0))
    t = table[table["segment"] == (segment or table["segment"].iloc[0])]
    ci, cp = float(t["centre_importance"].iloc[0]), float(t["centre_performance"].iloc[0])
    for r in t.itertuples(index=False):
        colour = _COLOURS[r.quadrant]
        ax.errorbar(r.performance, r.importance,
                    xerr=[[r.performance - r.performance_low], [r.performance_high - r.performance]],
                    yerr=[[r.importance - r.importance_low], [r.importance_high - r.importance]],
                    fmt="o", color=colour, ms=6, capsize=2, lw=1)
        ax.annotate(r.label, (r.performance, r.importance), xytext=(5, 4),
                    textcoords="offset points", fontsize=8, color="#111827")
    lo = min(t["performance_low"].min(), t["importance_low"].min()) - 0.3
    hi = max(t["performance_high"].max(), t["importance_high"].max()) + 0.3
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.axvline(cp, color="#9ca3af", lw=0.8, ls="--")
    ax.axhline(ci, color="#9ca3af", lw=0.8, ls="--")
    corners = {(True, False): (0.02, 0.97, "left", "top"), (True, True): (0.98, 0.97, "right", "top"),
               (False, False): (0.02, 0.03, "left", "bottom"),
               (False, True): (0.98, 0.03, "right", "bottom")}
    for key, name in QUADRANTS.items():
        x, y, ha, va = corners[key]
        ax.text(x, y, name, transform=ax.transAxes, ha=ha, va=va, fontsize=9,
                color=_COLOURS[name], fontweight="bold")
    ax.set_xlabel("performance (how well you deliver)")
    ax.set_ylabel("importance (how much customers care)")
    title = "Want vs deliver" + (f": {segment}" if segment and segment != "all" else "")
    ax.set_title(title, fontsize=11)
    return ax


def plot_drivers(result, ax=None):
    """Key drivers of one outcome: each driver's share of R^2 with its interval."""
    ax = _axes(ax, (6.4, 3.6))
    t = result.table.sort_values("rank", ascending=False)
    total = max(result.r2, 1e-12)
    y = np.arange(len(t))
    ax.barh(y, t["weight"] / total, color="#2557a7", alpha=0.85)
    # a percentile interval need not hold the estimate: never draw a negative arm
    ax.errorbar(t["weight"] / total, y, xerr=[((t["weight"] - t["low"]) / total).clip(lower=0),
                                             ((t["high"] - t["weight"]) / total).clip(lower=0)],
                fmt="none", ecolor="#111827", lw=1, capsize=2)
    ax.set_yticks(y, t["label"], fontsize=8)
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("share of what the attributes explain (relative weight / R²)")
    ax.set_title(f"What drives {result.outcome} (R² {result.r2:.2f})", fontsize=11)
    return ax


def plot_reliability(scales, ax=None):
    """Alpha and omega of each scale with intervals, against the 0.70 bar."""
    ax = _axes(ax, (6.4, 3.2))
    names = [s.construct for s in scales]
    y = np.arange(len(scales))
    for k, (attr, colour) in enumerate((("alpha", "#2557a7"), ("omega", "#e07b39"))):
        est = np.array([getattr(s, attr) for s in scales])
        low = np.array([getattr(s, f"{attr}_ci")[0] for s in scales])
        high = np.array([getattr(s, f"{attr}_ci")[1] for s in scales])
        ax.errorbar(est, y + (k - 0.5) * 0.2, xerr=[est - low, high - est], fmt="o",
                    color=colour, label=attr, capsize=2)
    ax.axvline(0.7, color="#c0392b", lw=0.8, ls="--")
    ax.set_yticks(y, names)
    ax.set_xlim(min(0.5, ax.get_xlim()[0]), 1.0)
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    ax.set_title("Reliability of each scale (dashed: 0.70)", fontsize=11)
    return ax


__all__ = ["plot_drivers", "plot_importance_performance", "plot_reliability"]
