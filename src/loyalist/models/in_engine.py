"""Closed-form BTYD scoring as engine expressions: P(alive) of a fitted BG/NBD or MBG/NBD
model and the expected spend of a fitted Gamma-Gamma model, per customer, as Ibis
expressions over an RFM summary, so that millions of customers are scored where their
rows are (DuckDB or Spark) and only the fitted parameters leave the driver.

The NumPy methods (:meth:`~loyalist.models.BGNBD.predict_p_alive`,
:meth:`~loyalist.models.GammaGamma.predict_spend`) stay the reference: the expressions
follow the same coordinates (log mean rate, log of 1/r, the mean drop-out probability
and 1/(a+b)), so they hold at the limits the fit may reach, and agree with them to 1e-9
relative (tests/test_btyd_in_engine.py on CDNOW, tests/test_spark_parity.py on Spark).

Expected purchases (a Gaussian hypergeometric function) and the Pareto/NBD are not
expressed here yet: :func:`p_alive` raises :class:`~loyalist.errors.NotOnEngineError`
for a model it does not know.
"""

from __future__ import annotations

import ibis
import numpy as np

from loyalist.errors import NotOnEngineError
from loyalist.models._base import check_fitted

#: what scores on the driver instead
_HINT = ("Score on the driver: model.predict_p_alive(...) on the RFM summary "
         "(docs/scale.md lists what runs in the engine).")


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
    model, ``expected_spend``: computed in the engine."""
    out = {"p_alive": p_alive(transaction_model, table[frequency], table[recency],
                              table[T])}
    if spend_model is not None:
        out["expected_spend"] = expected_spend(spend_model, table[frequency],
                                               table[monetary_value])
    return table.mutate(**out)


__all__ = ["expected_spend", "p_alive", "score_table"]
