"""BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam, Denizel & Filiztekin 2007).

While active, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r,
alpha)``; after each purchase they drop out for good with probability ``p ~ Beta(a,
b)``. MBG/NBD also lets them drop out right after the first purchase, so a customer
with no repeat purchase need not be alive.
"""

from __future__ import annotations

import numpy as np
from scipy.special import (
    betainc,
    betainccinv,
    betaincinv,
    betaln,
    expit,
    gammaln,
    ndtr,
    roots_hermitenorm,
)

from loyalist.models._base import unique_index, wdot
from loyalist.models._rates import log1p_exp_and_sigmoid, nbd_loglik_sum, rate_rows, rate_tables
from loyalist.models._special import cumulative_log_terms, hyp2f1_series_by_x
from loyalist.models._transactions import (
    TransactionModel,
    check_fitted,
    dropout_limits,
)

_ROWS_PER_SLICE = 1 << 16  # rows per slice of the likelihood sums
_A_SERIES_MAX = 20.0  # above this, the drop-out Beta is concentrated: integrate instead
_GH_Z, _GH_W = roots_hermitenorm(48)
_GH_W = _GH_W / np.sqrt(2.0 * np.pi)


def _dropout_nodes(a, b, xu):
    """Quadrature nodes: drop-out probabilities at the Gauss-Hermite normal scores."""
    lower = _GH_Z[None, :] <= 0
    bb = b + xu[:, None]
    return np.where(lower, betaincinv(a, bb, ndtr(np.minimum(_GH_Z, 0.0))[None, :]),
                    betainccinv(a, bb, ndtr(-np.maximum(_GH_Z, 0.0))[None, :]))


def _expected_by_quadrature(r, alpha, a, b, t, x, big_t, xu, xi, chunk=65_536, p_u=None):
    """E[purchases in t | alive] as an integral over the drop-out probability.

    Given p, purchases until drop-out in t have mean (1 - (alpha'/(alpha' + p t))^r') / p
    with the Gamma posterior of the rate; p ~ Beta(a, b + x) is integrated by
    Gauss-Hermite quadrature on its normal-score scale (p = F^-1(Phi(z))). Used when
    ``a`` is large: the drop-out probability then barely varies across customers, the
    hypergeometric series would need millions of terms, and the Beta is close to normal,
    where this quadrature is exact to many digits.
    """
    if p_u is None:
        p_u = _dropout_nodes(a, b, xu)  # (distinct x, nodes)
    out = np.empty(x.size)
    for lo in range(0, x.size, chunk):
        sl = slice(lo, lo + chunk)
        p = p_u[xi[sl]]
        ratio = (t[sl] / (alpha + big_t[sl]))[:, None] * p
        g = -np.expm1(-(r + x[sl])[:, None] * np.log1p(ratio)) / p
        out[sl] = g @ _GH_W
    return out


