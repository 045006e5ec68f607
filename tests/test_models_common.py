"""The estimator contract, checked the same way on every model."""

from __future__ import annotations

import inspect
import io

import numpy as np
import pandas as pd
import pytest

from _value_data import DATA, cdnow_summary
from loyalist.errors import DataError, NotFittedError
from loyalist.models import BGBB, BGNBD, MBGNBD, GammaGamma, ParetoNBD, ShiftedBetaGeometric


def _rfm():
    s = cdnow_summary()
    return (s["x"].copy(), s["t_x"].copy(), s["T"].copy()), {}


def _spend():
    s = cdnow_summary()
    return (s["x"].copy(), s["zbar"].copy()), {}


def _discrete():
    d = pd.read_csv(DATA / "cdnow_lifetimes" / "donations.csv")
    return (d["frequency"], d["recency"], d["periods"]), {"weights": d["weights"]}


def _cohort():
    survivors = np.array([1000, 631, 468, 382, 326, 289, 262, 241])
    periods = np.r_[np.arange(1, 8), 7]
    churned = np.r_[np.ones(7, bool), False]
    return (pd.Series(periods), pd.Series(churned)), {"weights": np.r_[-np.diff(survivors), 241]}


CASES = {
    BGNBD: (_rfm, "predict_p_alive"),
    MBGNBD: (_rfm, "predict_p_alive"),
    ParetoNBD: (_rfm, "predict_p_alive"),
    GammaGamma: (_spend, "predict_spend"),
    BGBB: (_discrete, "predict_p_alive"),
    ShiftedBetaGeometric: (_cohort, "survival_function"),
}
MODELS = list(CASES)


@pytest.fixture(scope="module")
def fitted():
    out = {}
    for cls, (data, _) in CASES.items():
        args, kw = data()
        out[cls] = cls().fit(*args, **kw)
    return out


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_init_only_stores_keyword_parameters(cls):
    sig = inspect.signature(cls.__init__)
    params = [p for p in sig.parameters.values() if p.name != "self"]
    assert all(p.default is not inspect.Parameter.empty for p in params)
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in params)
    m = cls(penalizer=0.5)
    assert vars(m) == {"penalizer": 0.5}
    assert m.get_params() == {"penalizer": 0.5}
    assert m.set_params(penalizer=0.1) is m and m.penalizer == 0.1
    assert repr(m) == f"{cls.__name__}(penalizer=0.1)"
    with pytest.raises(ValueError, match="Invalid parameter"):
        m.set_params(alpha=1)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_not_fitted_error_before_fit(cls):
    m = cls()
    method = getattr(m, CASES[cls][1])
    with pytest.raises(NotFittedError, match="not fitted") as e:
        method(*[np.array([1.0])] * (len(inspect.signature(method).parameters) - 0))
    assert isinstance(e.value, ValueError) and isinstance(e.value, AttributeError)
    with pytest.raises(NotFittedError):
        m.print_summary()


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_fit_returns_self_and_sets_underscore_attributes(cls, fitted):
    m = fitted[cls]
    names = list(cls._param_names)
    assert list(m.params_.index) == names
    assert list(m.summary_.index) == names
    assert list(m.summary_.columns) == ["coef", "se(coef)", "lower 95% bound", "upper 95% bound"]
    assert np.all(np.isfinite(m.summary_.to_numpy()))
    assert np.all(m.summary_["lower 95% bound"] < m.params_)
    assert np.all(m.params_ < m.summary_["upper 95% bound"])
    assert np.isfinite(m.log_likelihood_) and m.aic_ > -2 * m.log_likelihood_
    learned = [k for k in vars(m) if k != "penalizer" and not k.startswith("_")]
    assert learned and all(k.endswith("_") for k in learned)
    args, kw = CASES[cls][0]()
    fresh = cls()
    assert fresh.fit(*args, **kw) is fresh
    assert np.allclose(fresh.params_, m.params_)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_input_is_not_mutated(cls):
    args, kw = CASES[cls][0]()
    before = [pd.Series(a).copy() for a in args]
    cls().fit(*args, **kw)
    for a, b in zip(args, before, strict=True):
        pd.testing.assert_series_equal(pd.Series(a), b)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_print_summary(cls, fitted):
    buf = io.StringIO()
    fitted[cls].print_summary(file=buf)
    text = buf.getvalue()
    assert cls.__name__ in text and "log-likelihood" in text
    assert all(name in text for name in cls._param_names)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_bad_penalizer_and_missing_values_name_the_culprit(cls):
    args, kw = CASES[cls][0]()
    with pytest.raises(ValueError, match="'penalizer' parameter of .* Got -1"):
        cls(penalizer=-1).fit(*args, **kw)
    first = np.asarray(args[0], dtype=float).copy()
    first[3] = np.nan
    with pytest.raises(DataError, match="missing or infinite"):
        cls().fit(first, *args[1:], **kw)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_weights_equal_repeated_rows(cls):
    args, kw = CASES[cls][0]()
    n = len(args[0])
    rep = np.arange(n) % 3 + 1
    w = np.asarray(kw.get("weights", np.ones(n)), float)
    repeated = [np.repeat(np.asarray(a), rep) for a in args]
    a = cls().fit(*repeated, weights=np.repeat(w, rep))
    b = cls().fit(*args, weights=w * rep)
    assert np.allclose(a.params_, b.params_, rtol=1e-6)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-9)
