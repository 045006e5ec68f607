"""Whom to contact today: the prioritized worklist.

``build_worklist(store)`` reads the latest ``scores``, ``reasons`` and ``alerts`` (and
``customer_value`` when there is one), matches customers to playbooks
(:mod:`loyalist.decisions.playbooks`) and keeps one open item per customer and
matter (:mod:`loyalist.decisions.worklist.matters`: a request thread, an order, or the
customer as a whole; the reasons of one matter merge into one item):

- must-do items (service the customer is owed: an unanswered request, a call-back, an
  order not acknowledged or not followed up, a detractor who gave a reason) are listed
  first and never held out;
- an open request or order with no word to the customer for too long is an update
  owed (:mod:`~loyalist.decisions.worklist.informed`): must-do for customers worth
  ``[worklist] inform_must_do_value``, discretionary for the others; a valuable
  customer naming a competitor is discretionary outreach
  (:mod:`~loyalist.decisions.worklist.competitors`);
- discretionary outreach is ranked by expected value saved,
  ``P(leave) x value at stake x contact_helps``, where value at stake is the customer's
  CLV (else their spend in the last 365 days) and ``contact_helps`` is the playbook's
  prior, shrunk towards the saved rate measured against its control group once there is
  one (:func:`helps_factors`);
- a share of the customers newly eligible for a discretionary playbook is held out at
  random (the control group), recorded in ``_loyalist_assignments`` and never listed;
  the draw holds for ``window_days``;
- re-running adds nothing already open; an item closes when an outcome is logged
  (``log_outcome`` or an ingested touch) or when its reason has gone;
- ``cap_per_owner_per_day`` limits the items a playbook opens per owner per day; the
  candidates beyond it are the backlog (``WorklistRun.waiting``, and the derived table
  ``worklist_backlog`` with its count and oldest age: nothing is hidden), opened on
  later days in priority order; ``max_age_days`` stops a stale alert from triggering a
  playbook.

Every change is an appended event (``_loyalist_worklist``); nothing is updated in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from loyalist.contract.moments import moment
from loyalist.decisions.worklist.backlog import caps_in_force, write_backlog
from loyalist.decisions.worklist.competitors import competitor_items
from loyalist.decisions.worklist.council import council_reasons
from loyalist.decisions.worklist.informed import silent_matters, unscored_people
from loyalist.decisions.worklist.matters import matter_ids, matter_of, merge
from loyalist.decisions.worklist.outcomes import (
    CLOSING,
    item_history,
    log_outcome,
    normalise_outcome,
    open_items,
    open_keys,
    worklist_progress,
)
from loyalist.decisions.worklist.ranking import ranking_note, uplift_in_force, within_budget
from loyalist.errors import DataError
from loyalist.settings.worklist import Playbook, Playbooks, resolve
from loyalist.store.worklist import assignments, events, next_run_id, write_events

__all__ = ["WorklistRun", "build_worklist", "helps_factors", "item_history", "log_outcome",
           "normalise_outcome", "open_items", "worklist_progress"]

_PER_ITEM = 3  # alert sentences and evidence rows shown per item


@dataclass
class WorklistRun:
    """What one run did: the open items after it and the counts of its changes."""

    as_of: pd.Timestamp
    run_id: int
    items: pd.DataFrame
    opened: int
    closed: int
    held_out: int
    notes: list[str] = field(default_factory=list)
    #: per playbook, the candidates beyond today's cap: the backlog, opened on later days
    #: in priority order (nothing is dropped)
    waiting: dict[str, int] = field(default_factory=dict)
    #: open items closed because they were merged into another of the same matter
    merged: int = 0
    #: the backlog as written (:func:`~loyalist.decisions.worklist.backlog.summary`)
    backlog_summary: dict = field(default_factory=dict)

    @property
    def backlog(self) -> int:
        """How many items wait beyond today's caps."""
        return sum(self.waiting.values())


#: reasons that are answers the customer is owed (their own request or order: alerts,
#: and word on an open matter): a do-not-contact customer still gets these, and no
#: other item
REPLIES = ("unanswered_request", "repeated_contact", "not_acknowledged", "no_word:request",
           "no_word:order")


# -- inputs --------------------------------------------------------------------------

def _need(store, name: str) -> None:
    if name not in store.tables():
        raise DataError(f"The store has no {name!r} table yet.",
                        hint="Run loyalist score first (and loyalist value for CLV).")


def _people(store, as_of) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
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
        ibis.memtable(alerts[["customer_id"]].astype({"customer_id": "string"})),
        distinct=True)
    v = ibis.memtable(value[["customer_id", "value", "value_share"]])
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


