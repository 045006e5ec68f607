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

import numpy as np
import pandas as pd

from loyalist.errors import DataError
from loyalist.models._churn_data import ID_COLUMNS, ChurnData
from loyalist.models._churn_explain import ChurnExplaining, _check_fitted
from loyalist.models._churn_fitting import OFFSET_ONLY, ChurnFitting
from loyalist.models._churn_parts import Platt, roc_auc

__all__ = ["ID_COLUMNS", "OFFSET_ONLY", "ChurnModel"]


class ChurnModel(ChurnData, ChurnFitting, ChurnExplaining):
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
        rows is kept (plenty of rows already, and one fit instead of two). When the
        held-out rows are a random share (not the latest dates, not rows given), only
        the trees are refitted: the logistic part fitted without them is kept.
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
        self.offset_ = self._array = None
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
        data = (self._dataset(M, y) if self.learner != "linear" and self.blend != 0
                else None)
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
            if kept is not None and kept[2] and self.validation_.get("held_out") is None:
                # a random fifth held out: the logistic part (a few dozen weights, its
                # strength fixed) gains nothing measurable from those rows, while a
                # refit costs a fifth of LightGBM's whole fit; held-out latest dates
                # are different in kind (the newest behaviour), so it learns them
                linear = kept[2]
            else:
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
        terms = self.linear_terms_.terms(sample) if self.linear_ is not None else None
        if terms is not None:
            self.linear_means_ = terms.mean(axis=0)
        self._summarise(M, y, terms)
        self.__dict__.pop("_offsets", None)
        self.__dict__.pop("_array", None)
        self.n_train_ = len(y)
        self.base_rate_ = float(y.mean())
        return self

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
