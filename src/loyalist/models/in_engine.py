"""Closed-form BTYD scoring as engine expressions: P(alive) of a fitted BG/NBD or MBG/NBD
model and the expected spend of a fitted Gamma-Gamma model, per customer, as Ibis
expressions over an RFM summary, so that millions of customers are scored where their
rows are (DuckDB or Spark) and only the fitted parameters leave the driver.

The NumPy methods (:meth:`~loyalist.models.BGNBD.predict_p_alive`,
:meth:`~loyalist.models.GammaGamma.predict_spend`) stay the reference: the expressions
follow the same coordinates (log mean rate, log of 1/r, the mean drop-out probability
and 1/(a+b)), so they hold at the limits the fit may reach, and agree with them to 1e-9
relative (tests/test_btyd_in_engine.py on CDNOW, tests/test_spark_parity.py on Spark).

Expected purchases and the discounted purchases behind the CLV need a Gaussian
hypergeometric function ``2F1(A, B; C_x; z)`` per customer (:func:`purchases_table`).
Its power series is summed in the engine: the coefficients depend on the frequency
only, so they are tabulated on the driver once per distinct frequency (a small table
joined to the customers) and each customer's sum ``sum_n c_n(x) z^n`` is a flat
expression of as many terms as the largest ``z`` needs for the terms left out to stay
below 1e-17 (:func:`loyalist.models._special.series_coefficients`, the bound the NumPy
path uses); agreement with the NumPy path: 1e-9 relative (tested), typically 1e-13.
Where the NumPy path leaves the series for a quadrature (a concentrated drop-out Beta,
``a > 20``; ``r > 1000``; ``(r + 1) z > 20``, where the series cancels), so does the
engine: the Gauss-Hermite nodes of the drop-out probability are tabulated per
frequency the same way and summed per customer. Where the series would need more than
:data:`MAX_TERMS` terms, these functions raise :class:`~loyalist.errors.NotOnEngineError`:
score on the driver then.

The Pareto/NBD is scored by :mod:`loyalist.models.in_engine_pareto` (its P(alive) needs a
join, per distinct ``(x, t_x, T)``): :func:`score_table` and :func:`value_table` take it;
:func:`p_alive`, a column expression, does not.
"""

from __future__ import annotations

import ibis
import numpy as np

from loyalist.errors import NotOnEngineError
from loyalist.models import in_engine_pareto
from loyalist.models._base import check_fitted

#: the most terms of a series summed in the engine (one column each in the join)
MAX_TERMS = 2000
#: what scores on the driver instead
_HINT = ("Score on the driver: model.predict_p_alive(...) on the RFM summary; a "
         "Pareto/NBD through score_table or value_table (docs/scale.md lists what runs "
         "in the engine).")


def _log1p(y):
    """``log(1 + y)`` accurate for small ``y`` (Ibis has no log1p): ``log(w) * y / (w - 1)``
    with ``w = 1 + y`` rounded, exact where ``w`` is 1."""
    w = 1.0 + y
    return ibis.ifelse(w == 1.0, y, w.ln() * y / (w - 1.0))


def p_alive(model, frequency, recency, T):
    """P(alive) of each customer as an Ibis expression: ``frequency`` (repeat purchases),
    ``recency`` and ``T`` are numeric columns in the model's time unit.

    ``1 / (1 + [x + o > 0] a / (b + x + o - 1) ((alpha + T) / (alpha + t_x)) ^ (r + x))``
    (o = 1 for MBG/NBD), written as the logistic of its log-odds, which never overflows.
    """
    from loyalist.models.bgnbd import _BetaGeometricNBD

    check_fitted(model)
    if not isinstance(model, _BetaGeometricNBD):
        raise NotOnEngineError(f"P(alive) of a {type(model).__name__} as an engine "
                               "expression", "DuckDB or Spark", hint=_HINT)
    x = frequency.cast("float64")
    if getattr(model, "_no_dropout", False):
        return ibis.literal(1.0) + 0.0 * x
    theta = np.asarray(model._theta_, dtype=float)
    lam, kap = float(np.exp(theta[0])), float(np.exp(theta[1]))
    pi = float(1.0 / (1.0 + np.exp(-theta[2])))
    phi = float(np.exp(theta[3]))
    o = float(model._offset)
    u = kap * lam
    tx, big_t = recency.cast("float64"), T.cast("float64")
    # (r + x) log((alpha + T) / (alpha + t_x)) = (x + 1/kap) log1p(u (T - t_x) / (1 + u t_x))
    rate = (x + 1.0 / kap) * _log1p(u * (big_t - tx) / (1.0 + u * tx))
    n = x + o
    d = (ibis.literal(pi) / ((1.0 - pi) + phi * (n - 1.0))).ln() + rate
    pos = ibis.greatest(d, 0.0)
    neg = ibis.least(d, 0.0)
    alive = (-pos).exp() / ((-pos).exp() + neg.exp())
    return ibis.ifelse(n > 0, alive, 1.0)


