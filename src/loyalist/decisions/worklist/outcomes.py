"""The worklist's memory: open items, logged outcomes and progress.

Nothing here updates a row in place. Every item is a series of events in
``_loyalist_worklist`` (``opened``, ``attempt``, ``closed``); an outcome is a new row of
``touches`` (through the store's ingest, one transaction) plus the events it causes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pandas as pd

from loyalist.contract.moments import moment
from loyalist.errors import DataError, PermissionDeniedError
from loyalist.store.lookups import knows_customer
from loyalist.store.worklist import (
    assignments,
    events,
    history,
    open_events,
    open_events_of,
    ranked,
    ranked_open_of,
    write_events,
)

#: outcomes a person can log; all but ``no-answer`` close the item
OUTCOMES = ("reached", "no-answer", "saved", "lost", "escalated")
CLOSING = ("reached", "saved", "lost", "escalated")
ITEM_COLUMNS = ["item_id", "customer_id", "playbook", "reason_kind", "must_do", "why",
                "evidence", "action", "script", "owner", "priority", "expected_value_saved",
                "p_leave", "value", "opened_at", "due_at", "attempts", "status", "matter",
                "also", "snoozed_until", "overdue_days", "matter_id"]


def today_of(today=None) -> pd.Timestamp:
    """The day items are due against: ``today`` when given, else the real date (not the
    data's last date: an item due two years ago is two years overdue)."""
    return (pd.Timestamp.now() if today is None else moment(today, "today")).normalize()


def _due_today(items: pd.DataFrame, today: pd.Timestamp) -> pd.DataFrame:
    """``overdue_days`` (whole days past due against ``today``; 0 when not yet due) and
    ``status`` snoozed for an item snoozed beyond today."""
    from loyalist.decisions.worklist.matters import matters

    if len(items):  # items opened before matters were written: from their reason
        items = items.assign(matter=items["matter"].where(
            items["matter"].notna(), matters(items["reason_kind"])))
    due = pd.to_datetime(items["due_at"])
    late = (today - due.dt.normalize()).dt.days
    items = items.assign(overdue_days=late.clip(lower=0).fillna(0).astype(int))
    asleep = pd.to_datetime(items["snoozed_until"]) > today
    items.loc[asleep.fillna(False), "status"] = "snoozed"
    items.loc[asleep.fillna(False), "overdue_days"] = 0
    return items

def open_keys(store) -> pd.DataFrame:
    """Only ``item_id, customer_id, playbook, opened_at`` of the open items (light)."""
    return open_events(store).select("item_id", "customer_id", "playbook", "matter",
                                     "also", "opened_at").to_pandas()


def open_items(store, *, owner: str | None = None, playbook: str | None = None,
               due_before=None, customer_id: str | None = None,
               snoozed: bool = True, today=None) -> pd.DataFrame:
    """The open items, most urgent first: must-do items, then by expected value saved.

    ``priority`` is the item's place in that order (1 = first) among all open items,
    before the filters are applied. ``overdue_days`` counts against ``today`` (default:
    the real date); an item snoozed beyond today has ``status`` snoozed, and is left out
    when ``snoozed=False``.
    """
    today = today_of(today)
    if customer_id is not None and owner is None and playbook is None and due_before is None:
        mine = ranked_open_of(store, customer_id)  # one customer's page: through the index
        mine = _due_today(mine.sort_values("priority", ignore_index=True), today)
        return mine[ITEM_COLUMNS] if snoozed else mine[mine["status"] != "snoozed"][
            ITEM_COLUMNS].reset_index(drop=True)
    o = ranked(open_events(store))
    for col, value in (("owner", owner), ("playbook", playbook),
                       ("customer_id", customer_id)):
        if value is not None:
            o = o.filter(o[col] == value)
    if due_before is not None:
        o = o.filter(o.due_at < moment(due_before, "due_before").to_pydatetime())
    got = _due_today(o.order_by("priority").to_pandas(), today)
    if not snoozed:
        got = got[got["status"] != "snoozed"].reset_index(drop=True)
    return got[ITEM_COLUMNS]


def _open_of(store, customer_id: str) -> pd.DataFrame:
    """The open items of one customer (no priority: it is not needed to log)."""
    return open_events_of(store, customer_id)


def item_history(store, item_id: str | None = None) -> pd.DataFrame:
    """Every event of every item (or of one), oldest first."""
    return history(store, item_id)


def normalise_outcome(outcome: str) -> str:
    o = str(outcome).strip().lower().replace("_", "-").replace(" ", "-")
    if o not in OUTCOMES:
        raise DataError(f"Unknown outcome {outcome!r}.", hint=f"Use one of: {', '.join(OUTCOMES)}.")
    return o


def _known_customer(store, customer_id: str) -> bool:
    return knows_customer(store, customer_id)


#: how far ahead of now a logged contact may be dated (clocks and time zones differ)
FUTURE_TOLERANCE = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Actor:
    """Who logs an outcome, for the rule on closing another person's item: ``person`` is
    their ``staff.id``, the id items are owned by. ``None`` as the actor (the command
    line, run by whoever holds the store file) may close any item."""

    person: str
    #: a lead or an admin: may move, snooze and close any item
    admin: bool = False
    #: whether any agent may close any item (``[worklist] any_agent_may_close``)
    any_agent_may_close: bool = False

    def may_close(self, owner) -> bool:
        if self.admin or self.any_agent_may_close or owner is None or owner != owner:
            return True
        return str(owner) == self.person


def people(store) -> dict[str, str]:
    """``staff.id`` -> display name, for every person of the staff table (a query
    compiled once per store)."""
    from loyalist.store.prepared import prepare

    rows = prepare(store, "staff names",
                   lambda s: (s.table("staff").select("id", "name"), {})).rows(store)
    return {str(r["id"]): str(r["name"]) for r in rows if r["name"]}


def person_name(store, person: str) -> str:
    """``Name (id)`` of a person of the staff table, else the id as given."""
    name = people(store).get(person)
    return f"{name} ({person})" if name and name != person else str(person)


@dataclass(frozen=True)
class Logged:
    """What logging an outcome did: the touch stored and the items it closed or counted
    as an attempt (by id), and the customer's items still open."""

    touch_id: str
    customer_id: str
    outcome: str
    at: pd.Timestamp
    closed: tuple[str, ...] = ()
    attempted: tuple[str, ...] = ()
    still_open: tuple[str, ...] = ()
    #: owners of closed items that were not the person logging (audited by callers)
    closed_for_others: tuple[str, ...] = ()
    #: the request and the order the contact was about (comma-separated when several)
    request_id: str | None = None
    order_id: str | None = None

    def __str__(self) -> str:
        return self.touch_id


def contact_time(at) -> pd.Timestamp:
    """When a contact happened, read from ``at`` (default now) and checked: a readable
    time, in UTC, not in the future."""
    return _when(at)


def _when(at) -> pd.Timestamp:
    now = pd.Timestamp.now("UTC").tz_localize(None)
    if at is None:
        return now
    when = moment(at, "the time")
    if when > now + FUTURE_TOLERANCE:
        raise DataError(f"The contact is dated {when:%Y-%m-%d %H:%M}, in the future.",
                        hint="Log a contact when it has happened; leave the time out for now.")
    if when.year < 1900:
        raise DataError(f"The contact is dated {when:%Y-%m-%d}, before 1900.",
                        hint="Check the year.")
    return when


def _matter_ids(store, customer_id: str, items: pd.DataFrame, matter: str,
                given: str | None) -> str | None:
    """The ``request_id`` or ``order_id`` of a touch: ``given`` (checked: a request or
    order of this customer), else those of the items it answers that are about one."""
    table = {"request": "requests", "order": "orders"}[matter]
    if given is not None:
        given = str(given).strip()
        t = store.table(table)
        if not given or not t.filter((t.id == given) & (t.customer_id == customer_id)
                                     ).count().execute():
            raise DataError(f"Customer {customer_id} has no {matter} {given!r}.",
                            hint=f"Give the id of one of their {table} (the worklist item "
                            f"names it), or leave --{matter} out.")
        return given
    if "matter_id" not in items or items.empty:
        return None
    ids = items.loc[items["matter"] == matter, "matter_id"].dropna().astype(str)
    return ",".join(dict.fromkeys(ids)) or None


def log_outcome(store, customer_id: str, outcome: str, *, note: str | None = None,
                by: str | None = None, item_id: str | None = None, no_item: bool = False,
                kind: str = "call", at=None, actor: Actor | None = None,
                request_id: str | None = None, order_id: str | None = None) -> Logged:
    """Record what happened when someone contacted a customer.

    Appends one row to ``touches`` and, for the item it answers, an event: ``closed``
    for every outcome but ``no-answer``, which is an ``attempt`` until the item has had
    ``max_attempts`` of them. The item is ``item_id`` when given; otherwise the
    customer's only open item. When the customer has several open items and none is
    named, nothing is written and the error lists them (``no_item=True`` logs the
    contact without answering any item). ``actor`` may close only their own items
    unless a lead or an admin (or ``any_agent_may_close``).

    The touch records the request or order it was about (``request_id``, ``order_id``:
    as given, else the matter of the item it answers): the word to the customer on that
    matter, which keeps them informed (:mod:`loyalist.decisions.worklist.informed`).
    """
    outcome = normalise_outcome(outcome)
    customer_id = str(customer_id)
    when = _when(at)
    if item_id is not None and no_item:
        raise DataError("Both an item and no item were asked for.",
                        hint="Give --item ID or --no-item, not both.")
    if not _known_customer(store, customer_id):
        raise DataError(f"No customer {customer_id!r} in the store.",
                        hint="Check the id (loyalist worklist lists the customers to call).")
    items = _open_of(store, customer_id)
    open_before = set(items["item_id"])
    if no_item:
        items = items[:0]
    elif item_id is not None:
        if item_id not in set(items["item_id"]):
            hist = item_history(store, item_id)
            why = ("is already closed" if len(hist) and hist["customer_id"].iloc[0] == customer_id
                   else f"is not an item of customer {customer_id}" if len(hist)
                   else "does not exist")
            raise DataError(f"Item {item_id!r} {why}.",
                            hint=f"Open items of {customer_id}: "
                            f"{', '.join(sorted(items['item_id'])) or 'none'}; or log "
                            "without --item.")
        items = items[items["item_id"] == item_id]
    elif len(items) > 1:
        listed = "; ".join(f"{r.item_id} ({r.playbook}, {r.owner or 'unassigned'})"
                           for r in items.sort_values("item_id").itertuples())
        raise DataError(f"Customer {customer_id} has {len(items)} open items: {listed}. "
                        "Nothing was logged or closed.",
                        hint="Name the item the contact answered with --item ID, or log the "
                        "contact without closing an item with --no-item.")
    if actor is not None:
        others = items[~items["owner"].map(actor.may_close)]
        if len(others):
            owner = str(others["owner"].iloc[0])
            raise PermissionDeniedError(
                f"Item {others['item_id'].iloc[0]} belongs to {person_name(store, owner)}; "
                f"{person_name(store, actor.person)} may not close it.",
                hint="Ask its owner, or have a lead or an admin reassign it.")
    request_id = _matter_ids(store, customer_id, items, "request", request_id)
    order_id = _matter_ids(store, customer_id, items, "order", order_id)
    touch_id = f"touch-{uuid.uuid4().hex[:16]}"
    touch = pd.DataFrame({
        "id": [touch_id], "customer_id": [customer_id], "at": [when], "kind": [kind],
        "by": [by], "outcome": [outcome], "note": [note],
        "item_id": [",".join(items["item_id"]) or None],
        "playbook": [",".join(sorted(set(items["playbook"]))) or None],
        "request_id": [request_id], "order_id": [order_id]})
    touch = touch.astype({c: "string" for c in touch.columns if c != "at"})
    store.append("touches", touch, source="logged outcome")
    closed, attempted = (), ()
    if len(items):
        limit = store.settings.worklist.settings.max_attempts
        closes = (outcome != "no-answer") | (items["attempts"] + 1 >= limit)
        answered = pd.DataFrame({
            "item_id": items["item_id"], "event": closes.map({True: "closed", False: "attempt"}),
            "at": when, "recorded_at": pd.Timestamp.now("UTC").tz_localize(None),
            "customer_id": customer_id, "playbook": items["playbook"], "outcome": outcome,
            "touch_id": touch_id, "note": note if by is None else f"{by}: {note or ''}".strip()})
        write_events(store, answered)
        closed = tuple(items.loc[closes, "item_id"])
        attempted = tuple(items.loc[~closes, "item_id"])
    mine = actor.person if actor is not None else by
    others = tuple(sorted({str(o) for i, o in zip(items["item_id"], items["owner"], strict=True)
                           if i in closed and isinstance(o, str) and mine and o != mine}))
    # nothing else writes meanwhile (the web holds its write lock)
    still = tuple(sorted(open_before - set(closed)))
    return Logged(touch_id, customer_id, outcome, when, closed, attempted, still, others,
                  request_id, order_id)


def worklist_progress(store, as_of=None) -> pd.DataFrame:
    """One row per playbook: items open, closed and overdue (due before ``as_of``, by
    default today's date, not the data's), outcomes logged by kind, and customers held
    out."""
    e = events(store)
    as_of = today_of(as_of)
    items = open_items(store, today=as_of)
    hist = e.group_by("playbook").aggregate(
        closed=(e.event == "closed").cast("int64").sum()).to_pandas().set_index("playbook")
    out = pd.DataFrame(index=hist.index)
    out["open"] = items.groupby("playbook").size().reindex(out.index).fillna(0).astype(int)
    out["closed"] = hist["closed"].fillna(0).astype(int)
    due = items[items["overdue_days"] > 0]
    out["overdue"] = due.groupby("playbook").size().reindex(out.index).fillna(0).astype(int)
    t = store.table("touches")
    t = t.filter(t.playbook.notnull())
    touches = t.group_by(["playbook", "outcome"]).aggregate(n=t.count()).to_pandas()
    touches = touches.assign(playbook=touches["playbook"].str.split(",")).explode("playbook")
    by = touches.pivot_table(index="playbook", columns="outcome", values="n", aggfunc="sum")
    for o in OUTCOMES:
        col = o.replace("-", "_")
        out[col] = (by[o].reindex(out.index) if o in by else pd.Series(0, index=out.index)
                    ).fillna(0).astype(int)
    a = assignments(store)
    held = a.group_by("playbook").aggregate(
        held_out=a.customer_id.nunique(where=a.arm == "control"),
        treated=a.customer_id.nunique(where=a.arm == "treatment")).to_pandas()
    out = out.join(held.set_index("playbook"), how="outer").fillna(0).astype(int)
    return out.rename_axis("playbook").reset_index()
