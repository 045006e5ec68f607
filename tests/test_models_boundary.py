"""Value models at the limits of their families: no drop-out, rates or drop-out the same
for everyone, and customers with T = 0 (issue 14).

Data: ``loyalist.models.simulate.simulate_orders`` (stated per test), summarised by
``rfm_summary`` exactly as ``loyalist value`` does.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy.special import gammaln

from _value_data import cdnow_summary, ibis_table
from loyalist.features import rfm_summary
from loyalist.models import BGNBD, MBGNBD, BoundaryWarning, ParetoNBD
from loyalist.models.simulate import simulate_bgnbd, simulate_orders, simulate_paretonbd

TRANSACTION = [BGNBD, MBGNBD, ParetoNBD]
NO_DROPOUT = ("almost no customer drops out in this period: purchases behave like a "
              "Poisson process; P(alive) is close to 1")
# the 16 setups: 4 calibration ends x days/weeks x with/without T = 0 customers
CAL_ENDS = ["2011-06-30", "2011-08-31", "2011-09-30", "2011-10-31"]
SETUPS = [(c, f, t0) for c in CAL_ENDS for f in ("D", "W") for t0 in (True, False)]
# Poisson buyers who never drop out: 600 customers over 2011, rates Gamma(r=1.5) with a
# mean of 5 purchases a year; seeds 0-2, and seed 3 with half the purchase rate
GENERATOR = [dict(purchases_per_year=5.0, random_state=s) for s in range(3)] + [
    dict(purchases_per_year=2.5, random_state=3)]


@functools.cache
def _orders(variant: int) -> pd.DataFrame:
    return simulate_orders(600, days=365, r=1.5, start="2011-01-01", **GENERATOR[variant])


@functools.cache
def _summaries(variant: int) -> dict:
    """RFM summaries of the 16 setups; the T = 0 ones add 6 customers whose first order
    falls on the calibration end (as in the retailer's export)."""
    base = _orders(variant)
    out = {}
    for cal in CAL_ENDS:
        late = pd.DataFrame({"id": [f"L{i}" for i in range(6)],
                             "customer_id": [f"late{i}" for i in range(6)],
                             "ordered_at": pd.Timestamp(cal), "amount": 20.0})
        with_t0 = ibis_table(pd.concat([base, late], ignore_index=True))
        for freq in ("D", "W"):
            s = rfm_summary(with_t0, calibration_end=cal, observation_end="2011-12-31",
                            freq=freq).to_pandas().sort_values("customer_id")
            assert (s["T"] == 0).sum() >= 6  # simulated customers may add to them
            out[(cal, freq, True)] = s.reset_index(drop=True)
            out[(cal, freq, False)] = s[s["T"] > 0].reset_index(drop=True)
    return out


def _nbd_reference(x, big_t):
    """An independent NBD (Poisson-gamma) fit: the limit every drop-out model must return
    when nobody drops out. Plain likelihood, profiled: alpha solves its score equation
    for each r, and r maximises the profile on a bounded log scale."""
    keep = big_t > 0
    x, big_t = x[keep], big_t[keep]

    def loglik(r, alpha):
        return np.sum(gammaln(r + x) - gammaln(r) + r * np.log(alpha)
                      - (r + x) * np.log(alpha + big_t))

    def alpha_hat(r):
        def score(la):
            return x.size * r - np.sum((r + x) * np.exp(la) / (np.exp(la) + big_t))
        return np.exp(optimize.brentq(score, -30.0, 40.0, xtol=1e-14))

    res = optimize.minimize_scalar(lambda lr: -loglik(np.exp(lr), alpha_hat(np.exp(lr))),
                                   bounds=(-6.0, 18.0), method="bounded",
                                   options={"xatol": 1e-9})
    r = np.exp(res.x)
    return np.array([r, alpha_hat(r)]), -res.fun


def _fit(cls, s):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = cls().fit(s["frequency"], s["recency"], s["T"])
    return m, [w for w in caught if issubclass(w.category, BoundaryWarning)]


@pytest.mark.parametrize("variant", range(len(GENERATOR)))
@pytest.mark.parametrize("cls", TRANSACTION, ids=lambda c: c.__name__)
def test_poisson_buyers_fit_at_the_no_dropout_boundary_in_all_16_setups(cls, variant):
    summaries = _summaries(variant)
    for setup in SETUPS:
        s = summaries[setup]
        m, caught = _fit(cls, s)
        assert len(caught) == 1 and NO_DROPOUT in str(caught[0].message), (setup, caught)
        assert m.status_ == "boundary" and m.boundary_ == NO_DROPOUT
        # the boundary solution is the NBD fitted independently
        x, t_x, big_t = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        (r, alpha), ll = _nbd_reference(x, big_t)
        assert np.allclose(m.params_[["r", "alpha"]], [r, alpha], rtol=1e-4), setup
        assert m.log_likelihood_ == pytest.approx(ll, abs=1e-6)
        # predictions equal the limiting model's, and nobody is dropped
        assert np.all(m.predict_p_alive(x, t_x, big_t) == 1.0)
        expected = (r + x) / (alpha + big_t) * 10.0
        assert np.allclose(m.predict_purchases(10.0, x, t_x, big_t), expected, rtol=1e-4)
        # an honest table: the drop-out parameters are a limit with words, not 0-inf
        drop = list(m.params_.index[2:])
        assert m.summary_.loc[drop, "lower 95% bound"].isna().all()
        assert set(drop) <= set(m.param_notes_)
        assert np.all(np.isfinite(m.summary_.loc[["r", "alpha"]].to_numpy()))


@pytest.mark.parametrize("cls", TRANSACTION, ids=lambda c: c.__name__)
def test_customers_with_t_zero_never_change_a_fit(cls):
    """Rows with T = 0 carry no information: with or without them, and whatever their
    weight, the fit is the same; the note says how many were left out."""
    for setup in [("2011-08-31", "D"), ("2011-10-31", "W")]:
        with_t0 = _summaries(0)[(*setup, True)]
        without = _summaries(0)[(*setup, False)]
        a, _ = _fit(cls, with_t0)
        b, _ = _fit(cls, without)
        heavy = np.where(with_t0["T"] == 0, 1000.0, 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BoundaryWarning)
            c = cls().fit(with_t0["frequency"], with_t0["recency"], with_t0["T"], weights=heavy)
        for m in (a, c):
            assert np.allclose(m.params_.dropna(), b.params_.dropna(), rtol=1e-8)
            assert m.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-12)
        n_new = int((with_t0["T"] == 0).sum())
        assert any(f"{n_new} customer(s) with T = 0" in n for n in a.notes_)
        assert not any("T = 0" in n for n in b.notes_)
        assert a.n_obs_ == len(with_t0)


