"""Numerically stable special functions shared by the models.

SciPy's ``hyp2f1`` overflows or loses all precision for the parameter ranges the
buy-till-you-die models reach with frequent buyers (``r + x`` in the thousands).
The models avoid it: every Gauss hypergeometric term they need is rewritten with
an Euler or Pfaff transformation into a series whose parameters do not grow with
the customer's frequency, and summed either in plain floating point (bounded
terms) or in log space (positive terms, log-sum-exp).
"""

from __future__ import annotations

import numpy as np

_EPS_TERMS = 30.0  # stop when z**n < exp(-30) (1e-13): far below what a fit can resolve
_MAX_TERMS = 20_000
_CHUNK_CELLS = 4_000_000  # rows x terms evaluated at once (about 32 MB per array)


def _n_terms(z_max: float) -> int:
    if z_max <= 0.0:
        return 1
    if z_max >= 1.0:
        return _MAX_TERMS
    return int(min(_MAX_TERMS, max(8, np.ceil(_EPS_TERMS / -np.log(z_max)) + 8)))


def log1mexp(a: np.ndarray) -> np.ndarray:
    """``log(1 - exp(a))`` for ``a <= 0``, accurate near 0 and near -inf."""
    a = np.asarray(a, dtype=float)
    out = np.full(a.shape, -np.inf)
    small = a > -0.6931471805599453
    with np.errstate(divide="ignore", invalid="ignore"):
        out[small] = np.log(-np.expm1(a[small]))
        out[~small] = np.log1p(-np.exp(a[~small]))
    return out


