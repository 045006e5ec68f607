"""Uplift: how much a contact changes a customer's chance of staying, learned from a
randomised experiment (the worklist's hold-outs, or any treatment/control data).

Two estimators in scikit-learn style (``fit`` returns self, fitted attributes end in
``_``, ``predict_uplift``):

- :class:`TwoModelUplift` (the "T-learner"): one outcome model per arm; the uplift is the
  difference of their predictions.
- :class:`XLearnerUplift` (Kuenzel et al. 2019): the two outcome models, then each arm's
  imputed individual effects (a treated customer's outcome minus what the control model
  expected, a control customer's treated-model prediction minus their outcome) are each
  learned by a regression on the features, and the two effect models are blended by the
  share treated (the propensity, known in a randomised experiment).

And the measures an uplift ranking is validated by, on held-out data:

- :func:`qini_curve`: customers ranked by predicted uplift; at each cut the treated
  responders minus the control responders scaled to the treated count,
  ``Y_t(k) - Y_c(k) * N_t(k) / N_c(k)``;
- :func:`qini_coefficient`: area between that curve and the random ranking's straight
  line, over the same area of the perfect ranking (1 perfect, 0 random);
- :func:`auuc`: area under the uplift curve ``(Y_t/N_t - Y_c/N_c)(k) * k``, over ``n``;
- :func:`qini_interval`: a bootstrap interval of the Qini coefficient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from loyalist.errors import DataError

__all__ = ["TwoModelUplift", "UpliftCheck", "XLearnerUplift", "auuc", "check_uplift",
           "qini_coefficient", "qini_curve", "qini_interval"]


#: the default boosted models: shallow (depth 3, eight leaves), 100 trees, leaves of at
#: least 100 rows, row sampling and 63 histogram bins. On the simulated outreach (about
#: 900 outcomes an arm) more and deeper trees with smaller leaves fitted noise
#: (docs/team.md); on a million rows they also cost the time.
TREES = {"n_estimators": 100, "learning_rate": 0.05, "max_depth": 3, "num_leaves": 8,
         "min_child_samples": 100, "reg_lambda": 1.0, "subsample": 0.8, "subsample_freq": 1,
         "max_bin": 63, "verbose": -1}
#: rows a default model is fitted on at most (a random sample keeps the rates)
MAX_ROWS = 200_000


def _threads(rows: int) -> int:
    # one thread is faster on small data (and on a busy machine: no spin-waiting)
    return 1 if rows < 100_000 else 2


def _default_classifier(seed: int):
    from lightgbm import LGBMClassifier

    return LGBMClassifier(**TREES, random_state=seed, n_jobs=1)


def _default_regressor(seed: int):
    from lightgbm import LGBMRegressor

    return LGBMRegressor(**TREES, random_state=seed, n_jobs=1)


def _fit(model, X, y, seed: int):
    """Fit ``model`` on ``X, y``; a default model on at most ``MAX_ROWS`` of them, with
    two threads from 100,000 rows."""
    if type(model).__module__.startswith("lightgbm") and model.get_params().get(
            "max_bin") == TREES["max_bin"]:
        if len(y) > MAX_ROWS:
            keep = np.sort(np.random.default_rng(seed).choice(len(y), MAX_ROWS,
                                                              replace=False))
            X, y = X[keep], y[keep]
        model.set_params(n_jobs=_threads(len(y)))
    return model.fit(X, y)


def _inputs(X, y, treatment):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    t = np.asarray(treatment).astype(int).ravel()
    if X.ndim != 2 or len(X) != len(y) or len(y) != len(t):
        raise DataError(f"Uplift needs one row of features per outcome and treatment flag; "
                        f"got {X.shape}, {len(y)} outcomes, {len(t)} flags.",
                        hint="Pass X (n x features), y (n,) and treatment (n,) of 0/1.")
    if not set(np.unique(t)) <= {0, 1}:
        raise DataError("treatment must be 0 (control) or 1 (treated).",
                        hint="Code the held-out customers 0 and the contacted ones 1.")
    for arm, name in ((1, "treated"), (0, "control")):
        n = int((t == arm).sum())
        if n < 20 or len(np.unique(y[t == arm])) < 2:
            raise DataError(f"Too few {name} customers ({n}) or only one outcome among "
                            "them to learn an uplift.",
                            hint="Wait for more outcomes of the hold-out (uplift_min_outcomes "
                            "in [team]).")
    return X, y, t


def _proba(model, X) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)[:, 1]
    return model.predict(X)


class TwoModelUplift:
    """Uplift as the difference of two outcome models, one fitted per arm.

    Parameters
    ----------
    estimator : classifier, optional
        A scikit-learn classifier (cloned per arm); default a shallow LightGBM model
        (``TREES``; fitted on at most ``MAX_ROWS`` rows).
    random_state : int

    Attributes
    ----------
    model_treated_, model_control_ : fitted classifiers
    n_treated_, n_control_ : int
    summary_ : dict

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(4000, 2)); t = rng.integers(0, 2, 4000)
    >>> y = rng.random(4000) < 0.2 + 0.2 * t * (X[:, 0] > 0)
    >>> m = TwoModelUplift().fit(X, y, t)
    >>> bool(m.predict_uplift(np.array([[1.0, 0]]))[0] > m.predict_uplift(np.array([[-1.0, 0]]))[0])
    True
    """

    def __init__(self, estimator=None, random_state: int = 0):
        self.estimator = estimator
        self.random_state = random_state

    def _clone(self):
        from sklearn.base import clone

        return (clone(self.estimator) if self.estimator is not None
                else _default_classifier(self.random_state))

    def fit(self, X, y, treatment) -> TwoModelUplift:
        X, y, t = _inputs(X, y, treatment)
        s = self.random_state
        self.model_treated_ = _fit(self._clone(), X[t == 1], y[t == 1], s)
        self.model_control_ = _fit(self._clone(), X[t == 0], y[t == 0], s)
        self.n_treated_, self.n_control_ = int(t.sum()), int((1 - t).sum())
        self.summary_ = {"method": "two-model", "n_treated": self.n_treated_,
                         "n_control": self.n_control_,
                         "mean_outcome_treated": float(y[t == 1].mean()),
                         "mean_outcome_control": float(y[t == 0].mean())}
        return self

    def _check(self):
        if not hasattr(self, "model_treated_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit.")

    def predict_outcomes(self, X) -> tuple[np.ndarray, np.ndarray]:
        """P(outcome) without and with the contact."""
        self._check()
        X = np.asarray(X, dtype=float)
        return _proba(self.model_control_, X), _proba(self.model_treated_, X)

    def predict_uplift(self, X) -> np.ndarray:
        """How much the contact changes P(outcome), per row."""
        p0, p1 = self.predict_outcomes(X)
        return p1 - p0


class XLearnerUplift(TwoModelUplift):
    """The X-learner: outcome models per arm, then a regression of each arm's imputed
    individual effects on the features, blended by the share treated.

    Parameters
    ----------
    estimator : classifier, optional
        Outcome model of each arm (cloned); default a shallow LightGBM model.
    effect_estimator : regressor, optional
        Model of the imputed effects (cloned per arm); default a shallow LightGBM
        regressor (``TREES``).
    random_state : int

    Attributes
    ----------
    effect_treated_, effect_control_ : fitted regressors
    propensity_ : float
        Share of the rows treated (the randomisation's own probability).
    """

    def __init__(self, estimator=None, effect_estimator=None, random_state: int = 0):
        super().__init__(estimator=estimator, random_state=random_state)
        self.effect_estimator = effect_estimator

    def fit(self, X, y, treatment) -> XLearnerUplift:
        from sklearn.base import clone

        super().fit(X, y, treatment)
        X, y, t = _inputs(X, y, treatment)
        X1, X0 = X[t == 1], X[t == 0]
        d1 = y[t == 1] - _proba(self.model_control_, X1)
        d0 = _proba(self.model_treated_, X0) - y[t == 0]

        def reg():
            return (clone(self.effect_estimator) if self.effect_estimator is not None
                    else _default_regressor(self.random_state))

        self.effect_treated_ = _fit(reg(), X1, d1, self.random_state)
        self.effect_control_ = _fit(reg(), X0, d0, self.random_state)
        self.propensity_ = float(t.mean())
        self.summary_ = {**self.summary_, "method": "x-learner",
                         "propensity": self.propensity_}
        return self

    def predict_uplift(self, X) -> np.ndarray:
        self._check()
        X = np.asarray(X, dtype=float)
        g = self.propensity_
        # weight each arm's effect model by how much data the *other* arm gave it
        return (g * self.effect_control_.predict(X)
                + (1 - g) * self.effect_treated_.predict(X))


# -- measures --------------------------------------------------------------------------

def _ranked(y, uplift, treatment):
    """Rows ranked by ``uplift`` (highest first; a cut never splits a tie): per cut, the
    rows so far, treated so far, and responders so far among the treated and controls."""
    y = np.asarray(y, dtype=float).ravel()
    s = np.asarray(uplift, dtype=float).ravel()
    t = np.asarray(treatment).astype(float).ravel()
    order = np.argsort(-s, kind="mergesort")
    y, s, t = y[order], s[order], t[order]
    cut = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    return (cut + 1.0, np.cumsum(t)[cut], np.cumsum(y * t)[cut],
            np.cumsum(y * (1 - t))[cut])


def _per(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def qini_curve(y, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Customers ranked by ``uplift`` (highest first; ties taken together): the number
    ranked ``k`` (from 0) and the Qini value ``Y_t(k) - Y_c(k) N_t(k) / N_c(k)`` there."""
    n, n_t, y_t, y_c = _ranked(y, uplift, treatment)
    return np.r_[0.0, n], np.r_[0.0, y_t - y_c * _per(n_t, n - n_t)]


def _area(x, v) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (v[1:] + v[:-1]) / 2))


