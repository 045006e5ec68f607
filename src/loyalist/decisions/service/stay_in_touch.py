"""Stay in touch: valuable customers nobody has spoken to for too long.

The longest silence a customer should get depends on what they are worth: by default
60 days for the top 20% by value, 120 for the next 30%, 240 for the rest. Value is the
lifetime value from ``loyalist value`` (derived table ``customer_value``) when there is
one, else the customer's spend in the last 365 days. A contact is anything the business
did towards the customer: a touch, an answer to a request, a follow-up of an order.
"""

from __future__ import annotations

import ibis
import pandas as pd

from loyalist.features.builder import available
from loyalist.features.service import DAY, _seconds, _ts

DEFAULT_BANDS = ((0.2, 60), (0.5, 120), (1.0, 240))  # (top share of value, max silent days)


def value_table(store, as_of) -> ibis.Table:
    """``customer_id, value`` in the engine: lifetime value when the store has it, else
    the spend in the 365 days before ``as_of``."""
    if "customer_value" in store.tables():
        v = store.table("customer_value")
        return v.select("customer_id", value=v.clv)
    o = store.table("orders")
    now = _ts(as_of)
    recent = o.filter((o.ordered_at < now) & (_seconds(now, o.ordered_at) <= 365 * DAY))
    return recent.group_by("customer_id").aggregate(value=recent.amount.sum())


def _value(store, as_of) -> pd.DataFrame:
    return value_table(store, as_of).to_pandas()


def stay_in_touch(store, as_of, bands=DEFAULT_BANDS) -> pd.DataFrame:
    """One alert row per customer silent for longer than their value warrants."""
    have = available(store)
    now = _ts(as_of)
    contacts = []
    if have.get("requests"):
        r = store.table("requests")
        contacts.append(r.filter(r.first_response_at < now).select(
            "customer_id", at=r.first_response_at))
    t = store.table("touches")
    contacts.append(t.filter(t.at < now).select("customer_id", at=t.at))
    if have.get("orders"):
        o = store.table("orders")
        contacts.append(o.filter(o.followed_up_at < now).select("customer_id", at=o.followed_up_at))
    last = ibis.union(*contacts).group_by("customer_id").aggregate(last=ibis._.at.max())
    last = last.to_pandas()
    value = _value(store, as_of)
    if value.empty:
        return pd.DataFrame(columns=["customer_id", "kind", "evidence_table", "evidence_id",
                                     "at", "value", "category", "text", "must_do"])
    value["share"] = value["value"].rank(ascending=False, pct=True)
    limit = pd.Series(bands[-1][1], index=value.index, dtype=float)
    for share, days in reversed(bands):
        limit[value["share"] <= share] = days
    value["limit"] = limit
    df = value.merge(last, on="customer_id", how="left")
    since = df["last"].fillna(pd.Timestamp("1900-01-01"))
    df["silent_days"] = (pd.Timestamp(as_of) - since).dt.days
    due = df[(df["silent_days"] > df["limit"]) & (df["value"] > 0)].copy()
    never = due["last"].isna()
    text = ("No contact for " + due["silent_days"].astype(str) + " days; a customer of this "
            "value warrants one every " + due["limit"].astype(int).astype(str) + " days")
    text[never] = ("Never contacted; a customer of this value warrants a contact every "
                   + due.loc[never, "limit"].astype(int).astype(str) + " days")
    return pd.DataFrame({
        "customer_id": due["customer_id"], "kind": "stay_in_touch",
        "evidence_table": "customers", "evidence_id": due["customer_id"],
        "at": due["last"], "value": due["silent_days"].astype(float),
        "category": None, "text": text, "must_do": False}).reset_index(drop=True)
