"""Per customer: what they said (latest answers) and how they behave (features), at a date.

The behaviour features are the early-warning features of
:func:`loyalist.features.builder.feature_frame` without the survey family (so a silent
customer's row looks like an answerer's), plus the customer's account manager.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from loyalist.contract.survey import Survey
from loyalist.features.builder import available, family_of, feature_frame
from loyalist.features.service import DAY, _seconds
from loyalist.relationship.answers import construct_scores


def _per_month(t: ibis.Table, col: str, now, first: ibis.Table, prefix: str,
               by: str | None = None) -> pd.DataFrame:
    """Rows per month of the customer's life before ``now`` (whole history), by ``by``."""
    t = t.filter(t[col] < now)
    if by is None:
        agg = t.group_by("customer_id").aggregate(n=t.count())
    else:
        agg = t.group_by(["customer_id", by]).aggregate(n=t.count())
    j = agg.inner_join(first, "customer_id")
    months = (_seconds(now, j.since) / DAY / 30.44).clip(lower=1.0)
    df = j.mutate(rate=j.n / months).to_pandas()
    if by is None:
        return df.set_index("customer_id")[["rate"]].rename(columns={"rate": prefix})
    wide = df.pivot_table(index="customer_id", columns=by, values="rate", fill_value=0.0)
    wide.columns = [f"{prefix}_{c}" for c in wide.columns]
    return wide


def behaviour_features(store, as_of) -> pd.DataFrame:
    """Behaviour of every customer known before ``as_of`` (no survey answers): the
    early-warning features, the account manager, and whole-life rates per month of
    orders, requests and each kind of event (a referral a year says more than the last
    90 days can)."""
    X = feature_frame(store, [as_of])
    X = X.drop(columns=[c for c in X.columns if family_of(c) == "feedback"])
    have = available(store)
    now = ibis.literal(pd.Timestamp(as_of).to_pydatetime())
    firsts = []
    for table, col in (("orders", "ordered_at"), ("requests", "opened_at"),
                       ("subscriptions", "started_at"), ("events", "at")):
        if have[table]:
            t = store.table(table)
            firsts.append(t.filter(t[col] < now).select("customer_id", since=t[col]))
    if firsts:
        u = ibis.union(*firsts)
        first = u.group_by("customer_id").aggregate(since=u.since.min())
        parts = []
        for table, col, by in (("orders", "ordered_at", None), ("requests", "opened_at", None),
                               ("events", "at", "type")):
            if have[table]:
                parts.append(_per_month(store.table(table), col, now, first,
                                        f"life_{table}_per_month", by))
        if parts:
            life = pd.concat(parts, axis=1).fillna(0.0).reset_index(names="customer_id")
            X = X.merge(life, on="customer_id", how="left")
    if have["customers"]:
        c = store.table("customers")
        owners = c.select(customer_id=c.id, account_manager=c.owner).to_pandas()
        X = X.merge(owners.drop_duplicates("customer_id"), on="customer_id", how="left")
    return X


def what_they_said(store, survey: Survey, as_of, responses: pd.DataFrame) -> pd.DataFrame:
    """Per customer, their latest answer before ``as_of``: NPS and construct scores from
    the survey (``source`` "survey"), else the NPS of the ``feedback`` table ("feedback").
    Customers who never answered are absent."""
    now = pd.Timestamp(as_of)
    r = responses[responses["answered_at"] < now]
    out = pd.DataFrame(columns=["customer_id", "answered_at", "nps", "source"])
    if len(r):
        scores = construct_scores(r, survey)
        latest = pd.concat([r[["customer_id", "answered_at"]], scores], axis=1)
        latest["nps"] = r[survey.nps] if survey.nps else np.nan
        # one per customer: the latest response, several contacts averaged
        latest["day"] = latest["answered_at"].dt.normalize()
        last_day = latest.groupby("customer_id")["day"].transform("max")
        latest = latest[latest["day"] == last_day].drop(columns="day")
        out = latest.groupby("customer_id", as_index=False).agg(
            {"answered_at": "max", **{c: "mean" for c in latest.columns
                                      if c not in ("customer_id", "answered_at")}})
        out["source"] = "survey"
    if available(store)["feedback"]:
        f = store.table("feedback")
        f = f.filter((f.answered_at < now.to_pydatetime()) & f.nps.notnull())
        w = ibis.window(group_by="customer_id", order_by=ibis.desc("answered_at"))
        fb = (f.mutate(k=ibis.row_number().over(w)).filter(lambda t: t.k == 0)
              .select("customer_id", "answered_at", "nps", "trust", "commitment").to_pandas())
        fb = fb[~fb["customer_id"].isin(out["customer_id"])]
        if len(fb):
            # single items: keep the NPS only (a 1-5 item is not on the scale's units)
            fb = fb[["customer_id", "answered_at", "nps"]].assign(
                nps=lambda d: d["nps"].astype(float), source="feedback")
            out = pd.concat([out, fb], ignore_index=True) if len(out) else fb
    return out.reset_index(drop=True)


def nps_group(nps: pd.Series) -> pd.Series:
    """promoter (9-10), passive (7-8), detractor (0-6), or missing."""
    return pd.Series(np.select([nps >= 9, nps >= 7, nps >= 0],
                               ["promoter", "passive", "detractor"], default=None),
                     index=nps.index, dtype=object)


__all__ = ["behaviour_features", "nps_group", "what_they_said"]
