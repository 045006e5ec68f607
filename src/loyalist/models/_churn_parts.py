"""Parts of the churn model: Platt calibration, the spline logistic regression's terms
read from tables, and path attribution of LightGBM trees.

Private to :mod:`loyalist.models.churn`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class Platt:
    """Logistic calibration of log-odds: p = 1 / (1 + exp(-(a z + b))), fitted by
    Newton's method (two parameters, a whisper of ridge against separable data)."""

    def fit(self, z, y, weight=None):
        z = np.asarray(z, dtype="float64")
        y = np.asarray(y, dtype="float64")
        w = np.ones_like(z) if weight is None else np.asarray(weight, dtype="float64")
        X = np.column_stack([z, np.ones_like(z)])
        rate = np.clip(np.average(y, weights=w), 1e-6, 1 - 1e-6)
        beta = np.array([1.0, np.log(rate / (1 - rate)) - np.average(z, weights=w)])
        ridge = 1e-6 * w.sum()
        for _ in range(50):
            p = _sigmoid(X @ beta)
            grad = X.T @ (w * (p - y)) + ridge * beta
            hess = (X * (w * p * (1 - p))[:, None]).T @ X + ridge * np.eye(2)
            step = np.linalg.solve(hess, grad)
            beta -= step
            if np.abs(step).max() < 1e-10:
                break
        self.a_, self.b_ = float(beta[0]), float(beta[1])
        return self

    def predict(self, z):
        return _sigmoid(self.a_ * np.asarray(z, dtype="float64") + self.b_)


def platt_log_losses(Z, y) -> np.ndarray:
    """Log loss of :class:`Platt`'s map fitted to each column of ``Z`` (the same fits,
    all columns at once: the blend weights are tried in one pass, not one by one)."""
    Z = np.asarray(Z, dtype="float64")
    y = np.asarray(y, dtype="float64")[:, None]
    n = len(Z)
    rate = np.clip(y.mean(), 1e-6, 1 - 1e-6)
    a = np.ones(Z.shape[1])
    b = np.log(rate / (1 - rate)) - Z.mean(axis=0)
    ridge = 1e-6 * n
    active = np.ones(Z.shape[1], dtype=bool)
    for _ in range(50):
        z = Z[:, active]
        p = _sigmoid(a[active] * z + b[active])
        r, w = p - y, p * (1 - p)
        ga = (z * r).sum(axis=0) + ridge * a[active]
        gb = r.sum(axis=0) + ridge * b[active]
        haa = (w * z * z).sum(axis=0) + ridge
        hab = (w * z).sum(axis=0)
        hbb = w.sum(axis=0) + ridge
        det = haa * hbb - hab * hab
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a[active] -= da
        b[active] -= db
        done = np.maximum(np.abs(da), np.abs(db)) < 1e-10
        if done.all():
            break
        active[np.flatnonzero(active)[done]] = False
    p = np.clip(_sigmoid(a * Z + b), 1e-12, 1 - 1e-12)
    return -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p), axis=0)


def _sigmoid(x):
    """1 / (1 + exp(-x)) without overflow on separable data (|x| in the hundreds)."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -500.0, 500.0)))


def roc_auc(y, score) -> float:
    """Area under the ROC curve (tied scores count half), from average ranks."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype="float64")
    pos, n = int(y.sum()), len(y)
    if pos == 0 or pos == n:
        raise ValueError("ROC AUC needs both outcomes.")
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]  # the average rank of each tie group
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * (n - pos)))


