"""The purchase-rate part of BG/NBD, MBG/NBD and Pareto/NBD, written in the fit
coordinates: ``theta[0] = log(r/alpha)`` (mean rate) and ``theta[1] = log(1/r)`` (spread).

``log[G(r+x)/G(r) alpha^r / (alpha+t)^(r+x)]`` is split into a part per distinct frequency
(``rate_tables``: sums of ``log1p(j/r)``) and a part per row (``rate_rows``), so that it
stays exact as ``r, alpha -> infinity`` (every customer buying at the same rate), where
differences of ``gammaln`` and of ``r log alpha`` terms would cancel. Without drop-out
the three models reduce to this part alone: the NBD (``nbd_loglik_sum``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from loyalist.models._base import wdot
from loyalist.models._special import log1p_minus_ratio

_CUMSUM_MAX_X = 200_000  # above this frequency, rising factorials by gammaln instead


def rate_tables(theta, xu):
    """Per distinct frequency: ``log((r)_x / r^x) = sum_{j<x} log(1 + j/r)`` and its
    derivative in coordinate 1 (``log 1/r``)."""
    kap = np.exp(theta[1])
    xi = xu.astype(np.int64)
    n_max = int(xi.max(initial=0))
    if n_max <= _CUMSUM_MAX_X:
        j = np.arange(n_max, dtype=float)
        jk = j * kap
        p_tab = np.concatenate([[0.0], np.cumsum(np.log1p(jk))])
        d_tab = np.concatenate([[0.0], np.cumsum(jk / (1.0 + jk))])
        return p_tab[xi], d_tab[xi]
    r = 1.0 / kap
    return (gammaln(r + xu) - gammaln(r) + xu * theta[1],
            xu - r * (digamma(r + xu) - digamma(r)))


def rate_rows(theta, x, t):
    """``E = (x + r) log(1 + t/alpha)`` per row and its derivatives in coordinates 0, 1.

    With the tables above, ``log[G(r+x)/G(r) alpha^r / (alpha+t)^(r+x)] = P(x) + x
    log(r/alpha) - E``: the (unnormalised) likelihood of x purchases, the last at or
    before t, for a customer observed until t. With ``u = t / alpha``:
    ``dE/dtheta0 = (x + r) u/(1+u)`` and ``dE/dtheta1 = x u/(1+u) - r (log(1+u) - u/(1+u))``,
    the last bracket by its series where ``u`` is small (it cancels there).
    """
    lam, kap = np.exp(theta[0]), np.exp(theta[1])
    u = (kap * lam) * t
    big_l = np.log1p(u)
    ratio = u / (1.0 + u)
    xr = x + 1.0 / kap
    e = xr * big_l
    e0 = xr * ratio
    q = big_l - ratio
    # t = 0 gives exactly 0 above; only 0 < u < 1e-3 needs the series
    if u.size and kap * lam * float(np.max(t, initial=0.0)) > 0:
        small = np.flatnonzero((u < 1e-3) & (u > 0.0))
        if small.size:
            q[small] = log1p_minus_ratio(u[small])
    e1 = x * ratio - q / kap
    return e, e0, e1


def log1p_exp_and_sigmoid(d):
    """``log(1 + e^d)`` and ``1 / (1 + e^-d)`` with one exponential (e^d is capped at
    e^700; the few rows beyond get ``d`` itself, exact to double precision)."""
    # below e^-700 the exponential would be subnormal (slow, and far below rounding)
    e = np.exp(np.clip(d, -700.0, 700.0))
    lse = np.log1p(e)
    sig = e / (1.0 + e)
    if d.size and d.max() > 700.0:
        big = np.flatnonzero(d > 700.0)
        lse[big] = d[big]
    return lse, sig


def nbd_loglik_sum(theta, data, weights):
    """The limit without drop-out (NBD): total log-likelihood and gradient (4 coords;
    the drop-out ones are 0)."""
    x, big_t, xu, xi = data["x"], data["T"], data["_xu"], data["_xi"]
    p_u, dp_u = rate_tables(theta, xu)
    e, e0, e1 = rate_rows(theta, x, big_t)
    per_x = np.bincount(xi, weights, minlength=xu.size)
    ll = wdot(per_x, p_u) + theta[0] * wdot(weights, x) - wdot(weights, e)
    g = np.zeros(4)
    g[0] = wdot(weights, x) - wdot(weights, e0)
    g[1] = wdot(per_x, dp_u) - wdot(weights, e1)
    return ll, g
