"""The candidates of a worklist run: whom each playbook's trigger picks today.

The inputs are read once per run (:func:`gather_people`): everyone scored or alerted,
with their risk, value, segment, owner and do-not-contact flag, the alerts of the day
(one row per customer and alert kind) and each scored customer's top reason. Each
playbook's trigger then picks its customers (:func:`_matches`): an alert kind, a
whisper family, the customer council (:mod:`.council`), a relationship segment, an
open matter with no word to the customer (:mod:`.informed`), a valuable customer naming
a competitor (:mod:`.competitors`), or the risk of leaving; the playbook's filters
(segment, value share, risk and advocacy bounds, do-not-contact) follow.
:func:`gather_candidates` values every pick (expected value saved, must-do, owner, the
matter it is about) and marks those already open.
"""

from __future__ import annotations

import ibis
import pandas as pd

from loyalist.decisions.worklist.competitors import competitor_items
from loyalist.decisions.worklist.council import council_reasons
from loyalist.decisions.worklist.informed import silent_matters, unscored_people
from loyalist.decisions.worklist.matters import matter_of
from loyalist.settings.worklist import Playbook, Playbooks

__all__ = ["REPLIES", "gather_candidates", "gather_people", "item_key"]

_PER_ITEM = 3  # alert sentences and evidence rows shown per item

#: reasons that are answers the customer is owed (their own request or order: alerts,
#: and word on an open matter): a do-not-contact customer still gets these, and no
#: other item
REPLIES = ("unanswered_request", "repeated_contact", "not_acknowledged", "no_word:request",
           "no_word:order")


def gather_people(store, as_of) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Everyone scored or alerted, with p_leave, p_promoter, value, segment, owner and
    the do-not-contact flag (joined in the engine: no pandas merges over a million
    customers); the alerts at ``as_of`` (one row per customer and kind); the top
    reason's evidence of each scored customer."""
    scores = store.table("scores")
    alerts = _alert_items(store, as_of)
    from loyalist.decisions.service.stay_in_touch import _value

    value = _value(store, as_of)
    value = value[value["value"] > 0]
    value = value.assign(value_share=value["value"].rank(ascending=False, pct=True))
    optional = {"as_of": "timestamp", "p_promoter": "float64", "top_reason": "string"}
    s = scores.select("customer_id", "p_leave", **{
        c: scores[c] if c in scores.columns else ibis.null(t) for c, t in optional.items()})
    ids = s.select("customer_id").union(
        ibis.memtable(alerts[["customer_id"]].astype({"customer_id": object}),
                      schema={"customer_id": "string"}),
        distinct=True)
    # ids as Python strings: pandas keeps strings in Arrow chunks, and Spark's
    # createDataFrame leaves Arrow for its slow path, row by row, on a column of several
    v = ibis.memtable(value[["customer_id", "value", "value_share"]].astype(
        {"customer_id": object}), schema={"customer_id": "string", "value": "float64",
                                          "value_share": "float64"})
    c = store.table("customers")
    c = c.select(customer_id=c.id, segment=c.segment, owner=c.owner,
                 do_not_contact=c.do_not_contact.fill_null(False)
                 ).distinct(on="customer_id", keep="first")
    j = ids.left_join(s, "customer_id").left_join(v, "customer_id").left_join(c, "customer_id")
    people = j.select("customer_id", "as_of", "p_leave", "p_promoter", "top_reason",
                      value=j.value.fill_null(0.0), value_share=j.value_share,
                      segment=j.segment, owner=j.owner,
                      do_not_contact=j.do_not_contact.fill_null(False)
                      ).order_by("customer_id").to_pandas()
    if "top_reason" not in scores.columns:
        people = people.drop(columns="top_reason")
    top = pd.DataFrame(columns=["customer_id", "evidence"])
    if "reasons" in store.tables():
        r = store.table("reasons")
        top = r.filter(r["rank"] == 1).select("customer_id", "evidence").to_pandas()
    return people, alerts, top


