"""How reliably a multi-item scale measures its construct.

* **Cronbach's alpha** (Cronbach 1951) with the Feldt (1965) F-distribution interval, the
  same interval as pingouin's ``cronbach_alpha`` and R's ``psych::alpha``;
* **McDonald's omega** (total; McDonald 1999) from a one-factor model fitted by maximum
  likelihood to the items' covariance matrix, with a percentile bootstrap interval
  (Kelley and Pornprasertmanit 2016 recommend a bootstrap for omega);
* per item: the **item-rest correlation** (the item against the sum of the other items)
  and alpha if the item were dropped;
* a **warning in words** when a scale is not reliable, naming the items that do not go
  with the rest.

Reversed items must be turned round before (``Item.score``); responses with a missing
item are left out (listwise), as pingouin's ``nan_policy="listwise"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from loyalist.errors import DataError

#: below this alpha or omega a scale is "not reliable enough" (Nunnally 1978)
GOOD = 0.7
#: below this item-rest correlation an item "does not go with the rest"
WEAK_ITEM = 0.3


def _matrix(items) -> tuple[np.ndarray, list[str]]:
    if isinstance(items, pd.DataFrame):
        names = [str(c) for c in items.columns]
        x = items.to_numpy(dtype=np.float64)
    else:
        x = np.asarray(items, dtype=np.float64)
        names = [f"item{j + 1}" for j in range(x.shape[1])] if x.ndim == 2 else []
    if x.ndim != 2 or x.shape[1] < 2:
        raise DataError(f"A scale needs at least two items; got {x.shape[-1] if x.ndim else 0}.",
                        hint="Reliability is about several items measuring one thing.")
    return x[np.isfinite(x).all(axis=1)], names


def cronbach_alpha(items, ci: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Cronbach's alpha of the columns of ``items`` and its Feldt interval.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(500, 1))
    >>> round(cronbach_alpha(f + rng.normal(size=(500, 4)))[0], 2)
    0.81
    """
    x, _ = _matrix(items)
    return _alpha_ci(x, ci)


def _alpha(cov: np.ndarray) -> float:
    k = cov.shape[0]
    return k / (k - 1) * (1 - np.trace(cov) / cov.sum())


def _alpha_ci(x: np.ndarray, ci: float) -> tuple[float, tuple[float, float]]:
    n, k = x.shape
    if n < 3:
        raise DataError(f"Only {n} complete responses: too few for a reliability estimate.",
                        hint="Collect more responses (30 or more give a usable interval).")
    a = _alpha(np.cov(x, rowvar=False))
    df1, df2 = n - 1, (n - 1) * (k - 1)
    lo = 1 - (1 - a) * stats.f.isf((1 - ci) / 2, df1, df2)
    hi = 1 - (1 - a) * stats.f.isf((1 + ci) / 2, df1, df2)
    return float(a), (float(lo), float(hi))


