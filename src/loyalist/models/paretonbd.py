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

from loyalist.models._base import wdot
from loyalist.models._special import (
    log1mexp,
    log_rising_ratio_series_by_x,
    rising_ratio_tables,
)
from loyalist.models._transactions import TransactionModel, check_fitted

_ROWS_PER_SLICE = 1 << 17  # rows per slice of the likelihood and P(alive): bounded memory


def _series_setup(params, xu):
    """What F(t) needs per parameter vector: ``m``, ``B`` per frequency, ``q`` per
    frequency, the index of B's parameter, and the series tables (shared by every
    slice and both times, since z <= |alpha - beta| / m for all t >= 0)."""
    r, alpha, s, beta = params
    q_u = r + s + xu + 1.0
    if alpha >= beta:
        m, b_u, i_b = alpha, np.full_like(xu, s + 1.0), 2
    else:
        m, b_u, i_b = beta, r + xu, 0
    tables = rising_ratio_tables(q_u - b_u, q_u, abs(alpha - beta) / m)
    return m, b_u, q_u, i_b, tables


def _log_f(params, setup, xi, t, order, grad):
    """log F(t) of the module docstring for rows (x = xu[xi], t), and its gradient (4, n)."""
    r, alpha, s, beta = params
    m, b_u, q_u, i_b, tables = setup
    a_big = (q_u - 1.0)[xi]  # r + s + x
    b_big = b_u[xi]
    mt = m + t
    z = abs(alpha - beta) / mt
    # z falls as t grows, so the order of t (cached at fit time) sorts z
    log_h, h_p, h_q, h_z = log_rising_ratio_series_by_x(q_u - b_u, q_u, xi, z, order, tables)
    log1mz = np.log1p(-z)
    log_mt = np.log(mt)
    val = (1.0 - b_big) * log1mz + log_h - a_big * log_mt
    if not grad:
        return val, None
    # d log F = -log(1-z) dB + H_p (dq - dB) + H_q dq + (H_z - (1-B)/(1-z)) dz
    #           - log(m+t) dA - A/(m+t) dm,   dq = dA = d(r + s)
    g = np.zeros((4, val.size))
    common = h_p + h_q - log_mt
    g[0] += common
    g[2] += common
    g[i_b] += -log1mz - h_p
    cz = h_z - (1.0 - b_big) / (1.0 - z)
    if alpha >= beta:
        g[1] += cz * (beta + t) / (alpha + t) ** 2 - a_big / mt
        g[3] -= cz / (alpha + t)
    else:
        g[1] -= cz / (beta + t)
        g[3] += cz * (alpha + t) / (beta + t) ** 2 - a_big / mt
    return val, g


def _slices(x, t_x, big_t, xi):
    """The rows cut into slices, each with its distinct (x, t_x) pairs (F(t_x) depends
    on them only: customers without repeat purchases all share one) and the orders of
    t_x and T that sort z."""
    parts = []
    for lo in range(0, x.size, _ROWS_PER_SLICE):
        hi = min(lo + _ROWS_PER_SLICE, x.size)
        xs, ts = x[lo:hi], t_x[lo:hi]
        order = np.lexsort((ts, xs))
        xo, to = xs[order], ts[order]
        new = np.r_[True, (xo[1:] != xo[:-1]) | (to[1:] != to[:-1])]
        inv = np.empty(hi - lo, dtype=np.int32)
        inv[order] = np.cumsum(new) - 1
        first = order[new]
        pair_t = ts[first]
        parts.append({"rows": slice(lo, hi), "pair_inv": inv, "pair_xi": xi[lo:hi][first],
                      "pair_t": pair_t,
                      "pair_ord": np.argsort(-pair_t, kind="stable").astype(np.int32),
                      "ord_T": np.argsort(-big_t[lo:hi], kind="stable").astype(np.int32)})
    return parts


