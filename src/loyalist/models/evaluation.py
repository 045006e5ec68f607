"""How well a risk list worked: ranking, calibration, and how sure the difference is.

Shared by the time-ordered backtest of :mod:`loyalist.models.early_warning` and the
cross-validation of a labelled table in :mod:`loyalist.models.snapshot`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC by ranks (ties share their mean rank)."""
    from scipy.stats import rankdata

    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(p)
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def evaluate(y, p) -> dict:
    """ROC AUC, PR AUC, Brier (for probabilities), and what a team cares about:
    recall and lift in the top 10% and 20% of the list."""
    from sklearn.metrics import average_precision_score, brier_score_loss

    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    order = np.argsort(-p, kind="stable")
    out = {"customers": len(y), "left": int(y.sum()), "base_rate": float(y.mean()),
           "roc_auc": _auc(y, p), "pr_auc": float(average_precision_score(y, p))}
    if np.all((p >= 0) & (p <= 1)):
        out["brier"] = float(brier_score_loss(y, p))
        out["mean_predicted"] = float(p.mean())
    for k in (0.1, 0.2):
        top = order[: max(1, int(round(k * len(y))))]
        out[f"recall_top{int(k * 100)}"] = float(y[top].sum() / max(y.sum(), 1))
        out[f"lift_top{int(k * 100)}"] = float(y[top].mean() / max(y.mean(), 1e-12))
    return out


def calibration_table(y, p, bins: int = 10) -> pd.DataFrame:
    """Reliability table: mean predicted vs observed share leaving, by decile of the
    prediction (equal numbers of customers), with the customers in each."""
    df = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(p, dtype=float)})
    k = int(min(bins, max(1, len(df) // 10)))
    df["bin"] = pd.qcut(df["p"].rank(method="first"), k, labels=False)
    out = df.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"),
                                customers=("y", "size"))
    out["gap"] = out["predicted"] - out["observed"]
    return out


def paired_bootstrap(y, scores: pd.DataFrame, reference: str = "model", n_boot: int = 300,
                     seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """ROC AUC of ``reference`` minus that of each other column, on the same resampled
    customers (a paired bootstrap): the difference and its ``level`` interval.

    An interval above zero means the reference ranks better than that baseline on
    customers like these, not just on this draw of them.
    """
    y = np.asarray(y).astype(int)
    rng = np.random.default_rng(seed)
    names = [c for c in scores.columns if c != reference]
    ref = scores[reference].to_numpy(dtype=float)
    others = {c: scores[c].to_numpy(dtype=float) for c in names}
    diffs = {c: np.empty(n_boot) for c in names}
    n = len(y)
    for b in range(n_boot):
        i = rng.integers(0, n, n)
        a = _auc(y[i], ref[i])
        for c in names:
            diffs[c][b] = a - _auc(y[i], others[c][i])
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    rows = []
    for c in names:
        d = diffs[c][~np.isnan(diffs[c])]
        rows.append({"baseline": c, "difference": _auc(y, ref) - _auc(y, others[c]),
                     "low": float(np.quantile(d, lo)) if len(d) else float("nan"),
                     "high": float(np.quantile(d, hi)) if len(d) else float("nan"),
                     "share_above_zero": float((d > 0).mean()) if len(d) else float("nan")})
    return pd.DataFrame(rows).set_index("baseline")


__all__ = ["calibration_table", "evaluate", "paired_bootstrap"]