def expected_spend(model, frequency, monetary_value):
    """Gamma-Gamma expected mean transaction value of each customer as an Ibis
    expression: ``p (gamma + x m) / (p x + q - 1)`` (the population mean for customers
    without a repeat purchase)."""
    check_fitted(model)
    p, q, gam = (float(v) for v in model.params_.to_numpy())
    if q <= 1:
        from loyalist.errors import DataError

        raise DataError(f"The fitted q = {q:.3f} <= 1: the population mean spend is "
                        "infinite.", hint="refit with GammaGamma(penalizer=0.01) or on "
                        "more data.")
    x = frequency.cast("float64")
    m = ibis.ifelse(x > 0, monetary_value.cast("float64"), 0.0)
    return p * (gam + x * m) / (p * x + (q - 1.0))


def score_table(table, transaction_model, spend_model=None, *, frequency="frequency",
                recency="recency", T="T", monetary_value="monetary_value"):
    """``table`` (an RFM summary, an Ibis table) with ``p_alive`` and, given a spend
    model, ``expected_spend``: computed in the engine (a Pareto/NBD's P(alive) by
    :func:`loyalist.models.in_engine_pareto.p_alive_table`)."""
    out = {}
    if spend_model is not None:
        out["expected_spend"] = expected_spend(spend_model, table[frequency],
                                               table[monetary_value])
    if _is_pareto(transaction_model):  # P(alive) per distinct (x, t_x, T), joined back
        table = in_engine_pareto.p_alive_table(table, transaction_model,
                                               frequency=frequency, recency=recency, T=T)
        return table.mutate(**out)
    out = {"p_alive": p_alive(transaction_model, table[frequency], table[recency],
                              table[T]), **out}
    return table.mutate(**out)


def _is_pareto(model) -> bool:
    from loyalist.models.paretonbd import ParetoNBD

    return isinstance(model, ParetoNBD)


def _transaction_params(model):
    from loyalist.models.bgnbd import _BetaGeometricNBD

    check_fitted(model)
    if not isinstance(model, _BetaGeometricNBD):
        raise NotOnEngineError(f"Expected purchases of a {type(model).__name__} as an "
                               "engine expression", "DuckDB or Spark", hint=_HINT)
    return model


