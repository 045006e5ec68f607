"""Recency / frequency / monetary summaries, computed in the engine.

:func:`rfm_summary` builds one Ibis expression from an orders table, so the work
happens where the data lives (DuckDB for a Loyalist store; the same expression
runs on any Ibis backend). Conventions, chosen to reproduce the published CDNOW
summary of Fader, Hardie & Lee exactly:

* purchases are counted per calendar day: several orders on one day are one
  purchase, worth the day's total;
* ``frequency`` counts repeat purchase days (the first day is excluded);
* ``recency`` is the time from the first to the last purchase day, ``T`` the time
  from the first purchase day to the end of the calibration period (inclusive);
* time is in days (``freq="D"``) or weeks of 7 days (``freq="W"``, days / 7);
* ``monetary_value`` is the mean value of the repeat purchase days (0 if none).

(The published CDNOW file rounds each of these to 2 decimals, half up.)
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from loyalist.errors import DataError

_UNITS = {"D": 1.0, "W": 7.0}

#: decimals kept of a sum or mean of money: a floating-point sum depends on the order
#: of its terms, which differs between engines (and between runs of a distributed
#: one) in the last bits; rounded, the same rows give the same figure on every engine,
#: so a model's bins, and the worklist, do not move with the engine
MONEY_DECIMALS = 6


def money_sum(x: ir.NumericValue, where=None) -> ir.FloatingScalar:
    """Sum of an amount, rounded to :data:`MONEY_DECIMALS` so that it is equal to the
    bit on every engine whatever the order of the rows."""
    return x.sum(where=where).round(MONEY_DECIMALS)


def money_mean(x: ir.NumericValue, where=None) -> ir.FloatingScalar:
    """Mean of an amount, rounded like :func:`money_sum`."""
    return x.mean(where=where).round(MONEY_DECIMALS)


def _as_date(value, name: str):
    if value is None:
        return None
    try:
        return ibis.literal(dt.date.fromisoformat(str(value)[:10]), type="date")
    except ValueError:
        raise DataError(f"'{name}' must be a date like 1997-09-30; got {value!r}.") from None


def rfm_summary(
    orders: ir.Table,
    *,
    observation_end=None,
    calibration_end=None,
    freq: str = "D",
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    amount_col: str | None = "amount",
) -> ir.Table:
    """Per-customer frequency, recency, T and monetary value as an Ibis expression.

    Parameters
    ----------
    orders : ibis.Table
        One row per order (e.g. ``store.table("orders")``).
    observation_end : date-like, optional
        Last day of data to use; later orders are ignored. Default: the last order day.
    calibration_end : date-like, optional
        End of the calibration period. When given, the summary describes the
        calibration period and adds ``frequency_holdout``, ``monetary_value_holdout``
        and ``duration_holdout`` for the rest up to ``observation_end``. Customers
        whose first purchase falls after it are left out.
    freq : {"D", "W"}
        Time unit of ``recency``, ``T`` and ``duration_holdout``.
    customer_col, date_col, amount_col : str
        Column names (``amount_col=None`` when there are no amounts).

    Returns
    -------
    ibis.Table
        Columns ``customer_id`` (named as ``customer_col``), ``frequency``,
        ``recency``, ``T``, ``monetary_value`` and the holdout columns, one row per
        customer in no particular order. Call ``.to_pandas()`` (or ``.execute()``) to
        run it.
    """
    if freq not in _UNITS:
        raise DataError(f"'freq' must be one of {sorted(_UNITS)}; got {freq!r}.")
    missing = [c for c in (customer_col, date_col, amount_col) if c and c not in orders.columns]
    if missing:
        raise DataError(
            f"The orders table has no column(s) {missing}; it has {list(orders.columns)}.",
            hint="pass customer_col=, date_col= or amount_col= to name yours.",
        )
    unit = _UNITS[freq]
    when = orders[date_col]
    day = when.date() if when.type().is_timestamp() else when.cast("date")
    amount = orders[amount_col].cast("float64") if amount_col else ibis.literal(0.0)
    base = orders.select(cid=orders[customer_col], day=day, amount=amount)
    obs_end = _as_date(observation_end, "observation_end")
    if obs_end is not None:
        base = base.filter(base.day <= obs_end)
    else:
        base = base.filter(base.day.notnull())
        obs_end = base.day.max().as_scalar()
    cal_end = _as_date(calibration_end, "calibration_end")
    holdout = cal_end is not None
    if not holdout:
        cal_end = obs_end

    # one row per customer and purchase day, then one aggregation per customer (no join,
    # no window: the first day's value comes from arg_min). Without a holdout every row
    # left is in the calibration period, so the plain aggregates need no conditions.
    d = base.group_by(["cid", "day"]).aggregate(amount=money_sum(base.amount))
    first = d.day.min()
    if holdout:
        in_cal = d.day <= cal_end
        in_hold = d.day > cal_end
        n_cal = in_cal.ifelse(1, 0).sum()
        last = d.day.max(where=in_cal)
        cal_amount = money_sum(in_cal.ifelse(d.amount, 0.0))
    else:
        n_cal = d.count()
        last = d.day.max()
        cal_amount = money_sum(d.amount)
    n_rep = n_cal - 1
    rep_amount = cal_amount - d.amount.argmin(d.day)
    aggs = {
        "frequency": n_rep,
        "recency": last.delta(first, unit="day").cast("float64") / unit,
        "T": cal_end.delta(first, unit="day").cast("float64") / unit,
        "monetary_value": (n_rep > 0).ifelse(rep_amount / n_rep.cast("float64"), 0.0),
    }
    if holdout:
        n_hold = in_hold.ifelse(1, 0).sum()
        aggs["frequency_holdout"] = n_hold
        aggs["monetary_value_holdout"] = (n_hold > 0).ifelse(
            money_sum(in_hold.ifelse(d.amount, 0.0)) / n_hold.cast("float64"), 0.0)
        aggs["duration_holdout"] = obs_end.delta(cal_end, unit="day").cast("float64") / unit
        aggs["_first"] = first
    out = d.group_by("cid").aggregate(**aggs)
    if holdout:  # customers first seen after the calibration period are not in it
        out = out.filter(out["_first"] <= cal_end).drop("_first")
    # no ORDER BY: sorting a million ids costs more than the caller usually needs
    return out.rename({customer_col: "cid"}) if customer_col != "cid" else out