# -- state ---------------------------------------------------------------------------

def _state(store, as_of, settings
           ) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.DataFrame]:
    """Open items; (customer, playbook) pairs cooling down after an outcome; live
    assignments; items opened today per owner and playbook."""
    items = open_keys(store)
    e, a = events(store), assignments(store)
    now = as_of.to_pydatetime()
    since = (as_of - pd.Timedelta(days=settings.reopen_after_days)).to_pydatetime()
    done = e.filter((e.event == "closed") & e.outcome.notnull() & (e["at"] > since)
                    & (e["at"] <= now)).select("item_id", "customer_id", "playbook")
    # an outcome answers every reason merged into the item, so they cool down too
    merged = e.filter(e.event.isin(["opened", "reasons"]) & e.also.notnull()).select(
        "item_id", "also")
    cool = done.left_join(merged, "item_id").select("customer_id", "playbook",
                                                    "also").to_pandas()
    also = cool.dropna(subset=["also"]).assign(playbook=lambda d: d["also"].str.split(","))
    cool = pd.concat([cool, also.explode("playbook")])[["customer_id", "playbook"]]
    cool = cool.drop_duplicates()
    start = (as_of - pd.Timedelta(days=settings.window_days)).to_pydatetime()
    a = a.filter((a.assigned_at > start) & (a.assigned_at <= now))
    live = a.group_by(["customer_id", "playbook"]).aggregate(
        arm=a.arm.argmax(a.assigned_at)).to_pandas()
    o = e.filter((e.event == "opened") & (e["at"].date() == as_of.date()))
    today = o.group_by(["owner", "playbook"]).aggregate(n=o.count()).to_pandas()
    return items, _key(cool), live, today


def _touched(store, items: pd.DataFrame) -> pd.DataFrame:
    """Open items answered by a touch with a closing outcome logged at or after the item
    opened: the touch names the item, or names none and is of the same customer (and
    playbook, when it names one). Covers touches ingested from another system."""
    t = store.table("touches")
    t = t.filter(t.outcome.isin(list(CLOSING))).select(
        "customer_id", "outcome", "playbook", touch_at=t.at, touch_id=t.id,
        named=t.item_id).to_pandas()
    if items.empty or t.empty:
        return pd.DataFrame(columns=["item_id", "customer_id", "playbook", "touch_at",
                                     "outcome", "touch_id"])
    t = t.assign(named=t["named"].str.split(",")).explode("named")
    by_item = t[t["named"].notna()].drop(columns=["customer_id", "playbook"]).merge(
        items, left_on="named", right_on="item_id")
    loose = t[t["named"].isna()].rename(columns={"playbook": "touch_playbook"}).merge(
        items, on="customer_id")
    loose = loose[loose["touch_playbook"].isna() | (loose["touch_playbook"] == loose["playbook"])]
    m = pd.concat([by_item, loose], ignore_index=True)
    m = m[m["touch_at"] >= m["opened_at"]].sort_values("touch_at")
    return m.drop_duplicates("item_id")[["item_id", "customer_id", "playbook", "touch_at",
                                         "outcome", "touch_id"]]


# -- the draw and the caps -----------------------------------------------------------

def _uniform(keys: pd.Series) -> np.ndarray:
    """A uniform number in [0, 1) per key, the same on every machine and run."""
    h = pd.util.hash_pandas_object(keys.reset_index(drop=True), index=False).to_numpy()
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _admit(cand: pd.DataFrame, cap: int | None, today: pd.DataFrame, name: str) -> pd.Series:
    """Which candidates fit under the cap, ranked by expected value saved within owner.

    A candidate is admitted when fewer treated candidates rank above it than the owner
    has room for today, so being admitted does not depend on one's own arm.
    """
    if cap is None or cand.empty:
        return pd.Series(True, index=cand.index)
    used = today[today["playbook"] == name].set_index("owner")["n"]
    room = cap - cand["owner"].map(used).fillna(0)
    order = cand.sort_values("expected_value_saved", ascending=False, kind="stable")
    treated = (order["arm"] == "treatment").astype(int)
    above = treated.groupby(order["owner"]).cumsum() - treated
    return (above < room.reindex(order.index)).reindex(cand.index)