def l2_logistic(B: np.ndarray, y, C: float, max_iter: int = 100, tol: float = 1e-7,
                start: tuple[np.ndarray, float] | None = None) -> tuple[np.ndarray, float]:
    """L2 logistic regression by Newton's method with step halving: minimises
    ``C * sum(log loss) + |w|^2 / 2`` (the intercept not penalised), what scikit-learn's
    ``LogisticRegression(C=C)`` minimises. ``start`` (coefficients, intercept) of a
    fit on similar rows saves iterations. Returns (coefficients, intercept)."""
    y = np.asarray(y, dtype="float64")
    n, k = B.shape
    X = np.column_stack([B, np.ones(n)])
    pen = np.full(k + 1, 1.0 / C)
    pen[-1] = 0.0
    if start is not None and len(start[0]) == k:
        beta = np.append(np.asarray(start[0], dtype="float64"), float(start[1]))
    else:
        rate = np.clip(y.mean(), 1e-6, 1 - 1e-6)
        beta = np.zeros(k + 1)
        beta[-1] = np.log(rate / (1 - rate))

    def objective(z, b):
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(pen * b * b))

    X32 = X.astype(np.float32)
    z = X @ beta
    f = objective(z, beta)
    for _ in range(max_iter):
        p = _sigmoid(z)
        grad = X.T @ (p - y) + pen * beta
        # the Hessian in single precision (one array times its own transpose: BLAS's
        # syrk, a third of the double-precision product's time); the gradient stays
        # double, so the solution is the same, at worst a step later
        root = X32 * np.sqrt(p * (1 - p)).astype(np.float32)[:, None]
        hess = (root.T @ root).astype(np.float64)
        hess[np.diag_indices_from(hess)] += pen + 1e-10
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while True:
            new = beta - t * step
            z_new = X @ new
            f_new = objective(z_new, new)
            if f_new <= f + 1e-12 * max(1.0, abs(f)) or t < 1e-6:
                break
            t /= 2.0
        beta, z, f = new, z_new, f_new
        if np.abs(t * step).max() < tol:
            break
    return beta[:-1], float(beta[-1])


class UniformSpline:
    """Quadratic B-splines on ``n_knots`` uniform knots from each column's minimum to
    its maximum, constant beyond them, the last spline of each column left out: what
    scikit-learn's ``SplineTransformer(n_knots, degree=2, extrapolation="constant",
    include_bias=False)`` computes, in NumPy (no scikit-learn to load for a small
    shop). A column with one value gives zeros."""

    degree = 2

    def __init__(self, n_knots: int = 4):
        self.n_knots = n_knots

    def fit(self, x: np.ndarray):
        x = np.asarray(x, dtype="float64")
        self.lo_, self.hi_ = x.min(axis=0), x.max(axis=0)
        self.knots_ = [np.linspace(a, b, self.n_knots) for a, b in
                       zip(self.lo_, self.hi_, strict=True)]
        self.per_ = self.n_knots + self.degree - 2  # splines kept per column
        self.n_features_out_ = x.shape[1] * self.per_
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype="float64")
        out = np.zeros((len(x), self.n_features_out_))
        for j in range(x.shape[1]):
            lo, hi = self.lo_[j], self.hi_[j]
            if not hi > lo:
                continue
            h = (hi - lo) / (self.n_knots - 1)
            s = (np.clip(x[:, j], lo, hi) - lo) / h + self.degree  # knot units from t0
            for i in range(self.per_):
                u = s - i  # the cardinal quadratic B-spline, support [0, 3)
                b = np.where(u < 1, 0.5 * u * u, np.where(
                    u < 2, 0.5 * (-2 * u * u + 6 * u - 3), 0.5 * (3 - u) ** 2))
                out[:, j * self.per_ + i] = np.where((u >= 0) & (u <= 3), b, 0.0)
        return out