def _alert_items(store, as_of) -> pd.DataFrame:
    """One row per customer and alert kind: why (the first sentences) and evidence rows,
    aggregated in the engine, from the stored alerts when they are of ``as_of``, else
    from alerts computed afresh."""
    stored = None
    if "alerts" in store.tables() and "as_of" in store.table("alerts").columns:
        stored = store.table("alerts").as_of.max().execute()
    if stored is not None and not pd.isna(stored) and pd.Timestamp(stored) == as_of:
        a = store.table("alerts")
        a = a.filter(a.as_of == as_of.to_pydatetime())
    else:
        from loyalist.decisions.scoring import hard_alerts

        fresh = hard_alerts(store, as_of)[["customer_id", "kind", "evidence_table",
                                           "evidence_id", "at", "text"]]
        a = ibis.memtable(fresh.astype({c: "string" for c in ("customer_id", "kind",
                                                              "evidence_table", "evidence_id",
                                                              "text")}))
    keys = ["kind", "customer_id"]
    a = a.mutate(ev=a.evidence_table + ":" + a.evidence_id.cast("string"),
                 rn=ibis.row_number().over(group_by=keys, order_by=[a["at"], a.evidence_id]))
    # the first sentences and evidence rows side by side (conditional aggregates: no
    # ordered arrays, which not every engine has), then joined with their separators
    parts = {}
    for k in range(_PER_ITEM):
        parts[f"t{k}"] = a.text.max(where=a.rn == k)
        parts[f"e{k}"] = a.ev.max(where=a.rn == k)
    j = a.group_by(keys).aggregate(n=a.count(), newest_at=a["at"].max(),
                                   since=a["at"].min(), **parts)
    why, evidence = j.t0, j.e0
    for k in range(1, _PER_ITEM):
        why = why + ("; " + j[f"t{k}"]).fill_null("")
        evidence = evidence + (" " + j[f"e{k}"]).fill_null("")
    more = ibis.ifelse(j.n > _PER_ITEM, "; and " + (j.n - _PER_ITEM).cast("string") + " more",
                       "")
    return j.select(*keys, why=why + more, evidence=evidence,
                    newest_at=j.newest_at, since=j.since).to_pandas()


def _matches(pb: Playbook, people: pd.DataFrame, alerts: pd.DataFrame, top: pd.DataFrame,
             store, as_of=None, st=None) -> pd.DataFrame:
    """The customers a playbook's trigger picks, with why and evidence (``alerts``: one
    row per customer and alert kind, from :func:`_alert_items`). An alert whose newest
    evidence is more than ``max_age_days`` before ``as_of`` is stale and picks nobody.
    ``no_word_on``: open matters with no word to the customer (:mod:`.informed`, ``st``
    the ``[worklist]`` settings); ``named_competitor``: :mod:`.competitors`."""
    if pb.no_word_on:
        m = silent_matters(store, pb.no_word_on, as_of, st or store.settings.worklist.settings)
        # every customer's matter counts, scored or not (valued by the matter's amount)
        everyone = pd.concat([people, unscored_people(store, m, people)], ignore_index=True)
        m = m.drop(columns=["matter_id", "amount"]).merge(everyone, on="customer_id",
                                                          how="inner")
    elif pb.named_competitor:
        m = competitor_items(store, as_of, people).merge(people, on="customer_id", how="inner")
    elif pb.alert:
        a = alerts[alerts["kind"] == pb.alert]
        if pb.max_age_days is not None and as_of is not None:
            age = (pd.Timestamp(as_of) - pd.to_datetime(a["newest_at"])).dt.days
            a = a[age <= pb.max_age_days]
        m = a.drop(columns=["kind", "newest_at"]).merge(people, on="customer_id", how="inner")
    elif pb.whisper:
        if "reasons" not in store.tables():
            return people.iloc[:0].assign(why=None, evidence=None)
        r = store.table("reasons")
        w = r.filter(r.family == pb.whisper).select("customer_id", "rank", "text", "evidence")
        w = w.to_pandas().sort_values("rank").drop_duplicates("customer_id")
        m = w.rename(columns={"text": "why"}).drop(columns="rank").merge(
            people, on="customer_id", how="inner")
    elif pb.council:
        m = council_reasons(store, pb.council, as_of).merge(people, on="customer_id",
                                                             how="left")
        m["value"] = m["value"].fillna(0.0)
    elif pb.relationship:
        m = _relationship(store, pb.relationship).merge(people, on="customer_id", how="inner")
        m = m.merge(top, on="customer_id", how="left")
    else:
        m = people[people["p_leave"].notna()].merge(top, on="customer_id", how="left")
        m = m.assign(why=m["top_reason"] if "top_reason" in m else "At risk of leaving")
    keep = pd.Series(True, index=m.index)
    if pb.alert not in REPLIES and not pb.no_word_on and pb.council != "promise":
        # outreach never goes to a customer who asked for none; word on their own matter
        # and a promise made to a council member do
        keep &= ~m["do_not_contact"].fillna(False).astype(bool)
    if pb.relationship and (pb.alert or pb.whisper):
        keep &= m["customer_id"].isin(_relationship(store, pb.relationship)["customer_id"])
    if pb.unless_alert:
        keep &= ~m["customer_id"].isin(alerts.loc[alerts["kind"] == pb.unless_alert,
                                                  "customer_id"])
    if pb.segment:
        keep &= m["segment"].isin(pb.segment)
    if pb.value_top is not None:
        keep &= m["value_share"] <= pb.value_top
    if pb.min_p_leave is not None:
        keep &= m["p_leave"] >= pb.min_p_leave
    if pb.max_p_leave is not None:
        keep &= m["p_leave"] <= pb.max_p_leave
    if pb.min_p_promoter is not None:
        keep &= m["p_promoter"] >= pb.min_p_promoter
    m = m[keep.fillna(False)].copy()
    if pb.min_p_promoter is not None:
        m["why"] = ("Likely advocate (P(promoter) " + (m["p_promoter"] * 100).round().astype(
            int).astype(str) + "%)")
    return m


