"""Customers worth saving: the lead's list and the alarm-level alerts of valuable customers.

*Worth saving* is a scored customer (still a customer at the scoring date) who is not
already gone by either of the two definitions the store allows (no order for the lapse
horizon; every subscription ended), ranked by the value expected to leave: P(leave) x
value. Each row names the customer, their value, risk, the reason (their alarm-level
alert first, else their strongest whisper), their open item and its owner.

:func:`alarm_summary` counts customers with an alarm-level alert (see
:mod:`loyalist.decisions.signals.alert_weights`) against every scored customer, and splits them
into those the team can work this week (``[alerts] weekly_capacity``, the most valuable
first) and the rest, shown as a count.

Everything is one Ibis expression per question; only the rows shown come back.
"""

from __future__ import annotations

import ibis
import pandas as pd
from ibis import _

from loyalist.errors import DataError
from loyalist.features.builder import available


def _gone(store, as_of) -> ibis.Table | None:
    """``customer_id`` of customers already gone at ``as_of`` by either definition."""
    from loyalist.features import retention

    have = available(store)
    parts = []
    from loyalist.decisions.measures import retention_rule

    horizon = retention_rule(store)[1]
    for mode in ("lapse", "contract"):
        if not have["orders" if mode == "lapse" else "subscriptions"]:
            continue
        try:
            b = retention.retention_basis(store, as_of, mode=mode, horizon=horizon)
        except DataError:  # too little data for one definition: the other one stands
            continue
        ends = b.ends
        parts.append(ends.filter(ends.lost_at.notnull()).select("customer_id"))
    if not parts:
        return None
    return ibis.union(*parts, distinct=True)


def _value(store) -> tuple[ibis.Table, str]:
    from loyalist.features import retention

    try:
        return retention.customer_values(store)
    except DataError:  # no orders nor subscriptions: no value
        s = store.table("scores")
        return s.select("customer_id", value=ibis.literal(0.0)), "no value known"


def _alarms(store) -> ibis.Table | None:
    """Per customer: alarm-level alerts, their first text."""
    if "alerts" not in store.tables() or "level" not in store.table("alerts").columns:
        return None
    a = store.table("alerts")
    a = a.filter(a.level == "alarm")
    w = ibis.window(group_by="customer_id", order_by=[ibis.desc("at"), "kind"])
    a = a.mutate(_k=ibis.row_number().over(w))
    first = a.filter(a._k == 0).select("customer_id", alarm_kind=a.kind, alarm=a.text)
    n = a.group_by("customer_id").aggregate(alarms=_.count())
    return first.join(n, "customer_id")


def _items(store) -> ibis.Table | None:
    from loyalist.store.worklist import has_worklist, open_events

    if not has_worklist(store):
        return None
    o = open_events(store)
    w = ibis.window(group_by="customer_id", order_by=[ibis.desc("must_do"), "due_at",
                                                      "item_id"])
    o = o.mutate(_k=ibis.row_number().over(w))
    return o.filter(o._k == 0).select("customer_id", item_id=o.item_id,
                                      item_playbook=o.playbook, item_owner=o.owner,
                                      item_due_at=o.due_at)


def _base(store):
    s = store.table("scores").select("customer_id", "p_leave", "top_reason", "as_of")
    as_of = pd.Timestamp(s.as_of.max().execute())
    value, what = _value(store)
    s = s.left_join(value, "customer_id").drop("customer_id_right")
    s = s.mutate(value=s.value.fill_null(0.0))
    s = s.mutate(value_at_risk=s.p_leave * s.value)
    gone = _gone(store, as_of)
    if gone is not None:
        s = s.anti_join(gone, "customer_id")
    alarms = _alarms(store)
    if alarms is not None:
        s = s.left_join(alarms, "customer_id").drop("customer_id_right")
    else:
        s = s.mutate(alarm_kind=ibis.null("string"), alarm=ibis.null("string"),
                     alarms=ibis.null("int64"))
    return s, as_of, what


def lead(store, limit: int = 10) -> dict:
    """Both answers the overview leads with, from one pass over the scored customers
    (computed once in the engine and cached while both are read): ``worth_saving``
    (:func:`worth_saving`) and ``alarms`` (:func:`alarm_summary`)."""
    if "scores" not in store.tables():
        return {"worth_saving": _no_rows(), "alarms": None}
    base, as_of, what = _base(store)
    base = base.cache()
    try:
        return {"worth_saving": _worth_saving(store, base, as_of, what, limit),
                "alarms": _alarm_summary(store, base, what)}
    finally:
        base.release()