class SplineLogistic:
    """L2 logistic regression on each number's quadratic B-spline basis (4 uniform
    knots, constant beyond them) with a missing-value indicator, and each category's
    one-hot column (categories seen fewer than ``min_frequency`` times share one).

    Each feature's term is stored as a table, so :meth:`terms` never builds the dense
    basis: a number's term is a quadratic between neighbouring knots, a category's
    one number. :meth:`decision_function` builds the basis (the reference the tables
    are checked against).
    """

    def __init__(self, features, categories, C=0.3, min_frequency=20):
        self.features = list(features)
        self.categories = categories
        self.C = C
        self.min_frequency = min_frequency

    def _numeric(self):
        return [c for c in self.features if c not in self.categories]

    def _basis(self, M: pd.DataFrame) -> np.ndarray:
        blocks = []
        num = self._numeric()
        if num:
            x = M[num].to_numpy(dtype="float64")
            miss = np.isnan(x)
            filled = np.where(miss, self.medians_[None, :], x)
            blocks.append(self.spline_.transform(filled))
            blocks.append(miss[:, self.indicated_].astype("float64"))
        for c in self.features:
            if c in self.categories:
                blocks.append(self._one_hot(M[c], c))
        return np.hstack(blocks) if blocks else np.empty((len(M), 0))

    def _one_hot(self, col, c) -> np.ndarray:
        codes = self.slot_[c][np.where(col.cat.codes.to_numpy() < 0, len(self.slot_[c]) - 1,
                                       col.cat.codes.to_numpy())]
        out = np.zeros((len(col), self.width_[c]))
        ok = codes >= 0
        out[np.flatnonzero(ok), codes[ok]] = 1.0
        return out

    def fit(self, M: pd.DataFrame, y, start: SplineLogistic | None = None):
        """Fit on ``M`` (the model's matrix); ``start``: a fit on similar rows whose
        weights the solver starts from."""
        import warnings

        num = self._numeric()
        if num:
            x = M[num].to_numpy(dtype="float64")
            miss = np.isnan(x)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column
                self.medians_ = np.nan_to_num(np.nanmedian(x, axis=0))
            self.indicated_ = miss.any(axis=0)
            self.spline_ = UniformSpline(n_knots=4).fit(
                np.where(miss, self.medians_[None, :], x))
        # categories: one column per frequent category, one for the rare ones together,
        # one for missing (and unseen) values when the training rows had any
        self.slot_, self.width_ = {}, {}
        for c in self.features:
            if c not in self.categories:
                continue
            codes = M[c].cat.codes.to_numpy()
            counts = np.bincount(np.where(codes < 0, len(self.categories[c]), codes),
                                 minlength=len(self.categories[c]) + 1)
            frequent = counts[:-1] >= self.min_frequency
            slot = np.full(len(counts), -1)
            slot[:-1][frequent] = np.arange(frequent.sum())
            k = int(frequent.sum())
            if (~frequent & (counts[:-1] > 0)).any():
                slot[:-1][~frequent] = k
                k += 1
            if counts[-1] > 0:
                slot[-1] = k
                k += 1
            self.slot_[c], self.width_[c] = slot, k
        self.coef_, self.intercept = l2_logistic(
            self._basis(M), y, self.C,
            start=(start.coef_, start.intercept) if start is not None else None)
        self._tables()
        return self

    def decision_function(self, M: pd.DataFrame) -> np.ndarray:
        """Log-odds through the dense basis."""
        return self._basis(M) @ self.coef_ + self.intercept

    def _tables(self) -> None:
        num = self._numeric()
        per = (self.spline_.n_features_out_ // len(num)) if num else 0
        ind_at = np.cumsum(self.indicated_) - 1 if num else []
        offset = len(num) * per + (int(self.indicated_.sum()) if num else 0)
        u = np.array([0.0, 0.5, 1.0])  # a quadratic through three points per piece
        if num:
            # every number's probe points in one matrix (the basis is column by column):
            # row 0 the median, then three points per piece between the knots
            knots = self.spline_.knots_
            probe = np.array([np.concatenate([[self.medians_[j]],
                                              (k[:-1, None] + u[None, :]
                                               * np.diff(k)[:, None]).ravel()])
                              for j, k in enumerate(knots)]).T
            basis = self.spline_.transform(probe)
        self.parts = []
        for c in self.features:
            if c in self.categories:
                w = self.coef_[offset:offset + self.width_[c]]
                slot = self.slot_[c]
                self.parts.append(("cat", np.where(slot >= 0, w[np.maximum(slot, 0)], 0.0)))
                offset += self.width_[c]
                continue
            j = num.index(c)
            vals = basis[:, j * per:(j + 1) * per] @ self.coef_[j * per:(j + 1) * per]
            w_missing = self.coef_[len(num) * per + ind_at[j]] if self.indicated_[j] else 0.0
            missing = float(vals[0]) + w_missing
            k = knots[j]
            if not k[-1] > k[0]:
                self.parts.append(("const", float(vals[1]), missing))
                continue
            poly = np.linalg.solve(np.vander(u, 3, increasing=True),
                                   vals[1:].reshape(-1, 3).T).T
            self.parts.append(("num", k, np.diff(k), poly, missing))

    def terms(self, M: pd.DataFrame) -> np.ndarray:
        """Each feature's term of the log-odds (their sum plus ``intercept`` is the
        decision function)."""
        out = np.empty((len(M), len(self.parts)))
        for j, (part, col) in enumerate(zip(self.parts, self.features, strict=True)):
            if part[0] == "cat":
                codes = M[col].cat.codes.to_numpy()
                out[:, j] = part[1][np.where(codes < 0, len(part[1]) - 1, codes)]
                continue
            x = M[col].to_numpy(dtype="float64")
            if part[0] == "const":
                out[:, j] = np.where(np.isnan(x), part[2], part[1])
                continue
            knots, width, poly, missing = part[1:]
            xc = np.clip(x, knots[0], knots[-1])
            k = np.clip(np.searchsorted(knots, xc, side="right") - 1, 0, len(width) - 1)
            v = (xc - knots[k]) / width[k]
            val = poly[k, 0] + v * (poly[k, 1] + v * poly[k, 2])
            out[:, j] = np.where(np.isnan(x), missing, val)
        return out


class TreePaths:
    """Path attribution of a LightGBM model: for every leaf of every tree, the
    features split on the way there and how much each split moved the expected
    score (node expectations weighted by the training rows in each leaf). A row's
    contributions are the sums over the leaves it lands in; with the expected score
    of the roots (``bias``) they add up to its raw score exactly."""

    def __init__(self, booster):
        trees = booster.dump_model()["tree_info"]
        width = max(t["num_leaves"] for t in trees)
        self.offsets = np.arange(len(trees)) * width
        feature, delta, self.bias = [], [], 0.0
        for k, tree in enumerate(trees):
            root = tree["tree_structure"]
            self.bias += self._expect(root)
            stack = [(root, ())]
            while stack:
                node, path = stack.pop()
                if "left_child" not in node:  # a leaf (a tree of one leaf has no index)
                    for f, d in path:
                        feature.append((self.offsets[k] + node.get("leaf_index", 0), f))
                        delta.append(d)
                    continue
                for side in ("left_child", "right_child"):
                    child = node[side]
                    stack.append((child, (*path, (node["split_feature"],
                                                  child["_e"] - node["_e"]))))
        self.n_leaves = len(trees) * width
        self.entries = np.array(feature, dtype=np.int64).reshape(-1, 2)
        self.delta = np.array(delta, dtype="float64")

    @classmethod
    def _expect(cls, node) -> float:
        """Expected score under ``node`` (stored on each node as ``_e``)."""
        if "left_child" not in node:
            node["_e"], node["_n"] = node["leaf_value"], max(node.get("leaf_count", 1), 1)
            return node["_e"]
        left, right = node["left_child"], node["right_child"]
        cls._expect(left), cls._expect(right)
        node["_n"] = left["_n"] + right["_n"]
        node["_e"] = (left["_e"] * left["_n"] + right["_e"] * right["_n"]) / node["_n"]
        return node["_e"]

    def table(self, group: np.ndarray, n_groups: int) -> np.ndarray:
        """(leaves x groups): each leaf's summed deltas by the group of their feature."""
        out = np.zeros((self.n_leaves, n_groups))
        np.add.at(out, (self.entries[:, 0], group[self.entries[:, 1]]), self.delta)
        return out

    def contributions(self, leaves: np.ndarray, table: np.ndarray) -> np.ndarray:
        from scipy import sparse

        n, t = leaves.shape
        hit = sparse.csr_matrix(
            (np.ones(n * t), (leaves + self.offsets[None, :]).ravel(),
             np.arange(0, n * t + 1, t)), shape=(n, self.n_leaves))
        return hit @ table
