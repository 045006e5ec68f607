"""Plots of the transaction models (matplotlib, imported only when a plot is drawn).

Every function takes ``ax=None``: without an axis it draws on a new figure that
needs no display (``matplotlib.figure.Figure`` with the Agg canvas), so it works
on servers and in tests; ``ax.figure.savefig("x.png")`` (or ``.svg``) saves it.
"""

from __future__ import annotations

import numpy as np

from loyalist.errors import DataError
from loyalist.models._base import check_fitted, wdot


def _axis(ax):
    if ax is not None:
        return ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def plot_calibration_holdout(model, summary, *, max_frequency: int = 7, ax=None):
    """Mean holdout purchases, actual and predicted, by calibration frequency.

    ``summary`` is a DataFrame from ``rfm_summary(..., calibration_end=...)``.
    """
    check_fitted(model)
    need = {"frequency", "recency", "T", "frequency_holdout", "duration_holdout"}
    if not need <= set(summary.columns):
        raise DataError(f"plot_calibration_holdout needs columns {sorted(need)}.",
                        hint="compute the summary with rfm_summary(..., calibration_end=...).")
    ax = _axis(ax)
    pred = model.predict_purchases(summary["duration_holdout"], summary["frequency"],
                                   summary["recency"], summary["T"])
    group = np.minimum(summary["frequency"].to_numpy(), max_frequency)
    xs = np.arange(max_frequency + 1)
    actual = [summary["frequency_holdout"].to_numpy()[group == k].mean() if (group == k).any()
              else np.nan for k in xs]
    predicted = [pred[group == k].mean() if (group == k).any() else np.nan for k in xs]
    ax.plot(xs, actual, "o-", label="actual")
    ax.plot(xs, predicted, "s--", label=f"{type(model).__name__}")
    ax.set_xticks(xs, [*map(str, xs[:-1]), f"{max_frequency}+"])
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("mean purchases in the holdout period")
    ax.set_title("Calibration vs holdout")
    ax.legend()
    return ax


def plot_cumulative_purchases(model, first_purchase, repeat_times, *, t_grid=None,
                              calibration_end=None, ax=None):
    """Cumulative repeat purchases over time: actual vs predicted from the acquisitions.

    Parameters
    ----------
    first_purchase : array-like
        Time of each customer's first purchase, from a common origin (model time unit).
    repeat_times : array-like
        Times of all repeat purchases (same origin and unit).
    """
    check_fitted(model)
    first = np.asarray(first_purchase, float)
    repeats = np.sort(np.asarray(repeat_times, float))
    if t_grid is None:
        t_grid = np.linspace(0.0, max(repeats.max(initial=0.0), first.max(initial=0.0)), 100)
    t_grid = np.asarray(t_grid, float)
    actual = np.searchsorted(repeats, t_grid, side="right")
    # each customer contributes E[X(t - first)] once acquired; group equal acquisition times
    uniq, counts = np.unique(first, return_counts=True)
    predicted = np.array([
        wdot(counts[uniq < t], model.predict_new_customer_purchases(t - uniq[uniq < t]))
        for t in t_grid
    ])
    ax = _axis(ax)
    ax.plot(t_grid, actual, label="actual")
    ax.plot(t_grid, predicted, "--", label=f"{type(model).__name__}")
    if calibration_end is not None:
        ax.axvline(calibration_end, color="grey", linestyle=":", label="end of calibration")
    ax.set_xlabel("time")
    ax.set_ylabel("cumulative repeat purchases")
    ax.set_title("Tracking cumulative repeat purchases")
    ax.legend()
    return ax


def plot_p_alive_matrix(model, T, *, max_frequency=None, ax=None):
    """P(alive) of a customer of age ``T`` for every frequency and recency."""
    check_fitted(model)
    big_t = float(T)
    if max_frequency is None:
        max_frequency = 30
    freqs = np.arange(max_frequency + 1, dtype=float)
    recs = np.linspace(0.0, big_t, 60)
    ff, rr = np.meshgrid(freqs, recs, indexing="ij")
    rr = np.where(ff > 0, rr, 0.0)
    p = model.predict_p_alive(ff.ravel(), rr.ravel(), np.full(ff.size, big_t)).reshape(ff.shape)
    p[0, 1:] = np.nan  # recency is 0 without repeat purchases
    ax = _axis(ax)
    im = ax.imshow(p, origin="lower", aspect="auto", vmin=0, vmax=1, cmap="viridis",
                   extent=(0, big_t, -0.5, max_frequency + 0.5))
    ax.figure.colorbar(im, ax=ax, label="P(alive)")
    ax.set_xlabel("recency (time of the last purchase)")
    ax.set_ylabel("frequency (repeat purchases)")
    ax.set_title(f"P(alive) of customers of age {big_t:g}")
    return ax


def plot_p_alive_history(model, purchase_times, T, *, n_points=200, ax=None):
    """One customer's P(alive) over time, given the times of their purchases.

    ``purchase_times`` are measured from the customer's first purchase (so the
    first is 0); ``T`` is the end of the curve in the same unit.
    """
    check_fitted(model)
    times = np.sort(np.asarray(purchase_times, float))
    if times.size == 0 or times[0] != 0 or times[-1] > T:
        raise DataError("purchase_times must start at 0 (the first purchase) and end by T.")
    grid = np.unique(np.r_[np.linspace(0, T, n_points), times[1:]])
    grid = grid[grid > 0]
    x = np.searchsorted(times[1:], grid, side="right").astype(float)
    t_x = np.where(x > 0, times[np.maximum(x.astype(int), 0)], 0.0)
    p = model.predict_p_alive(x, t_x, grid)
    ax = _axis(ax)
    ax.plot(grid, p, label="P(alive)")
    for t in times[1:]:
        ax.axvline(t, color="grey", alpha=0.4, linestyle="--")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("time since the first purchase")
    ax.set_ylabel("P(alive)")
    ax.set_title("P(alive) history (dashed lines: purchases)")
    return ax
