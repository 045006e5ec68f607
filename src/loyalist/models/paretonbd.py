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
from loyalist.models._rates import nbd_loglik_sum, rate_rows, rate_tables
from loyalist.models._special import (
    legendre_on_log_scale,
    log1mexp,
    log1p_minus_ratio,
    log_rising_ratio_series_by_x,
    rising_ratio_tables,
)
from loyalist.models._transactions import (
    TransactionModel,
    check_fitted,
    dropout_limits,
)

_ROWS_PER_SLICE = 1 << 17  # rows per slice of the likelihood and P(alive): bounded memory
_QUAD_ROWS = 4096  # rows per slice of the integrated likelihood (x 72 nodes)
_Z_SERIES = 0.95  # largest |alpha - beta| / max(alpha, beta) summed as a series


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


def _quadrature_rows(theta, x, t_x, big_t, grad):
    """log of the drop-out term's integral ``int_{t_x}^{T} exp(-H(tau)) dtau`` per row,
    with ``H = (x + 1/kappa) log(1 + kappa lam tau) + (1 + 1/sigma) log(1 + sigma delta
    tau)``, and the expectations of dH/dtheta under the normalised integrand (4, n).

    Substituting ``tau = t_x + L (e^y - 1)``, ``L = 1 / H'(t_x)``, makes the integrand
    smooth in ``y`` whether it falls exponentially (homogeneous rates or lifetimes) or
    like a power (heterogeneous ones); Gauss-Legendre segments then give ~1e-12.
    """
    lam, kap, dl, sig = np.exp(theta)

    def h_parts(tau):
        u = kap * lam * tau
        v = sig * dl * tau
        lu, lv = np.log1p(u), np.log1p(v)
        return u, v, lu, lv, (x_c + 1.0 / kap) * lu + (1.0 + 1.0 / sig) * lv

    x_c = x[:, None]
    a = t_x[:, None]
    u_a, v_a, _, _, h_a = h_parts(a)
    slope = (x_c * kap + 1.0) * lam / (1.0 + u_a) + (sig + 1.0) * dl / (1.0 + v_a)
    scale = 1.0 / slope
    y_max = np.log1p((big_t - t_x) / scale[:, 0])
    y, wy = legendre_on_log_scale(y_max)
    tau = a + scale * np.expm1(y)
    u, v, lu, lv, h = h_parts(tau)
    log_f = -(h - h_a) + y + np.log(wy, where=wy > 0, out=np.full(wy.shape, -np.inf))
    top = log_f.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    f = np.exp(log_f - top)
    total = f.sum(axis=1)
    with np.errstate(divide="ignore"):
        log_i = np.log(total) + top[:, 0] + np.log(scale[:, 0]) - h_a[:, 0]
    if not grad:
        return log_i, None
    wn = f / np.where(total > 0, total, 1.0)[:, None]
    g = np.empty((4, x.size))
    ru, rv = u / (1.0 + u), v / (1.0 + v)
    g[0] = wdot_rows(wn, (x_c * kap + 1.0) * lam * tau / (1.0 + u))
    g[1] = wdot_rows(wn, x_c * ru) - wdot_rows(wn, log1p_minus_ratio(u, lu)) / kap
    g[2] = (sig + 1.0) * dl * wdot_rows(wn, tau / (1.0 + v))
    g[3] = wdot_rows(wn, rv) - wdot_rows(wn, log1p_minus_ratio(v, lv)) / sig
    return log_i, g


def wdot_rows(w, values):
    return np.einsum("ij,ij->i", w, values)


