"""Who will walk away: a calibrated gradient-boosting model of leaving.

:class:`ChurnModel` follows the scikit-learn contract. It takes the feature frame of
:func:`loyalist.features.builder.feature_frame` (or any table of attributes),
handles text columns as categories, drops columns that cannot teach anything (empty,
constant, identifiers) and says so, and calibrates its probabilities on held-out
predictions, so "0.3" means about 30 in 100 such customers leave.

Nothing about its capacity is fixed in advance: the number of trees is chosen by early
stopping on rows the trees did not learn from, and the weight of the trees against a
smooth spline logistic regression is chosen on those same held-out rows (0 = the
logistic regression alone, 1 = the trees alone).

:meth:`ChurnModel.contributions` gives each feature's (or each family's) share of each
customer's score, which the whispers turn into words. The shares are exact (they sum
to the score) and cheap enough for every customer: the trees' part follows each
customer's path through each tree (path attribution: each split's change in the
expected score goes to the split's feature), the logistic part evaluates each
feature's spline term from a per-feature table.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from loyalist.errors import DataError, NotFittedError
from loyalist.models._churn_parts import Platt, SplineLogistic, TreePaths, roc_auc

#: rows transformed at a time by the (dense) spline expansion
_SLICE = 100_000
#: columns that identify a row, never features
ID_COLUMNS = ("customer_id", "as_of", "left", "id")
#: the trees' part when no tree improved on the offset model: the offset alone
OFFSET_ONLY = "offset only"
#: blend weights of the trees tried on the held-out rows
_WEIGHTS = np.round(np.linspace(0.0, 1.0, 11), 2)
#: a column of whole numbers, all different, with a name like these is an identifier
_ID_NAME = re.compile(r"(^|_)(id|num|number|no|key|code|clientnum|ref)($|_)", re.I)


def _check_fitted(model) -> None:
    if not hasattr(model, "feature_names_"):
        raise NotFittedError(f"This {type(model).__name__} is not fitted yet.",
                             hint="Call fit(X, y) first.")


class _Fixed:
    """One given train/test split, with the interface of a scikit-learn splitter."""

    def __init__(self, train, test):
        self.train, self.test = train, test

    def split(self, X=None, y=None):
        yield self.train, self.test


def _log_loss(y, p) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


class ChurnModel:
    """Calibrated LightGBM classifier of leaving, blended with a spline logistic
    regression (a smooth additive model that the trees complement).

    Parameters
    ----------
    n_estimators : int or None
        Number of trees. None (default): chosen by early stopping on held-out rows, up
        to ``max_estimators``.
    learning_rate, num_leaves, max_depth, min_child_samples : LightGBM settings
        (the defaults are LightGBM's own capacity; early stopping decides how much of
        it is used).
    max_estimators, early_stopping_rounds : int
        Upper bound on the trees, and how many rounds without improvement end them.
    learner : {"blend", "trees", "linear"}
        ``"blend"`` mixes the trees' log-odds with those of an L2 logistic regression on
        spline-expanded numbers and one-hot categories; ``"linear"`` is that logistic
        regression alone (the baseline the trees must beat); ``"trees"`` the trees alone.
    blend : float or None
        Weight of the trees in a blend. None (default): chosen on the held-out rows,
        among 0, 0.1, ..., 1, by the log loss of the calibrated blend.
    linear_C : float
        Inverse L2 strength of the logistic part.
    linear_max_rows, tree_max_rows : int
        Each part learns from at most this many rows (a random sample).
    calibration : {"sigmoid", "isotonic", "none"}
        How held-out scores become probabilities: Platt's logistic map (keeps the
        ranking), isotonic regression (more flexible, creates ties) or none.
    validation : float
        Share of the rows held out (stratified) to stop the trees, choose the blend and
        calibrate. Below ``small_rows`` rows, ``cv``-fold cross-fitting is used instead,
        so every row is held out once.
    cv, small_rows : int
    time_validation : bool
        When the rows carry an ``as_of`` column with several dates (features stacked
        over training dates), hold out the latest dates instead of random rows: the
        trees stop, and the blend is chosen, on how well the past predicted a later
        date, which is how the model is used.
    refit_rows : int
        Up to this many rows the final model is refitted on every row (with the chosen
        number of trees and weight); above it the model fitted without the held-out
        rows is kept (plenty of rows already, and one fit instead of two).
    offset : str or None
        A column holding a probability of leaving from another model (BG/NBD's
        probability of no purchase in the horizon, say): the trees start from its
        log-odds and learn only what it misses, so the model begins where that
        baseline ends. Its share of each score goes to that column's contribution.
    random_state : int
    exclude : tuple of str
        Columns never to use as features.

    Attributes
    ----------
    feature_names_ : list of str
    categories_ : dict of column -> list of categories
    model_ : lightgbm.Booster, None (no trees in a linear model), or ``"offset only"``
        (no tree improved on the ``offset`` model on the held-out rows)
    linear_ : fitted scikit-learn pipeline of the logistic part, or None
    blend_weight_ : float, the trees' weight (1 = trees alone, 0 = logistic alone)
    n_trees_ : int, trees kept
    calibrator_ : fitted calibration map (``predict(log_odds) -> probability``) or None
    validation_ : dict, what the held-out rows said (rows, log loss and ROC AUC of each
        part and of the blend)
    unused_ : pandas.DataFrame, columns not used and why (empty, constant, identifier,
        or a reason given to ``fit``)
    rates_ : dict of column -> DataFrame of the share leaving by category (or by
        quintile of a number) in the training rows: the evidence behind profile reasons
    summary_ : pandas.DataFrame (feature importance by gain)
    """

    def __init__(self, n_estimators: int | None = None, learning_rate: float = 0.1,
                 num_leaves: int = 31, max_depth: int = -1, min_child_samples: int = 20,
                 max_estimators: int = 1000, early_stopping_rounds: int = 10,
                 learner: str = "blend", blend: float | None = None, linear_C: float = 0.3,
                 linear_max_rows: int = 100_000, tree_max_rows: int = 1_000_000,
                 calibration: str = "sigmoid", validation: float = 0.2, cv: int = 3,
                 small_rows: int = 2000, refit_rows: int = 200_000,
                 time_validation: bool = True, offset: str | None = None,
                 random_state: int = 0, exclude: tuple[str, ...] = ()):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.max_estimators = max_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.learner = learner
        self.blend = blend
        self.linear_C = linear_C
        self.linear_max_rows = linear_max_rows
        self.tree_max_rows = tree_max_rows
        self.calibration = calibration
        self.validation = validation
        self.cv = cv
        self.small_rows = small_rows
        self.refit_rows = refit_rows
        self.time_validation = time_validation
        self.offset = offset
        self.random_state = random_state
        self.exclude = exclude

    def get_params(self, deep: bool = True) -> dict:
        """Constructor parameters (scikit-learn convention)."""
        import inspect

        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params) -> ChurnModel:
        for k, v in params.items():
            if k not in self.get_params():
                raise DataError(f"ChurnModel has no parameter {k!r}.",
                                hint=f"Parameters: {', '.join(self.get_params())}.")
            setattr(self, k, v)
        return self

    def _check_params(self) -> None:
        checks = [
            ("learner", self.learner in ("blend", "trees", "linear"),
             "'blend', 'trees' or 'linear'"),
            ("calibration", self.calibration in ("sigmoid", "isotonic", "none"),
             "'sigmoid', 'isotonic' or 'none'"),
            ("blend", self.blend is None or (isinstance(self.blend, (int, float))
                                             and 0 <= self.blend <= 1),
             "None or a float in [0, 1]"),
            ("validation", isinstance(self.validation, float) and 0 < self.validation < 0.5,
             "a float in (0, 0.5)"),
            ("n_estimators", self.n_estimators is None or (
                isinstance(self.n_estimators, int) and self.n_estimators >= 1),
             "None or an integer >= 1"),
            ("cv", isinstance(self.cv, int) and self.cv >= 2, "an integer >= 2"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise DataError(f"The {name!r} parameter of ChurnModel must be {expected}. "
                                f"Got {getattr(self, name)!r} instead.")

    # -- data --------------------------------------------------------------
    def _choose_columns(self, X: pd.DataFrame, unavailable: dict[str, str]) -> None:
        """Which columns can teach something; the others go to ``unused_`` with why."""
        cols, unused = [], []
        n = len(X)
        for c in X.columns:
            if c in ID_COLUMNS or c in self.exclude:
                continue
            v = X[c]
            if pd.api.types.is_datetime64_any_dtype(v):
                unused.append((c, "a date"))
                continue
            count = v.notna().sum()
            if count == 0:
                unused.append((c, unavailable.get(c, "empty")))
                continue
            distinct = v.nunique(dropna=True)
            if distinct <= 1 and count == n:
                unused.append((c, unavailable.get(c, "constant")))
                continue
            numeric = pd.api.types.is_numeric_dtype(v) and not pd.api.types.is_bool_dtype(v)
            if n >= 50 and distinct == count == n:
                whole = numeric and bool((v.dropna() % 1 == 0).all())
                if not numeric or (whole and _ID_NAME.search(str(c))):
                    unused.append((c, "an identifier (a different value in every row)"))
                    continue
            if not numeric and distinct > max(50, 0.5 * count):
                unused.append((c, f"free text ({distinct:,} different values)"))
                continue
            cols.append(c)
        if not cols:
            raise DataError("No feature columns to learn from.",
                            hint="Check the feature frame and the excluded columns"
                            + (f"; not used: {', '.join(c for c, _ in unused[:8])}."
                               if unused else "."))
        self.feature_names_ = cols
        self.unused_ = pd.DataFrame(unused, columns=["feature", "reason"])
        self.categories_ = {c: sorted(X[c].dropna().astype(str).unique())
                            for c in cols if not pd.api.types.is_numeric_dtype(X[c])
                            or pd.api.types.is_bool_dtype(X[c])}

    def _matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise DataError(f"Features missing from the data: {', '.join(missing[:10])}.",
                            hint="Build features the same way as for training.")
        cols = {}
        for c in self.feature_names_:
            v = X[c]
            if c in self.categories_:  # values unseen in training: missing
                if pd.api.types.is_bool_dtype(v) or not (
                        pd.api.types.is_string_dtype(v) or v.dtype == object):
                    v = v.astype("string")
                cats = self.categories_[c]
                cols[c] = pd.Categorical.from_codes(
                    pd.Index(cats, dtype=object).get_indexer(v.astype(object)), categories=cats)
            elif v.dtype.kind == "f":
                cols[c] = v.astype("float64")
            else:
                cols[c] = pd.to_numeric(v, errors="coerce").astype("float64")
        return pd.DataFrame(cols, index=X.index)

    # -- the parts -----------------------------------------------------------
    def _n_jobs(self, rows: int) -> int:
        # one thread is faster on small data (and on a busy machine: no spin-waiting)
        return 1 if rows < 100_000 else 2

    def _dataset(self, M, y):
        """All training rows binned once for LightGBM; each fit takes a subset."""
        import lightgbm

        return lightgbm.Dataset(M, label=y, free_raw_data=False,
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
            d = data.subset(rows)
            if self.offset_ is not None:
                d.set_init_score(self._offsets[rows])
            return d

        if n is None:
            n = self.n_estimators
        if n == 0:
            return OFFSET_ONLY, 0
        if valid is not None and n is None:
            booster = lightgbm.train(
                params, part(train), num_boost_round=self.max_estimators,
                valid_sets=[part(np.sort(np.asarray(valid)))],
                callbacks=[lightgbm.early_stopping(self.early_stopping_rounds, verbose=False)])
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
        if booster.current_iteration() > best:
            booster = lightgbm.Booster(model_str=booster.model_to_string(num_iteration=best))
        return booster, best

    def _linear(self, M, y, start=None):
        """The spline logistic regression; returns (model, model): the model is its
        own table of terms. ``start``: a fit on similar rows to start the solver from."""
        from threadpoolctl import threadpool_limits

        rows = np.arange(len(y))
        if len(rows) > self.linear_max_rows:  # a few hundred weights need no millions
            rows = np.random.default_rng(self.random_state).choice(
                rows, self.linear_max_rows, replace=False)
        with threadpool_limits(self._n_jobs(len(rows))):
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

    def _raw(self, booster, linear, M) -> tuple[np.ndarray | None, np.ndarray | None]:
        if isinstance(booster, str):  # OFFSET_ONLY
            zt = np.zeros(len(M))
        else:
            zt = booster.predict(M, raw_score=True) if booster is not None else None
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
            zt[test], zl[test] = [np.nan if z is None else z
                                  for z in self._raw(b, lin, M.iloc[test])]
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
        losses = [_log_loss(y, Platt().fit(w * zt + (1 - w) * zl, y).predict(
            w * zt + (1 - w) * zl)) for w in _WEIGHTS]
        return float(_WEIGHTS[int(np.argmin(losses))])

    def fit(self, X: pd.DataFrame, y, *, unavailable: dict[str, str] | None = None,
            held_out=None, refit: bool | None = None) -> ChurnModel:
        """Learn who leaves.

        ``unavailable`` (column -> why) names features that could not be computed, so
        the summary says why they are empty. ``held_out`` (a boolean per row) names the
        rows to stop the trees, choose the blend and calibrate on, instead of the
        automatic choice; ``refit=False`` keeps the model that did not learn from them
        (so the calibration learnt on them applies to it exactly).
        """
        self._check_params()
        self.validation_ = {}
        y = np.asarray(y).astype(int)
        if len(y) != len(X):
            raise DataError(f"fit got {len(X)} rows but {len(y)} labels.")
        if len(np.unique(y)) < 2:
            raise DataError("Every training customer has the same label.",
                            hint="Use more as-of dates or a longer history.")
        self._choose_columns(X, unavailable or {})
        M = self._matrix(X)
        self.offset_ = None
        if self.offset is not None and self.offset in self.feature_names_ \
                and self.offset not in self.categories_:
            self.offset_ = self.offset
            p = np.clip(M[self.offset].to_numpy(dtype="float64"), 1e-4, 1 - 1e-4)
            self.offset_fill_ = float(np.nanmean(np.log(p) - np.log1p(-p)))
        dates = X["as_of"] if "as_of" in X.columns and self.time_validation else None
        if held_out is not None:
            held_out = np.asarray(held_out, dtype=bool)
            if held_out.shape != y.shape or held_out.all() or not held_out.any() or len(
                    np.unique(y[held_out])) < 2 or len(np.unique(y[~held_out])) < 2:
                raise DataError("held_out must mark some rows (not all) of each outcome "
                                "on both sides.")
            self.validation_ = {"held_out": "the rows given"}
        elif dates is not None and self._later_rows(dates) is not None:
            self.validation_ = {"held_out": "the latest as-of dates"}
        data = self._dataset(M, y) if self.learner != "linear" and self.blend != 0 else None
        if self.offset_ is not None:
            self._offsets = self._offset(M)
        zt, zl, seen, trees, kept = self._held_out(data, M, y, dates, held_out)
        ys = y[seen]
        w = self._choose_blend(zt[seen], zl[seen], ys)
        z = (w * np.nan_to_num(zt[seen]) if w > 0 else 0.0) + (
            (1 - w) * np.nan_to_num(zl[seen]) if w < 1 else 0.0)
        self.blend_weight_ = w
        self.calibrator_ = None
        if self.calibration == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0,
                                                  y_max=1.0).fit(z, ys)
        elif self.calibration == "sigmoid":  # strictly increasing: the ranking is kept
            self.calibrator_ = Platt().fit(z, ys)
        two = len(np.unique(ys)) == 2
        self.validation_ = {**getattr(self, "validation_", {}), "rows": int(seen.sum()),
                            "folds": len(trees)}
        for name, part in (("trees", zt), ("linear", zl)):
            if not np.isnan(part[seen]).any() and two:
                self.validation_[f"{name}_roc_auc"] = float(roc_auc(ys, part[seen]))
        if two:
            self.validation_["blend_roc_auc"] = float(roc_auc(ys, z))
        # the final parts: refit on every row with what the held-out rows chose
        use_trees, use_linear = w > 0, w < 1
        self.n_trees_ = int(round(np.mean(trees))) if use_trees else 0
        if kept is not None and (len(y) > self.refit_rows or refit is False):
            booster, _, linear = kept
        else:
            n_final = self.n_estimators or int(round(self.n_trees_ * 1.1))
            if n_final == 0 and self.offset_ is None:
                n_final = 1
            booster = (self._trees(data, y, np.arange(len(y)), n=n_final)[0] if use_trees
                       else None)
            start = kept[2][0] if kept is not None and kept[2] else None
            linear = self._linear(M, y, start=start) if use_linear else None
            self.n_trees_ = n_final if use_trees else 0
        self.model_ = booster if use_trees else None
        self.linear_, self.linear_terms_ = linear if use_linear and linear else (None, None)
        self._paths = None  # path attribution tables: built when first needed
        sample = (M if len(M) <= self.linear_max_rows  # every row: no shuffled copy
                  else M.sample(self.linear_max_rows, random_state=self.random_state))
        if self.offset_ is not None:
            self.offset_mean_ = float(self._offset(sample).mean())
        if self.linear_ is not None:
            self.linear_means_ = self.linear_terms_.terms(sample).mean(axis=0)
        self._summarise(M, y, sample)
        self.__dict__.pop("_offsets", None)
        self.n_train_ = len(y)
        self.base_rate_ = float(y.mean())
        return self

    def _summarise(self, M, y, sample) -> None:
        w = self.blend_weight_
        gain = np.zeros(len(self.feature_names_))
        if isinstance(self.model_, str):  # the offset alone
            gain[self.feature_names_.index(self.offset_)] += w
        elif self.model_ is not None:
            g = self.model_.feature_importance("gain")
            gain += w * g / max(g.sum(), 1e-12)
        if self.linear_ is not None:
            g = np.abs(self.linear_terms_.terms(sample) - self.linear_means_).mean(axis=0)
            gain += (1 - w) * g / max(g.sum(), 1e-12)
        self.summary_ = (pd.DataFrame({"feature": self.feature_names_, "gain": gain})
                         .sort_values("gain", ascending=False, ignore_index=True))
        self.summary_["share"] = self.summary_["gain"] / max(self.summary_["gain"].sum(), 1e-12)
        self.rates_ = _rates(M, y, self.random_state)

    def _has_trees(self) -> bool:
        return self.model_ is not None and not isinstance(self.model_, str)

    @property
    def paths_(self) -> TreePaths | None:
        """Path attribution tables of the trees (built on first use)."""
        if self._has_trees() and getattr(self, "_paths", None) is None:
            self._paths = TreePaths(self.model_)
        return getattr(self, "_paths", None)

    # -- predicting ----------------------------------------------------------
    def _blend(self, zt, zl):
        w = self.blend_weight_
        if zt is None:
            return zl
        if zl is None:
            return zt
        return w * zt + (1 - w) * zl

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds of leaving."""
        _check_fitted(self)
        linear = (self.linear_, self.linear_terms_) if self.linear_ is not None else None
        return self._blend(*self._raw(self.model_, linear, self._matrix(X)))

    def shift_calibration(self, X: pd.DataFrame, y) -> float:
        """Move the calibration's intercept so that the mean probability on ``X`` is the
        share of ``y`` that left (a recalibration in level, the ranking unchanged).
        Returns the shift in log-odds."""
        _check_fitted(self)
        return self.shift_mean(self.decision_function(X), float(np.mean(y)))

    def shift_mean(self, log_odds, target: float) -> float:
        """Move the calibration's intercept so that the mean probability of these
        (uncalibrated) log-odds is ``target``. Returns the shift in log-odds."""
        from scipy.optimize import brentq

        if not isinstance(self.calibrator_, Platt):
            raise DataError("shift_mean needs the sigmoid calibration.")
        z = self.calibrator_.a_ * np.asarray(log_odds, dtype="float64") + self.calibrator_.b_

        def gap(d):
            return float(np.mean(1.0 / (1.0 + np.exp(-(z + d))))) - target

        if not 0 < target < 1:
            return 0.0
        d = brentq(gap, -20.0, 20.0)
        self.calibrator_.b_ += d
        return float(d)

    def probability(self, log_odds) -> np.ndarray:
        """Calibrated probability from uncalibrated log-odds (the sum of a row's
        :meth:`contributions`)."""
        _check_fitted(self)
        z = np.asarray(log_odds, dtype="float64")
        if self.calibrator_ is not None:
            return self.calibrator_.predict(z)
        return 1.0 / (1.0 + np.exp(-z))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of leaving, one per row."""
        return self.probability(self.decision_function(X))

    def contributions(self, X: pd.DataFrame, groups: dict[str, str] | None = None
                      ) -> pd.DataFrame:
        """Each feature's contribution to each row's log-odds, plus ``bias``; the row
        sums are :meth:`decision_function` exactly.

        ``groups`` (feature -> group name) sums the features of each group (feature
        families for the whispers); features not named keep their own column. The
        trees' part is path attribution (each split's change in the expected score
        goes to its feature); the linear part adds each feature's term, centred on
        its training average; a blend weighs the two as its score does.
        """
        _check_fitted(self)
        groups = groups or {}
        names = list(dict.fromkeys(groups.get(f, f) for f in self.feature_names_))
        gid = np.array([names.index(groups.get(f, f)) for f in self.feature_names_])
        one_hot = np.zeros((len(self.feature_names_), len(names)))
        one_hot[np.arange(len(gid)), gid] = 1.0
        table = self.paths_.table(gid, len(names)) if self._has_trees() else None
        out = np.empty((len(X), len(names) + 1))
        for i in range(0, len(X), _SLICE):  # in slices: leaf indices are rows x trees
            M = self._matrix(X.iloc[i:i + _SLICE])
            tree = lin = None
            if self.model_ is not None:
                if self._has_trees():
                    leaves = self.model_.predict(M, pred_leaf=True)
                    t = self.paths_.contributions(np.asarray(leaves, dtype=np.int64), table)
                    bias = np.full(len(M), self.paths_.bias)
                else:  # the offset alone
                    t, bias = np.zeros((len(M), len(names))), np.zeros(len(M))
                if self.offset_ is not None:  # the starting point: its own feature's
                    off = self._offset(M)
                    t[:, gid[self.feature_names_.index(self.offset_)]] += off - self.offset_mean_
                    bias += self.offset_mean_
                tree = np.column_stack([t, bias])
            if self.linear_ is not None:
                li = (self.linear_terms_.terms(M) - self.linear_means_) @ one_hot
                bias = self.linear_terms_.intercept + self.linear_means_.sum()
                lin = np.column_stack([li, np.full(len(M), bias)])
            out[i:i + len(M)] = self._blend(tree, lin)
        return pd.DataFrame(out, columns=[*names, "bias"], index=X.index)

    def print_summary(self, top: int = 15, file=None) -> None:
        _check_fitted(self)
        parts = {1.0: "trees alone", 0.0: "logistic regression alone"}
        how = parts.get(self.blend_weight_, f"trees {self.blend_weight_:.0%}, logistic "
                        f"{1 - self.blend_weight_:.0%}")
        lines = [f"ChurnModel: {self.n_train_:,} training rows, base rate "
                 f"{self.base_rate_:.1%}, {len(self.feature_names_)} features; {how}"
                 + (f", {self.n_trees_} trees" if self.n_trees_ else "")
                 + (f"; no tree improved on {self.offset_} (used alone)"
                    if isinstance(self.model_, str) else ""),
                 "held out: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float)
                                          else f"{k} {v}" for k, v in self.validation_.items()),
                 self.summary_.head(top).to_string(index=False)]
        if len(self.unused_):
            lines.append("Not used: " + "; ".join(f"{r.feature} ({r.reason})"
                                                  for r in self.unused_.itertuples()))
        print("\n".join(lines), file=file)


def _rates(M: pd.DataFrame, y: np.ndarray, seed: int, max_rows: int = 200_000) -> dict:
    """Share leaving by category, or by quintile of a number, in (a sample of) the
    training rows: the evidence a profile reason cites. Each value is a DataFrame
    (rate, rows) indexed by category or by quintile (0-4, -1 for missing); a number's
    quintile edges are in ``.attrs["edges"]``."""
    if len(y) > max_rows:
        rows = np.random.default_rng(seed).choice(len(y), max_rows, replace=False)
        M, y = M.iloc[rows], y[rows]
    out = {}
    for c in M.columns:
        v = M[c]
        if isinstance(v.dtype, pd.CategoricalDtype):
            codes = v.cat.codes.to_numpy()
            index = [*v.cat.categories, None]
            key = np.where(codes < 0, len(index) - 1, codes)
            edges = None
        else:
            x = v.to_numpy(dtype="float64")
            ok = ~np.isnan(x)
            edges = np.unique(np.quantile(x[ok], [0.2, 0.4, 0.6, 0.8])) if ok.any() \
                else np.array([])
            index = [*range(len(edges) + 1), -1]
            key = np.where(ok, np.searchsorted(edges, np.where(ok, x, 0), side="right"),
                           len(index) - 1)
        rows = np.bincount(key, minlength=len(index))
        left = np.bincount(key, y, minlength=len(index))
        seen = rows > 0
        g = pd.DataFrame({"rate": left[seen] / rows[seen], "rows": rows[seen]},
                         index=pd.Index(np.array(index, dtype=object)[seen], name=c))
        if edges is not None:
            g.attrs["edges"] = edges
        out[c] = g
    return out