def _pareto_terms(params, setup, data, part, grad):
    """Log of the two likelihood terms (without the common prefix) of one slice of rows,
    and their gradients (4, rows)."""
    r, alpha, s, beta = params
    rows = part["rows"]
    x, big_t, xi = data["x"][rows], data["T"][rows], data["_xi"][rows]
    rx = r + x
    log_at, log_bt = np.log(alpha + big_t), np.log(beta + big_t)
    l1 = -rx * log_at - s * log_bt
    inv = part["pair_inv"]
    f_tx, g_tx = _log_f(params, setup, part["pair_xi"], part["pair_t"], part["pair_ord"], grad)
    f_tx = f_tx[inv]
    f_t, g_t = _log_f(params, setup, xi, big_t, part["ord_T"], grad)
    rho = np.minimum(f_t - f_tx, 0.0)
    l2 = np.log(s) - np.log(r + s + x) + f_tx + log1mexp(rho)
    if not grad:
        return l1, l2, None, None
    g1 = np.stack([-log_at, -rx / (alpha + big_t), -log_bt, -s / (beta + big_t)])
    e = np.exp(rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        g2 = np.where(e < 1.0, (g_tx[:, inv] - e * g_t) / (1.0 - e), 0.0)
    g2[0] -= 1.0 / (r + s + x)
    g2[2] += 1.0 / s - 1.0 / (r + s + x)
    return l1, l2, g1, g2


def _mix(l1, l2, g1, g2):
    """log(e^l1 + e^l2) and, with gradients, its gradient (4, rows)."""
    m = np.maximum(l1, l2)
    e1, e2 = np.exp(l1 - m), np.exp(l2 - m)
    lse = m + np.log(e1 + e2)
    if g1 is None:
        return lse, None
    return lse, g2 + e1 / (e1 + e2) * (g1 - g2)


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
        if "_parts" not in data:
            data = self._prepare(dict(data))
        r, alpha, s, beta = params
        xu, xi = data["_xu"], data["_xi"]
        setup = _series_setup(params, xu)
        ll = np.empty(xi.size)
        g = np.empty((4, xi.size)) if grad else None
        for part in data["_parts"]:
            rows = part["rows"]
            ll[rows], g_rows = _mix(*_pareto_terms(params, setup, data, part, grad))
            if grad:
                g[:, rows] = g_rows
        ll += (gammaln(r + xu) - gammaln(r))[xi] + r * np.log(alpha) + s * np.log(beta)
        if not grad:
            return ll, None
        g[0] += (digamma(r + xu) - digamma(r))[xi] + np.log(alpha)
        g[1] += r / alpha
        g[2] += np.log(beta)
        g[3] += s / beta
        return ll, g.T

    def _loglik_sum(self, params, data, weights):
        # the same as summing _loglik, slice by slice (memory bounded by the slice size,
        # whatever the number of customers); the frequency-only parts are summed per
        # distinct frequency
        if "_parts" not in data:
            data = self._prepare(dict(data))
        r, alpha, s, beta = params
        xu, xi = data["_xu"], data["_xi"]
        setup = _series_setup(params, xu)
        ll = 0.0
        g = np.zeros(4)
        per_x = np.zeros(xu.size)
        for part in data["_parts"]:
            rows = part["rows"]
            w = weights[rows]
            lse, g_rows = _mix(*_pareto_terms(params, setup, data, part, True))
            ll += wdot(w, lse)
            g += wdot(g_rows, w)
            per_x += np.bincount(xi[rows], w, minlength=xu.size)
        total_w = float(per_x.sum())
        ll += (wdot(per_x, gammaln(r + xu) - gammaln(r))
               + total_w * (r * np.log(alpha) + s * np.log(beta)))
        g[0] += wdot(per_x, digamma(r + xu) - digamma(r)) + total_w * np.log(alpha)
        g[1] += total_w * r / alpha
        g[2] += total_w * np.log(beta)
        g[3] += total_w * s / beta
        return ll, g

    def _prepare(self, data):
        data = super()._prepare(data)
        data["_parts"] = _slices(data["x"], data["t_x"], data["T"], data["_xi"])
        return data

    def _start(self, data, weights):
        # alpha == beta makes the hypergeometric series trivial (z = 0), so the first
        # iterations are cheap; the BG/NBD-like scale of the purchase rate is a good guess
        x, big_t = data["x"], data["T"]
        rate = max(wdot(weights, x) / wdot(weights, big_t), 1e-6)
        scale = wdot(weights, big_t) / float(weights.sum())
        return [
            np.array([0.5, 0.5 / rate, 0.5, 0.5 / rate]),
            np.array([1.0, 1.0 / rate, 1.0, scale]),
            np.array([0.3, 0.2 / rate, 2.0, 3.0 * scale]),
        ]

    # -- predictions -----------------------------------------------------------------
    def _log_p_alive(self, x, t_x, big_t):
        params = self.params_.to_numpy()
        x, t_x, big_t = np.broadcast_arrays(x, t_x, big_t)
        data = self._prepare({"x": x.ravel(), "t_x": t_x.ravel(), "T": big_t.ravel()})
        setup = _series_setup(params, data["_xu"])
        out = np.empty(x.size)
        for part in data["_parts"]:
            l1, l2, _, _ = _pareto_terms(params, setup, data, part, grad=False)
            out[part["rows"]] = l1 - _mix(l1, l2, None, None)[0]
        return out.reshape(x.shape)

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
