"""Pareto/NBD scoring as engine expressions: P(alive), expected purchases and the
discounted purchases behind the CLV of a fitted :class:`~loyalist.models.ParetoNBD`, per
customer, in the engine (DuckDB or Spark), the same way :mod:`loyalist.models.in_engine`
scores the BG/NBD family.

P(alive) is ``1 / (1 + e^d)`` with ``d`` the log ratio of the two likelihood terms
(dropped out between ``t_x`` and ``T``, alive until ``T``). It depends on ``(x, t_x, T)``
only, so it is computed once per distinct triple and joined back. Each branch of the NumPy
reference (:meth:`ParetoNBD._log_p_alive`) is reproduced:

- **the series** (``|alpha - beta| / max(alpha, beta) <= 0.95`` and ``r, s <= 1e6``): the
  drop-out term holds ``F(t) = (1 - z_t)^(1-B) H(z_t) / (m + t)^(r+s+x)`` at ``t_x`` and
  ``T`` (``m = max(alpha, beta)``, ``z_t = |alpha - beta| / (m + t)``, ``B = s + 1`` when
  ``alpha >= beta``, else ``r + x``). ``H(z) = sum_n (q-B)_n / (q)_n z^n`` (``q = r + s +
  x + 1``) has positive coefficients that depend on the frequency only: they are
  tabulated on the driver (the NumPy path's own table,
  :func:`~loyalist.models._special.rising_ratio_tables`) as a long ``(x, n, c_n)`` table,
  joined to the triples and summed, both ``z`` in one pass;
- **the quadrature** (``|alpha - beta|`` far from ``max(alpha, beta)``, or a shape past
  1e6, e.g. a fit at the limit where every customer has the same drop-out rate): the
  drop-out integral ``int_{t_x}^T exp(-H(tau)) dtau`` by the same 72 Gauss-Legendre
  nodes on the same per-customer log scale (:func:`~loyalist.models._special.
  legendre_on_log_scale`): the nodes are a fixed table crossed with the triples, each
  node's weight a closed form of the triple;
- **no drop-out** (the fit's limit): P(alive) is 1.

Expected purchases given alive are closed forms (``_expected_if_alive``), so expected
purchases and the discounted purchases of each period are flat expressions. Agreement
with NumPy: 1e-9 relative (tests/test_btyd_in_engine.py on CDNOW and on the synthetic
business, which takes the quadrature).
"""

from __future__ import annotations

import ibis
import numpy as np

from loyalist.models._base import check_fitted

_LN2 = 0.6931471805599453
#: the open end of the last segment of the drop-out integral's log scale
_HUGE = 1e300


def _ln1p(y):
    """``log(1 + y)``, accurate for small ``y`` (Ibis has no log1p)."""
    w = 1.0 + y
    return ibis.ifelse(w == 1.0, y, w.ln() * y / (w - 1.0))


def _expm1(y):
    """``exp(y) - 1``, accurate for small ``y`` (Kahan: ``(u - 1) y / log u``)."""
    u = y.exp()
    return ibis.ifelse(u == 1.0, y, (u - 1.0) * y / u.ln())


def _log1mexp(a):
    """``log(1 - exp(a))`` for ``a < 0`` (as :func:`loyalist.models._special.log1mexp`)."""
    return ibis.ifelse(a > -_LN2, (-_expm1(a)).ln(), _ln1p(-a.exp()))


def _triples(table, frequency, recency, T, derived):
    """The distinct ``(x, t_x, T)`` of ``table`` with the columns ``derived(x, t_x, T)``
    (a dict) of each: computed once per triple, and a distinct query that later steps
    do not fold their expressions into (which would repeat these in every use)."""
    x, tx, big_t = (table[c].cast("float64") for c in (frequency, recency, T))
    return table.select(_lp_x=x, _lp_tx=tx, _lp_T=big_t, **derived(x, tx, big_t)).distinct()