def helps_factors(store, playbooks: Playbooks, as_of=None) -> dict[str, float]:
    """Per playbook, how much contact helps: the prior ``contact_helps`` shrunk towards
    the saved rate measured against the control group.

    The saved rate is the share of would-be leavers that outreach kept,
    ``uplift / (1 - retention of the control group)``, clipped to [0, 1]; it gets the
    weight ``n / (n + prior_strength)`` with ``n`` the smaller arm.
    """
    prior = {p.name: p.contact_helps for p in playbooks}
    window = playbooks.settings.window_days
    if as_of is not None:
        a = assignments(store)
        ended = a.filter(a.assigned_at + ibis.interval(days=int(window))
                         <= pd.Timestamp(as_of).to_pydatetime()).count().execute()
    else:
        ended = 1
    if not ended:
        return prior
    from loyalist.decisions.worklist.impact import measure_impact

    try:
        t = measure_impact(store, window_days=window, as_of=as_of).table
    except DataError:
        return prior
    k = playbooks.settings.prior_strength
    out = dict(prior)
    for r in t[t["playbook"] != "overall"].itertuples(index=False):
        if r.playbook not in out or min(r.n_treated, r.n_control) == 0:
            continue
        base = r.retained_control / r.n_control
        saved = float(np.clip(r.uplift / max(1 - base, 1e-9), 0, 1))
        n = min(r.n_treated, r.n_control)
        out[r.playbook] = (k * prior[r.playbook] + n * saved) / (k + n)
    return out


# -- the run -------------------------------------------------------------------------

def _owner(pb: Playbook, cand: pd.DataFrame, default_team: str) -> pd.Series:
    team = pb.team or default_team
    if pb.council == "promise":  # the person who made the promise keeps it
        return cand["promise_owner"].where(cand["promise_owner"].notna(), team).astype(object)
    if pb.owner == "team":
        return pd.Series(team, index=cand.index, dtype=object)
    return cand["owner"].where(cand["owner"].notna(), team).astype(object)


def _key(df: pd.DataFrame) -> pd.Series:
    """``customer_id`` and ``playbook`` as one string, for set operations."""
    if df.empty:
        return pd.Series([], index=df.index, dtype=object)
    key = df["customer_id"].astype(str) + "\x1f" + df["playbook"].astype(str)
    return key.astype(object)  # hashed set look-ups; Arrow strings compare in Python


