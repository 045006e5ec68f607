"""Plots of the service report (matplotlib, Agg; each takes ``ax=None``)."""

from __future__ import annotations

from pathlib import Path

from loyalist.models._figures import axes, save_figures


def plot_response_times(report, ax=None, by: str = "team"):
    """Distribution of first-response hours per team, against the target."""
    ax = axes(ax, (7, 4))
    df = report.response_sample
    groups = sorted(df[by].dropna().unique())
    data = [df.loc[df[by] == g, "response_h"].clip(lower=1 / 60) for g in groups]
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(groups) + 1), groups, rotation=30, ha="right")
    ax.set_yscale("log")
    target = df["target_s"].median() / 3600
    ax.axhline(target, color="crimson", ls="--", label=f"target {target:g} h")
    ax.set_ylabel("first response (hours, log scale)")
    ax.set_title(f"First response time by {by}")
    ax.legend()
    return ax


def plot_callback_rate(report, ax=None):
    """Share of contacts that were call-backs, month by month."""
    ax = axes(ax, (7, 4))
    m = report.monthly
    ax.plot(m.index, 100 * m["callback_rate"], marker="o")
    ax.set_ylabel("call-backs (% of contacts)")
    ax.set_title("Call-back rate over time")
    ax.set_ylim(bottom=0)
    return ax


def plot_misrouting(report, ax=None):
    """Requests by category (rows) and the team they went to (columns)."""
    ax = axes(ax, (8, 5))
    mat = report.misrouting_matrix
    share = mat.div(mat.sum(axis=1), axis=0)
    ax.imshow(share.values, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(mat.shape[1]), mat.columns, rotation=30, ha="right")
    ax.set_yticks(range(mat.shape[0]), mat.index)
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            ax.text(j, i, f"{mat.values[i, j]:,}", ha="center", va="center", fontsize=7)
    ax.set_title("Routing: category to team")
    return ax


def plot_open_ageing(report, ax=None):
    """Unanswered requests by team and age."""
    ax = axes(ax, (7, 4))
    report.open_ageing.plot.bar(stacked=True, ax=ax)
    ax.set_ylabel("unanswered requests")
    ax.set_title("Open requests by age")
    return ax


def save_all(report, folder: Path) -> list[Path]:
    plots = {"response_times": plot_response_times, "callback_rate": plot_callback_rate,
             "open_ageing": plot_open_ageing}
    if report.misrouting_matrix is not None:
        plots["misrouting"] = plot_misrouting
    return save_figures(report, plots, folder)
