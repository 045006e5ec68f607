"""Backtest plots: calibration, recall at k, risk of leavers vs stayers (``ax=None``)."""

from __future__ import annotations

import numpy as np

from loyalist.models._figures import axes, save_figures


def plot_calibration(bt, ax=None):
    """Predicted vs observed share leaving, by decile."""
    ax = axes(ax, (6, 4))
    c = bt.calibration
    ax.plot([0, 1], [0, 1], color="grey", ls=":")
    ax.plot(c["predicted"], c["observed"], marker="o")
    ax.set_xlabel("predicted P(leave)")
    ax.set_ylabel("observed share that left")
    ax.set_title("Calibration at " + f"{bt.eval_date:%Y-%m-%d}")
    return ax


def plot_recall_at_k(bt, ax=None):
    """Share of the leavers found in the top k% of each model's list."""
    ax = axes(ax, (6, 4))
    y = bt.scores["left"].to_numpy()
    ks = np.linspace(0.01, 1, 100)
    for name in bt.metrics.index:
        order = np.argsort(-bt.scores[name].to_numpy(), kind="stable")
        found = np.cumsum(y[order]) / max(y.sum(), 1)
        idx = np.clip((ks * len(y)).astype(int) - 1, 0, len(y) - 1)
        ax.plot(100 * ks, 100 * found[idx], label=name, lw=2 if name == "model" else 1)
    ax.plot([0, 100], [0, 100], color="grey", ls=":", label="chance")
    ax.axvline(20, color="grey", lw=0.5)
    ax.set_xlabel("top k% of the risk list")
    ax.set_ylabel("% of leavers found")
    ax.set_title("Recall at k")
    ax.legend()
    return ax


def plot_risk_by_outcome(bt, ax=None):
    """Distribution of the model's P(leave) for leavers and stayers."""
    ax = axes(ax, (6, 4))
    s = bt.scores
    bins = np.linspace(0, 1, 31)
    ax.hist(s.loc[s["left"] == 0, "model"], bins=bins, alpha=0.6, density=True, label="stayed")
    ax.hist(s.loc[s["left"] == 1, "model"], bins=bins, alpha=0.6, density=True, label="left")
    ax.set_xlabel("P(leave)")
    ax.set_title("Risk of leavers vs stayers")
    ax.legend()
    return ax


def plot_risk_over_time(bt, ax=None):
    """Mean P(leave), month by month before the evaluation date, of those who then left
    and those who stayed."""
    ax = axes(ax, (6, 4))
    path = bt.risk_path
    for left, label in ((1, "left after"), (0, "stayed")):
        sub = path[path["left"] == left]
        ax.plot(sub["as_of"], sub["mean_p"], marker="o", label=label)
    ax.set_ylabel("mean P(leave)")
    ax.set_title("Risk over time: leavers vs stayers")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.figure.autofmt_xdate()
    return ax


def save_all(bt, folder):
    return save_figures(bt, {"calibration": plot_calibration, "recall_at_k": plot_recall_at_k,
                             "risk_by_outcome": plot_risk_by_outcome,
                             "risk_over_time": plot_risk_over_time}, folder)
