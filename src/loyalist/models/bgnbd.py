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
    digamma,
    gammaln,
    ndtr,
    roots_hermitenorm,
)

from loyalist.models._base import unique_index, wdot
from loyalist.models._special import hyp2f1_series_by_x
from loyalist.models._transactions import TransactionModel, check_fitted


def _bg_terms(params, data, offset, grad):
    """Log of the 'alive' and 'dropped out' likelihood terms and their gradients.

    Everything that depends on the frequency alone is computed once per distinct
    frequency and gathered, so the per-customer work is two logarithms.
    """
    r, alpha, a, b = params
    x, t_x, big_t = data["x"], data["t_x"], data["T"]
    xu, xi = data["_xu"], data["_xi"]
    bx = b + xu + offset
    dead_u = (xu + offset) > 0
    bx1 = np.where(dead_u, bx - 1, 1.0)
    lb_ab = betaln(a, b)
    c1 = (betaln(a, bx) - lb_ab)[xi]
    c2 = np.where(dead_u, betaln(a + 1, bx1) - lb_ab, -np.inf)[xi]
    rx = r + x
    log_at, log_atx = np.log(alpha + big_t), np.log(alpha + t_x)
    a1 = c1 - rx * log_at
    a2 = c2 - rx * log_atx
    if not grad:
        return a1, a2, None, None
    n = x.size
    psi_ab, psi_a, psi_b = digamma(a + b), digamma(a), digamma(b)
    psi_abx = digamma(a + bx)
    g1 = np.empty((n, 4))
    g2 = np.empty((n, 4))
    g1[:, 0] = -log_at
    g1[:, 1] = -rx / (alpha + big_t)
    g1[:, 2] = (psi_ab - psi_abx)[xi]
    g1[:, 3] = (digamma(bx) - psi_abx - psi_b + psi_ab)[xi]
    dead = dead_u[xi]
    g2[:, 0] = np.where(dead, -log_atx, 0.0)
    g2[:, 1] = np.where(dead, -rx / (alpha + t_x), 0.0)
    g2[:, 2] = np.where(dead_u, digamma(a + 1) - psi_abx - psi_a + psi_ab, 0.0)[xi]
    g2[:, 3] = np.where(dead_u, digamma(bx1) - psi_abx - psi_b + psi_ab, 0.0)[xi]
    return a1, a2, g1, g2


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

    def __init__(self, penalizer=0.0):
        self.penalizer = penalizer

    def _loglik(self, params, data, *, grad):
        if "_xu" not in data:
            data = self._prepare(dict(data))
        r, alpha = params[0], params[1]
        a1, a2, g1, g2 = _bg_terms(params, data, self._offset, grad)
        m = np.maximum(a1, a2)
        e1, e2 = np.exp(a1 - m), np.exp(a2 - m)
        lse = m + np.log(e1 + e2)
        xu, xi = data["_xu"], data["_xi"]
        ll = (gammaln(r + xu) - gammaln(r))[xi] + r * np.log(alpha) + lse
        if not grad:
            return ll, None
        w1 = (e1 / (e1 + e2))[:, None]
        g = w1 * g1 + (1 - w1) * g2
        g[:, 0] += (digamma(r + xu) - digamma(r))[xi] + np.log(alpha)
        g[:, 1] += r / alpha
        return ll, g

    def _loglik_sum(self, params, data, weights):
        # the same as summing _loglik, without per-customer gradient matrices: the
        # frequency-only parts of the gradient are summed per distinct frequency
        if "_xu" not in data:
            data = self._prepare(dict(data))
        r, alpha, a, b = params
        x, t_x, big_t, xu, xi = data["x"], data["t_x"], data["T"], data["_xu"], data["_xi"]
        o = self._offset
        bx = b + xu + o
        dead_u = (xu + o) > 0
        bx1 = np.where(dead_u, bx - 1, 1.0)
        lb_ab = betaln(a, b)
        c1 = betaln(a, bx) - lb_ab
        c2 = np.where(dead_u, betaln(a + 1, bx1) - lb_ab, -np.inf)
        d_c = c2 - c1
        # per-customer work in cache-sized slices: bounded memory for any number of rows
        per_x1 = np.zeros(xu.size)
        per_x2 = np.zeros(xu.size)
        acc = np.zeros(5)  # sum w (a1 + log1p e), then the four per-row gradient sums
        for lo in range(0, x.size, _ROWS_PER_SLICE):
            sl = slice(lo, lo + _ROWS_PER_SLICE)
            w, xs, xis = weights[sl], x[sl], xi[sl]
            rx = r + xs
            at, atx = alpha + big_t[sl], alpha + t_x[sl]
            log_at, log_atx = np.log(at), np.log(atx)
            e = np.exp(d_c[xis] - rx * (log_atx - log_at))  # exp(a2 - a1)
            ww1 = w / (1.0 + e)
            ww2 = w - ww1
            per_x1 += np.bincount(xis, ww1, minlength=xu.size)
            per_x2 += np.bincount(xis, ww2, minlength=xu.size)
            acc[0] += wdot(w, c1[xis] - rx * log_at + np.log1p(e))
            acc[1] += wdot(ww1, log_at) + wdot(ww2, log_atx)
            acc[2] += wdot(ww1, rx / at) + wdot(ww2, rx / atx)
        head = gammaln(r + xu) - gammaln(r)
        total_w = float(weights.sum())
        per_x = per_x1 + per_x2
        ll = acc[0] + wdot(per_x, head) + total_w * r * np.log(alpha)
        psi_ab, psi_a, psi_b = digamma(a + b), digamma(a), digamma(b)
        psi_abx = digamma(a + bx)
        g = np.empty(4)
        g[0] = -acc[1] + wdot(per_x, digamma(r + xu) - digamma(r)) + total_w * np.log(alpha)
        g[1] = -acc[2] + total_w * r / alpha
        g2a = np.where(dead_u, digamma(a + 1) - psi_abx - psi_a + psi_ab, 0.0)
        g2b = np.where(dead_u, digamma(bx1) - psi_abx - psi_b + psi_ab, 0.0)
        g[2] = wdot(per_x1, psi_ab - psi_abx) + wdot(per_x2, g2a)
        g[3] = wdot(per_x1, digamma(bx) - psi_abx - psi_b + psi_ab) + wdot(per_x2, g2b)
        return ll, g

    def _start(self, data, weights):
        x, big_t = data["x"], data["T"]
        rate = max(wdot(weights, x) / wdot(weights, big_t), 1e-6)
        return [
            np.array([1.0, 1.0 / rate, 1.0, 1.0]),
            np.array([0.5, 0.5 / rate, 0.5, 2.0]),
            np.array([0.2, 0.1 / rate, 2.0, 5.0]),
        ]

    # -- predictions -----------------------------------------------------------------
    def _log_p_alive(self, x, t_x, big_t):
        params = self.params_.to_numpy()
        data = self._prepare({"x": x, "t_x": t_x, "T": big_t})
        a1, a2, _, _ = _bg_terms(params, data, self._offset, grad=False)
        m = np.maximum(a1, a2)
        return a1 - (m + np.log(np.exp(a1 - m) + np.exp(a2 - m)))

    def _expected_if_alive(self, t, x, t_x, big_t):
        # Posterior of an alive customer: lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x
        # + offset). E[purchases in t] = (A+B-1)/(A-1) [1 - (alpha'/(alpha'+t))^R
        # 2F1(R, B; A+B-1; z)], rewritten with Euler's transformation so that nothing grows
        # with x: (1-z)^(A-1) 2F1(A+B-1-R, A-1; A+B-1; z), z = t / (alpha' + t); the first
        # two parameters do not depend on the customer, the third on x only.
        r, alpha, a, b = self.params_.to_numpy()
        t, x, big_t = np.broadcast_arrays(np.asarray(t, float), x, big_t)
        shape = x.shape
        t, x, big_t = t.ravel(), x.ravel(), big_t.ravel()
        xu, xi = unique_index(x)
        o = self._offset
        if a > _A_SERIES_MAX:
            # the nodes depend on the parameters and frequencies only: reuse them across
            # the periods of a discounted sum
            key = (a, b + o, xu.tobytes())
            cached = getattr(self, "_node_cache", None)
            if cached is None or cached[0] != key:
                cached = (key, _dropout_nodes(a, b + o, xu))
                self._node_cache = cached
            return _expected_by_quadrature(r, alpha, a, b + o, t, x, big_t, xu, xi,
                                           p_u=cached[1]).reshape(shape)
        z = t / (alpha + big_t + t)
        c_u = a + b + xu + o - 1.0
        f = hyp2f1_series_by_x(a + b + o - 1.0 - r, a - 1.0, c_u, xi, z)
        head = 1.0 - np.exp((a - 1.0) * np.log1p(-z)) * f
        return (c_u[xi] / (a - 1.0) * head).reshape(shape)

    def predict_purchase_count_probability(self, n, t):
        """P(a new customer makes exactly ``n`` repeat purchases in ``(0, t]``)."""
        check_fitted(self)
        r, alpha, a, b = self.params_.to_numpy()
        n, t = np.broadcast_arrays(np.asarray(n, float), np.asarray(t, float))
        o = self._offset
        lb = betaln(a, b)
        q = t / (alpha + t)
        log_nb = (gammaln(r + n) - gammaln(r) - gammaln(n + 1) + r * np.log1p(-q)
                  + np.where(n > 0, n * np.log(np.where(q > 0, q, 1.0)), 0.0))
        alive = np.exp(betaln(a, b + n + o) - lb + log_nb)
        dead_ok = (n + o) > 0
        tail = np.where(n > 0, betainc(np.maximum(n, 1.0), r, q), 1.0)  # P(NB count >= n)
        dead = np.where(dead_ok, np.exp(betaln(a + 1, np.where(dead_ok, b + n + o - 1, 1.0)) - lb),
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
