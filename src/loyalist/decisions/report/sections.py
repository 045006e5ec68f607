"""The report's sections beyond retention: feedback, whispers of the week, the worklist.

Each function aggregates in the engine and returns small frames; formatting for the
page lives in :mod:`loyalist.decisions.report.formatting`.
"""

from __future__ import annotations

import ibis
import pandas as pd
from ibis import _

from loyalist.features.service import _ts
from loyalist.store.worklist import has_worklist


def _names(store) -> ibis.Table:
    """``customer_id, name, owner`` of every customer, to put names on rows."""
    return store.table("customers").select(customer_id=_.id, name=_.name, owner=_.owner)


def feedback_monthly(store, as_of) -> pd.DataFrame:
    """Per month: answers, NPS (% promoters - % detractors, in points) and the mean
    satisfaction, trust and commitment."""
    f = store.table("feedback")
    f = f.filter(f.answered_at < _ts(as_of.to_pydatetime()))
    m = (f.mutate(month=f.answered_at.truncate("M"))
         .group_by("month")
         .aggregate(answers=_.count(), rated=_.nps.notnull().cast("int64").sum(),
                    promoters=(_.nps >= 9).cast("int64").sum(),
                    detractors=(_.nps <= 6).cast("int64").sum(),
                    satisfaction=_.satisfaction.mean(), trust=_.trust.mean(),
                    commitment=_.commitment.mean())
         .order_by("month").to_pandas())
    m["nps"] = 100 * (m["promoters"] - m["detractors"]) / m["rated"].where(m["rated"] > 0)
    return m


def latest_answers(store, as_of) -> ibis.Table:
    """Each customer's latest answer with an NPS and a satisfaction before ``as_of``,
    with its satisfaction band (``satisfied``) and NPS group (``loyalty``)."""
    f = store.table("feedback")
    f = f.filter((f.answered_at < _ts(as_of.to_pydatetime())) & f.nps.notnull()
                 & f.satisfaction.notnull())
    w = ibis.window(group_by="customer_id", order_by=ibis.desc("answered_at"))
    last = f.mutate(k=ibis.row_number().over(w))
    last = last.filter(last.k == 0)
    sat = ibis.cases((last.satisfaction >= 4, "satisfied (4-5)"),
                     (last.satisfaction <= 2, "dissatisfied (1-2)"), else_="neutral (3)")
    loyal = ibis.cases((last.nps >= 9, "promoter (9-10)"), (last.nps <= 6, "detractor (0-6)"),
                       else_="passive (7-8)")
    return last.mutate(satisfied=sat, loyalty=loyal)


def satisfaction_vs_loyalty(store, as_of, lives: ibis.Table | None, *,
                            latest: ibis.Table | None = None) -> pd.DataFrame:
    """Each customer's latest answer: satisfaction band x NPS group, with how many
    of them were lost since (when ``lives`` is given). ``latest``: the
    :func:`latest_answers`, when already computed."""
    last = latest if latest is not None else latest_answers(store, as_of)
    if lives is not None:
        lost = lives.select("customer_id", gone=lives.lost_at.notnull())
        last = last.left_join(lost, "customer_id").drop("customer_id_right")
        gone = last.gone.fill_null(False)
        agg = dict(customers=_.count(), lost=gone.cast("int64").sum())
    else:
        agg = dict(customers=_.count())
    return last.group_by(["satisfied", "loyalty"]).aggregate(**agg).to_pandas()


def disagreeing(store, as_of, limit: int = 8, *, latest: ibis.Table | None = None
                ) -> pd.DataFrame:
    """Customers whose latest answer says satisfied but not loyal (satisfaction 4-5,
    NPS 0-6) or the reverse (satisfaction 1-2, NPS 9-10), most recent first."""
    last = latest if latest is not None else latest_answers(store, as_of)
    odd = last.filter(((last.satisfaction >= 4) & (last.nps <= 6))
                      | ((last.satisfaction <= 2) & (last.nps >= 9)))
    odd = odd.mutate(kind=ibis.ifelse(odd.satisfaction >= 4, "satisfied, not loyal",
                                      "loyal, not satisfied"))
    odd = odd.left_join(_names(store), "customer_id").drop("customer_id_right")
    w = ibis.window(group_by="kind", order_by=ibis.desc("answered_at"))
    odd = odd.mutate(r=ibis.row_number().over(w))
    return (odd.filter(odd.r < limit)
            .select("kind", "customer_id", "name", "owner", "answered_at", "satisfaction",
                    "nps", "comment").order_by(["kind", ibis.desc("answered_at")]).to_pandas())


def alerts_of_week(store, as_of, days: int = 7, limit: int = 15
                   ) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Alerts raised in the ``days`` before ``as_of``: counts by kind, and the top
    ``limit`` (must-do first, then the customers most likely to leave)."""
    if "alerts" not in store.tables():
        return None
    a = store.table("alerts")
    now = _ts(as_of.to_pydatetime())
    since = _ts((as_of - pd.Timedelta(days=days)).to_pydatetime())
    a = a.filter((a.at >= since) & (a.at < now))
    kinds = (a.group_by(["kind", "must_do"]).aggregate(alerts=_.count(),
                                                       customers=_.customer_id.nunique())
             .order_by([ibis.desc("must_do"), ibis.desc("alerts")]).to_pandas())
    if "scores" in store.tables():
        sc = store.table("scores").select("customer_id", "p_leave")
        a = a.left_join(sc, "customer_id").drop("customer_id_right")
    else:
        a = a.mutate(p_leave=ibis.null("float64"))
    a = a.left_join(_names(store), "customer_id").drop("customer_id_right")
    top = (a.order_by([ibis.desc("must_do"), ibis.desc(a.p_leave.fill_null(0)),
                       ibis.desc("at")]).limit(limit)
           .select("at", "customer_id", "name", "owner", "kind", "text", "must_do", "p_leave")
           .to_pandas())
    return kinds, top


def loudest_whispers(store, values: ibis.Table | None, limit: int = 12) -> pd.DataFrame | None:
    """The scored customers with the most value at risk (p_leave x value) and the
    whisper that speaks loudest for each (``scores.top_reason``)."""
    if "scores" not in store.tables():
        return None
    sc = store.table("scores").select("customer_id", "p_leave", "top_reason", "alerts")
    if values is not None:
        sc = sc.left_join(values, "customer_id").drop("customer_id_right")
        sc = sc.mutate(value=sc.value.fill_null(0.0))
    else:
        sc = sc.mutate(value=ibis.literal(1.0))
    sc = sc.mutate(at_stake=sc.p_leave * sc.value)
    sc = sc.left_join(_names(store), "customer_id").drop("customer_id_right")
    return (sc.filter(sc.top_reason.notnull()).order_by(ibis.desc("at_stake")).limit(limit)
            .select("customer_id", "name", "owner", "p_leave", "value", "at_stake",
                    "top_reason", "alerts").to_pandas())


def worklist_section(store, as_of) -> dict:
    """The worklist's progress and measured impact (``worklist_progress``,
    ``measure_impact``), or nothing when the store has no worklist yet."""
    if not has_worklist(store):
        return {"present": False}
    from loyalist.decisions.worklist import worklist_progress
    from loyalist.decisions.worklist.impact import measure_impact

    progress = worklist_progress(store)
    impact = measure_impact(store, as_of=as_of)
    return {"present": True, "progress": progress, "impact": impact.table}