@pytest.mark.parametrize("cls", TRANSACTION, ids=lambda c: c.__name__)
def test_fitted_models_say_so_and_keep_the_published_maximum(cls):
    s = cdnow_summary()
    with warnings.catch_warnings():
        warnings.simplefilter("error", BoundaryWarning)
        m = cls().fit(s["x"], s["t_x"], s["T"])
    assert m.status_ == "fitted" and m.boundary_ is None and m.param_notes_ == {}


# every customer buys at 0.3 a week (r -> infinity), with each model's own drop-out; and
# CDNOW-like rates with the same drop-out for everyone (a, b or s, beta -> infinity)
SIM = {
    "same-rate": {BGNBD: (1e7, 1e7 / 0.3, 0.8, 2.5), MBGNBD: (1e7, 1e7 / 0.3, 0.8, 2.5),
                  ParetoNBD: (1e7, 1e7 / 0.3, 0.6, 12.0)},
    "same-dropout": {BGNBD: (0.5, 5.0, 1e7, 9e7), MBGNBD: (0.5, 5.0, 1e7, 9e7),
                     ParetoNBD: (0.5, 5.0, 1e7, 1e7 / 0.02)},
}
PHRASE = {"same-rate": "every customer buys at about the same rate",
          "same-dropout": "every customer has the same drop-out"}


def _simulate(cls, params, big_t, seed):
    if cls is ParetoNBD:
        return simulate_paretonbd(*params, big_t, random_state=seed)
    return simulate_bgnbd(*params, big_t, modified=cls is MBGNBD, random_state=seed)


