"""Key drivers: which attributes move an outcome, as shares of what they explain together.

* :func:`relative_weights`: Johnson's (2000) relative weights. The predictors are
  replaced by their closest orthogonal counterparts, the outcome is regressed on those,
  and each predictor gets back the part of R^2 that flows through it. The weights add
  up to R^2 and, unlike regression coefficients, do not swing when the attributes are
  correlated (they always are: a customer who likes you rates everything higher).
* :func:`shapley_r2`: Shapley (LMG, Lindeman, Merenda and Gold 1980) decomposition of
  R^2, exact over every subset of predictors (up to 12). Relative weights approximate
  it closely and cost one eigen-decomposition instead of 2^p regressions.
* :func:`key_drivers`: either method with bootstrap intervals (Tonidandel, LeBreton and
  Johnson 2009), ranks, and a sentence on how strong the evidence is.

Correlations are computed on complete rows; for a yes/no outcome (stayed or not) the
weights are those of the linear probability model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from loyalist.errors import DataError

MAX_SHAPLEY = 12


def _corr_parts(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictor correlations and predictor-outcome correlations from a covariance
    matrix (or a stack) whose last row and column is the outcome."""
    sd = np.sqrt(np.diagonal(c, axis1=-2, axis2=-1))
    r = c / sd[..., :, None] / sd[..., None, :]
    return r[..., :-1, :-1], r[..., :-1, -1]


