"""The churn model's parts and how they are chosen: LightGBM trees stopped early on
held-out rows, the spline logistic regression, the held-out rows themselves (latest
dates, folds or a random share), and the blend weight chosen on them.

Private to :mod:`loyalist.models.churn`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.models._churn_parts import SplineLogistic, platt_log_losses

#: the trees' part when no tree improved on the offset model: the offset alone
OFFSET_ONLY = "offset only"
#: blend weights of the trees tried on the held-out rows
_WEIGHTS = np.round(np.linspace(0.0, 1.0, 11), 2)


class _Fixed:
    """One given train/test split, with the interface of a scikit-learn splitter."""

    def __init__(self, train, test):
        self.train, self.test = train, test

    def split(self, X=None, y=None):
        yield self.train, self.test


_CONTROLLER = []


def _blas_threads(n: int):
    """A limit on NumPy's BLAS threads. The controller that finds the libraries is made
    once (looking them up costs about 10 ms, a fifth of a small fit's logistic part)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=n)


def _log_loss(y, p) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def lightgbm_array(M: pd.DataFrame) -> np.ndarray:
    """The matrix as LightGBM reads a DataFrame (category codes, missing as NaN, and
    numbers, all float64), built once instead of by LightGBM's slower pandas path."""
    out = np.empty(M.shape, dtype="float64")
    for j, c in enumerate(M.columns):
        v = M[c]
        if isinstance(v.dtype, pd.CategoricalDtype):
            codes = v.cat.codes.to_numpy()
            out[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            out[:, j] = v.to_numpy(dtype="float64", na_value=np.nan)
    return out


class ChurnFitting:
    """The fitting side of :class:`~loyalist.models.churn.ChurnModel`."""

    # -- the parts -----------------------------------------------------------
    def _n_jobs(self, rows: int) -> int:
        # one thread is faster on small data (and on a busy machine: no spin-waiting)
        return 1 if rows < 100_000 else 2

    def _dataset(self, M, y):
        """All training rows binned once for LightGBM; each fit takes a subset."""
        import lightgbm

        # from the float array LightGBM would make of the DataFrame (category codes,
        # the same bins and trees), without its pandas path
        self._array = lightgbm_array(M)
        return lightgbm.Dataset(
            self._array, label=y, free_raw_data=False, feature_name=list(M.columns),
            categorical_feature=[j for j, c in enumerate(M.columns) if c in self.categories_],
            params={"verbose": -1, "feature_pre_filter": False})

    def _trees(self, data, y, train, valid=None, n=None):
        """Fit the trees on rows ``train`` of ``data`` (the shared Dataset); with
        ``valid`` rows stop early on them. Returns the booster cut to its best number
        of trees, and that number."""
        import lightgbm

        train = np.asarray(train)
        if len(train) > self.tree_max_rows:  # a random sample keeps the rates
            train = np.random.default_rng(self.random_state + 1).choice(
                train, self.tree_max_rows, replace=False)
        train = np.sort(train)
        params = {"objective": "binary", "learning_rate": self.learning_rate,
                  "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_child_samples,
                  "max_depth": self.max_depth, "bagging_fraction": 0.8, "bagging_freq": 1,
                  "feature_fraction": 0.8, "lambda_l2": 1.0, "seed": self.random_state,
                  "num_threads": self._n_jobs(len(train)), "verbose": -1,
                  "deterministic": True, "force_row_wise": True}

        def part(rows):
            d = data if len(rows) == len(y) else data.subset(rows)  # every row: no copy
            if self.offset_ is not None:
                d.set_init_score(self._offsets[rows])
            return d

        if n is None:
            n = self.n_estimators
        if n == 0:
            return OFFSET_ONLY, 0
        stopped = valid is not None and n is None
        if stopped:
            booster = lightgbm.train(
                params, part(train), num_boost_round=self.max_estimators,
                valid_sets=[part(np.sort(np.asarray(valid)))],
                callbacks=[lightgbm.early_stopping(self.early_stopping_rounds, verbose=False)],
                keep_training_booster=True)  # cut below: one copy of the model, not two
            best = max(int(booster.best_iteration or booster.current_iteration()), 1)
            if self.offset_ is not None:  # did any tree improve on the offset alone?
                rows = np.sort(np.asarray(valid))
                p = 1.0 / (1.0 + np.exp(-self._offsets[rows]))
                alone = _log_loss(y[rows], p)
                if alone <= booster.best_score["valid_0"]["binary_logloss"]:
                    return OFFSET_ONLY, 0
        else:
            best = n or 100
            booster = lightgbm.train(params, part(train), num_boost_round=best)
        if booster.current_iteration() > best or stopped:  # the training
            # rows released with the trees after the best
            booster = lightgbm.Booster(model_str=booster.model_to_string(num_iteration=best))
        return booster, best

    def _linear(self, M, y, start=None):
        """The spline logistic regression; returns (model, model): the model is its
        own table of terms. ``start``: a fit on similar rows to start the solver from."""
        rows = np.arange(len(y))
        if len(rows) > self.linear_max_rows:  # a few hundred weights need no millions
            rows = np.random.default_rng(self.random_state).choice(
                rows, self.linear_max_rows, replace=False)
        with _blas_threads(self._n_jobs(len(rows))):
            lin = SplineLogistic(self.feature_names_, self.categories_, C=self.linear_C)
            lin.fit(M.iloc[rows], y[rows], start=start)
        return lin, lin

    def _fit_parts(self, data, M, y, train, valid=None):
        """Trees (stopped early on rows ``valid`` when given) and the logistic part on
        rows ``train``, as the learner asks; each None when not used. Returns (booster,
        trees, linear)."""
        booster, best, linear = None, 0, None
        if self.learner != "linear" and self.blend != 0:
            booster, best = self._trees(data, y, train, valid)
        if self.learner != "trees" and self.blend != 1:
            linear = self._linear(M.iloc[train], y[train])
        return booster, best, linear

    def _offset(self, M) -> np.ndarray:
        """Log-odds of the ``offset`` column (its training mean where missing)."""
        p = np.clip(M[self.offset_].to_numpy(dtype="float64"), 1e-4, 1 - 1e-4)
        z = np.log(p) - np.log1p(-p)
        return np.where(np.isnan(z), self.offset_fill_, z)

    def _raw(self, booster, linear, M, array=None
             ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Log-odds of the trees and of the logistic part (None when not used);
        ``array``: the matrix as LightGBM reads it, when already made."""
        if isinstance(booster, str):  # OFFSET_ONLY
            zt = np.zeros(len(M))
        else:
            # threads as for fitting: a booster does not keep them (OpenMP's default
            # spins every core, busy-waiting on a small table)
            array = lightgbm_array(M) if array is None and booster is not None else array
            zt = (booster.predict(array, raw_score=True,
                                  num_threads=self._n_jobs(len(M)))
                  if booster is not None else None)
        if zt is not None and self.offset_ is not None:
            zt = zt + self._offset(M)
        zl = linear[1].intercept + linear[1].terms(M).sum(axis=1) if linear is not None else None
        return zt, zl

    # -- fitting -----------------------------------------------------------
    def _later_rows(self, dates) -> np.ndarray | None:
        """Rows of the latest as-of dates (at least ``validation`` of the rows), when
        the rows come from several dates and both sides have both outcomes."""
        if dates is None:
            return None
        d = pd.to_datetime(pd.Series(dates)).to_numpy()
        days = np.unique(d)
        if len(days) < 2:
            return None
        share = np.cumsum([np.mean(d == x) for x in days[::-1]])
        k = int(np.searchsorted(share, self.validation * 0.999)) + 1
        if k >= len(days):
            return None
        return d >= days[::-1][k - 1]

    def _held_out(self, data, M, y, dates=None, held_out=None):
        """Held-out log-odds of both parts, the rows they belong to, the trees chosen,
        and the final parts when they need no refit."""
        n = len(y)
        minority = int(min(y.sum(), n - y.sum()))
        zt, zl = np.full(n, np.nan), np.full(n, np.nan)
        later = self._later_rows(dates) if held_out is None else held_out
        if later is not None:  # rows stacked over dates: hold out the latest, as in use
            folds = _Fixed(np.flatnonzero(~later), np.flatnonzero(later))
        elif n < self.small_rows or minority * self.validation < 20:
            from sklearn.model_selection import StratifiedKFold

            k = int(max(2, min(self.cv, minority)))
            folds = StratifiedKFold(k, shuffle=True, random_state=self.random_state)
        else:
            from sklearn.model_selection import StratifiedShuffleSplit

            folds = StratifiedShuffleSplit(1, test_size=self.validation,
                                           random_state=self.random_state)
        splits = list(folds.split(M, y))
        trees, kept = [], None
        for train, test in splits:
            b, best, lin = self._fit_parts(data, M, y, train, valid=test)
            array = self._array[test] if getattr(self, "_array", None) is not None else None
            zt[test], zl[test] = [np.nan if z is None else z
                                  for z in self._raw(b, lin, M.iloc[test], array)]
            trees.append(best)
            if len(splits) == 1:
                kept = (b, best, lin)
        seen = ~np.isnan(zt) if self.learner != "linear" and self.blend != 0 else ~np.isnan(zl)
        return zt, zl, seen, trees, kept

    def _choose_blend(self, zt, zl, y) -> float:
        if self.learner == "trees":
            return 1.0
        if self.learner == "linear":
            return 0.0
        if self.blend is not None:
            return float(self.blend)
        losses = platt_log_losses(zt[:, None] * _WEIGHTS + zl[:, None] * (1 - _WEIGHTS), y)
        return float(_WEIGHTS[int(np.argmin(losses))])