@pytest.mark.parametrize("cls", TRANSACTION, ids=lambda c: c.__name__)
@pytest.mark.parametrize("limit", list(SIM))
def test_other_limits_are_reported_in_words_with_usable_predictions(cls, limit):
    """3,000 customers aged 30-80 weeks simulated from the model itself at one of its
    other limits: the fit says which limit in words, and its predictions match what the
    same simulation gives 39 weeks later."""
    big_t = np.random.default_rng(0).uniform(30, 80, 3000)
    d = _simulate(cls, SIM[limit][cls], big_t, 1)
    m, caught = _fit(cls, d)
    x, t_x, big_t = (d[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    assert m.status_ == "boundary" and PHRASE[limit] in m.boundary_, m.summary_
    assert len(caught) == 1 and PHRASE[limit] in str(caught[0].message)
    gone = ["r", "alpha"] if limit == "same-rate" else list(m.params_.index[2:])
    assert np.all(m.params_[gone] == np.inf) and set(gone) <= set(m.param_notes_)
    kept = [p for p in m.params_.index if p not in gone]
    assert np.all(np.isfinite(m.summary_.loc[kept].to_numpy()))
    p_alive = m.predict_p_alive(x, t_x, big_t)
    purchases = m.predict_purchases(39.0, x, t_x, big_t)
    assert np.all((p_alive >= 0) & (p_alive <= 1)) and np.all(np.isfinite(purchases))
    k = np.arange(200)
    probs = m.predict_purchase_count_probability(k, 52.0)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert (k * probs).sum() == pytest.approx(m.predict_new_customer_purchases(52.0), rel=1e-3)
    # expected repeat purchases in the next 39 weeks against the same population
    # simulated 39 weeks longer (same seed: same rates and drop-out draws)
    longer = _simulate(cls, SIM[limit][cls], big_t + 39, 1)
    assert purchases.sum() == pytest.approx(
        (longer["frequency"] - d["frequency"]).sum(), rel=0.1)


def test_pareto_quadrature_agrees_with_the_series_where_both_apply():
    """Past |alpha - beta| / max(alpha, beta) = 0.95 the Pareto/NBD drop-out term is
    integrated instead of summed as a series; on either side both must agree."""
    s = cdnow_summary()
    m = ParetoNBD()
    data = m._prepare({"x": s["x"].to_numpy(float), "t_x": s["t_x"].to_numpy(float),
                       "T": s["T"].to_numpy(float)})
    for params in ([0.55, 10.6, 0.61, 11.7], [0.5, 10.0, 1.5, 150.0], [0.5, 200.0, 1.5, 11.0],
                   [2.0, 3.0, 0.4, 60.0]):
        theta = m._theta_from_params(params)
        series, g_series = m._series_loglik(np.asarray(params, float), data, grad=True)
        quad, g_quad = m._quadrature_loglik(theta, data, slice(None), True)
        assert np.allclose(quad, series, rtol=1e-10, atol=1e-10), params
        g_series = g_series @ m._dparams_dtheta(theta)
        assert np.allclose(g_quad.T, g_series, rtol=1e-7, atol=1e-9), params


@pytest.mark.parametrize("cls", TRANSACTION, ids=lambda c: c.__name__)
@pytest.mark.parametrize("theta", [[-2.0, -18.0, -1.0, -1.0], [-2.0, 1.0, -1.0, -18.0],
                                   [-2.0, 13.0, -25.0, 12.0], [-2.0, 0.5, 1.0, 2.0]])
def test_gradients_hold_at_the_edges_of_the_coordinates(cls, theta):
    """Near the bounds (rates or drop-out the same for all, extreme spreads) the
    likelihood in the fit coordinates stays finite and its gradient exact."""
    s = cdnow_summary()
    m = cls()
    data = m._prepare({"x": s["x"].to_numpy(float), "t_x": s["t_x"].to_numpy(float),
                       "T": s["T"].to_numpy(float)})
    w = np.ones(len(s))
    theta = np.asarray(theta, float)
    ll, g = m._loglik_sum_theta(theta, data, w)
    h = 1e-6
    numeric = np.array([(m._loglik_sum_theta(theta + e, data, w)[0]
                         - m._loglik_sum_theta(theta - e, data, w)[0]) / (2 * h)
                        for e in np.eye(4) * h])
    assert np.isfinite(ll) and np.all(np.isfinite(g))
    assert np.allclose(g, numeric, rtol=1e-5, atol=1e-4 * max(1.0, np.abs(numeric).max()))
    rows, g_rows = m._loglik_theta(theta, data, grad=True)
    assert rows.sum() == pytest.approx(ll, rel=1e-11)
    assert np.allclose(g_rows.sum(axis=0), g, rtol=1e-9, atol=1e-7)


def test_pareto_simulated_without_dropout_signal_is_not_forced_to_a_limit():
    """The other way round: data with real drop-out keep it (no false boundary)."""
    big_t = np.random.default_rng(5).uniform(30, 80, 4000)
    d = simulate_paretonbd(0.55, 10.6, 0.61, 11.7, big_t, random_state=6)
    m, caught = _fit(ParetoNBD, d)
    assert m.status_ == "fitted" and not caught
    assert np.isnan(m.dropout_lr_) or m.dropout_lr_ > 3.84
