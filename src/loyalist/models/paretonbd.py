"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987).

While active, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r,
alpha)``; their lifetime is exponential with rate ``mu ~ Gamma(s, beta)``, so they may
drop out at any moment, not only after a purchase.

The likelihood follows Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD
Model and Related Expressions", eq. (22):

    L = G(r+x) a^r b^s / G(r) * [ 1 / ((a+T)^(r+x) (b+T)^s) + s/(r+s+x) * A0 ]

with ``A0 = F(t_x) - F(T)``, ``F(t) = 2F1(r+s+x, B; r+s+x+1; z_t) / (m+t)^(r+s+x)``,
``m = max(alpha, beta)``, ``z_t = |alpha-beta| / (m+t)`` and ``B = s+1`` (alpha >= beta)
or ``r+x`` (alpha < beta). Euler's transformation turns the hypergeometric function
into ``(1-z)^(1-B) * sum_n (r+s+x+1-B)_n / (r+s+x+1)_n z^n``, a series of positive
terms that is summed in log space, so nothing overflows for frequent buyers.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, roots_legendre

from loyalist.models._special import log1mexp, log_rising_ratio_series
from loyalist.models._transactions import TransactionModel, check_fitted


def _log_f(params, x, t, grad):
    """log F(t) of the module docstring and its gradient in (r, alpha, s, beta)."""
    r, alpha, s, beta = params
    a_big = r + s + x
    q = a_big + 1.0
    if alpha >= beta:
        m, b_big, d_b = alpha, s + 1.0, np.array([0.0, 0.0, 1.0, 0.0])
    else:
        m, b_big, d_b = beta, r + x, np.array([1.0, 0.0, 0.0, 0.0])
    z = abs(alpha - beta) / (m + t)
    log_h, h_p, h_q, h_z = log_rising_ratio_series(q - b_big, q, z)
    log1mz = np.log1p(-z)
    val = (1.0 - b_big) * log1mz + log_h - a_big * np.log(m + t)
    if not grad:
        return val, None
    n = np.size(val)
    g = np.zeros((n, 4))
    if alpha >= beta:
        dz = np.stack([np.zeros(n), (beta + t) / (alpha + t) ** 2, np.zeros(n), -1.0 / (alpha + t)], 1)
        dm = np.array([0.0, 1.0, 0.0, 0.0])
    else:
        dz = np.stack([np.zeros(n), -1.0 / (beta + t), np.zeros(n), (alpha + t) / (beta + t) ** 2], 1)
        dm = np.array([0.0, 0.0, 0.0, 1.0])
    dq = np.array([1.0, 0.0, 1.0, 0.0])
    # d log F = -log(1-z) dB + H_p (dq - dB) + H_q dq + (H_z - (1-B)/(1-z)) dz
    #           - log(m+t) dA - A/(m+t) dm,  with dA = dq
    g += (-log1mz - h_p)[:, None] * d_b
    g += (h_p + h_q - np.log(m + t))[:, None] * dq
    g += (h_z - (1.0 - b_big) / (1.0 - z))[:, None] * dz
    g += (-a_big / (m + t))[:, None] * dm
    return val, g


def _pareto_terms(params, x, t_x, big_t, grad):
    """Log of the two likelihood terms (without the common prefix) and gradients."""
    r, alpha, s, beta = params
    rx = r + x
    l1 = -rx * np.log(alpha + big_t) - s * np.log(beta + big_t)
    f_tx, g_tx = _log_f(params, x, t_x, grad)
    f_t, g_t = _log_f(params, x, big_t, grad)
    rho = np.minimum(f_t - f_tx, 0.0)
    log_a0 = f_tx + log1mexp(rho)
    l2 = np.log(s) - np.log(r + s + x) + log_a0
    if not grad:
        return l1, l2, None, None
    n = x.size
    g1 = np.stack([-np.log(alpha + big_t), -rx / (alpha + big_t), -np.log(beta + big_t),
                   -s / (beta + big_t)], 1)
    e = np.exp(rho)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        g2 = np.where(e < 1.0, (g_tx - e * g_t) / (1.0 - e), 0.0)
    g2 = g2 + np.stack([-1.0 / (r + s + x), np.zeros(n), 1.0 / s - 1.0 / (r + s + x),
                        np.zeros(n)], 1)
    return l1, l2, g1, g2