def _relationship(store, segments: tuple[str, ...]) -> pd.DataFrame:
    """``customer_id, why`` of the customers in these relationship segments, from the
    last ``loyalist relationship`` run (none when it has not run)."""
    from loyalist.relationship.analysis import SEGMENTS_TABLE

    if SEGMENTS_TABLE not in store.tables():
        return pd.DataFrame({"customer_id": pd.Series(dtype=object),
                             "why": pd.Series(dtype=object)})
    t = store.table(SEGMENTS_TABLE)
    return (t.filter(t.relationship_segment.isin(list(segments)))
            .select("customer_id", "why").to_pandas())


def _owner(pb: Playbook, cand: pd.DataFrame, default_team: str) -> pd.Series:
    team = pb.team or default_team
    if pb.council == "promise":  # the person who made the promise keeps it
        return cand["promise_owner"].where(cand["promise_owner"].notna(), team).astype(object)
    if pb.owner == "team":
        return pd.Series(team, index=cand.index, dtype=object)
    return cand["owner"].where(cand["owner"].notna(), team).astype(object)


def item_key(df: pd.DataFrame) -> pd.Series:
    """``customer_id`` and ``playbook`` as one string, for set operations."""
    if df.empty:
        return pd.Series([], index=df.index, dtype=object)
    key = df["customer_id"].astype(str) + "\x1f" + df["playbook"].astype(str)
    return key.astype(object)  # hashed set look-ups; Arrow strings compare in Python


def gather_candidates(pbs: Playbooks, people, alerts, top, store, helps, items, as_of,
                uplift=None) -> pd.DataFrame:
    """Every customer each playbook picks (one row per customer and playbook), with the
    matter it is about (:mod:`~loyalist.decisions.worklist.matters`) and whether an item
    of that customer and playbook is open; discretionary playbooks with an uplift model
    in force rank by uplift x value (``uplift``), the others by risk x value."""
    uplift = uplift or {}
    st = pbs.settings
    frames = []
    for order, pb in enumerate(pbs):
        m = _matches(pb, people, alerts, top, store, as_of, st)
        if m.empty:
            continue
        p_leave = m["p_leave"].fillna(people["p_leave"].mean())
        kind = pb.alert or (f"whisper:{pb.whisper}" if pb.whisper else
                            f"no_word:{pb.no_word_on}" if pb.no_word_on else
                            "named_competitor" if pb.named_competitor else
                            f"council:{pb.council}" if pb.council else
                            f"relationship:{pb.relationship[0]}" if pb.relationship else
                            "at_risk" if pb.min_p_promoter is None else "advocate")
        evs = p_leave * m["value"] * helps[pb.name]
        # keeping a customer informed is must-do from a value on (``inform_must_do_value``)
        must = (m["value"] >= st.inform_must_do_value) if pb.no_word_on else pd.Series(
            pb.must_do, index=m.index)
        if pb.name in uplift:
            learned = m["customer_id"].map(uplift[pb.name])
            evs = learned.where(learned.notna() & ~must, evs)
        frames.append(m.assign(playbook=pb.name, order=order, must_do=must.astype(bool),
                               reason_kind=kind, matter=matter_of(kind),
                               expected_value_saved=evs,
                               owner=_owner(pb, m, st.default_team)))
    if not frames:
        return pd.DataFrame(columns=["customer_id", "playbook", "order", "must_do",
                                     "reason_kind", "matter", "expected_value_saved", "owner",
                                     "why", "evidence", "p_leave", "value", "key", "is_open",
                                     "first_at"])
    m = pd.concat(frames, ignore_index=True)
    m["key"] = item_key(m)
    m["is_open"] = m["key"].isin(item_key(items))
    return m