def purchases_table(table, model, times, *, key="customer_id", weights=None,
                    frequency="frequency", recency="recency", T="T",
                    name="expected_purchases"):
    """``table`` (an RFM summary, an Ibis table, one row per ``key``) with column
    ``name``: each customer's expected purchases in ``(0, times[-1]]`` of a fitted
    BG/NBD or MBG/NBD, computed in the engine; with ``weights`` (one per time), the
    weighted sum of the purchases expected in each period ``(times[k-1], times[k]]``
    (from 0), as :meth:`~loyalist.models.BGNBD.predict_discounted_purchases` sums them
    with the discount factors as weights.

    Conditional on being alive, ``E[purchases in t] = C_x / (a - 1) (1 - (1 - z)^(a-1)
    2F1(a + b + o - 1 - r, a - 1; C_x; z))`` with ``C_x = a + b + x + o - 1`` and
    ``z = t / (alpha + T + t)`` (Euler's transformation, as the NumPy path), times
    P(alive). The series' coefficients are tabulated per distinct frequency on the
    driver (one small query for the frequencies and the smallest ``T``) as a long
    table ``(x, n, c_n)``; joined to the customers it gives one row per customer and
    term, summed by customer: a short query whatever the number of terms (one
    expression of thousands of terms takes Spark minutes to plan)."""
    from loyalist.models._special import series_coefficients
    from loyalist.models.bgnbd import _A_SERIES_MAX

    model = _transaction_params(model)
    times = [float(t) for t in times]
    weights = [1.0] * len(times) if weights is None else [float(w) for w in weights]
    if not times or len(weights) != len(times):
        raise ValueError("purchases_table needs one weight per time, and a time")
    x = table[frequency].cast("float64")
    if getattr(model, "_no_dropout", False):  # the Gamma posterior mean rate times t
        lam, kap = (float(np.exp(v)) for v in model._theta_[:2])
        rate = (1.0 + kap * x) * lam / (1.0 + kap * lam * table[T].cast("float64"))
        total, prev = None, 0.0
        for t, w in zip(times, weights, strict=True):
            term = (t - prev) * w * rate
            total = term if total is None else total + term
            prev = t
        return table.mutate(**{name: total})
    r, alpha, a, b = (float(v) for v in model._pred_params())
    o = float(model._offset)
    t_min = table.aggregate(t_min=table[T].min()).to_pyarrow().column("t_min")[0].as_py()
    xs = table.select(f=x).distinct().to_pyarrow().column("f")
    xu = np.unique(np.asarray(xs.to_numpy(zero_copy_only=False), dtype=float))
    if xu.size == 0:
        return table.mutate(**{name: ibis.literal(0.0)})
    t_min = max(float(t_min or 0.0), 0.0)
    z_max = max(times) / (alpha + t_min + max(times))
    if a > _A_SERIES_MAX or r > 1e3 or (r + 1.0) * z_max > 20.0:
        return _purchases_by_quadrature(table, model, times, weights, xu, key=key,
                                        frequency=frequency, recency=recency, T=T,
                                        name=name)
    c_u = a + b + xu + o - 1.0
    coef, tail = series_coefficients(a + b + o - 1.0 - r, a - 1.0, c_u, z_max)
    small = tail * z_max ** np.arange(coef.shape[0]) < 1e-17
    n_terms = max(1, int(np.argmax(small)) if small.any() else coef.shape[0])
    if n_terms > MAX_TERMS:
        raise NotOnEngineError(f"Expected purchases needing a series of {n_terms:,} "
                               "terms as an engine expression", "DuckDB or Spark",
                               hint=_HINT)
    import pandas as pd

    coefs = ibis.memtable(pd.DataFrame({
        "_lv_x": np.repeat(xu, n_terms), "_lv_n": np.tile(np.arange(n_terms), xu.size),
        "_lv_c": coef[:n_terms].T.ravel()}))
    rows = table.select(_lv_key=table[key], _lv_f=x, _lv_t=table[T].cast("float64"))
    j = rows.inner_join(coefs, rows._lv_f == coefs._lv_x)
    zs = [t / (alpha + j._lv_t + t) for t in times]
    sums = j.group_by("_lv_key").aggregate(**{
        f"_lv_s{i}": (j._lv_c * z ** j._lv_n.cast("float64")).sum()
        for i, z in enumerate(zs)})
    out = table.inner_join(sums, table[key] == sums._lv_key)
    big_t = out[T].cast("float64")
    head_c = (a + b + o - 1.0) + out[frequency].cast("float64")
    total, prev = None, None
    for i, (t, w) in enumerate(zip(times, weights, strict=True)):
        z = t / (alpha + big_t + t)
        cur = head_c / (a - 1.0) * (1.0 - ((a - 1.0) * _log1p(-z)).exp() * out[f"_lv_s{i}"])
        term = w * (cur if prev is None else cur - prev)
        total = term if total is None else total + term
        prev = cur
    alive = p_alive(model, out[frequency], out[recency], out[T])
    return out.mutate(**{name: alive * total}).drop("_lv_key", *sums.columns[1:])


def _expm1_neg(y):
    """``1 - exp(-y)`` for ``y >= 0``, accurate for small ``y`` (Ibis has no expm1)."""
    return ibis.ifelse(y < 1e-3, y * (1.0 - y / 2.0 * (1.0 - y / 3.0 * (1.0 - y / 4.0))),
                       1.0 - (-y).exp())