def _log_odds_series(model, table, frequency, recency, T):
    """``d = l2 - l1`` per triple by the hypergeometric series (``_lp_d``; null where the
    drop-out term is zero, ``T = t_x``), or None when ``table`` is empty."""
    import pandas as pd

    from loyalist.models._special import rising_ratio_tables

    r, alpha, s, beta = (float(v) for v in model._pred_params())
    xs = table.select(f=table[frequency].cast("float64")).distinct().to_pyarrow()
    xu = np.unique(np.asarray(xs.column("f").to_numpy(zero_copy_only=False), dtype=float))
    if xu.size == 0:
        return None
    q_u = r + s + xu + 1.0
    if alpha >= beta:
        m, b_u = alpha, np.full_like(xu, s + 1.0)
    else:
        m, b_u = beta, r + xu
    gap = abs(alpha - beta)
    coef = rising_ratio_tables(q_u - b_u, q_u, gap / m)[0]  # (terms, distinct x)
    n_terms = coef.shape[0]
    coefs = ibis.memtable(pd.DataFrame({
        "_lc_x": np.tile(xu, n_terms), "_lc_n": np.repeat(np.arange(n_terms), xu.size),
        "_lc_c": coef.ravel()}))

    def log_f_head(x, t):  # log F(t) but for log H(z_t)
        b_big = ibis.literal(s + 1.0) if alpha >= beta else r + x
        return (1.0 - b_big) * _ln1p(-gap / (m + t)) - (r + s + x) * (m + t).ln()

    triples = _triples(table, frequency, recency, T, lambda x, tx, big_t: {
        "_lp_ztx": gap / (m + tx), "_lp_zT": gap / (m + big_t),
        "_lp_ftx": log_f_head(x, tx), "_lp_fT": log_f_head(x, big_t),
        "_lp_l1": -(r + x) * (alpha + big_t).ln() - s * (beta + big_t).ln()})
    j = triples.inner_join(coefs, triples._lp_x == coefs._lc_x)
    n = j._lc_n.cast("float64")
    sums = j.group_by([c for c in triples.columns if c not in ("_lp_ztx", "_lp_zT")]) \
        .aggregate(_lp_htx=(j._lc_c * j._lp_ztx ** n).sum(),
                   _lp_hT=(j._lc_c * j._lp_zT ** n).sum())
    f_tx = sums._lp_ftx + sums._lp_htx.ln()
    rho = ibis.least(sums._lp_fT + sums._lp_hT.ln() - f_tx, 0.0)
    l2 = (float(np.log(s)) - (r + s + sums._lp_x).ln() + f_tx
          + _log1mexp(ibis.ifelse(rho < 0, rho, -1.0)))
    return sums.select("_lp_x", "_lp_tx", "_lp_T",
                       _lp_d=ibis.ifelse(rho < 0, l2 - sums._lp_l1, ibis.null("float64")))


def _log_odds_quadrature(model, table, frequency, recency, T):
    """``d = l2 - l1`` per triple by Gauss-Legendre on the log scale of the drop-out
    integral (``ParetoNBD._quadrature_terms``): ``tau = t_x + L (e^y - 1)``, ``L = 1 /
    H'(t_x)``, nodes in ``[0, 1.5]``, ``[1.5, 5]`` and ``[5, y_max]`` (null where the
    integral is zero, ``T = t_x``)."""
    import pandas as pd

    from loyalist.models._special import _GL_W, _GL_Z, _SEGMENT_EDGES

    lam, kap, dl, sig = (float(v) for v in np.exp(model._theta_))
    his = (*_SEGMENT_EDGES[1:], _HUGE)
    nodes = ibis.memtable(pd.DataFrame({
        "_lq_lo": np.repeat(_SEGMENT_EDGES, _GL_Z.size),
        "_lq_hi": np.repeat(his, _GL_Z.size),
        "_lq_z": np.tile(_GL_Z, len(his)), "_lq_w": np.tile(_GL_W, len(his))}))

    def h(x, tau):  # H(tau) of the module docstring, for frequency x
        return ((x + 1.0 / kap) * _ln1p(kap * lam * tau)
                + (1.0 + 1.0 / sig) * _ln1p(sig * dl * tau))

    def derived(x, tx, big_t):
        scale = 1.0 / ((x * kap + 1.0) * lam / (1.0 + kap * lam * tx)
                       + (sig + 1.0) * dl / (1.0 + sig * dl * tx))
        return {"_lp_scale": scale, "_lp_ha": h(x, tx),
                "_lp_ymax": _ln1p((big_t - tx) / scale),
                "_lp_ets": ((x + 1.0 / kap) * _ln1p(kap * lam * big_t)
                            + _ln1p(sig * dl * big_t) / sig)}

    triples = _triples(table, frequency, recency, T, derived)
    j = triples.cross_join(nodes)
    lo = ibis.least(j._lq_lo, j._lp_ymax)
    half = (ibis.least(j._lq_hi, j._lp_ymax) - lo) / 2.0
    y = lo + half * (j._lq_z + 1.0)
    # e^y - 1 need not be accurate near 0: H(tau) - H(t_x) below has an absolute error
    # of a few ulps of H anyway (as in NumPy), which the scale's ulps stay under
    tau = j._lp_tx + j._lp_scale * (y.exp() - 1.0)
    term = half * j._lq_w * (y - (h(j._lp_x, tau) - j._lp_ha)).exp()
    sums = j.group_by(["_lp_x", "_lp_tx", "_lp_T", "_lp_scale", "_lp_ha", "_lp_ets"]) \
        .aggregate(_lp_i=ibis.ifelse(half > 0, term, 0.0).sum())
    log_i = ibis.ifelse(sums._lp_i > 0, sums._lp_i, 1.0).ln() + sums._lp_scale.ln() \
        - sums._lp_ha
    d = float(np.log(dl)) + log_i + sums._lp_ets
    return sums.select("_lp_x", "_lp_tx", "_lp_T",
                       _lp_d=ibis.ifelse(sums._lp_i > 0, d, ibis.null("float64")))