def _candidates(pbs: Playbooks, people, alerts, top, store, helps, items, as_of,
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
    m["key"] = _key(m)
    m["is_open"] = m["key"].isin(_key(items))
    return m


def _plan(m: pd.DataFrame, items: pd.DataFrame, live: pd.DataFrame, cooling: pd.Series,
          books, share_default, seed, as_of) -> tuple[pd.DataFrame, pd.DataFrame, set]:
    """One candidate per customer and matter, each with its arm, and the open items to
    close as merged into another.

    A customer held out of a discretionary playbook gets no other discretionary outreach
    while the assignment lasts (their must-do service goes on). After a logged outcome a
    playbook cools down for the customer (``reopen_after_days``). The reasons of one
    customer and matter merge (:func:`~loyalist.decisions.worklist.matters.merge`); the
    leader keeps its arm: the live assignment's, else a fresh draw (a discretionary
    leader), else treatment. Returns the leaders not yet open (``new``), the open items
    merged into another (``merged``, with ``into``), and the keys of every candidate (an
    open item whose key is not among them has lost its reason).
    """
    live_key = _key(live)
    control = set(live_key[live["arm"] == "control"])
    held = live.loc[live["arm"] == "control", "customer_id"]
    m = m[m["must_do"] | ~m["customer_id"].isin(held) | m["key"].isin(control)]
    present = set(m["key"])
    pool = m[(m["is_open"] | m["must_do"] | ~m["key"].isin(control))
             & (m["is_open"] | ~m["key"].isin(cooling))]
    if len(items):  # open items keep their own matter (older items have none written)
        mine = pd.Series(items["matter"].to_numpy(), index=_key(items).to_numpy())
        mine = mine[mine.notna()]
        kept = pool["key"].map(mine)
        pool = pool.assign(matter=kept.where(kept.notna(), pool["matter"]))
    lead, merged = merge(pool)
    # an open item that absorbs reasons it did not name: their words and playbooks
    if len(items):
        have = pd.Series(items["also"].to_numpy(), index=_key(items).to_numpy())
        kept = lead[lead["is_open"]]
        now_also = kept["also"].fillna("").map(lambda a: set(filter(None, a.split(","))))
        had = kept["key"].map(have).fillna("").map(lambda a: set(filter(None, a.split(","))))
        grew = [bool(n - h) for n, h in zip(now_also, had, strict=True)]
        absorbed = kept[grew].assign(item_id=kept.loc[grew, "key"].map(
            pd.Series(items["item_id"].to_numpy(), index=_key(items).to_numpy())))
    else:
        absorbed = lead[:0].assign(item_id=pd.Series(dtype=object))
    new = lead[~lead["is_open"]].copy()
    # open items merged into another close, unless the one they merge into is new and
    # waits beyond today's cap (decided by the caller)
    merged = merged[merged["is_open"]]
    new["arm"] = new["key"].map(pd.Series(live["arm"].to_numpy(), index=live_key.to_numpy()))
    new["arm"] = new["arm"].astype(object)
    shares = {n: b.held_out_share(share_default) for n, b in books.items()}
    new["share"] = new["playbook"].map(shares).astype(float)
    new["drawn"] = new["arm"].isna() & ~new["must_do"]
    u = _uniform(str(seed) + "|" + new["playbook"] + "|" + f"{as_of:%Y-%m-%d}" + "|"
                 + new["customer_id"])
    draw = new["drawn"].to_numpy()
    new.loc[draw, "arm"] = np.where(u[draw] < new.loc[draw, "share"], "control", "treatment")
    new["arm"] = new["arm"].fillna("treatment")
    return new, merged, present, absorbed


def _admitted(new: pd.DataFrame, books, today: pd.DataFrame, caps: dict) -> pd.Series:
    """Which new candidates fit under their playbook's cap for the day."""
    if new.empty:
        return pd.Series(dtype=bool, index=new.index)
    parts = [_admit(g, caps.get(name, books[name].cap_per_owner_per_day), today, name)
             for name, g in new.groupby("playbook")]
    return pd.concat(parts).reindex(new.index).fillna(False).astype(bool)


def build_worklist(store, as_of=None, *, playbooks=None, control_share: float | None = None,
                   seed: int | None = None, caps: dict[str, int] | None = None,
                   team=None) -> WorklistRun:
    """Open, keep and close worklist items for ``as_of`` (default: the scores' date).

    Parameters
    ----------
    store : Store
    as_of : date-like, optional
        The day of the run; alerts are recomputed when the stored ones are of another day.
    playbooks : Playbooks or path, optional
        Default: the shipped playbooks, overridden by ``loyalist.toml`` next to the store.
    control_share : float, optional
        Share held out of each discretionary playbook that sets none of its own
        (default: the ``[worklist] control_share`` setting, 0.1).
    seed : int, optional
        Seed of the control-group draw (default: the ``[worklist] seed`` setting).
    caps : dict, optional
        Playbook name -> items it may open per owner today, for this run (the lead
        raising a cap; ``[worklist] cap_scale`` scales every cap in the file).
    team : TeamSettings, optional
        The outreach budget (default: the store's ``[team]`` settings).
    """
    from loyalist.store.engine import require_duckdb

    # said before any work: the items, attempts and control groups are DuckDB tables
    require_duckdb(store, "The worklist's bookkeeping (open items, control groups, "
                   "outcomes)", hint="Scores, values and alerts are computed on Spark; "
                   "build the worklist on a DuckDB store for now (docs/scale.md).")
    pbs = resolve(playbooks, store)
    st = pbs.settings
    seed = st.seed if seed is None else int(seed)
    share_default = st.control_share if control_share is None else float(control_share)
    if not 0 <= share_default <= 0.9:
        raise DataError(f"control_share must be between 0 and 0.9; got {share_default!r}.",
                        hint="Pass a share such as 0.1.")
    _need(store, "scores")
    if as_of is None:
        as_of = store.table("scores").as_of.max().execute()
    as_of = moment(as_of)
    people, alerts, top = _people(store, as_of)
    helps = helps_factors(store, pbs, as_of)
    items, cooling, live, today = _state(store, as_of, st)
    answered = _touched(store, items)
    run_id = next_run_id(store)
    books = {p.name: p for p in pbs}
    uplift = uplift_in_force(store)
    m = _candidates(pbs, people, alerts, top, store, helps, items, as_of, uplift)
    m, merged, present, absorbed = _plan(m, items, live, cooling, books, share_default,
                                         seed, as_of)
    if team is None:
        team = store.settings.team
    fits = (_admitted(m, books, today, caps_in_force(pbs, caps))
            & within_budget(m, team, store, as_of))
    # beyond the cap: the backlog, not dropped; each later run admits the next in order
    behind = m[~fits & (m["arm"] == "treatment")]
    waiting = behind["playbook"].value_counts()
    # an open item merges into another only when that one is open or opens now
    merged = merged[~merged["into"].isin(behind["key"])]
    ids = pd.Series(items["item_id"].to_numpy(), index=_key(items).to_numpy())
    merged = merged.assign(item_id=merged["key"].map(ids),
                           into_id=merged["into"].map(ids))
    m = m[fits]
    now = pd.Timestamp.now("UTC").tz_localize(None)
    assign = m[m["drawn"]]
    assignments = pd.DataFrame({
        "customer_id": assign["customer_id"], "playbook": assign["playbook"],
        "arm": assign["arm"], "assigned_at": as_of, "recorded_at": now, "run_id": run_id,
        "share": assign["share"], "seed": seed, "p_leave": assign["p_leave"],
        "value": assign["value"]})
    opened = m[m["arm"] == "treatment"]
    pick = {k: {n: getattr(b, k) for n, b in books.items()} for k in
            ("action", "script", "due_in_days")}
    due = pd.to_timedelta(opened["playbook"].map(pick["due_in_days"]).astype(float), unit="D")
    due_at = as_of + due
    if "promise_due" in opened:  # a promise is due on its own date
        due_at = pd.to_datetime(opened["promise_due"]).where(opened["promise_due"].notna(),
                                                             due_at)
    open_events = pd.DataFrame({
        "event": "opened", "at": as_of, "recorded_at": now, "run_id": run_id,
        "customer_id": opened["customer_id"], "playbook": opened["playbook"],
        "reason_kind": opened["reason_kind"], "must_do": opened["must_do"],
        "why": opened["why"], "evidence": opened["evidence"],
        "action": opened["playbook"].map(pick["action"]),
        "script": opened["playbook"].map(pick["script"]),
        "owner": opened["owner"], "p_leave": opened["p_leave"], "value": opened["value"],
        "expected_value_saved": opened["expected_value_saved"], "due_at": due_at,
        "matter": opened["matter"], "also": opened["also"],
        "matter_id": matter_ids(opened["matter"], opened["evidence"])})
    # close: answered by a touch, merged into another item of the matter, or the reason
    # has gone
    merged = merged[~merged["item_id"].isin(answered["item_id"])]
    gone = items[~_key(items).isin(present)
                 & ~items["item_id"].isin(answered["item_id"])]
    into = pd.Series([f"the new {k.split(chr(31))[1]} item" if pd.isna(i) else str(i)
                      for k, i in zip(merged["into"], merged["into_id"], strict=True)],
                     index=merged.index, dtype=object)
    close_events = pd.concat([
        pd.DataFrame({"item_id": merged["item_id"], "event": "closed", "at": as_of,
                      "customer_id": merged["customer_id"], "playbook": merged["playbook"],
                      "note": ("merged into " + into + " (same "
                               + merged["matter"].astype(object) + ")")}),
        pd.DataFrame({"item_id": answered["item_id"], "event": "closed",
                      "at": answered["touch_at"], "customer_id": answered["customer_id"],
                      "playbook": answered["playbook"], "outcome": answered["outcome"],
                      "touch_id": answered["touch_id"], "note": "outcome from touches"}),
        pd.DataFrame({"item_id": gone["item_id"], "event": "closed", "at": as_of,
                      "customer_id": gone["customer_id"], "playbook": gone["playbook"],
                      "note": "reason gone"})], ignore_index=True)
    close_events = close_events.assign(recorded_at=now, run_id=run_id)
    absorbed = absorbed[~absorbed["item_id"].isin(close_events["item_id"])]
    reason_events = pd.DataFrame({
        "item_id": absorbed["item_id"], "event": "reasons", "at": as_of, "recorded_at": now,
        "run_id": run_id, "customer_id": absorbed["customer_id"],
        "playbook": absorbed["playbook"], "why": absorbed["why"], "also": absorbed["also"],
        "note": "reasons merged into the open item"})
    closed = len(close_events)
    close_events = pd.concat([close_events, reason_events], ignore_index=True)
    write_events(store, close_events, assignments, opened=open_events)
    notes = [ranking_note(pbs, uplift)]
    if helps != {p.name: p.contact_helps for p in pbs}:
        notes.append("contact_helps learned from the control groups: " + ", ".join(
            f"{k} {v:.2f}" for k, v in helps.items() if v != books[k].contact_helps))
    backlog = write_backlog(store, behind, as_of)
    return WorklistRun(as_of=as_of, run_id=run_id, items=open_items(store),
                       opened=len(open_events), closed=closed,
                       held_out=int((assignments["arm"] == "control").sum()), notes=notes,
                       waiting={str(k): int(v) for k, v in waiting.items()},
                       merged=len(merged), backlog_summary=backlog)