def _purchases_by_quadrature(table, model, times, weights, xu, *, key, frequency,
                             recency, T, name):
    """:func:`purchases_table` where the NumPy path integrates over the drop-out
    probability (a concentrated Beta, or a series that would cancel): given ``p``,
    ``E[purchases in t | alive] = (1 - (1 + p t / (alpha + T))^-(r + x)) / p``, averaged
    over Gauss-Hermite nodes of ``p ~ Beta(a, b + x + o)``: the nodes and weights are
    tabulated per distinct frequency on the driver, joined and summed per customer."""
    import pandas as pd

    from loyalist.models.bgnbd import _GH_W, _dropout_nodes

    r, alpha, a, b = (float(v) for v in model._pred_params())
    p_u = _dropout_nodes(a, b + float(model._offset), xu)  # (distinct x, nodes)
    nodes = pd.DataFrame({"_lv_x": np.repeat(xu, p_u.shape[1]), "_lv_p": p_u.ravel(),
                          "_lv_w": np.tile(_GH_W, xu.size)})
    nodes = ibis.memtable(nodes[nodes["_lv_w"] > 0])
    rows = table.select(_lv_key=table[key], _lv_f=table[frequency].cast("float64"),
                        _lv_t=table[T].cast("float64"))
    j = rows.inner_join(nodes, rows._lv_f == nodes._lv_x)
    sums = j.group_by("_lv_key").aggregate(**{
        f"_lv_s{i}": (j._lv_w * _expm1_neg((r + j._lv_f) * _log1p(
            t / (alpha + j._lv_t) * j._lv_p)) / j._lv_p).sum()
        for i, t in enumerate(times)})
    out = table.inner_join(sums, table[key] == sums._lv_key)
    total, prev = None, None
    for i, w in enumerate(weights):
        cur = out[f"_lv_s{i}"]
        term = w * (cur if prev is None else cur - prev)
        total = term if total is None else total + term
        prev = cur
    alive = p_alive(model, out[frequency], out[recency], out[T])
    return out.mutate(**{name: alive * total}).drop("_lv_key", *sums.columns[1:])


def value_table(result, summary=None, *, key="customer_id"):
    """Every customer of a fitted value model (:func:`loyalist.models.value.fit_value`,
    ``result``) scored in the engine: its RFM summary (``summary``, default
    ``result.summary``, an Ibis table) with ``p_alive``, ``expected_purchases`` over the
    horizon and ``clv`` (margin times expected spend times the discounted purchases
    of each 30-day period, as :func:`loyalist.models.clv.customer_lifetime_value`);
    without amounts, ``monetary_value`` and ``clv`` are empty. BG/NBD, MBG/NBD and
    Pareto/NBD (:mod:`loyalist.models.in_engine_pareto`). Raises
    :class:`~loyalist.errors.NotOnEngineError` for what only the driver computes (a BG
    series of more than :data:`MAX_TERMS` terms):
    :func:`loyalist.models.value.score_on_driver`."""
    from loyalist.models.value import _WEEK, clv_periods

    t = result.summary if summary is None else summary
    tm = result.transaction_model
    horizon = [result.horizon_days / _WEEK]
    times, weights = clv_periods(result.horizon_days, result.discount_rate)
    if _is_pareto(tm):  # closed-form purchases given alive
        sums = {"expected_purchases": (horizon, [1.0])}
        if result.spend_known:
            sums["_lv_discounted"] = (times, weights)
        t = in_engine_pareto.purchases_table(in_engine_pareto.p_alive_table(t, tm), tm,
                                             sums)
    else:
        t = t.mutate(p_alive=p_alive(tm, t.frequency, t.recency, t["T"]))
        t = purchases_table(t, tm, horizon, key=key)
        if result.spend_known:
            t = purchases_table(t, tm, times, weights=weights, key=key,
                                name="_lv_discounted")
    empty = ibis.null().cast("float64")
    if not result.spend_known:
        return t.mutate(monetary_value=empty, clv=empty)
    if result.spend_model is not None:
        spend = expected_spend(result.spend_model, t.frequency,
                               t.monetary_value.fill_null(0.0))
    else:
        spend = ibis.literal(float(result.mean_spend))
    return t.mutate(clv=result.margin * spend * t._lv_discounted).drop("_lv_discounted")


__all__ = ["MAX_TERMS", "expected_spend", "p_alive", "purchases_table", "score_table",
           "value_table"]
