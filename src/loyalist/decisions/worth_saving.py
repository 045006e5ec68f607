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


def _items(store, ids: list | None = None) -> ibis.Table | None:
    """Per customer (of ``ids``, default all): their most urgent open item."""
    from loyalist.store.worklist import has_worklist, open_events

    if not has_worklist(store):
        return None
    o = open_events(store)
    if ids is not None:
        o = o.filter(o.customer_id.isin(ids))
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


#: customers kept in ``worth_saving`` by :func:`lead_tables` (the overview shows ten)
KEPT = 100
#: the alarm summary's fields kept in ``worth_saving_summary``
SUMMARY_FIELDS = ("scored", "with_any", "with_alarm", "valuable_with_alarm", "share_any",
                  "share_alarm", "this_week", "rest", "weekly_capacity", "weighed")
RANKED_COLUMNS = ["rank", "customer_id", "p_leave", "value", "value_at_risk", "top_reason",
                  "alarm_kind", "alarm", "alarms"]


def lead_tables(store) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp | None]:
    """What ``loyalist score`` keeps for the overview (:func:`loyalist.decisions.overview.
    refresh`): the :data:`KEPT` customers worth saving, ranked, and one row of counts
    (how many are worth saving, what value means, :func:`alarm_summary`), with the
    scores' date. The costly part of :func:`lead` (who is already gone, values,
    alarms), computed once a scoring run instead of on every visit."""
    if "scores" not in store.tables():
        return (pd.DataFrame(columns=RANKED_COLUMNS),
                pd.DataFrame(columns=["customers", "value_is", *SUMMARY_FIELDS]), None)
    base, as_of, what = _base(store)
    base = base.cache()
    try:
        top = (base.order_by([ibis.desc("value_at_risk"), ibis.desc("p_leave"), "customer_id"])
               .limit(KEPT).select(*RANKED_COLUMNS[1:]).to_pyarrow().to_pandas())
        top.insert(0, "rank", range(1, len(top) + 1))
        alarms = _alarm_summary(store, base, what) or {}
        summary = pd.DataFrame([{"customers": int(base.count().execute()), "value_is": what,
                                 **{k: alarms.get(k) for k in SUMMARY_FIELDS}}])
    finally:
        base.release()
    return top, summary, as_of


def stored_lead(store, limit: int = 10, *, tables=None) -> dict | None:
    """:func:`lead`'s answer from the tables :func:`lead_tables` filled at scoring time:
    the first ``limit`` customers with their name, open item and owner read now (items
    move during the day), and the alarm summary; ``None`` when they were never kept.
    ``tables``: the store's tables when the caller knows them better than the store's
    (remembered) list, e.g. just after writing them."""
    if not {"worth_saving", "worth_saving_summary"} <= set(
            store.tables() if tables is None else tables):
        return None
    head = store.table("worth_saving_summary").to_pyarrow().to_pylist()
    if not head:
        return {"worth_saving": _no_rows(), "alarms": None}
    head = head[0]
    t = store.table("worth_saving")
    rows = t.order_by("rank").limit(limit).to_pyarrow().to_pylist()
    ids = [r["customer_id"] for r in rows]
    c = store.table("customers")
    who = {r["customer_id"]: r for r in (
        c.filter(c.id.isin(ids)).select(customer_id=c.id, name=c.name, owner=c.owner)
        .distinct(on="customer_id", keep="first").to_pyarrow().to_pylist())} if ids else {}
    items = _items(store, ids) if ids else None
    open_ = {r["customer_id"]: r for r in items.to_pyarrow().to_pylist()
             } if items is not None else {}
    from loyalist.decisions.worklist.outcomes import people

    names = people(store)
    for r in rows:
        r.update({k: v for k, v in who.get(r["customer_id"], {}).items() if k != "customer_id"})
        r.update({k: v for k, v in open_.get(r["customer_id"], {}).items()
                  if k != "customer_id"})
        r["reason"] = (r.get("alarm") or r.get("top_reason")
                       or f"{r['p_leave']:.0%} likely to leave; no single sign stands out")
        owner = r.get("item_owner") or r.get("owner")
        r["owner_name"] = names.get(str(owner), owner) if owner else None
        r.setdefault("item_id", None)
    as_of = rows[0]["as_of"] if rows else head.get("as_of")
    ws = {"rows": rows, "value_is": head["value_is"], "as_of": as_of,
          "customers": int(head["customers"] or 0)}
    alarms = None
    if head.get("scored") is not None:
        alarms = {k: head.get(k) for k in SUMMARY_FIELDS}
        alarms["value_is"] = head["value_is"]
        alarms["weighed"] = bool(alarms["weighed"])
    return {"worth_saving": ws, "alarms": alarms}


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


__all__ = ["alarm_summary", "lead", "lead_tables", "stored_lead", "weights", "worth_saving"]