def _lifetime_rows(theta, t):
    """``-log S(t) = log(1 + sigma delta t) / sigma`` and its derivatives in coordinates
    2 and 3 (S: the probability of being alive at t)."""
    dl, sig = np.exp(theta[2]), np.exp(theta[3])
    v = sig * dl * t
    return np.log1p(v) / sig, dl * t / (1.0 + v), -log1p_minus_ratio(v) / sig


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
    status_, boundary_, param_notes_, notes_ : whether the maximum is a limit of the
        model (e.g. nobody drops out), in words.
    """

    _param_names = ("r", "alpha", "s", "beta")
    _DROP_BOUNDS = (-30.0, 15.0)
    _DROP_LIMITS = dropout_limits(
        "s", "beta", at_once="customers drop out almost at once",
        same="every customer has the same drop-out rate, {mean} per time unit",
        spread="drop-out rates are extremely spread out", ratio="s/beta")
    _nbd_first = True

    def _near_limit_start(self, theta_nbd, data, weights):
        # one customer in ten could have dropped out over the mean age, with beta = alpha
        # (where the series is trivial): s = beta * 0.1 / mean age
        mean_t = wdot(weights, data["T"]) / float(weights.sum())
        delta = 0.1 / max(mean_t, 1e-12)
        alpha = np.exp(-theta_nbd[0] - theta_nbd[1])
        return np.array([theta_nbd[0], theta_nbd[1], np.log(delta), -np.log(alpha * delta)])

    def __init__(self, penalizer=0.0):
        self.penalizer = penalizer

    # -- coordinates: mean rate, 1/r, mean drop-out rate s/beta, 1/s ------------------
    def _theta_from_params(self, params):
        r, alpha, s, beta = np.asarray(params, dtype=float)
        return np.array([*self._rate_to_theta(r, alpha), np.log(s) - np.log(beta), -np.log(s)])

    def _params_from_theta(self, theta):
        theta = np.asarray(theta, dtype=float)
        return np.exp([-theta[1], -theta[0] - theta[1], -theta[3], -theta[2] - theta[3]])

    def _dparams_dtheta(self, theta):
        r, alpha, s, beta = self._params_from_theta(theta)
        return np.array([[0.0, -r, 0.0, 0.0],
                         [-alpha, -alpha, 0.0, 0.0],
                         [0.0, 0.0, 0.0, -s],
                         [0.0, 0.0, -beta, -beta]])

    def _use_series(self, theta) -> bool:
        """The hypergeometric series is fast while ``|alpha - beta| / max(alpha, beta)``
        stays below 0.95 (under ~600 terms); beyond, and for shapes so large that
        ``gammaln`` differences cancel, the drop-out integral is integrated instead."""
        r, alpha, s, beta = self._params_from_theta(theta)
        return abs(alpha - beta) / max(alpha, beta) <= _Z_SERIES and max(r, s) <= 1e6

    def _loglik_sum_theta(self, theta, data, weights):
        if "_parts" not in data:
            data = self._prepare(dict(data))
        if data.get("_no_dropout"):
            return nbd_loglik_sum(theta, data, weights)
        if self._use_series(theta):
            params = self._params_from_theta(theta)
            ll, g = self._series_loglik_sum(params, data, weights)
            return ll, self._dparams_dtheta(theta).T @ g
        ll, g = 0.0, np.zeros(4)
        for lo in range(0, data["x"].size, _QUAD_ROWS):
            rows = slice(lo, lo + _QUAD_ROWS)
            ll_r, g_r = self._quadrature_loglik(theta, data, rows, True)
            ll += wdot(weights[rows], ll_r)
            g += wdot(g_r, weights[rows])
        return ll, g

    def _loglik_theta(self, theta, data, *, grad):
        if "_parts" not in data:
            data = self._prepare(dict(data))
        if self._use_series(theta):
            params = self._params_from_theta(theta)
            ll, g = self._series_loglik(params, data, grad=grad)
            return ll, (None if g is None else g @ self._dparams_dtheta(theta))
        n = data["x"].size
        ll = np.empty(n)
        g = np.empty((4, n)) if grad else None
        for lo in range(0, n, _QUAD_ROWS):
            rows = slice(lo, lo + _QUAD_ROWS)
            ll[rows], g_r = self._quadrature_loglik(theta, data, rows, grad)
            if grad:
                g[:, rows] = g_r
        return ll, (None if g is None else g.T)

    def _quadrature_terms(self, theta, data, rows, grad):
        """Both likelihood terms of some rows, in theta (no series): alive until T, and
        dropped out between t_x and T; each with its gradient (4, n)."""
        x, t_x, big_t = data["x"][rows], data["t_x"][rows], data["T"][rows]
        xu, xi = data["_xu"], data["_xi"][rows]
        p_u, dp_u = rate_tables(theta, xu)
        head = p_u[xi] + x * theta[0]
        e_t, e0_t, e1_t = rate_rows(theta, x, big_t)
        s_t, s2_t, s3_t = _lifetime_rows(theta, big_t)
        l1 = head - e_t - s_t
        log_i, g_i = _quadrature_rows(theta, x, t_x, big_t, grad)
        l2 = head + theta[2] + log_i
        if not grad:
            return l1, l2, None, None
        g1 = np.stack([x - e0_t, dp_u[xi] - e1_t, -s2_t, -s3_t])
        g2 = np.stack([x - g_i[0], dp_u[xi] - g_i[1], 1.0 - g_i[2], -g_i[3]])
        return l1, l2, g1, g2

    def _quadrature_loglik(self, theta, data, rows, grad):
        return _mix(*self._quadrature_terms(theta, data, rows, grad))

    # -- the hypergeometric series, in the natural parameters ---------------------------
    def _series_loglik(self, params, data, *, grad):
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

    def _series_loglik_sum(self, params, data, weights):
        # the same as summing _series_loglik, slice by slice (memory bounded by the slice
        # size, whatever the number of customers); the frequency-only parts are summed
        # per distinct frequency
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
            np.array([2.0, 2.0 / rate, 0.5, 20.0 * scale]),  # little drop-out
        ]

    # -- limits ----------------------------------------------------------------------
    def _dropout_mean(self, coordinate):
        return float(np.exp(coordinate))

    def _dropout_scale(self, data):
        return float(np.max(data["T"], initial=0.0))

    # -- predictions -----------------------------------------------------------------
    def _log_p_alive(self, x, t_x, big_t):
        theta = self._theta_
        x, t_x, big_t = np.broadcast_arrays(x, t_x, big_t)
        data = self._prepare({"x": x.ravel(), "t_x": t_x.ravel(), "T": big_t.ravel()})
        out = np.empty(x.size)
        if self._use_series(theta):
            params = self._params_from_theta(theta)
            setup = _series_setup(params, data["_xu"])
            for part in data["_parts"]:
                l1, l2, _, _ = _pareto_terms(params, setup, data, part, grad=False)
                out[part["rows"]] = l1 - _mix(l1, l2, None, None)[0]
        else:
            for lo in range(0, x.size, _QUAD_ROWS):
                rows = slice(lo, lo + _QUAD_ROWS)
                l1, l2, _, _ = self._quadrature_terms(theta, data, rows, False)
                out[rows] = l1 - _mix(l1, l2, None, None)[0]
        return out.reshape(x.shape)

    def _expected_if_alive(self, t, x, t_x, big_t):
        # E[Y(t) | alive] = (r+x)/(alpha+T) * (beta+T)/(s-1) [1 - ((beta+T)/(beta+T+t))^(s-1)],
        # written with the mean rates and 1/r, 1/s (finite at every limit)
        lam, kap, dl, sig = np.exp(self._theta_)
        t = np.asarray(t, dtype=float)
        rate = (1.0 + kap * x) * lam / (1.0 + kap * lam * big_t)
        grow = 1.0 + sig * dl * big_t  # (beta + T) / beta
        ell = np.log1p(sig * dl * t / grow)  # log((beta+T+t)/(beta+T))
        c = (1.0 - sig) / sig  # s - 1
        if abs(c) < 1e-10:
            frac = grow / (sig * dl) * ell
        else:
            frac = grow / (dl * (1.0 - sig)) * -np.expm1(-c * ell)
        return rate * frac

    def predict_purchase_count_probability(self, n, t, *, nodes=200):
        """P(a new customer makes exactly ``n`` repeat purchases in ``(0, t]``).

        Alive throughout: the NBD probability times ``(beta/(beta+t))^s``; dropping out
        at ``tau < t``: the same integrated over the lifetime density, by Gauss-Legendre
        quadrature in log space (``nodes`` points).
        """
        check_fitted(self)
        if self._no_dropout:
            return self._nbd_count_probability(n, t)
        r, alpha, s, beta = self._pred_params()
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
