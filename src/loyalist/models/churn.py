"""Who will walk away: a calibrated gradient-boosting model of leaving.

:class:`ChurnModel` follows the scikit-learn contract. It takes the feature frame of
:func:`loyalist.features.builder.feature_frame` (or any table of attributes),
handles text columns as categories, and calibrates its probabilities on
out-of-fold (or held-out) predictions, so "0.3" means about 30 in 100 such
customers leave. :meth:`ChurnModel.contributions` gives each feature's (or each
family's) share of each customer's score, which the whispers turn into words. The
shares are exact (they sum to the score) and cheap enough for every customer: the
trees' part follows each customer's path through each tree (path attribution: each
split's change in the expected score goes to the split's feature), the logistic
part evaluates each feature's spline term from a per-feature table.
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


class _LinearTerms:
    """Each feature's term of a fitted spline logistic regression, evaluated exactly
    without the dense spline expansion: a numeric feature's term is a quadratic
    between neighbouring knots (constant outside them), a category's is one number.
    """

    def __init__(self, pipeline, feature_names, categories):
        ct, lr = pipeline[0], pipeline[-1]
        coef = lr.coef_[0]
        self.intercept = float(lr.intercept_[0])
        self.parts = []
        for c in feature_names:
            pipe, w = ct.named_transformers_[c], coef[ct.output_indices_[c]]

            def term(values, pipe=pipe, w=w, c=c):
                out = pipe.transform(pd.DataFrame({c: values}, dtype=object
                                                  if c in categories else "float64"))
                return np.asarray(out.todense() if hasattr(out, "todense") else out) @ w

            if c in categories:  # one value per category, the last for missing
                self.parts.append(("cat", term([*categories[c], np.nan])))
                continue
            spline = pipe[-1]
            knots = spline.bsplines_[0].t[spline.degree:len(spline.bsplines_[0].t)
                                          - spline.degree]
            missing = term([np.nan])[0]
            if not knots[-1] > knots[0]:
                self.parts.append(("const", float(term([knots[0]])[0]), missing))
                continue
            u = np.array([0.0, 0.5, 1.0])  # a quadratic through three points per piece
            width = np.diff(knots)
            vals = term((knots[:-1, None] + u[None, :] * width[:, None]).ravel()
                        ).reshape(-1, 3)
            poly = np.linalg.solve(np.vander(u, 3, increasing=True), vals.T).T
            self.parts.append(("num", knots, width, poly, missing))

    def terms(self, M: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(M), len(self.parts)))
        for j, (part, col) in enumerate(zip(self.parts, M.columns, strict=True)):
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


class _TreePaths:
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


class ChurnModel:
    """Calibrated LightGBM classifier of leaving, optionally blended with a spline
    logistic regression (a smooth additive model that the trees complement).

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, max_depth, min_child_samples : LightGBM
        settings (shallow trees keep per-customer contributions fast).
    linear_max_rows : int
        The logistic part learns from at most this many rows (a random sample).
    tree_max_rows : int
        The trees learn from at most this many rows (a random sample): past a
        million rows, more rows cost time and add little to 15-leaf trees.
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
                 tree_max_rows: int = 1_000_000,
                 calibration: str = "sigmoid", cv: int = 3, holdout_rows: int = 200_000,
                 random_state: int = 0,
                 exclude: tuple[str, ...] = ()):
        self.n_estimators = n_estimators
        self.learner = learner
        self.max_depth = max_depth
        self.linear_max_rows = linear_max_rows
        self.tree_max_rows = tree_max_rows
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
                v = M[c].astype("string").astype(object)  # unseen values: missing
                M[c] = pd.Categorical(v.where(v.isin(self.categories_[c])),
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
        booster = None
        if self.learner != "linear":
            rows = np.arange(len(y))
            if len(rows) > self.tree_max_rows:  # a random sample keeps the rates
                rows = np.sort(np.random.default_rng(self.random_state + 1).choice(
                    rows, self.tree_max_rows, replace=False))
                booster = self._booster().fit(M.iloc[rows], y[rows])
            else:
                booster = self._booster().fit(M, y)
        linear = None
        if self.learner != "trees":
            rows = np.arange(len(y))
            if len(rows) > self.linear_max_rows:  # a few hundred weights need no millions
                rows = np.random.default_rng(self.random_state).choice(
                    rows, self.linear_max_rows, replace=False)
            pipe = self._linear(M).fit(self._as_text(M.iloc[rows]), y[rows])
            linear = (pipe, _LinearTerms(pipe, self.feature_names_, self.categories_))
        return booster, linear

    @staticmethod
    def _score(booster, linear, M) -> np.ndarray:
        """Log-odds of leaving: trees, linear, or their average."""
        parts = []
        if booster is not None:
            parts.append(booster.predict(M, raw_score=True))
        if linear is not None:
            parts.append(linear[1].intercept + linear[1].terms(M).sum(axis=1))
        return np.mean(parts, axis=0)

    def fit(self, X: pd.DataFrame, y) -> ChurnModel:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

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
        fitted = None
        if self.calibration != "none":
            oof = np.full(len(y), np.nan)
            large = len(y) > self.holdout_rows
            if large:  # one model on 75%, calibrated on the rest, and kept
                folds = StratifiedShuffleSplit(1, test_size=0.25,
                                               random_state=self.random_state)
            else:
                folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
            for train, test in folds.split(M, y):
                b, lin = self._fit_once(M.iloc[train], y[train])
                oof[test] = self._score(b, lin, M.iloc[test])
                if large:
                    fitted = (b, lin)
            seen = ~np.isnan(oof)
            if self.calibration == "isotonic":
                self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0,
                                                      y_max=1.0).fit(oof[seen], y[seen])
            else:  # Platt: strictly increasing, so the ranking (and AUC) is kept
                self.calibrator_ = _Platt().fit(oof[seen], y[seen])
        self.model_, linear = fitted or self._fit_once(M, y)
        self.linear_, self.linear_terms_ = linear or (None, None)
        self.paths_ = _TreePaths(self.model_.booster_) if self.model_ is not None else None
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
        linear = (self.linear_, self.linear_terms_) if self.linear_ is not None else None
        return self._score(self.model_, linear, self._matrix(X))

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

    def _linear_terms(self, M: pd.DataFrame) -> np.ndarray:
        """The linear model's log-odds terms, one per input feature."""
        return self.linear_terms_.terms(M)

    def contributions(self, X: pd.DataFrame, groups: dict[str, str] | None = None
                      ) -> pd.DataFrame:
        """Each feature's contribution to each row's log-odds, plus ``bias``; the row
        sums are :meth:`decision_function` exactly.

        ``groups`` (feature -> group name) sums the features of each group (feature
        families for the whispers); features not named keep their own column. The
        trees' part is path attribution (each split's change in the expected score
        goes to its feature); the linear part adds each feature's term, centred on
        its training average; a blend averages the two, as its score does.
        """
        _check_fitted(self)
        groups = groups or {}
        names = list(dict.fromkeys(groups.get(f, f) for f in self.feature_names_))
        gid = np.array([names.index(groups.get(f, f)) for f in self.feature_names_])
        one_hot = np.zeros((len(self.feature_names_), len(names)))
        one_hot[np.arange(len(gid)), gid] = 1.0
        table = self.paths_.table(gid, len(names)) if self.paths_ is not None else None
        out = np.empty((len(X), len(names) + 1))
        for i in range(0, len(X), _SLICE):  # in slices: leaf indices are rows x trees
            M = self._matrix(X.iloc[i:i + _SLICE])
            parts = []
            if self.model_ is not None:
                leaves = self.model_.booster_.predict(M, pred_leaf=True)
                tree = self.paths_.contributions(np.asarray(leaves, dtype=np.int64), table)
                parts.append(np.column_stack([tree, np.full(len(M), self.paths_.bias)]))
            if self.linear_ is not None:
                lin = (self._linear_terms(M) - self.linear_means_) @ one_hot
                bias = self.linear_terms_.intercept + self.linear_means_.sum()
                parts.append(np.column_stack([lin, np.full(len(M), bias)]))
            out[i:i + len(M)] = np.mean(parts, axis=0)
        return pd.DataFrame(out, columns=[*names, "bias"], index=X.index)

    def print_summary(self, top: int = 15) -> None:
        _check_fitted(self)
        print(f"ChurnModel: {self.n_train_:,} training rows, base rate {self.base_rate_:.1%}, "
              f"{len(self.feature_names_)} features")
        print(self.summary_.head(top).to_string(index=False))