def _rw(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    """Relative weights from correlation matrices (stackable)."""
    vals, vecs = np.linalg.eigh(rxx)
    vals = np.clip(vals, 1e-12, None)
    lam = (vecs * np.sqrt(vals)[..., None, :]) @ np.swapaxes(vecs, -1, -2)
    beta = np.linalg.solve(lam, rxy[..., None])[..., 0]
    return ((lam ** 2) @ (beta ** 2)[..., None])[..., 0]


def _frame(X, y) -> tuple[np.ndarray, list[str]]:
    X = pd.DataFrame(X)
    names = [str(c) for c in X.columns]
    data = np.column_stack([X.to_numpy(dtype=np.float64), np.asarray(y, dtype=np.float64)])
    data = data[np.isfinite(data).all(axis=1)]
    if len(data) <= len(names) + 2:
        raise DataError(f"Only {len(data)} complete rows for {len(names)} drivers.",
                        hint="Collect more responses, or use fewer attributes.")
    const = data.std(axis=0) == 0
    if const.any():
        which = (names + ["the outcome"])[int(np.flatnonzero(const)[0])]
        raise DataError(f"{which} has the same value in every complete row.",
                        hint="Leave it out: a constant cannot explain anything.")
    return data, names


def relative_weights(X, y) -> pd.Series:
    """Johnson's relative weights of the columns of ``X`` for ``y`` (they sum to R^2)."""
    data, names = _frame(X, y)
    rxx, rxy = _corr_parts(np.cov(data, rowvar=False))
    return pd.Series(_rw(rxx, rxy), index=names, name="relative_weight")


def _r2(rxx: np.ndarray, rxy: np.ndarray, cols) -> np.ndarray:
    """R^2 of the predictors ``cols`` (stackable over leading axes)."""
    idx = list(cols)
    if not idx:
        return np.zeros(rxx.shape[:-2])
    sub = rxx[..., idx, :][..., :, idx]
    r = rxy[..., idx]
    return (r * np.linalg.solve(sub, r[..., None])[..., 0]).sum(axis=-1)


def _shapley(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    """Exact Shapley shares of R^2 (stackable): every subset's R^2, then each
    predictor's average gain over the orders it can join in."""
    from math import factorial

    p = rxx.shape[-1]
    if p > MAX_SHAPLEY:
        raise DataError(f"Exact Shapley regression over {p} drivers needs 2^{p} fits.",
                        hint="Use relative weights (method='relative_weights').")
    r2 = {s: _r2(rxx, rxy, s) for size in range(p + 1) for s in combinations(range(p), size)}
    out = np.zeros((*rxx.shape[:-2], p))
    for j in range(p):
        others = [i for i in range(p) if i != j]
        for size in range(p):
            w = factorial(size) * factorial(p - size - 1) / factorial(p)
            for s in combinations(others, size):
                out[..., j] += w * (r2[tuple(sorted((*s, j)))] - r2[s])
    return out


def shapley_r2(X, y) -> pd.Series:
    """Exact Shapley (LMG) shares of R^2 of the columns of ``X`` for ``y``."""
    data, names = _frame(X, y)
    rxx, rxy = _corr_parts(np.cov(data, rowvar=False))
    return pd.Series(_shapley(rxx, rxy), index=names, name="shapley")


@dataclass
class DriverResult:
    """Key drivers of one outcome: ``table`` (driver, weight, share of R^2, interval,
    rank), ``r2`` with its interval, and ``evidence`` in words."""

    outcome: str
    method: str
    n: int
    r2: float
    r2_ci: tuple[float, float]
    table: pd.DataFrame
    evidence: str
    notes: list[str] = field(default_factory=list)

    def top(self, k: int = 3) -> list[str]:
        return self.table.sort_values("rank")["driver"].head(k).tolist()

    def as_dict(self) -> dict:
        return {"outcome": self.outcome, "method": self.method, "responses": self.n,
                "r2": self.r2, "r2_low": self.r2_ci[0], "r2_high": self.r2_ci[1],
                "evidence": self.evidence,
                "drivers": self.table.to_dict(orient="records")}


def key_drivers(X, y, outcome: str = "outcome", *, method: str = "relative_weights",
                n_boot: int = 500, ci: float = 0.95, seed: int = 0,
                labels: dict[str, str] | None = None) -> DriverResult:
    """Which columns of ``X`` drive ``y``, with bootstrap intervals and a verdict."""
    if method not in ("relative_weights", "shapley"):
        raise DataError(f"Unknown key-driver method {method!r}.",
                        hint="Use 'relative_weights' or 'shapley'.")
    data, names = _frame(X, y)
    n, p = len(data), len(names)
    full = np.cov(data, rowvar=False)
    rxx, rxy = _corr_parts(full)
    weigh = _rw if method == "relative_weights" else _shapley
    w = weigh(rxx, rxy)
    r2 = float(_r2(rxx, rxy, range(p)))
    # bootstrap: covariance of each resample from counts, relative weights in one batch
    rng = np.random.default_rng(seed)
    xc = data - data.mean(axis=0)
    k = p + 1
    outer = (xc[:, :, None] * xc[:, None, :]).reshape(n, k * k)
    boots_w, boots_r2 = [], []
    chunk = max(1, min(n_boot, 20_000_000 // max(n, 1)))
    for first in range(0, n_boot, chunk):
        b = min(chunk, n_boot - first)
        cnt = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(b)]
                       ).astype(np.float64)
        mu = cnt @ xc / n
        covs = (cnt @ outer).reshape(b, k, k) / n - mu[:, :, None] * mu[:, None, :]
        bx, by = _corr_parts(covs)
        bw = weigh(bx, by)
        boots_w.append(bw)
        boots_r2.append(bw.sum(axis=1))
    bw = np.concatenate(boots_w)
    br2 = np.concatenate(boots_r2)
    tail = (1 - ci) / 2
    lo, hi = np.quantile(bw, [tail, 1 - tail], axis=0)
    rank = (-w).argsort().argsort() + 1
    total = w.sum()
    # how often each driver keeps its place: its rank in the bootstrap draws
    branks = (-bw).argsort(axis=1).argsort(axis=1) + 1
    same_rank = (branks == rank[None, :]).mean(axis=0)
    labels = labels or {}
    table = pd.DataFrame({
        "driver": names, "label": [labels.get(c, c) for c in names], "weight": w,
        "share": w / total if total > 0 else np.nan, "low": lo, "high": hi,
        "rank": rank, "rank_stability": same_rank})
    table = table.sort_values("rank", ignore_index=True)
    r2_ci = tuple(float(v) for v in np.quantile(br2, [tail, 1 - tail]))
    res = DriverResult(outcome, method, n, r2, r2_ci, table, "")
    res.evidence = _evidence(res)
    return res


def _evidence(r: DriverResult) -> str:
    t = r.table
    if r.n < 50:
        return (f"Weak evidence: only {r.n} complete responses. Treat the order below as a "
                "hint, not a finding.")
    if r.r2_ci[0] < 0.02:
        return (f"Weak evidence: together the attributes explain little of {r.outcome} "
                f"(R² {r.r2:.2f}, interval {r.r2_ci[0]:.2f}-{r.r2_ci[1]:.2f}), so no driver "
                "can be singled out with confidence.")
    first, second = t.iloc[0], t.iloc[1] if len(t) > 1 else None
    lead = (f"{first['label']} drives {r.outcome} most ({first['share']:.0%} of what the "
            f"attributes explain; R² {r.r2:.2f}).")
    if second is not None and first["low"] > second["high"]:
        lead += f" Clearly ahead of {second['label']} (the intervals do not overlap)."
    elif second is not None:
        lead += (f" {second['label']} is close behind: their intervals overlap, so the "
                 "order of the two is not certain.")
    shaky = t[(t["rank"] <= 3) & (t["rank_stability"] < 0.6)]
    if len(shaky) and second is not None and first["low"] > second["high"]:
        lead += (" Places " + ", ".join(str(int(x)) for x in shaky["rank"])
                 + " change between resamples.")
    return lead


__all__ = ["DriverResult", "key_drivers", "relative_weights", "shapley_r2"]
