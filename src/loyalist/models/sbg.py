"""Shifted-beta-geometric model of contractual retention (Fader & Hardie 2007).

At each renewal an active subscriber churns with probability ``theta``, which is
constant for the subscriber and varies across subscribers as ``Beta(alpha, beta)``.
Retention rates therefore rise with tenure even though no individual's rate changes:
the low-churn subscribers are the ones who remain.

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)     (churn at renewal t)
    S(t)     = B(alpha, beta + t) / B(alpha, beta)              (still active after t)
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma

from loyalist.errors import DataError
from loyalist.models._base import BaseFitter, as_array, check_fitted
from loyalist.models._special import hyp2f1_series


class ShiftedBetaGeometric(BaseFitter):
    """sBG model for the retention curve of a subscription cohort.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters.

    Attributes
    ----------
    params_ : pandas.Series
        ``alpha``, ``beta`` of the Beta distribution of churn probabilities.
    standard_errors_, variance_matrix_, summary_, log_likelihood_, aic_, bic_
    """

    _param_names = ("alpha", "beta")

    def __init__(self, penalizer=0.0):
        self.penalizer = penalizer

    def fit(self, periods, churned, weights=None):
        """Fit on one row per subscriber (or per group with ``weights``).

        Parameters
        ----------
        periods : array-like of int
            For a churned subscriber, the renewal at which they left (1 = did not
            renew the first time); for an active one, the renewals they have made.
        churned : array-like of bool
            True if the subscriber has left.
        """
        t = as_array(periods, "periods")
        c = as_array(churned, "churned").astype(float)
        t, c = np.broadcast_arrays(t, c)
        if np.any(t != np.round(t)) or np.any(t < 0) or np.any((c == 1) & (t < 1)):
            raise DataError("'periods' must be whole numbers, >= 1 for churned subscribers.")
        w = None if weights is None else as_array(weights, "weights")
        return self._fit_data({"t": t.astype(float), "c": c}, w, t.size)

    def fit_counts(self, survivors):
        """Fit on a cohort's survivor counts ``[n0, n1, ..., nk]`` (n0 = acquired)."""
        s = as_array(survivors, "survivors")
        if s.size < 2 or np.any(np.diff(s) > 0) or np.any(s < 0):
            raise DataError("'survivors' must be a non-increasing series of counts, length >= 2.")
        k = s.size - 1
        periods = np.r_[np.arange(1, k + 1), k].astype(float)
        churned = np.r_[np.ones(k), 0.0]
        weights = np.r_[-np.diff(s), s[-1]]
        return self.fit(periods, churned, weights)

    def _loglik(self, params, data, *, grad):
        al, be = params
        t, c = data["t"], data["c"]
        lb = betaln(al, be)
        ll = np.where(c == 1, betaln(al + 1, be + t - 1), betaln(al, be + t)) - lb
        if not grad:
            return ll, None
        psi_ab = digamma(al + be)
        d_a0, d_b0 = digamma(al) - psi_ab, digamma(be) - psi_ab
        s_churn = digamma(al + be + t)
        g_a = np.where(c == 1, digamma(al + 1) - s_churn, digamma(al) - s_churn) - d_a0
        g_b = np.where(c == 1, digamma(be + t - 1), digamma(be + t)) - s_churn - d_b0
        return ll, np.stack([g_a, g_b], 1)

    def _start(self, data, weights):
        return [np.array([1.0, 1.0]), np.array([0.5, 3.0]), np.array([3.0, 0.5])]

    # -- predictions -----------------------------------------------------------------
    def survival_function(self, t):
        """Share of the cohort still active after ``t`` renewals."""
        check_fitted(self)
        al, be = self.params_.to_numpy()
        return np.exp(betaln(al, be + np.asarray(t, float)) - betaln(al, be))

    def churn_probability(self, t):
        """P(a new subscriber churns exactly at renewal ``t``)."""
        check_fitted(self)
        al, be = self.params_.to_numpy()
        t = np.asarray(t, float)
        return np.exp(betaln(al + 1, be + t - 1) - betaln(al, be))

    def retention_rate(self, t):
        """Share of those active after ``t - 1`` renewals who renew at ``t``."""
        check_fitted(self)
        al, be = self.params_.to_numpy()
        t = np.asarray(t, float)
        return (be + t - 1) / (al + be + t - 1)

    def discounted_expected_lifetime(self, discount_rate, renewals=0):
        """Discounted expected number of future payments of a subscriber.

        ``renewals=0``: a new subscriber (DEL, counting the first payment); ``n > 0``:
        one who has just made their ``n``-th renewal (DERL, Fader & Hardie 2010).
        """
        check_fitted(self)
        al, be = self.params_.to_numpy()
        n = np.asarray(renewals, float)
        d = float(discount_rate)
        z = 1.0 / (1.0 + d)
        if n.ndim == 0 and n == 0:
            return hyp2f1_series(1.0, be, al + be, z)
        # DERL = (beta+n)/(alpha+beta+n) 2F1(1, beta+n+1; alpha+beta+n+1; 1/(1+d))
        return (be + n) / (al + be + n) * hyp2f1_series(1.0, be + n + 1, al + be + n + 1, z)