class ParetoNBD(TransactionModel):
    """Pareto/NBD model of repeat purchases in a non-contractual setting.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters (``penalizer * sum(params ** 2)`` added to the
        mean negative log-likelihood).

    Attributes
    ----------
    params_ : pandas.Series
        ``r``, ``alpha`` (purchase rate: Gamma shape and rate) and ``s``, ``beta``
        (drop-out rate: Gamma shape and rate).
    standard_errors_, variance_matrix_, summary_, log_likelihood_, aic_, bic_
    """

    _param_names = ("r", "alpha", "s", "beta")

    def __init__(self, penalizer=0.0):
        self.penalizer = penalizer

    def _loglik(self, params, data, *, grad):
        x, t_x, big_t = data["x"], data["t_x"], data["T"]
        r, alpha, s, beta = params
        l1, l2, g1, g2 = _pareto_terms(params, x, t_x, big_t, grad)
        m = np.maximum(l1, l2)
        e1, e2 = np.exp(l1 - m), np.exp(l2 - m)
        ll = (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
              + m + np.log(e1 + e2))
        if not grad:
            return ll, None
        w1 = (e1 / (e1 + e2))[:, None]
        g = w1 * g1 + (1.0 - w1) * g2
        g[:, 0] += digamma(r + x) - digamma(r) + np.log(alpha)
        g[:, 1] += r / alpha
        g[:, 2] += np.log(beta)
        g[:, 3] += s / beta
        return ll, g

    def _start(self, data, weights):
        # alpha == beta makes the hypergeometric series trivial (z = 0), so the first
        # iterations are cheap; the BG/NBD-like scale of the purchase rate is a good guess
        x, big_t = data["x"], data["T"]
        rate = max(float(weights @ x) / float(weights @ big_t), 1e-6)
        scale = float(weights @ big_t) / float(weights.sum())
        return [
            np.array([0.5, 0.5 / rate, 0.5, 0.5 / rate]),
            np.array([1.0, 1.0 / rate, 1.0, scale]),
            np.array([0.3, 0.2 / rate, 2.0, 3.0 * scale]),
        ]

    # -- predictions -----------------------------------------------------------------
    def _log_p_alive(self, x, t_x, big_t):
        params = self.params_.to_numpy()
        l1, l2, _, _ = _pareto_terms(params, x, t_x, big_t, grad=False)
        m = np.maximum(l1, l2)
        return l1 - (m + np.log(np.exp(l1 - m) + np.exp(l2 - m)))

    def _expected_if_alive(self, t, x, t_x, big_t):
        # E[Y(t) | alive] = (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]
        r, alpha, s, beta = self.params_.to_numpy()
        t = np.asarray(t, dtype=float)
        u = np.log1p(t / (beta + big_t))  # log((beta+T+t)/(beta+T))
        if abs(s - 1.0) < 1e-10:
            frac = u
        else:
            frac = -np.expm1(-(s - 1.0) * u) / (s - 1.0)
        return (r + x) * (beta + big_t) / (alpha + big_t) * frac

    def predict_purchase_count_probability(self, n, t, *, nodes=200):
        """P(a new customer makes exactly ``n`` repeat purchases in ``(0, t]``).

        Alive throughout: the NBD probability times ``(beta/(beta+t))^s``; dropping out
        at ``tau < t``: the same integrated over the lifetime density, by Gauss-Legendre
        quadrature in log space (``nodes`` points).
        """
        check_fitted(self)
        r, alpha, s, beta = self.params_.to_numpy()
        n, t = np.broadcast_arrays(np.asarray(n, float), np.asarray(t, float))

        def log_nbd(k, u):
            with np.errstate(divide="ignore", invalid="ignore"):
                tail = np.where(k > 0, k * (np.log(u) - np.log(alpha + u)), 0.0)
            return (gammaln(r + k) - gammaln(r) - gammaln(k + 1)
                    + r * (np.log(alpha) - np.log(alpha + u)) + tail)

        alive = np.exp(log_nbd(n, t) + s * (np.log(beta) - np.log(beta + t)))
        xg, wg = roots_legendre(nodes)
        tau = (xg[None, :] + 1.0) / 2.0 * t[..., None].reshape(-1, 1)
        k = n.reshape(-1, 1)
        log_f = np.log(s) + s * np.log(beta) - (s + 1) * np.log(beta + tau)
        dead = (np.exp(log_nbd(k, tau) + log_f) * wg[None, :]).sum(axis=1) * t.reshape(-1) / 2
        return alive + dead.reshape(n.shape)