def _no_rows() -> dict:
    return {"rows": [], "value_is": None, "as_of": None, "customers": 0}


def worth_saving(store, limit: int = 10) -> dict:
    """The ``limit`` customers worth saving (see the module), with what value means."""
    if "scores" not in store.tables():
        return _no_rows()
    base, as_of, what = _base(store)
    return _worth_saving(store, base, as_of, what, limit)


def _worth_saving(store, s, as_of, what: str, limit: int) -> dict:
    c = store.table("customers").select(customer_id=_.id, name=_.name, owner=_.owner)
    s = s.left_join(c.distinct(on="customer_id", keep="first"), "customer_id").drop(
        "customer_id_right")
    items = _items(store)
    if items is not None:
        s = s.left_join(items, "customer_id").drop("customer_id_right")
    top = s.order_by([ibis.desc("value_at_risk"), ibis.desc("p_leave"), "customer_id"])
    rows = top.limit(limit).to_pyarrow().to_pylist()
    from loyalist.decisions.worklist.outcomes import people

    names = people(store)
    for r in rows:
        r["reason"] = (r.get("alarm") or r.get("top_reason")
                       or f"{r['p_leave']:.0%} likely to leave; no single sign stands out")
        who = r.get("item_owner") or r.get("owner")
        r["owner_name"] = names.get(str(who), who) if who else None
        r.setdefault("item_id", None)
    return {"rows": rows, "value_is": what, "as_of": as_of,
            "customers": int(s.count().execute())}


def alarm_summary(store) -> dict | None:
    """Customers with an alarm-level alert: their count and share of the scored
    customers, those the team can work this week (``weekly_capacity``, most valuable
    first: the valuable ones among them counted) and the rest; the alert kinds by level."""
    if "scores" not in store.tables() or "alerts" not in store.tables():
        return None
    base, _as_of, what = _base(store)
    return _alarm_summary(store, base, what)


def _alarm_summary(store, s, what: str) -> dict | None:
    if "alerts" not in store.tables():
        return None
    cfg = store.settings.alerts
    scores = store.table("scores")
    a = store.table("alerts")
    counts = scores.aggregate(scored=_.count()).cross_join(
        a.semi_join(scores, "customer_id").aggregate(with_any=_.customer_id.nunique())
    ).to_pyarrow().to_pylist()[0]
    scored, any_alert = int(counts["scored"]), int(counts["with_any"])
    if "level" not in a.columns:
        return {"scored": scored, "with_any": any_alert, "with_alarm": None, "weighed": False}
    cut = s.value.quantile(1 - cfg.valuable_share).name("cut").as_scalar()
    alarmed = s.filter(s.alarms.notnull())
    got = alarmed.aggregate(n=_.count(), valuable=(_.value >= cut).cast("int64").sum()
                            ).to_pyarrow().to_pylist()[0]
    n_alarm, valuable = int(got["n"]), int(got["valuable"] or 0)
    this_week = min(n_alarm, cfg.weekly_capacity)
    return {"scored": scored, "with_any": any_alert, "with_alarm": n_alarm,
            "valuable_with_alarm": valuable, "share_any": any_alert / scored if scored else None,
            "share_alarm": n_alarm / scored if scored else None,
            "this_week": this_week, "rest": n_alarm - this_week,
            "weekly_capacity": cfg.weekly_capacity, "value_is": what, "weighed": True}


def weights(store) -> list[dict]:
    """The stored alert weights, with each in words (``words``)."""
    from loyalist.decisions.signals.alert_weights import LEVELS, weight_words

    if "alert_weights" not in store.tables():
        return []
    rows = store.table("alert_weights").to_pyarrow().to_pylist()
    for r in rows:
        r["words"] = weight_words(r)
    return sorted(rows, key=lambda r: (LEVELS.index(r["level"]) if r["level"] in LEVELS
                                       else 9, -(r["risk_ratio"] or 0)))


__all__ = ["alarm_summary", "lead", "weights", "worth_saving"]