def p_alive_table(table, model, *, frequency="frequency", recency="recency", T="T",
                  name="p_alive"):
    """``table`` (an RFM summary, an Ibis table) with column ``name``: each customer's
    P(alive) under a fitted Pareto/NBD, computed in the engine (one small query on the
    driver for the distinct frequencies when the series is summed)."""
    check_fitted(model)
    if getattr(model, "_no_dropout", False):
        return table.mutate(**{name: ibis.literal(1.0)})
    if model._use_series(model._theta_):
        odds = _log_odds_series(model, table, frequency, recency, T)
        if odds is None:  # no customers
            return table.mutate(**{name: ibis.literal(1.0)})
    else:
        odds = _log_odds_quadrature(model, table, frequency, recency, T)
    keyed = table.mutate(_lp_x=table[frequency].cast("float64"),
                         _lp_tx=table[recency].cast("float64"),
                         _lp_T=table[T].cast("float64"))
    out = keyed.inner_join(odds, ["_lp_x", "_lp_tx", "_lp_T"])
    d = out._lp_d
    pos, neg = ibis.greatest(d, 0.0), ibis.least(d, 0.0)
    alive = (-pos).exp() / ((-pos).exp() + neg.exp())
    # (GREATEST and LEAST skip nulls: test the null itself)
    out = out.mutate(**{name: ibis.ifelse(d.isnull(), 1.0, alive)})
    return out.drop("_lp_x", "_lp_tx", "_lp_T", "_lp_d")


def _expected_if_alive(model, t, rate, grow, ell):
    """Expected purchases in the next ``t`` time units of a customer alive now:
    ``(r + x) / (alpha + T) (beta + T) / (s - 1) [1 - ((beta + T) / (beta + T + t))^(s -
    1)]`` in the mean rates and ``1/r``, ``1/s`` (finite at every limit), as
    ``ParetoNBD._expected_if_alive``; an Ibis expression of the columns of
    :func:`_growth` (``rate``: the posterior mean purchase rate, ``grow``: ``(beta + T) /
    beta``, ``ell``: ``log((beta + T + t) / (beta + T))``)."""
    if getattr(model, "_no_dropout", False):
        return rate * float(t)
    lam, kap, dl, sig = (float(v) for v in np.exp(model._theta_))
    c = (1.0 - sig) / sig
    if abs(c) < 1e-10:
        return rate * (grow / (sig * dl) * ell)
    return rate * (grow / (dl * (1.0 - sig)) * -_expm1(-c * ell))


def _growth(model, x, big_t, ends):
    """The columns of :func:`_expected_if_alive` per ``(x, T)``: ``rate``, ``grow`` and
    one ``ell`` per end of period."""
    lam, kap, dl, sig = (float(v) for v in np.exp(model._theta_))
    grow = 1.0 + sig * dl * big_t
    return {"_le_rate": (1.0 + kap * x) * lam / (1.0 + kap * lam * big_t),
            "_le_grow": grow,
            **{f"_le_ell{i}": _ln1p(sig * dl * t / grow) for i, t in enumerate(ends)}}


def purchases_table(table, model, sums, *, frequency="frequency", T="T",
                    alive="p_alive"):
    """``table`` (with P(alive) in column ``alive``) with one column per entry of
    ``sums`` (``name: (times, weights)``): P(alive) times the weighted sum of the
    purchases expected in each period ``(times[k-1], times[k]]`` (from 0). The
    expected purchases given alive depend on ``(x, T)`` only: computed once per
    distinct pair (a query later steps do not fold into, so that the expressions stay
    short) and joined back."""
    ends = sorted({float(t) for times, _w in sums.values() for t in times})
    x, big_t = table[frequency].cast("float64"), table[T].cast("float64")
    pairs = table.select(_le_x=x, _le_T=big_t, **_growth(model, x, big_t, ends)).distinct()
    cur = {t: _expected_if_alive(model, t, pairs._le_rate, pairs._le_grow,
                                 pairs[f"_le_ell{i}"]) for i, t in enumerate(ends)}
    out = {}
    for name, (times, weights) in sums.items():
        total, prev = None, None
        for t, w in zip(times, weights, strict=True):
            now = cur[float(t)]
            term = w * (now if prev is None else now - prev)
            total = term if total is None else total + term
            prev = now
        out[name] = total
    pairs = pairs.select("_le_x", "_le_T", **out)
    keyed = table.mutate(_le_x=x, _le_T=big_t)
    j = keyed.inner_join(pairs, ["_le_x", "_le_T"])
    return j.mutate(**{name: j[alive] * j[name] for name in sums}).drop("_le_x", "_le_T")


__all__ = ["p_alive_table", "purchases_table"]