class _BetaGeometricNBD(TransactionModel):
    _param_names = ("r", "alpha", "a", "b")
    _offset = 0
    _DROP_LIMITS = dropout_limits(
        "a", "b", at_once="almost every customer drops out after each purchase",
        same="every customer has the same drop-out probability after a purchase, {mean}",
        spread="customers either drop out after their first purchase or never",
        ratio="a/(a+b)")

    def __init__(self, penalizer=0.0):
        self.penalizer = penalizer

    # -- coordinates: mean rate, 1/r, logit a/(a+b), log 1/(a+b) -----------------------
    def _theta_from_params(self, params):
        r, alpha, a, b = np.asarray(params, dtype=float)
        return np.array([*self._rate_to_theta(r, alpha), np.log(a) - np.log(b),
                         -np.log(a + b)])

    def _params_from_theta(self, theta):
        theta = np.asarray(theta, dtype=float)
        r = np.exp(-theta[1])
        inv_phi = np.exp(-theta[3])
        return np.array([r, np.exp(-theta[0] - theta[1]), expit(theta[2]) * inv_phi,
                         expit(-theta[2]) * inv_phi])

    def _dparams_dtheta(self, theta):
        r, alpha, a, b = self._params_from_theta(theta)
        pi = expit(theta[2])
        return np.array([[0.0, -r, 0.0, 0.0],
                         [-alpha, -alpha, 0.0, 0.0],
                         [0.0, 0.0, a * (1.0 - pi), -a],
                         [0.0, 0.0, -b * pi, -b]])

    def _drop_tables(self, theta, xu):
        """Per distinct frequency: log E[(1-p)^(x+o)] and log E[p (1-p)^(x+o-1)] under
        p ~ Beta(a, b), and their derivatives in coordinates 2 and 3, as sums of logs
        in pi = a/(a+b) and phi = 1/(a+b) (exact as a, b grow without bound)."""
        o = self._offset
        pi, q = expit(theta[2]), expit(-theta[2])
        phi = np.exp(theta[3])
        n1 = (xu + o).astype(np.int64)
        n2 = np.maximum(n1 - 1, 0)
        n_max = int(n1.max(initial=0))
        s1, d1, j1 = cumulative_log_terms(n_max, q, phi)
        s2, _, j2 = cumulative_log_terms(n_max, 1.0, phi)
        s3, d3, j3 = cumulative_log_terms(n_max, 1.0 + phi, phi)
        dead = n1 > 0
        c1 = s1[n1] - s2[n1]
        c1_2 = -pi * q * d1[n1]
        c1_3 = phi * (j1[n1] - j2[n1])
        c2 = np.where(dead, np.log(pi) + s1[n2] - s3[n2], -np.inf)
        c2_2 = np.where(dead, q - pi * q * d1[n2], 0.0)
        c2_3 = np.where(dead, phi * (j1[n2] - d3[n2] - j3[n2]), 0.0)
        return c1, c2, c1_2, c1_3, c2_2, c2_3

    def _loglik_sum_theta(self, theta, data, weights):
        if "_xu" not in data:
            data = self._prepare(dict(data))
        if data.get("_no_dropout"):
            return nbd_loglik_sum(theta, data, weights)
        x, t_x, big_t, xu, xi = data["x"], data["t_x"], data["T"], data["_xu"], data["_xi"]
        p_u, dp_u = rate_tables(theta, xu)
        c1, c2, c1_2, c1_3, c2_2, c2_3 = self._drop_tables(theta, xu)
        d_c = c2 - c1
        # per-customer work in cache-sized slices: bounded memory for any number of rows
        per_x1 = np.zeros(xu.size)
        per_x2 = np.zeros(xu.size)
        acc = np.zeros(3)
        for lo in range(0, x.size, _ROWS_PER_SLICE):
            sl = slice(lo, lo + _ROWS_PER_SLICE)
            w, xs, xis = weights[sl], x[sl], xi[sl]
            e_t, e0_t, e1_t = rate_rows(theta, xs, big_t[sl])
            e_x, e0_x, e1_x = rate_rows(theta, xs, t_x[sl])
            d = d_c[xis] + (e_t - e_x)  # log(dead term / alive term)
            lse, w2 = log1p_exp_and_sigmoid(d)
            ww2 = w * w2
            ww1 = w - ww2
            per_x1 += np.bincount(xis, ww1, minlength=xu.size)
            per_x2 += np.bincount(xis, ww2, minlength=xu.size)
            acc[0] += wdot(w, lse - e_t)
            acc[1] += wdot(ww2, e0_t - e0_x) - wdot(w, e0_t)
            acc[2] += wdot(ww2, e1_t - e1_x) - wdot(w, e1_t)
        per_x = per_x1 + per_x2
        ll = acc[0] + wdot(per_x, p_u + xu * theta[0] + c1)
        g = np.array([acc[1] + wdot(per_x, xu), acc[2] + wdot(per_x, dp_u),
                      wdot(per_x1, c1_2) + wdot(per_x2, c2_2),
                      wdot(per_x1, c1_3) + wdot(per_x2, c2_3)])
        return ll, g

    def _loglik_theta(self, theta, data, *, grad):
        if "_xu" not in data:
            data = self._prepare(dict(data))
        x, t_x, big_t, xu, xi = data["x"], data["t_x"], data["T"], data["_xu"], data["_xi"]
        p_u, dp_u = rate_tables(theta, xu)
        c1, c2, c1_2, c1_3, c2_2, c2_3 = self._drop_tables(theta, xu)
        e_t, e0_t, e1_t = rate_rows(theta, x, big_t)
        e_x, e0_x, e1_x = rate_rows(theta, x, t_x)
        d = (c2 - c1)[xi] + (e_t - e_x)
        ll = (p_u + xu * theta[0] + c1)[xi] - e_t + np.logaddexp(0.0, d)
        if not grad:
            return ll, None
        w2 = expit(d)
        g = np.empty((x.size, 4))
        g[:, 0] = x - e0_t + w2 * (e0_t - e0_x)
        g[:, 1] = dp_u[xi] - e1_t + w2 * (e1_t - e1_x)
        g[:, 2] = (1.0 - w2) * c1_2[xi] + w2 * c2_2[xi]
        g[:, 3] = (1.0 - w2) * c1_3[xi] + w2 * c2_3[xi]
        return ll, g

    def _start(self, data, weights):
        x, big_t = data["x"], data["T"]
        rate = max(wdot(weights, x) / wdot(weights, big_t), 1e-6)
        return [
            np.array([1.0, 1.0 / rate, 1.0, 1.0]),
            np.array([0.5, 0.5 / rate, 0.5, 2.0]),
            np.array([0.2, 0.1 / rate, 2.0, 5.0]),
            np.array([2.0, 2.0 / rate, 0.05, 5.0]),  # little drop-out
        ]

    # -- limits ----------------------------------------------------------------------
    def _dropout_mean(self, coordinate):
        return float(expit(coordinate))

    def _dropout_scale(self, data):
        return float(np.max(data["x"], initial=0.0)) + 1.0 + self._offset

    # -- predictions -----------------------------------------------------------------
    def _log_p_alive(self, x, t_x, big_t):
        theta = self._theta_
        x, t_x, big_t = np.broadcast_arrays(x, t_x, big_t)
        shape = x.shape
        data = self._prepare({"x": x.ravel(), "t_x": t_x.ravel(), "T": big_t.ravel()})
        xu, xi = data["_xu"], data["_xi"]
        c1, c2, *_ = self._drop_tables(theta, xu)
        e_t, _, _ = rate_rows(theta, data["x"], data["T"])
        e_x, _, _ = rate_rows(theta, data["x"], data["t_x"])
        d = (c2 - c1)[xi] + (e_t - e_x)
        return (-np.logaddexp(0.0, d)).reshape(shape)

    def _expected_if_alive(self, t, x, t_x, big_t):
        # Posterior of an alive customer: lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x
        # + offset). E[purchases in t] = (A+B-1)/(A-1) [1 - (alpha'/(alpha'+t))^R
        # 2F1(R, B; A+B-1; z)], rewritten with Euler's transformation so that nothing grows
        # with x: (1-z)^(A-1) 2F1(A+B-1-R, A-1; A+B-1; z), z = t / (alpha' + t); the first
        # two parameters do not depend on the customer, the third on x only.
        r, alpha, a, b = self._pred_params()
        t, x, big_t = np.broadcast_arrays(np.asarray(t, float), x, big_t)
        shape = x.shape
        t, x, big_t = t.ravel(), x.ravel(), big_t.ravel()
        xu, xi = unique_index(x)
        o = self._offset
        z = t / (alpha + big_t + t)
        # the series alternates with terms up to about exp(r z) and coefficients that
        # grow like r**n: it would cancel or overflow as r -> infinity (rates the same for
        # all); for large a it is long. The quadrature agrees with it to ~1e-12 elsewhere.
        if (a > _A_SERIES_MAX or r > 1e3
                or (r + 1.0) * float(z.max(initial=0.0)) > 20.0):
            # the nodes depend on the parameters and frequencies only: reuse them across
            # the periods of a discounted sum
            key = (a, b + o, xu.tobytes())
            cached = getattr(self, "_node_cache", None)
            if cached is None or cached[0] != key:
                cached = (key, _dropout_nodes(a, b + o, xu))
                self._node_cache = cached
            return _expected_by_quadrature(r, alpha, a, b + o, t, x, big_t, xu, xi,
                                           p_u=cached[1]).reshape(shape)
        c_u = a + b + xu + o - 1.0
        f = hyp2f1_series_by_x(a + b + o - 1.0 - r, a - 1.0, c_u, xi, z)
        head = 1.0 - np.exp((a - 1.0) * np.log1p(-z)) * f
        return (c_u[xi] / (a - 1.0) * head).reshape(shape)

    def predict_purchase_count_probability(self, n, t):
        """P(a new customer makes exactly ``n`` repeat purchases in ``(0, t]``)."""
        check_fitted(self)
        if self._no_dropout:
            return self._nbd_count_probability(n, t)
        r, alpha, a, b = self._pred_params()
        n, t = np.broadcast_arrays(np.asarray(n, float), np.asarray(t, float))
        o = self._offset
        lb = betaln(a, b)
        q = t / (alpha + t)
        log_nb = (gammaln(r + n) - gammaln(r) - gammaln(n + 1) + r * np.log1p(-q)
                  + np.where(n > 0, n * np.log(np.where(q > 0, q, 1.0)), 0.0))
        alive = np.exp(betaln(a, b + n + o) - lb + log_nb)
        dead_ok = (n + o) > 0
        tail = np.where(n > 0, betainc(np.maximum(n, 1.0), r, q), 1.0)  # P(NB count >= n)
        dead = np.where(dead_ok, np.exp(betaln(a + 1, np.where(dead_ok, b + n + o - 1, b)) - lb),
                        0.0) * tail
        return alive + dead


class BGNBD(_BetaGeometricNBD):
    """BG/NBD model of repeat purchases in a non-contractual setting.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters (``penalizer * sum(params ** 2)`` added to the
        mean negative log-likelihood). Helps when a parameter runs to infinity.

    Attributes
    ----------
    params_ : pandas.Series
        ``r``, ``alpha`` (purchase rate: Gamma shape and rate), ``a``, ``b`` (drop-out
        probability: Beta).
    standard_errors_, variance_matrix_, summary_ : standard errors and the summary table.
    log_likelihood_, aic_, bic_ : float

    Examples
    --------
    >>> from loyalist.models import BGNBD
    >>> m = BGNBD().fit([2, 1, 0], [30.43, 1.71, 0.0], [38.86, 38.86, 38.86])
    >>> m.predict_p_alive([2], [30.43], [38.86]).shape
    (1,)
    """


class MBGNBD(_BetaGeometricNBD):
    """MBG/NBD: BG/NBD in which customers may also drop out right after the first purchase.

    Same parameters, attributes and methods as :class:`BGNBD`. Customers without a
    repeat purchase get P(alive) below 1, which is often more realistic.
    """

    _offset = 1
