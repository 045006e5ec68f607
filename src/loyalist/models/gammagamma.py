"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV").

Each transaction of a customer is worth ``z ~ Gamma(p, nu)``; across customers the
rate ``nu ~ Gamma(q, gamma)``. Spend is assumed independent of the purchase
process, so the model is fitted on repeat buyers only and combined with a
transaction model for lifetime value (:func:`loyalist.models.clv.customer_lifetime_value`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from loyalist.errors import DataError
from loyalist.models._base import BaseFitter, as_array, check_fitted, wdot


def _check_spend(frequency, monetary_value, weights=None):
    x = as_array(frequency, "frequency")
    m = as_array(monetary_value, "monetary_value")
    x, m = np.broadcast_arrays(x, m)
    if np.any(x < 0) or np.any(m < 0):
        raise DataError("'frequency' and 'monetary_value' must be >= 0.")
    w = None if weights is None else as_array(weights, "weights")
    return x.astype(float), m.astype(float), w


class GammaGamma(BaseFitter):
    """Gamma-Gamma spend model.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters.

    Attributes
    ----------
    params_ : pandas.Series
        ``p`` (shape of spend per transaction), ``q`` and ``gamma`` (shape and rate of
        the customers' spend rates).
    n_excluded_ : int
        Customers left out of the fit because they have no repeat purchase or zero
        mean spend.
    standard_errors_, variance_matrix_, summary_, log_likelihood_, aic_, bic_
    """

    _param_names = ("p", "q", "gamma")

    def __init__(self, penalizer=0.0):
        self.penalizer = penalizer

    def fit(self, frequency, monetary_value, weights=None):
        """Fit on the customers with at least one repeat purchase and positive spend.

        ``monetary_value`` is the mean value of the repeat transactions (first purchase
        excluded), as returned by :func:`loyalist.features.rfm_summary`.
        """
        x, m, w = _check_spend(frequency, monetary_value, weights)
        keep = (x > 0) & (m > 0)
        if keep.sum() < 3:
            raise DataError(
                f"GammaGamma needs repeat buyers with positive spend; found {int(keep.sum())}.",
                hint="fit it on a longer history or use a constant average order value.",
            )
        self.n_excluded_ = int((~keep).sum())
        data = {"x": x[keep], "m": m[keep]}
        return self._fit_data(data, None if w is None else w[keep], int(keep.sum()))

    def _loglik(self, params, data, *, grad):
        p, q, gam = params
        x, m = data["x"], data["m"]
        px = p * x
        xm = x * m
        ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gam)
              + (px - 1.0) * np.log(xm) + np.log(x) - (px + q) * np.log(gam + xm))
        if not grad:
            return ll, None
        psi_pxq = digamma(px + q)
        log_ratio = np.log(xm) - np.log(gam + xm)
        g = np.stack([
            x * (psi_pxq - digamma(px) + log_ratio),
            psi_pxq - digamma(q) + np.log(gam) - np.log(gam + xm),
            q / gam - (px + q) / (gam + xm),
        ], axis=1)
        return ll, g

    def _start(self, data, weights):
        m = data["m"]
        mean = wdot(weights, m) / float(weights.sum())
        return [np.array([1.0, 2.0, mean]), np.array([5.0, 3.0, 3.0 * mean]),
                np.array([0.5, 5.0, 0.5 * mean])]

    def predict_spend(self, frequency, monetary_value):
        """Expected mean transaction value of each customer (shrunk toward the population).

        Customers without repeat purchases get the population mean ``p * gamma / (q - 1)``.
        """
        check_fitted(self)
        p, q, gam = self.params_.to_numpy()
        if q <= 1:
            raise DataError(
                f"The fitted q = {q:.3f} <= 1: the population mean spend is infinite.",
                hint="refit with GammaGamma(penalizer=0.01) or on more data.",
            )
        x, m, _ = _check_spend(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)
        return p * (gam + x * m) / (p * x + q - 1.0)

    def population_mean_spend(self) -> float:
        """Mean spend per transaction of a new customer, ``p * gamma / (q - 1)``."""
        check_fitted(self)
        p, q, gam = self.params_.to_numpy()
        return float(p * gam / (q - 1.0)) if q > 1 else float("inf")
