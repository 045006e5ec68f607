"""What "leaving" means for each kind of business, as labels at an as-of date.

- non-contractual (orders only): a customer active before ``as_of`` *lapses* when
  they place no order in the ``horizon`` days from ``as_of``;
- contractual: a subscription active at ``as_of`` ends within ``horizon`` days;
- snapshot: a labelled table the business already has (a churn column).

Labels look into the future by design; features never do.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from loyalist.errors import DataError
from loyalist.features.service import DAY, _seconds, _ts

NICE_HORIZONS = (30, 45, 60, 90, 120, 180, 270, 365)


def suggest_horizon(orders: ibis.Table, quantile: float = 0.8) -> int:
    """A lapse horizon from the customers' own rhythm.

    Takes each repeat customer's median gap between order days, then the given
    quantile of those, doubled (a customer is late once the silence is twice their
    usual gap), rounded up to a familiar number of days.
    """
    o = orders.select("customer_id", day=orders.ordered_at.date()).distinct()
    w = ibis.window(group_by="customer_id", order_by="day")
    gaps = o.mutate(gap=o.day.delta(o.day.lag().over(w), unit="day"))
    per = gaps.group_by("customer_id").aggregate(g=gaps.gap.median(), n=gaps.count())
    typical = per.filter(per.n >= 3).g.execute().dropna()
    if typical.empty:
        raise DataError("Too few repeat customers to suggest a lapse horizon.",
                        hint="Pass --horizon DAYS.")
    raw = 2 * float(np.quantile(typical, quantile))
    return next((h for h in NICE_HORIZONS if h >= raw), NICE_HORIZONS[-1])


def lapse_labels(orders: ibis.Table, as_of, horizon: int, active_within: int | None = None
                 ) -> ibis.Table:
    """``customer_id, left`` for customers who ordered in the ``active_within`` days
    before ``as_of`` (default: 2 x horizon): left = no order in the next ``horizon``."""
    now = _ts(as_of)
    active_within = active_within or 2 * horizon
    age = _seconds(now, orders.ordered_at) / DAY
    ahead = _seconds(orders.ordered_at, now) / DAY
    per = orders.group_by("customer_id").aggregate(
        active=((orders.ordered_at < now) & (age <= active_within)).any(),
        came_back=((orders.ordered_at >= now) & (ahead < horizon)).any())
    per = per.filter(per.active)
    return per.select("customer_id", left=(~per.came_back).cast("int8"))


def contract_labels(subscriptions: ibis.Table, as_of, horizon: int) -> ibis.Table:
    """``customer_id, left`` for customers with a subscription active at ``as_of``:
    left = every active subscription ends within ``horizon`` days."""
    now = _ts(as_of)
    s = subscriptions
    active = (s.started_at < now) & (s.ended_at.isnull() | (s.ended_at >= now))
    ends_soon = s.ended_at.notnull() & ((_seconds(s.ended_at, now) / DAY) < horizon)
    per = s.filter(active).group_by("customer_id").aggregate(
        all_end=ends_soon.all())
    return per.select("customer_id", left=per.all_end.cast("int8"))


def latest_timestamp(store, columns: dict[str, tuple[str, ...]]) -> pd.Timestamp | None:
    """The latest value in the given ``{table: columns}`` of the store, or None."""
    latest = []
    for table, cols in columns.items():
        t = store.table(table)
        latest.append(t.aggregate(**{c: t[c].max() for c in cols}).to_pandas().iloc[0].max())
    latest = [x for x in latest if pd.notna(x)]
    return pd.Timestamp(max(latest)) if latest else None


def observed_until(store) -> pd.Timestamp:
    """The last moment the store has orders or subscription changes for."""
    latest = latest_timestamp(store, {"orders": ("ordered_at",),
                                      "subscriptions": ("started_at", "ended_at")})
    if latest is None:
        raise DataError("No orders or subscriptions to learn from.",
                        hint="Ingest orders (or subscriptions) first.")
    return latest


def snapshot_labels(customers: ibis.Table, column: str) -> ibis.Table:
    """``customer_id, left`` from a churn column of the customers table (Yes/No, 1/0,
    true/false)."""
    if column not in customers.columns:
        raise DataError(f"The customers table has no column {column!r}.",
                        hint=f"Its columns: {', '.join(customers.columns)}.")
    v = customers[column].cast("string").lower().strip()
    yes = v.isin(["yes", "y", "1", "true", "churned", "left"])
    no = v.isin(["no", "n", "0", "false", "stayed", "active"])
    t = customers.filter(yes | no)
    return t.select(customer_id=t.id, left=yes.cast("int8"))



__all__ = ["contract_labels", "lapse_labels", "latest_timestamp", "observed_until",
           "snapshot_labels", "suggest_horizon"]