def hyp2f1_series(a, b, c, z):
    """Gauss ``2F1(a, b; c; z)`` by its power series, for ``0 <= z < 1``.

    Meant for the transformed terms of the models, whose parameters stay moderate
    (they do not grow with frequency), so the terms neither overflow nor need
    log space; ``a`` or ``b`` may be negative.
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, c, z)))
    shape = a.shape
    a, b, c, z = a.ravel(), b.ravel(), c.ravel(), z.ravel()
    out = np.empty(a.size)
    n_terms = _n_terms(float(z.max(initial=0.0)))
    step = max(1, _CHUNK_CELLS // n_terms)
    k = np.arange(n_terms - 1, dtype=float)
    for lo in range(0, a.size, step):
        sl = slice(lo, lo + step)
        aa, bb, cc, zz = a[sl, None], b[sl, None], c[sl, None], z[sl, None]
        ratio = (aa + k) * (bb + k) / ((cc + k) * (k + 1.0)) * zz
        terms = np.concatenate([np.ones((aa.shape[0], 1)), np.cumprod(ratio, axis=1)], axis=1)
        out[sl] = terms.sum(axis=1)
    return out.reshape(shape)


def rising_ratio_tables(p_u, q_u, z_max: float):
    """The coefficients of :func:`log_rising_ratio_series_by_x` for ``z <= z_max``:
    ``(p)_n / (q)_n`` and the sums giving its derivatives in ``p`` and ``q``, one row
    per term ``n``, one column per distinct frequency. Build them once and pass them to
    every call that shares ``p_u`` and ``q_u`` (e.g. slices of the same rows)."""
    n_terms = _n_terms(float(z_max))
    k = np.arange(n_terms - 1, dtype=float)[:, None]
    ratio = (p_u[None, :] + k) / (q_u[None, :] + k)
    one = np.ones((1, p_u.size))
    zero = np.zeros((1, p_u.size))
    tab_p = np.concatenate([one, np.cumprod(ratio, axis=0)])
    tab_dp = np.concatenate([zero, np.cumsum(1.0 / (p_u[None, :] + k), axis=0)])
    tab_dq = np.concatenate([zero, np.cumsum(1.0 / (q_u[None, :] + k), axis=0)])
    return tab_p, tab_dp, tab_dq


def log_rising_ratio_series_by_x(p_u, q_u, xi, z, order=None, tables=None):
    """``log H`` and its derivatives, ``H = sum_n (p)_n / (q)_n z**n``, ``0 <= z < 1``.

    ``p = p_u[xi] > 0`` and ``q = q_u[xi] > p`` depend on the frequency only; ``order``
    sorts ``z`` ascending (cached by the caller when ``z`` is monotone in a fixed
    column). Returns ``(log_h, d_p, d_q, d_z)``, the derivatives being those of
    ``log H``. All terms are positive, so nothing cancels. The ratios ``(p)_n / (q)_n``
    and their derivatives are tabulated once per distinct frequency (``tables`` from
    :func:`rising_ratio_tables`, built here when not given); the rows are then summed
    term by term, and a row leaves the loop as soon as ``z ** n`` is below double
    precision (terms never exceed ``z ** n`` because ``p < q``).
    """
    z = np.asarray(z, dtype=float)
    if order is None:
        order = np.argsort(z, kind="stable")
    zs = z[order]
    xs = xi[order]
    rows = zs.size
    z_top = float(zs[-1]) if rows else 0.0
    if tables is None:
        tables = rising_ratio_tables(p_u, q_u, z_top)
    tab_p, tab_dp, tab_dq = tables
    n_terms = min(tab_p.shape[0], _n_terms(z_top))
    total = np.ones(rows)
    s_p = np.zeros(rows)
    s_q = np.zeros(rows)
    s_n = np.zeros(rows)
    zpow = np.ones(rows)
    for n in range(1, n_terms):
        start = int(np.searchsorted(zs, np.exp(-_EPS_TERMS / n), side="left"))
        if start >= rows:
            break
        zpow[start:] *= zs[start:]
        xa = xs[start:]
        term = tab_p[n][xa] * zpow[start:]
        total[start:] += term
        s_p[start:] += term * tab_dp[n][xa]
        s_q[start:] += term * tab_dq[n][xa]
        s_n[start:] += n * term
        # later terms shrink by at least a factor z each (p < q): stop once the whole
        # remaining tail is below double precision for every row (the sums are >= 1)
        if zs[-1] < 1.0 and term.max() * zs[-1] / (1.0 - zs[-1]) < 1e-14:
            break
    out_log = np.empty(rows)
    out_p = np.empty(rows)
    out_q = np.empty(rows)
    out_z = np.empty(rows)
    out_log[order] = np.log(total)
    out_p[order] = s_p / total
    out_q[order] = -s_q / total
    with np.errstate(divide="ignore", invalid="ignore"):
        dz = np.where(zs > 0, s_n / (total * zs), (p_u / q_u)[xs])
    out_z[order] = dz
    return out_log, out_p, out_q, out_z


def _z_buckets(z, n_buckets=64):
    """Rows grouped by z (O(n): a radix sort of bucket numbers) and each group's range."""
    z_max = float(z.max(initial=0.0))
    if z_max <= 0.0:
        return np.arange(z.size), [(0, z.size, 0.0)]
    bucket = np.minimum(z * (n_buckets / z_max), n_buckets - 1).astype(np.uint8)
    order = np.argsort(bucket, kind="stable")
    counts = np.bincount(bucket, minlength=n_buckets)
    ends = np.cumsum(counts)
    groups = [(int(e - c), int(e), z_max * (i + 1) / n_buckets)
              for i, (c, e) in enumerate(zip(counts, ends, strict=True)) if c]
    return order, groups


def series_coefficients(a: float, b: float, c_u, z_max: float):
    """The coefficients of ``2F1(a, b; c_u[j]; z)``'s power series (rows: the power,
    columns: ``c_u``), as many as ``z <= z_max`` needs: the terms left out are below
    1e-17 (at most the largest later coefficient times ``z_max ** n``). Returns
    ``(coef, tail_max)``, ``tail_max[n]`` the largest coefficient from the ``n``-th on."""
    c_u = np.asarray(c_u, dtype=float)
    n_terms = _n_terms(z_max)
    while True:
        k = np.arange(n_terms - 1, dtype=float)[:, None]
        ratio = (a + k) * (b + k) / ((c_u[None, :] + k) * (k + 1.0))
        coef = np.concatenate([np.ones((1, c_u.size)), np.cumprod(ratio, axis=0)])
        tail_max = np.maximum.accumulate(np.abs(coef).max(axis=1)[::-1])[::-1]
        if n_terms >= _MAX_TERMS or tail_max[-1] * z_max ** (n_terms - 1) < 1e-17:
            return coef, tail_max
        n_terms = min(_MAX_TERMS, 2 * n_terms)


