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

This module assembles a run and is the public API; the parts live beside it: whom each
trigger picks (:mod:`.candidates`), where the worklist stands (:mod:`.state`), the
merge, draw and caps (:mod:`.plan`), how much contact helps (:mod:`.helps`), the
ranking and budget (:mod:`.ranking`), the backlog (:mod:`.backlog`) and the logged
outcomes (:mod:`.outcomes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from loyalist.contract.moments import moment
from loyalist.decisions.worklist.backlog import caps_in_force, write_backlog
from loyalist.decisions.worklist.candidates import gather_candidates, gather_people, item_key
from loyalist.decisions.worklist.helps import helps_factors
from loyalist.decisions.worklist.matters import matter_ids
from loyalist.decisions.worklist.outcomes import (
    item_history,
    log_outcome,
    normalise_outcome,
    open_items,
    worklist_progress,
)
from loyalist.decisions.worklist.plan import admitted, plan_candidates
from loyalist.decisions.worklist.ranking import ranking_note, uplift_in_force, within_budget
from loyalist.decisions.worklist.state import answered_by_touches, worklist_state
from loyalist.errors import DataError
from loyalist.settings.worklist import resolve
from loyalist.store.worklist import next_run_id, write_events

__all__ = ["WorklistRun", "build_worklist", "helps_factors", "item_history", "log_outcome",
           "normalise_outcome", "open_items", "worklist_progress"]


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


def _need(store, name: str) -> None:
    if name not in store.tables():
        raise DataError(f"The store has no {name!r} table yet.",
                        hint="Run loyalist score first (and loyalist value for CLV).")


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
    people, alerts, top = gather_people(store, as_of)
    helps = helps_factors(store, pbs, as_of)
    items, cooling, live, today = worklist_state(store, as_of, st)
    answered = answered_by_touches(store, items)
    run_id = next_run_id(store)
    books = {p.name: p for p in pbs}
    uplift = uplift_in_force(store)
    m = gather_candidates(pbs, people, alerts, top, store, helps, items, as_of, uplift)
    m, merged, present, absorbed = plan_candidates(m, items, live, cooling, books, share_default,
                                         seed, as_of)
    if team is None:
        team = store.settings.team
    fits = (admitted(m, books, today, caps_in_force(pbs, caps))
            & within_budget(m, team, store, as_of))
    # beyond the cap: the backlog, not dropped; each later run admits the next in order
    behind = m[~fits & (m["arm"] == "treatment")]
    waiting = behind["playbook"].value_counts()
    # an open item merges into another only when that one is open or opens now
    merged = merged[~merged["into"].isin(behind["key"])]
    ids = pd.Series(items["item_id"].to_numpy(), index=item_key(items).to_numpy())
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
    gone = items[~item_key(items).isin(present)
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