def one_factor(cov: np.ndarray, tol: float = 1e-10, max_iter: int = 10_000
               ) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood one-factor model of a covariance matrix (or a stack of them,
    shape ``(..., k, k)``): loadings and unique variances.

    Alternates the two conditions of the ML solution (Joreskog 1967): given the unique
    variances ``psi``, the loadings come from the largest eigenvalue ``t`` and vector
    ``v`` of ``psi^-1/2 C psi^-1/2`` (``l = psi^1/2 v sqrt(t - 1)``); given the
    loadings, ``psi = diag(C - l l')``. A stack of matrices (bootstrap draws) is
    solved in one batch.
    """
    covs = np.asarray(cov, dtype=np.float64)
    single = covs.ndim == 2
    covs = covs[None] if single else covs
    d = np.diagonal(covs, axis1=1, axis2=2)
    if np.any(d <= 0):
        raise DataError("An item has no variance: every response gives it the same answer.",
                        hint="Leave that item out of the scale.")
    psi = 0.5 * d
    for _ in range(max_iter):
        root = np.sqrt(psi)
        w, v = np.linalg.eigh(covs / root[:, :, None] / root[:, None, :])
        lam = root * v[:, :, -1] * np.sqrt(np.maximum(w[:, -1] - 1, 0))[:, None]
        new = np.maximum(d - lam ** 2, 1e-6 * d)  # a Heywood case stops at zero
        done = np.max(np.abs(new - psi) / d) < tol
        psi = new
        if done:
            break
    lam = lam * np.where(lam.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)
    return (lam[0], psi[0]) if single else (lam, psi)


def _omega(lam: np.ndarray, psi: np.ndarray) -> float:
    common = lam.sum() ** 2
    return float(common / (common + psi.sum()))


def mcdonald_omega(items, ci: float = 0.95, n_boot: int = 200, seed: int = 0
                   ) -> tuple[float, tuple[float, float]]:
    """McDonald's omega (total) of the columns of ``items`` with a bootstrap interval."""
    x, _ = _matrix(items)
    return _omega_ci(x, ci, n_boot, seed)[:2]


def _omega_ci(x, ci, n_boot, seed):
    cov = np.cov(x, rowvar=False)
    lam, psi = one_factor(cov)
    est = _omega(lam, psi)
    if n_boot <= 0:
        return est, (np.nan, np.nan), lam
    rng = np.random.default_rng(seed)
    n = len(x)
    xc = x - x.mean(axis=0)
    k = x.shape[1]
    outer = (xc[:, :, None] * xc[:, None, :]).reshape(n, k * k)
    boots = []
    # bootstrap covariances from resampling counts (one matrix product per batch)
    chunk = max(1, min(n_boot, 20_000_000 // max(n, 1)))
    for first in range(0, n_boot, chunk):
        b = min(chunk, n_boot - first)
        w = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(b)]
                     ).astype(np.float64)
        mu = w @ xc / n
        covs = (w @ outer).reshape(b, k, k) / n - mu[:, :, None] * mu[:, None, :]
        covs *= n / (n - 1)
        lb, pb = one_factor(covs, tol=1e-8)
        boots.append(lb.sum(axis=1) ** 2 / (lb.sum(axis=1) ** 2 + pb.sum(axis=1)))
    boots = np.concatenate(boots)
    tail = (1 - ci) / 2
    lo, hi = np.quantile(boots, [tail, 1 - tail])
    return est, (float(lo), float(hi)), lam


@dataclass
class ScaleReliability:
    """Reliability of one scale: ``alpha``, ``omega`` with intervals, ``items`` (one row
    per item: loading, item-rest correlation, alpha if dropped) and ``warning`` (words,
    or None when the scale is fine)."""

    construct: str
    n: int
    k: int
    alpha: float
    alpha_ci: tuple[float, float]
    omega: float
    omega_ci: tuple[float, float]
    items: pd.DataFrame
    warning: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"construct": self.construct, "responses": self.n, "items": self.k,
                "alpha": self.alpha, "alpha_low": self.alpha_ci[0],
                "alpha_high": self.alpha_ci[1], "omega": self.omega,
                "omega_low": self.omega_ci[0], "omega_high": self.omega_ci[1],
                "warning": self.warning}


def scale_reliability(items: pd.DataFrame, construct: str = "scale", *, ci: float = 0.95,
                      n_boot: int = 200, seed: int = 0) -> ScaleReliability:
    """Alpha, omega, item-rest correlations and a warning for one scale.

    ``items`` holds one column per item (reversed items already turned round) and one
    row per response; incomplete responses are left out.
    """
    x, names = _matrix(items)
    n, k = x.shape
    alpha, alpha_ci = _alpha_ci(x, ci)
    omega, omega_ci, lam = _omega_ci(x, ci, n_boot, seed)
    total = x.sum(axis=1)
    cov = np.cov(x, rowvar=False)
    rows = []
    for j, name in enumerate(names):
        rest = total - x[:, j]
        r = np.corrcoef(x[:, j], rest)[0, 1] if x[:, j].std() > 0 else np.nan
        keep = [i for i in range(k) if i != j]
        dropped = _alpha(cov[np.ix_(keep, keep)]) if k > 2 else np.nan
        rows.append({"item": name, "loading": float(lam[j] / np.sqrt(cov[j, j]))
                     if cov[j, j] > 0 else np.nan,
                     "item_rest_r": float(r), "alpha_if_dropped": float(dropped),
                     "mean": float(x[:, j].mean()), "sd": float(x[:, j].std(ddof=1))})
    table = pd.DataFrame(rows)
    rel = ScaleReliability(construct, n, k, alpha, alpha_ci, omega, omega_ci, table)
    rel.warning = _warning(rel)
    return rel


def _warning(r: ScaleReliability) -> str | None:
    parts = []
    worst = min(r.alpha, r.omega)
    if worst < GOOD:
        level = "is not reliable" if worst < 0.6 else "is not reliable enough"
        parts.append(f"The {r.construct} scale {level} (alpha {r.alpha:.2f}, omega "
                     f"{r.omega:.2f}; 0.70 or more is the usual bar): its items do not "
                     "measure one thing consistently, so treat its scores with caution.")
    weak = r.items[r.items["item_rest_r"] < WEAK_ITEM]
    for row in weak.itertuples(index=False):
        if row.item_rest_r < 0:
            parts.append(f"Item {row.item} goes against the rest (item-rest r "
                         f"{row.item_rest_r:.2f}): is it reversed, and marked so in the "
                         "survey definition?")
        else:
            better = (f"; without it alpha would be {row.alpha_if_dropped:.2f}"
                      if row.alpha_if_dropped > r.alpha else "")
            parts.append(f"Item {row.item} barely goes with the rest (item-rest r "
                         f"{row.item_rest_r:.2f}){better}: check its wording.")
    if r.n < 30:
        parts.append(f"Only {r.n} complete responses: the intervals are wide.")
    return " ".join(parts) or None