def qini_coefficient(y, uplift, treatment) -> float:
    """Area between the Qini curve and the random ranking's line, over the same area
    for the perfect ranking (treated responders first, control responders last)."""
    y = np.asarray(y, dtype=float).ravel()
    t = np.asarray(treatment).astype(float).ravel()
    x, v = qini_curve(y, uplift, t)
    xp, vp = qini_curve(y, y * t - y * (1 - t), t)
    line = xp[-1] * vp[-1] / 2
    best = _area(xp, vp) - line
    return float((_area(x, v) - line) / best) if best else float("nan")


def auuc(y, uplift, treatment) -> float:
    """Area under the uplift curve: the difference of response rates of the two arms
    among the top ``k``, times ``k``, averaged over the cuts, per customer."""
    n, n_t, y_t, y_c = _ranked(y, uplift, treatment)
    x = np.r_[0.0, n]
    return _area(x, np.r_[0.0, (_per(y_t, n_t) - _per(y_c, n - n_t)) * n]) / x[-1] ** 2


def qini_interval(y, uplift, treatment, *, n_boot: int = 200, level: float = 0.95,
                  seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of the Qini coefficient (rows resampled within
    each arm, so every resample keeps the experiment's arm sizes)."""
    y = np.asarray(y, dtype=float).ravel()
    s = np.asarray(uplift, dtype=float).ravel()
    t = np.asarray(treatment).astype(int).ravel()
    rng = np.random.default_rng(seed)
    arms = [np.flatnonzero(t == 1), np.flatnonzero(t == 0)]
    # a resample is a count per row; both rankings are sorted once (a row drawn k times
    # is k tied rows, taken together at a cut, as qini_coefficient takes ties)
    model, perfect = _order(s), _order(y * t - y * (1 - t))
    out = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(a, len(a)) for a in arms])
        w = np.bincount(idx, minlength=len(y)).astype(float)
        x, v = _weighted_curve(y, t, w, *model)
        xp, vp = _weighted_curve(y, t, w, *perfect)
        line = xp[-1] * vp[-1] / 2
        best = _area(xp, vp) - line
        out[b] = (_area(x, v) - line) / best if best else np.nan
    lo, hi = np.nanquantile(out, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _order(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows ranked by ``s`` (highest first) and the last position of each tie group."""
    order = np.argsort(-s, kind="mergesort")
    ss = s[order]
    return order, np.r_[np.flatnonzero(ss[1:] != ss[:-1]), len(ss) - 1]


def _weighted_curve(y, t, w, order, cut) -> tuple[np.ndarray, np.ndarray]:
    """:func:`qini_curve` of rows weighted by ``w`` (counts), in a fixed ranking."""
    yy, tt, ww = y[order], t[order], w[order]
    n = np.cumsum(ww)[cut]
    n_t = np.cumsum(ww * tt)[cut]
    y_t = np.cumsum(ww * yy * tt)[cut]
    y_c = np.cumsum(ww * yy * (1 - tt))[cut]
    return np.r_[0.0, n], np.r_[0.0, y_t - y_c * _per(n_t, n - n_t)]


@dataclass(frozen=True)
class UpliftCheck:
    """An uplift ranking validated on held-out rows."""

    method: str
    n_train: int
    n_test: int
    qini: float
    qini_low: float
    qini_high: float
    auuc: float
    #: observed uplift (treated minus control response rate) in the top and bottom
    #: thirds of the ranking
    top_third_uplift: float
    bottom_third_uplift: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _thirds(y, s, t) -> tuple[float, float]:
    order = np.argsort(-s, kind="mergesort")
    parts = np.array_split(order, 3)

    def lift(idx):
        yt, yc = y[idx][t[idx] == 1], y[idx][t[idx] == 0]
        return float(yt.mean() - yc.mean()) if len(yt) and len(yc) else float("nan")

    return lift(parts[0]), lift(parts[-1])


def check_uplift(model, X, y, treatment, *, test_share: float = 0.3, seed: int = 0,
                 n_boot: int = 200) -> tuple[UpliftCheck, np.ndarray, np.ndarray]:
    """Fit ``model`` on a random part of the rows (stratified by arm) and measure its
    ranking on the rest. Returns the check, the held-out rows' index and their predicted
    uplift."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    t = np.asarray(treatment).astype(int).ravel()
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for arm in (0, 1):
        idx = np.flatnonzero(t == arm)
        test[rng.choice(idx, int(round(len(idx) * test_share)), replace=False)] = True
    model.fit(X[~test], y[~test], t[~test])
    s = model.predict_uplift(X[test])
    yt, tt = y[test], t[test]
    lo, hi = qini_interval(yt, s, tt, n_boot=n_boot, seed=seed)
    top, bottom = _thirds(yt, s, tt)
    check = UpliftCheck(method=model.summary_["method"], n_train=int((~test).sum()),
                        n_test=int(test.sum()), qini=qini_coefficient(yt, s, tt),
                        qini_low=lo, qini_high=hi, auuc=auuc(yt, s, tt),
                        top_third_uplift=top, bottom_third_uplift=bottom)
    return check, np.flatnonzero(test), s


def design_matrix(frame: pd.DataFrame, numeric, categorical) -> tuple[np.ndarray, list[str]]:
    """Numeric columns as they are (missing as NaN: the default models take them) and
    one 0/1 column per level of each categorical column."""
    cols, names = [], []
    for c in numeric:
        cols.append(pd.to_numeric(frame[c], errors="coerce").astype(float).to_numpy())
        names.append(c)
    for c in categorical:
        v = frame[c].astype("string").fillna("(none)")
        for level in sorted(v.unique()):
            cols.append((v == level).to_numpy(dtype=float))
            names.append(f"{c}={level}")
    X = np.column_stack(cols) if cols else np.empty((len(frame), 0))
    return X, names
