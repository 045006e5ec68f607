"""What customers did after they answered: staying and buying more, from the firm's own
records, so the drivers of *behaviour* can be measured, not only those of opinions.

For each customer's first response that is at least ``horizon_days`` before the end
of the records:

* ``stayed``: they ordered again within ``horizon_days`` after answering, or had a
  subscription still running ``horizon_days`` after;
* ``spend_before`` / ``spend_after``: order value in the ``horizon_days`` before and
  after the answer; ``buying_more`` is ``log(1 + after) - log(1 + before)``.

The joins run in the engine; one row per response comes back.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from loyalist.features.builder import available
from loyalist.features.labels import observed_until


def behaviour_after(store, responses: pd.DataFrame, horizon_days: int = 180) -> pd.DataFrame:
    """``customer_id, answered_at, stayed, spend_before, spend_after, buying_more`` for
    each customer's first response with ``horizon_days`` of records after it (empty when
    the store has no orders or subscriptions)."""
    have = available(store)
    if not (have["orders"] or have["subscriptions"]) or responses.empty:
        return pd.DataFrame(columns=["customer_id", "answered_at", "stayed", "spend_before",
                                     "spend_after", "buying_more"])
    end = observed_until(store)
    first = (responses.sort_values("answered_at").drop_duplicates("customer_id")
             [["customer_id", "answered_at"]])
    first = first[first["answered_at"] + pd.Timedelta(days=horizon_days) <= end]
    if first.empty:
        return pd.DataFrame(columns=["customer_id", "answered_at", "stayed", "spend_before",
                                     "spend_after", "buying_more"])
    r = ibis.memtable(first.assign(answered_at=first["answered_at"].astype("datetime64[us]")))
    h = ibis.interval(days=horizon_days)
    out = r.select("customer_id", "answered_at")
    parts = []
    if have["orders"]:
        o = store.table("orders")
        j = r.inner_join(o, r.customer_id == o.customer_id)
        after = (j.ordered_at >= j.answered_at) & (j.ordered_at < j.answered_at + h)
        before = (j.ordered_at < j.answered_at) & (j.ordered_at >= j.answered_at - h)
        amount = j.amount.fill_null(0)
        parts.append(j.group_by([r.customer_id]).aggregate(
            ordered_after=after.any(),
            spend_before=ibis.ifelse(before, amount, 0).sum(),
            spend_after=ibis.ifelse(after, amount, 0).sum()))
    if have["subscriptions"]:
        s = store.table("subscriptions")
        j = r.inner_join(s, r.customer_id == s.customer_id)
        later = j.answered_at + h
        running = (j.started_at <= later) & (j.ended_at.isnull() | (j.ended_at > later))
        parts.append(j.group_by([r.customer_id]).aggregate(subscribed_after=running.any()))
    for p in parts:
        out = out.left_join(p, "customer_id").drop("customer_id_right")
    df = out.to_pandas()
    stayed = np.zeros(len(df), dtype=bool)
    for col in ("ordered_after", "subscribed_after"):
        if col in df:
            stayed |= df[col].fillna(False).astype(bool).to_numpy()
    df["stayed"] = stayed.astype(float)
    for col in ("spend_before", "spend_after"):
        df[col] = df[col].fillna(0.0) if col in df else 0.0
    df["buying_more"] = np.log1p(df["spend_after"]) - np.log1p(df["spend_before"])
    return df[["customer_id", "answered_at", "stayed", "spend_before", "spend_after",
               "buying_more"]]


__all__ = ["behaviour_after"]
