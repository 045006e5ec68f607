"""BG/BB (Fader, Hardie & Shang 2010): discrete transaction opportunities.

Each period (a year, an event, a mailing) an active customer transacts with
probability ``p ~ Beta(alpha, beta)``; at the start of each period after the first
they drop out for good with probability ``theta ~ Beta(gamma, delta)``. Input per
customer: ``frequency`` (repeat transactions among ``n_periods`` opportunities),
``recency`` (the opportunity of the last one, 0 if none) and ``n_periods``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, gammaln, logsumexp

from loyalist.errors import DataError
from loyalist.models._base import BaseFitter, as_array, check_fitted


def _check_discrete(frequency, recency, n_periods, weights=None):
    x = as_array(frequency, "frequency")
    t_x = as_array(recency, "recency")
    n = as_array(n_periods, "n_periods")
    x, t_x, n = (v.astype(float) for v in np.broadcast_arrays(x, t_x, n))
    whole = all(np.all(v == np.round(v)) for v in (x, t_x, n))
    if not whole or np.any(x < 0) or np.any(x > t_x) or np.any(t_x > n):
        raise DataError(
            "BG/BB needs whole numbers with 0 <= frequency <= recency <= n_periods.",
            hint="recency is the index of the last period with a transaction (0 if none).",
        )
    w = None if weights is None else as_array(weights, "weights")
    return x, t_x, n, w


def _dbetaln(u, v):
    """Partial derivatives of betaln(u, v)."""
    s = digamma(u + v)
    return digamma(u) - s, digamma(v) - s


class BGBB(BaseFitter):
    """BG/BB model for discrete-time, non-contractual settings (e.g. annual donations).

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters.

    Attributes
    ----------
    params_ : pandas.Series
        ``alpha``, ``beta`` (transaction probability) and ``gamma``, ``delta``
        (drop-out probability).
    standard_errors_, variance_matrix_, summary_, log_likelihood_, aic_, bic_
    """

    _param_names = ("alpha", "beta", "gamma", "delta")

    def __init__(self, penalizer=0.0):
        self.penalizer = penalizer

    def fit(self, frequency, recency, n_periods, weights=None):
        """Fit by maximum likelihood; ``weights`` counts customers per row."""
        x, t_x, n, w = _check_discrete(frequency, recency, n_periods, weights)
        return self._fit_data({"x": x, "t_x": t_x, "n": n}, w, x.size)

    def _terms(self, params, x, t_x, n, grad):
        """Log terms (rows x (1 + K)) of the likelihood sum; -inf where absent."""
        al, be, ga, de = params
        k_max = int(np.max(n - t_x, initial=0))
        i = np.arange(k_max, dtype=float)[None, :]
        xc, tc, nc = x[:, None], t_x[:, None], n[:, None]
        lb_ab, lb_gd = betaln(al, be), betaln(ga, de)
        valid = i < (nc - tc)
        v_i = be + tc - xc + i
        d_i = de + tc + i
        logs = np.empty((x.size, 1 + k_max))
        logs[:, 0] = betaln(al + x, be + n - x) - lb_ab + betaln(ga, de + n) - lb_gd
        logs[:, 1:] = np.where(valid, betaln(al + xc, v_i) - lb_ab + betaln(ga + 1, d_i) - lb_gd,
                               -np.inf)
        if not grad:
            return logs, None
        g = np.zeros((x.size, 1 + k_max, 4))
        da_ab, db_ab = _dbetaln(al, be)
        dg_gd, dd_gd = _dbetaln(ga, de)
        u0, v0 = _dbetaln(al + x, be + n - x)
        w0, z0 = _dbetaln(ga, de + n)
        g[:, 0] = np.stack([u0 - da_ab, v0 - db_ab, w0 - dg_gd, z0 - dd_gd], 1)
        u1, v1 = _dbetaln(al + xc, v_i)
        w1, z1 = _dbetaln(ga + 1, d_i)
        g[:, 1:, 0] = u1 - da_ab
        g[:, 1:, 1] = v1 - db_ab
        g[:, 1:, 2] = w1 - dg_gd
        g[:, 1:, 3] = z1 - dd_gd
        g[:, 1:][~valid] = 0.0
        return logs, g

    def _loglik(self, params, data, *, grad):
        logs, g = self._terms(params, data["x"], data["t_x"], data["n"], grad)
        m = logs.max(axis=1, keepdims=True)
        e = np.exp(logs - m)
        s = e.sum(axis=1, keepdims=True)
        ll = (m + np.log(s))[:, 0]
        if not grad:
            return ll, None
        return ll, np.einsum("ij,ijk->ik", e / s, g)

    def _start(self, data, weights):
        return [np.array([1.0, 1.0, 1.0, 1.0]), np.array([0.5, 0.5, 0.5, 3.0]),
                np.array([2.0, 1.0, 0.3, 1.0])]

    # -- predictions -----------------------------------------------------------------
    def _log_likelihood_rows(self, x, t_x, n):
        """Each customer's log-likelihood under the fitted parameters (log-sum-exp)."""
        logs, _ = self._terms(self.params_.to_numpy(), x, t_x, n, grad=False)
        return logsumexp(logs, axis=1)

    def predict_p_alive(self, frequency, recency, n_periods, m_periods_ahead=1):
        """P(the customer is still alive at opportunity ``n_periods + m_periods_ahead``).

        The default (1) answers "will they be around for the next opportunity?", the
        quantity in Fader, Hardie & Shang (2010); 0 gives P(alive at the last one).
        """
        check_fitted(self)
        x, t_x, n, _ = _check_discrete(frequency, recency, n_periods)
        al, be, ga, de = self.params_.to_numpy()
        log_l = self._log_likelihood_rows(x, t_x, n)
        num = (betaln(al + x, be + n - x) - betaln(al, be)
               + betaln(ga, de + n + m_periods_ahead) - betaln(ga, de))
        return np.exp(num - log_l)

    def predict_purchases(self, n_ahead, frequency, recency, n_periods):
        """Expected transactions in the next ``n_ahead`` opportunities, per customer."""
        check_fitted(self)
        x, t_x, n, _ = _check_discrete(frequency, recency, n_periods)
        al, be, ga, de = self.params_.to_numpy()
        log_l = self._log_likelihood_rows(x, t_x, n)
        head = betaln(al + x + 1, be + n - x) - betaln(al, be) - log_l
        lg = gammaln(ga + de) - gammaln(1 + de)
        part = (np.exp(lg + gammaln(1 + de + n) - gammaln(ga + de + n))
                - np.exp(lg + gammaln(1 + de + n + n_ahead) - gammaln(ga + de + n + n_ahead)))
        return np.exp(head) * de / (ga - 1.0) * part

    def predict_new_customer_purchases(self, n_ahead):
        """Expected transactions of a new customer in their first ``n_ahead`` opportunities."""
        check_fitted(self)
        al, be, ga, de = self.params_.to_numpy()
        n_ahead = np.asarray(n_ahead, dtype=float)
        ratio = np.exp(gammaln(ga + de) - gammaln(ga + de + n_ahead)
                       + gammaln(1 + de + n_ahead) - gammaln(1 + de))
        return al / (al + be) * de / (ga - 1.0) * (1.0 - ratio)

    def predict_purchase_count_probability(self, k, n_periods):
        """P(a new customer makes exactly ``k`` transactions in ``n_periods`` opportunities)."""
        check_fitted(self)
        al, be, ga, de = self.params_.to_numpy()
        k, n = np.broadcast_arrays(np.asarray(k, float), np.asarray(n_periods, float))
        if np.any(k > n) or np.any(k < 0):
            raise DataError("'k' must be between 0 and n_periods.")
        lbin = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
        out = np.exp(lbin + betaln(al + k, be + n - k) - betaln(al, be)
                     + betaln(ga, de + n) - betaln(ga, de))
        i = np.arange(int(np.max(n, initial=0)), dtype=float)
        kk, nn = k[..., None], n[..., None]
        ok = (i >= kk) & (i < nn)
        with np.errstate(invalid="ignore"):
            lt = (gammaln(i + 1) - gammaln(kk + 1) - gammaln(np.maximum(i - kk, 0) + 1)
                  + betaln(al + kk, be + np.maximum(i - kk, 0)) - betaln(al, be)
                  + betaln(ga + 1, de + i) - betaln(ga, de))
        return out + np.where(ok, np.exp(np.where(ok, lt, 0.0)), 0.0).sum(axis=-1)
