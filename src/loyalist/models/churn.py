"""Who will walk away: a calibrated gradient-boosting model of leaving.

:class:`ChurnModel` follows the scikit-learn contract. It takes the feature frame of
:func:`loyalist.features.builder.feature_frame` (or any table of attributes),
handles text columns as categories, and calibrates its probabilities on
out-of-fold predictions with isotonic regression, so "0.3" means about 30 in 100
such customers leave. :meth:`ChurnModel.contributions` gives each feature's share
of each customer's score (LightGBM's exact tree contributions), which the whispers
turn into words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.errors import DataError, NotFittedError

#: rows transformed at a time by the (dense) spline expansion
_SLICE = 100_000
#: columns that identify a row, never features
ID_COLUMNS = ("customer_id", "as_of", "left", "id")


def _check_fitted(model) -> None:
    if not hasattr(model, "model_"):
        raise NotFittedError(f"This {type(model).__name__} is not fitted yet.",
                             hint="Call fit(X, y) first.")


class _Platt:
    """Logistic calibration of log-odds: p = 1 / (1 + exp(-(a z + b)))."""

    def fit(self, z, y):
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, max_iter=1000).fit(np.asarray(z).reshape(-1, 1), y)
        self.a_, self.b_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        return self

    def predict(self, z):
        return 1.0 / (1.0 + np.exp(-(self.a_ * np.asarray(z) + self.b_)))


class ChurnModel:
    """Calibrated LightGBM classifier of leaving, optionally blended with a spline
    logistic regression (a smooth additive model that the trees complement).

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, max_depth, min_child_samples : LightGBM
        settings (shallow trees keep per-customer contributions fast).
    linear_max_rows : int
        The logistic part learns from at most this many rows (a random sample).
    learner : {"blend", "trees", "linear"}
        ``"blend"`` averages the trees' log-odds with those of an L2 logistic
        regression on spline-expanded numbers and one-hot categories; ``"linear"`` is
        that logistic regression alone (the baseline the trees must beat).
    calibration : {"sigmoid", "isotonic", "none"}
        How out-of-fold scores become probabilities: Platt's logistic map (keeps the
        ranking), isotonic regression (more flexible, creates ties) or none.
    cv : int
        Folds for the out-of-fold predictions the calibration learns from. Above
        ``holdout_rows`` training rows, one stratified 25% holdout is used instead
        (plenty of rows to calibrate on, and one fit instead of ``cv``).
    holdout_rows : int
    random_state : int
    exclude : tuple of str
        Columns never to use as features.

    Attributes
    ----------
    feature_names_ : list of str
    categories_ : dict of column -> list of categories
    model_ : lightgbm.LGBMClassifier
    calibrator_ : fitted calibration map (``predict(log_odds) -> probability``) or None
    summary_ : pandas.DataFrame (feature importance by gain)
    """

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.03,
                 num_leaves: int = 15, max_depth: int = 5, min_child_samples: int = 40,
                 learner: str = "blend", linear_max_rows: int = 100_000,
                 calibration: str = "sigmoid", cv: int = 3, holdout_rows: int = 200_000,
                 random_state: int = 0,
                 exclude: tuple[str, ...] = ()):
        self.n_estimators = n_estimators
        self.learner = learner
        self.max_depth = max_depth
        self.linear_max_rows = linear_max_rows
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration = calibration
        self.cv = cv
        self.holdout_rows = holdout_rows
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

    # -- data --------------------------------------------------------------
    def _matrix(self, X: pd.DataFrame, fit: bool = False) -> pd.DataFrame:
        if fit:
            cols = [c for c in X.columns if c not in ID_COLUMNS and c not in self.exclude
                    and not pd.api.types.is_datetime64_any_dtype(X[c]) and X[c].notna().any()]
            if not cols:
                raise DataError("No feature columns to learn from.",
                                hint="Check the feature frame and the excluded columns.")
            self.feature_names_ = cols
            self.categories_ = {c: sorted(X[c].dropna().astype(str).unique())
                                for c in cols if not pd.api.types.is_numeric_dtype(X[c])}
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise DataError(f"Features missing from the data: {', '.join(missing[:10])}.",
                            hint="Build features the same way as for training.")
        M = X[self.feature_names_].copy()
        for c in self.feature_names_:
            if c in self.categories_:
                M[c] = pd.Categorical(M[c].astype("string").astype(object),
                                      categories=self.categories_[c])
            else:
                M[c] = pd.to_numeric(M[c], errors="coerce").astype("float64")
        return M

    def _booster(self):
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            num_leaves=self.num_leaves, min_child_samples=self.min_child_samples,
            max_depth=self.max_depth,
            subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0,
            random_state=self.random_state, n_jobs=2, verbose=-1, deterministic=True,
            force_row_wise=True)

    # -- fitting -----------------------------------------------------------
    def _linear(self, M: pd.DataFrame):
        """Spline logistic regression, one transformer per feature (names map back)."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, SplineTransformer

        parts = []
        for c in self.feature_names_:
            if c in self.categories_:
                parts.append((c, make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(handle_unknown="ignore", min_frequency=20)), [c]))
            else:
                parts.append((c, make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True),
                    SplineTransformer(n_knots=4, degree=2, extrapolation="constant",
                                      include_bias=False)), [c]))
        return make_pipeline(ColumnTransformer(parts, sparse_threshold=0),
                             LogisticRegression(C=0.3, max_iter=3000))

    @staticmethod
    def _as_text(M: pd.DataFrame) -> pd.DataFrame:
        out = M.copy()
        for c in out.columns:
            if isinstance(out[c].dtype, pd.CategoricalDtype):
                out[c] = out[c].astype(object)
        return out

    def _fit_once(self, M, y):
        booster = self._booster().fit(M, y) if self.learner != "linear" else None
        linear = None
        if self.learner != "trees":
            rows = np.arange(len(y))
            if len(rows) > self.linear_max_rows:  # a few hundred weights need no millions
                rows = np.random.default_rng(self.random_state).choice(
                    rows, self.linear_max_rows, replace=False)
            linear = self._linear(M).fit(self._as_text(M.iloc[rows]), y[rows])
        return booster, linear

    def _score(self, booster, linear, M) -> np.ndarray:
        """Log-odds of leaving: trees, linear, or their average."""
        parts = []
        if booster is not None:
            parts.append(booster.predict(M, raw_score=True))
        if linear is not None:  # in slices: the spline expansion is dense
            parts.append(np.concatenate([
                linear.decision_function(self._as_text(M.iloc[i:i + _SLICE]))
                for i in range(0, len(M), _SLICE)]) if len(M) else np.empty(0))
        return np.mean(parts, axis=0)

    def fit(self, X: pd.DataFrame, y) -> ChurnModel:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.model_selection import StratifiedKFold

        if self.learner not in ("blend", "trees", "linear"):
            raise DataError(f"learner must be 'blend', 'trees' or 'linear'; got "
                            f"{self.learner!r}.")
        y = np.asarray(y).astype(int)
        if len(np.unique(y)) < 2:
            raise DataError("Every training customer has the same label.",
                            hint="Use more as-of dates or a longer history.")
        M = self._matrix(X, fit=True)
        if self.calibration not in ("sigmoid", "isotonic", "none"):
            raise DataError(f"calibration must be 'sigmoid', 'isotonic' or 'none'; got "
                            f"{self.calibration!r}.")
        self.calibrator_ = None
        if self.calibration != "none":
            oof = np.full(len(y), np.nan)
            if len(y) > self.holdout_rows:
                from sklearn.model_selection import StratifiedShuffleSplit

                folds = StratifiedShuffleSplit(1, test_size=0.25,
                                               random_state=self.random_state)
            else:
                folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
            for train, test in folds.split(M, y):
                b, lin = self._fit_once(M.iloc[train], y[train])
                oof[test] = self._score(b, lin, M.iloc[test])
            seen = ~np.isnan(oof)
            if self.calibration == "isotonic":
                self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0,
                                                      y_max=1.0).fit(oof[seen], y[seen])
            else:  # Platt: strictly increasing, so the ranking (and AUC) is kept
                self.calibrator_ = _Platt().fit(oof[seen], y[seen])
        self.model_, self.linear_ = self._fit_once(M, y)
        if self.linear_ is not None:
            sample = M.sample(min(len(M), self.linear_max_rows),
                              random_state=self.random_state)
            self.linear_means_ = self._linear_terms(sample).mean(axis=0)
        if self.model_ is not None:
            gain = self.model_.booster_.feature_importance("gain")
        else:
            sample = M.sample(min(len(M), self.linear_max_rows), random_state=self.random_state)
            gain = np.abs(self._linear_terms(sample) - self.linear_means_).mean(axis=0)
        self.summary_ = (pd.DataFrame({"feature": self.feature_names_, "gain": gain})
                         .sort_values("gain", ascending=False, ignore_index=True))
        self.summary_["share"] = self.summary_["gain"] / max(self.summary_["gain"].sum(), 1e-12)
        self.n_train_ = len(y)
        self.base_rate_ = float(y.mean())
        return self

    # -- predicting ----------------------------------------------------------
    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds of leaving."""
        _check_fitted(self)
        return self._score(self.model_, self.linear_, self._matrix(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of leaving, one per row."""
        z = self.decision_function(X)
        if self.calibrator_ is not None:
            return self.calibrator_.predict(z)
        return 1.0 / (1.0 + np.exp(-z))

    def _linear_terms(self, M: pd.DataFrame) -> np.ndarray:
        """The linear model's log-odds terms summed per input feature."""
        ct, lr = self.linear_[0], self.linear_[-1]
        owner = np.array([n.split("__", 1)[0] for n in ct.get_feature_names_out()])
        # a (spline columns x features) 0/1 matrix sums each feature's columns
        group = (owner[:, None] == np.array(self.feature_names_)[None, :]).astype(float)
        out = np.zeros((len(M), len(self.feature_names_)))
        for i in range(0, len(M), _SLICE):  # in slices: the spline expansion is dense
            terms = ct.transform(self._as_text(M.iloc[i:i + _SLICE])) * lr.coef_[0]
            out[i:i + _SLICE] = terms @ group
        return out

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each feature's contribution to each row's log-odds, plus ``bias``.

        Tree contributions are LightGBM's exact per-feature shares; the linear part
        adds each feature's terms, centred on their training average; a blend
        averages the two, as its score does.
        """
        _check_fitted(self)
        M = self._matrix(X)
        parts = []
        if self.model_ is not None:
            parts.append(self.model_.predict(M, pred_contrib=True))
        if self.linear_ is not None:
            lin = self._linear_terms(M) - self.linear_means_
            bias = self.linear_[-1].intercept_[0] + self.linear_means_.sum()
            parts.append(np.column_stack([lin, np.full(len(M), bias)]))
        return pd.DataFrame(np.mean(parts, axis=0), columns=[*self.feature_names_, "bias"],
                            index=X.index)

    def print_summary(self, top: int = 15) -> None:
        _check_fitted(self)
        print(f"ChurnModel: {self.n_train_:,} training rows, base rate {self.base_rate_:.1%}, "
              f"{len(self.feature_names_)} features")
        print(self.summary_.head(top).to_string(index=False))