def hyp2f1_series_by_x(a: float, b: float, c_u, xi, z):
    """``2F1(a, b; c_u[xi]; z)`` for ``0 <= z < 1``, scalar ``a``, ``b``, and ``c`` that
    depends on the frequency only (the transformed terms of the BG models).

    The coefficients are tabulated once per distinct frequency; rows are grouped by
    ``z`` and each group is summed with the terms its largest ``z`` needs: the tail
    after ``n`` terms is at most the largest later coefficient times ``z ** n / (1 - z)``.
    """
    z = np.asarray(z, dtype=float)
    rows = z.size
    if rows == 0:
        return np.zeros(0)
    z_max = float(z.max())
    coef, tail_max = series_coefficients(a, b, c_u, z_max)
    n_terms = coef.shape[0]
    log_tail = np.log(np.maximum(tail_max, 1e-300))
    n_idx = np.arange(n_terms)
    order, groups = _z_buckets(z)
    out = np.empty(rows)
    for lo, hi, zg in groups:
        idx = order[lo:hi]
        zb, xb = z[idx], xi[idx]
        total = np.ones(hi - lo)
        if zg > 0.0:
            bound = log_tail + n_idx * np.log(zg) - np.log(max(1.0 - zg, 1e-3))
            below = np.flatnonzero(bound < np.log(1e-16))
            n_b = int(below[0]) if below.size else n_terms
            zpow = np.ones(hi - lo)
            for n in range(1, n_b):
                zpow *= zb
                total += coef[n][xb] * zpow
        out[idx] = total
    return out


def log1p_minus_ratio(u, log1p_u=None):
    """``log(1 + u) - u / (1 + u)`` for ``u >= 0``, accurate for tiny ``u`` (about u**2/2).

    It appears divided by a small shape parameter (``1/r``, ``1/s``) in the derivatives
    of the rate and lifetime terms, where the plain difference would cancel. Pass
    ``log1p_u`` when it is already computed.
    """
    u = np.asarray(u, dtype=float)
    small = u < 1e-3
    with np.errstate(invalid="ignore", over="ignore"):
        big = (np.log1p(u) if log1p_u is None else log1p_u) - u / (1.0 + u)
    us = np.where(small, u, 0.0)
    series = us * us * (0.5 - us * (2.0 / 3.0 - us * (0.75 - us * 0.8)))
    return np.where(small, series, big)


def cumulative_log_terms(n_max: int, base: float, step: float):
    """``S[n] = sum_{j<n} log(base + j*step)`` and ``D[n] = sum_{j<n} 1/(base + j*step)``,
    ``E[n] = sum_{j<n} j/(base + j*step)`` for ``n = 0..n_max`` (index by ``n``).

    Ratios of rising factorials such as ``(b)_n / (a+b)_n`` are differences of two of
    these sums; written with the spread parameter (``1/(a+b)``) as ``step`` they stay
    exact when ``a`` and ``b`` grow without bound (where ``betaln`` differences cancel).
    """
    j = np.arange(n_max, dtype=float)
    v = base + j * step
    zero = np.zeros(1)
    return (np.concatenate([zero, np.cumsum(np.log(v))]),
            np.concatenate([zero, np.cumsum(1.0 / v)]),
            np.concatenate([zero, np.cumsum(j / v)]))


_GL_Z, _GL_W = np.polynomial.legendre.leggauss(24)
_SEGMENT_EDGES = (0.0, 1.5, 5.0)


def legendre_on_log_scale(y_max):
    """Nodes and weights for ``int_0^{y_max} f(y) dy`` in up to three Gauss-Legendre
    segments ([0, 1.5], [1.5, 5], [5, y_max], 24 nodes each), one row per ``y_max``.

    Used with the substitution ``tau = a + L (e^y - 1)``: an integrand that falls like
    ``exp(-(tau - a) / L)`` near ``a`` and like a power of ``tau`` far from it is smooth
    on this scale (relative error about 1e-12 for the Pareto/NBD drop-out integral).
    """
    y_max = np.asarray(y_max, dtype=float)[:, None]
    top = float(y_max.max(initial=0.0))
    nodes, weights = [], []
    for lo, hi in zip(_SEGMENT_EDGES, (*_SEGMENT_EDGES[1:], np.inf), strict=True):
        if lo > 0 and lo >= top:
            break  # no row reaches this segment
        a = np.minimum(lo, y_max)
        b = np.minimum(hi, y_max)
        half = (b - a) / 2.0
        nodes.append(a + half * (_GL_Z[None, :] + 1.0))
        weights.append(half * _GL_W[None, :])
    return np.concatenate(nodes, axis=1), np.concatenate(weights, axis=1)
