"""Each model against the published results it must reproduce (data from ../shared/data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _value_data import DATA, cdnow_orders, cdnow_summary, ibis_table
from loyalist.features import rfm_summary
from loyalist.models import BGBB, BGNBD, MBGNBD, GammaGamma, ParetoNBD, ShiftedBetaGeometric


@pytest.fixture(scope="module")
def cdnow():
    s = cdnow_summary()
    return s["x"], s["t_x"], s["T"]


def _close(series, expected, tol, rtol=0.0):
    got = series[list(expected)].to_numpy()
    assert np.allclose(got, list(expected.values()), atol=tol, rtol=rtol), (got, expected)


def test_bgnbd_cdnow(cdnow):
    m = BGNBD().fit(*cdnow)
    _close(m.params_, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, 5e-4)
    assert m.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)
    assert m.predict_purchases(39, 2, 30.43, 38.86)[0] == pytest.approx(1.226, abs=5e-4)
    assert m.predict_new_customer_purchases(78) == pytest.approx(1.858, abs=5e-4)
    # AIC/BIC follow from the log-likelihood
    assert m.aic_ == pytest.approx(8 - 2 * m.log_likelihood_)
    assert m.bic_ == pytest.approx(4 * np.log(2357) - 2 * m.log_likelihood_)


def test_paretonbd_cdnow_reaches_at_least_the_published_maximum(cdnow):
    m = ParetoNBD().fit(*cdnow)
    _close(m.params_, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, 5e-3)
    assert m.log_likelihood_ >= -9595.0
    assert m.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)


def test_mbgnbd_cdnow(cdnow):
    m = MBGNBD().fit(*cdnow)
    _close(m.params_, {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}, 5e-4)
    # customers without a repeat purchase may have left right after the first one
    assert m.predict_p_alive(0, 0, 38.86)[0] < 1.0


def test_gammagamma_cdnow_repeat_buyers():
    s = cdnow_summary()
    m = GammaGamma().fit(s["x"], s["zbar"])
    assert m.n_obs_ == 946 and m.n_excluded_ == 2357 - 946
    # published to two decimals (gamma 15.44); our maximum is 15.4477: within one unit
    # of the last published digit
    _close(m.params_, {"p": 6.25, "q": 3.74, "gamma": 15.44}, 0.01)
    # conditional expectation is a weighted mean of the population mean and the customer's
    spend = m.predict_spend([1, 10], [20.0, 20.0])
    pop = m.population_mean_spend()
    assert abs(spend[1] - 20.0) < abs(spend[0] - 20.0) < abs(pop - 20.0)


def test_bgbb_donations_and_table6_p_alive():
    d = pd.read_csv(DATA / "cdnow_lifetimes" / "donations.csv")
    assert d["weights"].sum() == 11104
    m = BGBB().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    _close(m.params_, {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}, 5e-4)
    # P(alive in 2002) for: no repeat donation; 2 donations, the last in 1999; every year
    p = m.predict_p_alive([0, 2, 6], [0, 4, 6], 6)
    assert np.round(p, 2).tolist() == [0.11, 0.59, 0.93]
    # a probability distribution over 0..6 donations
    assert m.predict_purchase_count_probability(np.arange(7), 6).sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "cohort, alpha, beta, projected",
    [("regular", 0.704, 1.182, [22.0, 20.4, 19.1, 18.0, 17.0]),
     ("highend", 0.668, 3.806, [46.0, 43.6, 41.4, 39.5, 37.8])],
)
def test_sbg_cohorts(cohort, alpha, beta, projected):
    c = pd.read_csv(DATA / "sbg_contractual_retention" / "sbg_cohorts.csv")
    c = c[c["cohort"] == cohort]
    churned = c["recency"] < c["T"]
    periods = np.where(churned, c["recency"], c["T"] - 1)
    m = ShiftedBetaGeometric().fit(periods, churned)
    _close(m.params_, {"alpha": alpha, "beta": beta}, 5e-4)
    assert np.all(np.abs(100 * m.survival_function(np.arange(8, 13)) - projected) < 1.0)
    # the same fit from the survivor counts alone
    survivors = [int((c["recency"] > k).sum()) for k in range(8)]
    m2 = ShiftedBetaGeometric().fit_counts(survivors)
    assert np.allclose(m2.params_, m.params_, rtol=1e-5)


def test_cdnow_holdout_by_calibration_frequency():
    """Weeks 40-78: conditional predictions vs actual repeat purchases, by frequency."""
    s = rfm_summary(ibis_table(cdnow_orders()), calibration_end="1997-09-30",
                    observation_end="1998-06-30", freq="W").to_pandas()
    m = BGNBD().fit(s["frequency"], s["recency"], s["T"])
    s["predicted"] = m.predict_purchases(s["duration_holdout"], s["frequency"], s["recency"],
                                         s["T"])
    g = s.groupby(s["frequency"].clip(upper=7))[["predicted", "frequency_holdout"]].mean()
    assert (np.abs(g["predicted"] - g["frequency_holdout"]) < 0.4).all(), g
    total = s["predicted"].sum()
    assert 0.85 * 1882 < total < 1.05 * 1882
