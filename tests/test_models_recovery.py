"""Fits recover the parameters of data simulated from each model."""

from __future__ import annotations

import numpy as np
import pytest

from loyalist.models import BGBB, BGNBD, MBGNBD, GammaGamma, ParetoNBD, ShiftedBetaGeometric
from loyalist.models.simulate import (
    simulate_bgbb,
    simulate_bgnbd,
    simulate_gammagamma,
    simulate_paretonbd,
    simulate_sbg,
)

N = 20_000


def _recovered(model, truth, n_se=4.0):
    err = np.abs(model.params_.to_numpy() - np.asarray(truth))
    se = model.standard_errors_.to_numpy()
    assert np.all(err < n_se * se), (model.params_.to_dict(), truth, se)
    # and the standard errors are informative (not huge)
    assert np.all(se < 0.5 * np.asarray(truth))


def _ages(seed):
    return np.random.default_rng(seed).uniform(30, 80, N)


@pytest.mark.parametrize("cls, modified", [(BGNBD, False), (MBGNBD, True)],
                         ids=["BGNBD", "MBGNBD"])
def test_bg_family(cls, modified):
    truth = [0.243, 4.414, 0.793, 2.426]
    d = simulate_bgnbd(*truth, _ages(1), modified=modified, random_state=2)
    _recovered(cls().fit(d["frequency"], d["recency"], d["T"]), truth)


def test_paretonbd():
    truth = [0.553, 10.578, 0.606, 11.669]
    d = simulate_paretonbd(*truth, _ages(3), random_state=4)
    _recovered(ParetoNBD().fit(d["frequency"], d["recency"], d["T"]), truth)


def test_gammagamma():
    truth = [6.25, 3.74, 15.44]
    x = np.random.default_rng(5).integers(0, 15, N)
    d = simulate_gammagamma(*truth, x, random_state=6)
    _recovered(GammaGamma().fit(d["frequency"], d["monetary_value"]), truth)


def test_bgbb():
    truth = [1.204, 0.750, 0.657, 2.783]
    d = simulate_bgbb(*truth, 6, N, random_state=7)
    _recovered(BGBB().fit(d["frequency"], d["recency"], d["n_periods"]), truth)


def test_sbg():
    truth = [0.704, 1.182]
    d = simulate_sbg(*truth, 7, N, random_state=8)
    _recovered(ShiftedBetaGeometric().fit(d["periods"], d["churned"]), truth)


def test_predictions_match_simulation():
    """Model expectations against what the simulated customers actually do next."""
    truth = [0.243, 4.414, 0.793, 2.426]
    ages = _ages(9)
    d = simulate_bgnbd(*truth, ages, random_state=10)
    m = BGNBD().fit(d["frequency"], d["recency"], d["T"])
    # a fresh cohort observed for 39 more weeks: the new-customer expectation
    longer = simulate_bgnbd(*truth, ages + 39, random_state=11)
    expected = m.predict_new_customer_purchases(ages + 39).mean()
    assert longer["frequency"].mean() == pytest.approx(expected, rel=0.05)
    # P(exactly n) of a new customer against the simulated distribution
    p = m.predict_purchase_count_probability(np.arange(4), 80.0)
    sim = simulate_bgnbd(*truth, np.full(N, 80.0), random_state=12)["frequency"]
    observed = np.array([(sim == k).mean() for k in range(4)])
    assert np.allclose(p, observed, atol=0.015)


def test_large_fit_path_finds_the_same_maximum_as_plain_lbfgs():
    """Above 200k distinct rows the fit warms up on a subsample and finishes with
    quasi-Newton steps on all rows; it must land on the same maximum."""
    truth = [0.243, 4.414, 0.793, 2.426]
    d = simulate_bgnbd(*truth, np.random.default_rng(13).uniform(30, 80, 210_000),
                       random_state=14)
    fast = BGNBD().fit(d["frequency"], d["recency"], d["T"])
    ref = BGNBD()
    data = ref._prepare({"x": d["frequency"].to_numpy(float),
                         "t_x": d["recency"].to_numpy(float), "T": d["T"].to_numpy(float)})
    w = np.ones(len(d))
    plain, _ = ref._optimise(data, w, [ref._theta_from_params(p) for p in ref._start(data, w)])
    assert np.allclose(fast.params_.to_numpy(), ref._params_from_theta(plain.x), rtol=1e-5)
    assert fast.n_unique_ == len(d)  # distinct rows: compression was skipped
