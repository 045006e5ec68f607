"""No NaN, inf or warning at the extremes; analytic gradients; useful failures."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from _value_data import cdnow_summary
from loyalist.errors import ConvergenceError
from loyalist.models import (
    BGBB,
    BGNBD,
    MBGNBD,
    GammaGamma,
    ParetoNBD,
    ShiftedBetaGeometric,
    customer_lifetime_value,
)

TRANSACTION = [BGNBD, MBGNBD, ParetoNBD]


@pytest.fixture(scope="module")
def fitted_in_days():
    s = cdnow_summary()
    x, t_x, big_t = s["x"], s["t_x"] * 7, s["T"] * 7
    gg = GammaGamma().fit(s["x"], s["zbar"])
    return {cls: cls().fit(x, t_x, big_t) for cls in TRANSACTION}, gg


def _extreme_grid():
    x = np.array([0, 1, 10, 100, 1000, 10_000], float)
    big_t = np.array([1.0, 30.0, 365.0, 7300.0])
    frac = np.array([0.0, 0.001, 0.5, 0.999, 1.0])
    xx, tt, ff = (a.ravel() for a in np.meshgrid(x, big_t, frac, indexing="ij"))
    t_x = np.where(xx > 0, np.maximum(ff, 1e-9) * tt, 0.0)
    return xx, t_x, tt


@pytest.mark.parametrize("cls", TRANSACTION, ids=lambda c: c.__name__)
def test_frequent_buyers_and_long_histories_stay_finite(cls, fitted_in_days):
    models, gg = fitted_in_days
    m = models[cls]
    x, t_x, big_t = _extreme_grid()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ll, g = m._loglik(m.params_.to_numpy(), {"x": x, "t_x": t_x, "T": big_t}, grad=True)
        p_alive = m.predict_p_alive(x, t_x, big_t)
        later = m.predict_p_alive(x, t_x, big_t, t=365)
        purchases = m.predict_purchases(365, x, t_x, big_t)
        clv = customer_lifetime_value(m, gg, x, t_x, big_t, np.full(x.size, 30.0),
                                      horizon_days=365)
    assert np.all(np.isfinite(ll)) and np.all(np.isfinite(g))
    assert np.all((p_alive >= 0) & (p_alive <= 1))
    assert np.all(later <= p_alive + 1e-12)  # silence lowers P(alive)
    assert np.all(np.isfinite(purchases)) and np.all(purchases >= 0)
    assert np.all(np.isfinite(clv)) and np.all(clv >= 0)
    # a customer who bought daily and yesterday is almost surely alive; one who stopped
    # buying 20 years ago after 10,000 purchases is not
    assert m.predict_p_alive(10_000, 7299, 7300)[0] > 0.99
    assert m.predict_p_alive(10_000, 3650, 7300)[0] < 1e-6
    # frequent buyers are expected to keep buying at about their rate
    assert m.predict_purchases(30, 7299, 7299, 7300)[0] == pytest.approx(30, rel=0.05)


@pytest.mark.parametrize("cls", TRANSACTION, ids=lambda c: c.__name__)
def test_fit_with_extreme_customers_converges_without_warnings(cls):
    s = cdnow_summary()
    rng = np.random.default_rng(1)
    heavy_x = rng.integers(2000, 10_000, 50).astype(float)
    big_t = np.r_[s["T"].to_numpy() * 7, np.full(50, 7300.0)]
    x = np.r_[s["x"].to_numpy(), heavy_x]
    t_x = np.r_[s["t_x"].to_numpy() * 7, 7300.0 - rng.uniform(0, 5, 50)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = cls().fit(x, t_x, big_t)
    assert np.all(np.isfinite(m.summary_.to_numpy()))


def _grad_cases():
    s = cdnow_summary()
    rfm = {"x": s["x"].to_numpy(float), "t_x": s["t_x"].to_numpy(float),
           "T": s["T"].to_numpy(float)}
    rep = s["x"] > 0
    spend = {"x": s["x"][rep].to_numpy(float), "m": s["zbar"][rep].to_numpy(float)}
    disc = {"x": np.array([0.0, 1, 2, 3, 6]), "t_x": np.array([0.0, 4, 2, 6, 6]),
            "n": np.array([6.0, 6, 6, 8, 6])}
    sbg = {"t": np.array([1.0, 3, 7, 7]), "c": np.array([1.0, 1, 1, 0])}
    return [
        (BGNBD(), rfm, [0.3, 4.0, 0.8, 2.5]), (BGNBD(), rfm, [2.0, 1.0, 3.0, 0.5]),
        (MBGNBD(), rfm, [0.5, 6.0, 0.9, 1.6]),
        (ParetoNBD(), rfm, [0.55, 10.5, 0.6, 11.7]), (ParetoNBD(), rfm, [0.5, 30.0, 1.5, 2.0]),
        (ParetoNBD(), rfm, [2.0, 3.0, 0.4, 40.0]),
        (GammaGamma(), spend, [6.0, 3.7, 15.0]), (BGBB(), disc, [1.2, 0.75, 0.66, 2.8]),
        (ShiftedBetaGeometric(), sbg, [0.7, 1.2]),
    ]


@pytest.mark.parametrize("case", range(9))
def test_analytic_gradient_matches_finite_differences(case):
    model, data, params = _grad_cases()[case]
    params = np.asarray(params, float)

    def total(p):
        return model._loglik(p, data, grad=False)[0].sum()

    _, g = model._loglik(params, data, grad=True)
    numeric = approx_fprime(params, total, 1e-7 * params)
    assert np.allclose(g.sum(axis=0), numeric, rtol=2e-4, atol=1e-3 * np.abs(numeric).max())


@pytest.mark.parametrize("cls", TRANSACTION, ids=lambda c: c.__name__)
def test_no_repeat_purchase_has_no_solution_and_says_so(cls):
    """Without a single repeat purchase the purchase rate's maximum is 0: no model can
    be fitted, and the advice is about the data (a penalty would not help)."""
    with pytest.raises(ConvergenceError) as e:
        cls().fit(np.zeros(100), np.zeros(100), np.full(100, 30.0))
    assert isinstance(e.value, ArithmeticError)
    text = str(e.value)
    assert cls.__name__ in text and "no customer made a repeat purchase" in text
    assert "penalizer" not in text


def test_convergence_error_advice_is_numbered():
    m = BGNBD()
    with pytest.raises(ConvergenceError) as e:
        m._raise_convergence(None, [])
    text = str(e.value)
    assert "BGNBD" in text and "1. " in text and "2. " in text and "penalizer" in text


def test_penalizer_shrinks_parameters():
    s = cdnow_summary()
    plain = BGNBD().fit(s["x"], s["t_x"], s["T"])
    shrunk = BGNBD(penalizer=0.01).fit(s["x"], s["t_x"], s["T"])
    assert (shrunk.params_ ** 2).sum() < (plain.params_ ** 2).sum()
    assert shrunk.log_likelihood_ < plain.log_likelihood_


@pytest.mark.parametrize("case", range(9))
def test_fast_weighted_sums_equal_the_per_row_likelihood(case):
    model, data, params = _grad_cases()[case]
    params = np.asarray(params, float)
    weights = np.random.default_rng(case).uniform(0.5, 2.0, next(iter(data.values())).size)
    ll, g = model._loglik(params, data, grad=True)
    ll_sum, g_sum = model._loglik_sum(params, model._prepare(dict(data)), weights)
    assert ll_sum == pytest.approx(weights @ ll, rel=1e-12)
    assert np.allclose(g_sum, weights @ g, rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("cls", TRANSACTION, ids=lambda c: c.__name__)
def test_customers_acquired_on_the_last_day_are_valid(cls):
    s = cdnow_summary()
    x, t_x, big_t = (np.r_[s[c].to_numpy(float), np.zeros(5)] for c in ("x", "t_x", "T"))
    m = cls().fit(x, t_x, big_t)
    base = cls().fit(s["x"], s["t_x"], s["T"])
    # T = 0 carries no information: same fit, and the prediction of a new customer
    assert np.allclose(m.params_, base.params_, rtol=1e-5)
    assert m.predict_purchases(52, 0, 0, 0)[0] == pytest.approx(
        m.predict_new_customer_purchases(52), rel=1e-9)


def test_expectation_paths_agree_and_large_dropout_parameters_stay_finite():
    """Large a (drop-out probability nearly the same for everyone) switches the BG
    expectations from the hypergeometric series to quadrature; both must agree where
    both work, and the quadrature must stay finite where the series cannot go."""
    from loyalist.models._special import hyp2f1_series_by_x
    from loyalist.models.bgnbd import _expected_by_quadrature

    r, alpha, a, b = 3.6, 0.95, 15.0, 900.0
    x = np.array([0.0, 1, 5, 60, 122, 10_000])
    big_t = np.array([50.0, 60, 70, 80, 104, 7300])
    t = np.full(6, 52.0)
    xu, xi = np.unique(x, return_inverse=True)
    z = t / (alpha + big_t + t)
    c_u = a + b + xu - 1.0
    series = c_u[xi] / (a - 1.0) * (1.0 - (1.0 - z) ** (a - 1.0)
                                    * hyp2f1_series_by_x(a + b - 1.0 - r, a - 1.0, c_u, xi, z))
    quad = _expected_by_quadrature(r, alpha, a, b, t, x, big_t, xu, xi)
    assert np.allclose(quad, series, rtol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        huge = _expected_by_quadrature(r, alpha, 5.7e6, 3.6e8, t, x, big_t, xu, xi)
    # p is about 0.0156 for everyone: the Gamma-Poisson expectation with that p
    p = 5.7e6 / (5.7e6 + 3.6e8 + x)
    plain = -np.expm1(-(r + x) * np.log1p(t * p / (alpha + big_t))) / p
    assert np.all(np.isfinite(huge)) and np.allclose(huge, plain, rtol=1e-4)


@pytest.mark.parametrize("cls", [BGNBD, ParetoNBD], ids=lambda c: c.__name__)
def test_standard_errors_from_the_observed_information(cls):
    """Standard errors equal sqrt(diag(inverse observed information)), the latter by
    central differences of the total gradient in the natural parameters."""
    s = cdnow_summary()
    data = {"x": s["x"].to_numpy(float), "t_x": s["t_x"].to_numpy(float),
            "T": s["T"].to_numpy(float)}
    m = cls().fit(s["x"], s["t_x"], s["T"])
    p = m.params_.to_numpy()
    info = np.empty((4, 4))
    for j in range(4):
        h = 1e-5 * p[j]
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        info[:, j] = -(m._loglik(up, data, grad=True)[1].sum(0)
                       - m._loglik(down, data, grad=True)[1].sum(0)) / (2 * h)
    se = np.sqrt(np.diag(np.linalg.inv((info + info.T) / 2)))
    assert np.allclose(m.standard_errors_.to_numpy(), se, rtol=2e-3)


@pytest.mark.parametrize("params", [[0.55, 10.5, 0.6, 11.7], [0.5, 30.0, 1.5, 2.0]])
def test_paretonbd_slices_give_the_same_sums_as_one_pass(monkeypatch, params):
    """The Pareto/NBD likelihood runs over slices of rows (bounded memory); cutting the
    CDNOW rows into many small slices, each with its own distinct (x, t_x) pairs, must
    give the same totals, per-row values and P(alive) as one slice."""
    import loyalist.models.paretonbd as pnbd

    s = cdnow_summary()
    data = {"x": s["x"].to_numpy(float), "t_x": s["t_x"].to_numpy(float),
            "T": s["T"].to_numpy(float)}
    weights = np.random.default_rng(0).uniform(0.5, 2.0, data["x"].size)
    params = np.asarray(params, float)
    m = ParetoNBD()
    whole = m._loglik_sum(params, m._prepare(dict(data)), weights)
    rows_whole = m._loglik(params, data, grad=True)
    fitted = ParetoNBD().fit(data["x"], data["t_x"], data["T"])
    alive_whole = fitted.predict_p_alive(data["x"], data["t_x"], data["T"])
    monkeypatch.setattr(pnbd, "_ROWS_PER_SLICE", 100)
    prepared = m._prepare(dict(data))
    assert len(prepared["_parts"]) == -(-data["x"].size // 100)
    sliced = m._loglik_sum(params, prepared, weights)
    rows_sliced = m._loglik(params, data, grad=True)
    assert sliced[0] == pytest.approx(whole[0], rel=1e-12)
    assert np.allclose(sliced[1], whole[1], rtol=1e-10)
    assert np.allclose(rows_sliced[0], rows_whole[0], rtol=1e-12)
    assert np.allclose(rows_sliced[1], rows_whole[1], rtol=1e-10, atol=1e-12)
    assert np.allclose(fitted.predict_p_alive(data["x"], data["t_x"], data["T"]), alive_whole,
                       rtol=1e-12)
