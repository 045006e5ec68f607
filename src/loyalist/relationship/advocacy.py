"""Who will sing your praises: advocacy from what customers said and how they behave.

:class:`AdvocacyModel` learns, from the customers who answered, how their *behaviour*
in the firm's records (orders, service, follow-through, usage, subscriptions, their
account manager...) goes with what they said: P(promoter) (their latest NPS answer is
9 or 10) and their trust and commitment scores. Silent customers, who never answered
anything, then get a predicted trust, commitment and P(promoter) from behaviour alone.

Honest calibration. The customers who answer are not like those who do not (unhappy
customers answer less), so a model calibrated on answerers would flatter the silent
ones. The model therefore weights each answerer by the odds that a customer who
behaves like them is silent (a response-propensity model on behaviour), so the
answerers it learns and calibrates from look like the silent customers. What behaviour
cannot show (a silent customer's mood that left no trace) no weighting can fix; the
fitted ``summary_`` says how far apart the two groups are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loyalist.errors import DataError, NotFittedError

ID_COLUMNS = ("customer_id", "as_of")


def _check_fitted(model) -> None:
    if not hasattr(model, "index_"):
        raise NotFittedError(f"This {type(model).__name__} is not fitted yet.",
                             hint="Call fit(X, said) first.")


class AdvocacyModel:
    """P(promoter), trust and commitment from behaviour, learned from the answerers.

    Parameters
    ----------
    promoter_at : int
        NPS answer from which a customer counts as a promoter (9: answers 9 and 10).
    weighting : {"odds", "none"}
        ``"odds"`` weights answerers by the odds of being silent given behaviour, so the
        probabilities are calibrated for the silent customers; ``"none"`` for answerers.
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings.
    cv : int
        Folds of the out-of-fold predictions (calibration and ``oof_``).
    random_state : int

    Attributes
    ----------
    feature_names_ : list of str
    index_ : regressor of what a customer would say (the standardised mean of their NPS
        answer and construct scores) from behaviour
    calibrator_ : logistic map from that index to P(promoter)
    regressors_ : dict of construct -> regressor of its score from behaviour
    oof_ : pandas.DataFrame, out-of-fold P(promoter) of the answerers and their label
    summary_ : pandas.Series, fit statistics (answerers, silent, out-of-fold ROC AUC and
        Brier score, propensity ROC AUC, predicted promoter share of the silent)
    """

    def __init__(self, promoter_at: int = 9, weighting: str = "odds", n_estimators: int = 200,
                 learning_rate: float = 0.03, num_leaves: int = 7,
                 min_child_samples: int = 40, cv: int = 5, random_state: int = 0):
        self.promoter_at = promoter_at
        self.weighting = weighting
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.cv = cv
        self.random_state = random_state

    def _matrix(self, X: pd.DataFrame, fit: bool = False) -> pd.DataFrame:
        if fit:
            cols = [c for c in X.columns if c not in ID_COLUMNS
                    and not pd.api.types.is_datetime64_any_dtype(X[c]) and X[c].notna().any()]
            self.feature_names_ = cols
            self.categories_ = {c: sorted(X[c].dropna().astype(str).unique())
                                for c in cols if not pd.api.types.is_numeric_dtype(X[c])}
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise DataError(f"Features missing from the data: {', '.join(missing[:10])}.",
                            hint="Build the behaviour features the same way as for fitting.")
        M = X[self.feature_names_].copy()
        for c in self.feature_names_:
            if c in self.categories_:
                M[c] = pd.Categorical(M[c].astype("string").astype(object),
                                      categories=self.categories_[c])
            else:
                M[c] = pd.to_numeric(M[c], errors="coerce").astype("float64")
        return M

    def _gb(self, kind: str):
        import lightgbm as lgb

        cls = lgb.LGBMClassifier if kind == "c" else lgb.LGBMRegressor
        # one thread: on a shared machine OpenMP threads that wait on each other cost
        # far more than they bring on a few thousand rows
        return cls(n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                   num_leaves=self.num_leaves, min_child_samples=self.min_child_samples,
                   subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                   random_state=self.random_state, n_jobs=1, verbose=-1)

    def _oof(self, kind, M, y, folds, weight=None) -> np.ndarray:
        out = np.empty(len(y))
        for train, test in folds.split(M, y if kind == "c" else np.zeros(len(y))):
            m = self._gb(kind).fit(M.iloc[train], y[train],
                                   sample_weight=None if weight is None else weight[train])
            out[test] = (m.predict_proba(M.iloc[test])[:, 1] if kind == "c"
                         else m.predict(M.iloc[test]))
        return out

    def fit(self, X: pd.DataFrame, said: pd.DataFrame) -> AdvocacyModel:
        """Learn from ``X`` (behaviour features, one row per customer) and ``said``
        (aligned with ``X``: ``nps`` and optionally ``trust``, ``commitment``; NaN for a
        customer who never answered)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import brier_score_loss, roc_auc_score
        from sklearn.model_selection import KFold, StratifiedKFold

        if self.weighting not in ("odds", "none"):
            raise DataError(f"Unknown weighting {self.weighting!r}.", hint="Use 'odds' or 'none'.")
        if len(said) != len(X):
            raise DataError("X and said must have one row per customer, aligned.",
                            hint="Build both from the same customer list.")
        M = self._matrix(X, fit=True)
        said = said.reset_index(drop=True)
        answered = said["nps"].notna().to_numpy()
        if answered.sum() < 50:
            raise DataError(f"Only {int(answered.sum())} customers with an NPS answer: too few "
                            "to learn advocacy from behaviour.",
                            hint="Collect more survey answers (100 or more).")
        y = (said.loc[answered, "nps"] >= self.promoter_at).astype(int).to_numpy()
        if len(np.unique(y)) < 2:
            raise DataError("Every answerer is on the same side of the promoter line.",
                            hint="Advocacy cannot be learned without both promoters and others.")
        folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        prop_auc, odds = np.nan, np.ones(len(M))
        if self.weighting == "odds" and 0 < answered.sum() < len(answered):
            p = self._oof("c", M, answered.astype(int), folds)
            prop_auc = float(roc_auc_score(answered, p))
            p = np.clip(p, 0.05, 0.95)
            odds = (1 - p) / p
            odds = odds / odds[answered].mean()
        weight = odds[answered]
        Ma = M[answered].reset_index(drop=True)
        # the index the classifier ranks by: behaviour's view of what they said, learned
        # from the multi-item scores (more reliable than one NPS item) and the NPS
        target = self._target(said[answered].reset_index(drop=True))
        kf = KFold(self.cv, shuffle=True, random_state=self.random_state)
        index_oof = self._oof("r", Ma, target, kf, weight)
        self.index_ = self._gb("r").fit(Ma, target, sample_weight=weight)
        # calibration: P(promoter) from the out-of-fold index, weighted like the silent
        self.calibrator_ = LogisticRegression(C=1e6, max_iter=1000).fit(
            index_oof.reshape(-1, 1), y, sample_weight=weight)
        oof = self.calibrator_.predict_proba(index_oof.reshape(-1, 1))[:, 1]
        self.regressors_ = {}
        for name in ("trust", "commitment"):
            if name in said and said[name].notna().sum() >= 50:
                ok = said[name].notna().to_numpy()
                self.regressors_[name] = self._gb("r").fit(
                    M[ok], said.loc[ok, name].to_numpy(), sample_weight=odds[ok])
        self.oof_ = pd.DataFrame({"p_promoter": oof, "promoter": y, "weight": weight})
        silent = ~answered
        share = float(self.predict_proba(X[silent]).mean()) if silent.any() else np.nan
        self.summary_ = pd.Series({
            "answerers": int(answered.sum()), "silent": int(silent.sum()),
            "promoter_share_answerers": float(y.mean()),
            "oof_roc_auc": float(roc_auc_score(y, oof)),
            "oof_brier": float(brier_score_loss(y, oof)),
            "propensity_roc_auc": prop_auc,
            "predicted_promoter_share_silent": share})
        return self

    def _target(self, said: pd.DataFrame) -> np.ndarray:
        """Standardised mean of the NPS answer and the construct scores given."""
        parts = []
        for name in ("nps", "trust", "commitment"):
            if name in said and said[name].notna().any():
                v = said[name].astype(float)
                parts.append((v - v.mean()) / (v.std() or 1.0))
        z = pd.concat(parts, axis=1).mean(axis=1)
        return z.fillna(0.0).to_numpy()

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(promoter) of each customer, from behaviour alone."""
        _check_fitted(self)
        index = self.index_.predict(self._matrix(X))
        return self.calibrator_.predict_proba(index.reshape(-1, 1))[:, 1]

    def predict_constructs(self, X: pd.DataFrame) -> pd.DataFrame:
        """Predicted trust and commitment scores (on the survey's scale) from behaviour."""
        _check_fitted(self)
        M = self._matrix(X)
        return pd.DataFrame({k: r.predict(M) for k, r in self.regressors_.items()},
                            index=X.index)

    def calibration(self, bins: int = 10) -> pd.DataFrame:
        """Out-of-fold predicted vs observed promoter share of the answerers, by decile
        of prediction (weighted as in fitting)."""
        _check_fitted(self)
        o = self.oof_
        q = pd.qcut(o["p_promoter"].rank(method="first"), bins, labels=False)
        g = o.assign(bin=q, wp=o["p_promoter"] * o["weight"], wy=o["promoter"] * o["weight"])
        t = g.groupby("bin").agg(n=("promoter", "size"), w=("weight", "sum"),
                                 wp=("wp", "sum"), wy=("wy", "sum"))
        return pd.DataFrame({"customers": t["n"], "predicted": t["wp"] / t["w"],
                             "observed": t["wy"] / t["w"]}).reset_index(drop=True)

    def print_summary(self) -> None:
        _check_fitted(self)
        print(self.summary_.to_string())


__all__ = ["AdvocacyModel"]
