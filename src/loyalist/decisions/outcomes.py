"""The worklist's memory: open items, logged outcomes and progress.

Nothing here updates a row in place. Every item is a series of events in
``_loyalist_worklist`` (``opened``, ``attempt``, ``closed``); an outcome is a new row of
``touches`` (through the store's ingest, one transaction) plus the events it causes.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd

from loyalist.errors import DataError, PermissionDeniedError
from loyalist.store.migrations import ASSIGNMENTS, WORKLIST

#: outcomes a person can log; all but ``no-answer`` close the item
OUTCOMES = ("reached", "no-answer", "saved", "lost", "escalated")
CLOSING = ("reached", "saved", "lost", "escalated")
ITEM_COLUMNS = ["item_id", "customer_id", "playbook", "reason_kind", "must_do", "why",
                "evidence", "action", "script", "owner", "priority", "expected_value_saved",
                "p_leave", "value", "opened_at", "due_at", "attempts", "status"]

#: an ``opened`` event ``o`` whose item has no ``closed`` event
_IS_OPEN = (f"o.event = 'opened' AND NOT EXISTS (SELECT 1 FROM {WORKLIST} c "
            "WHERE c.event = 'closed' AND c.item_id = o.item_id)")
_OPEN_SQL = f"""
    WITH o AS (SELECT * FROM {WORKLIST} o WHERE {_IS_OPEN}),
    a AS (SELECT item_id, count(*) AS attempts FROM {WORKLIST} WHERE event = 'attempt'
          GROUP BY item_id)
    SELECT o.item_id, o.customer_id, o.playbook, o.reason_kind, o.must_do, o.why, o.evidence,
           o.action, o.script, o.owner, o.expected_value_saved, o.p_leave, o.value,
           o."at" AS opened_at, o.due_at, coalesce(a.attempts, 0) AS attempts
    FROM o LEFT JOIN a USING (item_id)
"""


def open_keys(store) -> pd.DataFrame:
    """Only ``item_id, customer_id, playbook, opened_at`` of the open items (light)."""
    return store.raw.execute(f'SELECT item_id, customer_id, playbook, "at" AS opened_at '
                             f"FROM {WORKLIST} o WHERE {_IS_OPEN}").df()


def open_items(store, *, owner: str | None = None, playbook: str | None = None,
               due_before=None, customer_id: str | None = None) -> pd.DataFrame:
    """The open items, most urgent first: must-do items, then by expected value saved.

    ``priority`` is the item's place in that order (1 = first) among all open items,
    before the filters are applied.
    """
    where, params = [], []
    for col, value in (("owner", owner), ("playbook", playbook),
                       ("customer_id", customer_id)):
        if value is not None:
            where.append(f"{col} = ?")
            params.append(value)
    if due_before is not None:
        where.append("due_at < ?")
        params.append(pd.Timestamp(due_before).to_pydatetime())
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    df = store.raw.execute(f"""
        SELECT *, 'open' AS status FROM (
            SELECT *, row_number() OVER (ORDER BY must_do DESC, expected_value_saved DESC
                                         NULLS LAST, due_at, item_id) AS priority
            FROM ({_OPEN_SQL})) {clause} ORDER BY priority""", params).df()
    return df[ITEM_COLUMNS]


def _open_of(store, customer_id: str) -> pd.DataFrame:
    """The open items of one customer (no priority: it is not needed to log)."""
    return store.raw.execute(f"SELECT * FROM ({_OPEN_SQL}) WHERE customer_id = ?",
                             [customer_id]).df()


def item_history(store, item_id: str | None = None) -> pd.DataFrame:
    """Every event of every item (or of one), oldest first."""
    where, params = ("WHERE item_id = ?", [item_id]) if item_id else ("", [])
    return store.raw.execute(f"SELECT * FROM {WORKLIST} {where} ORDER BY event_id",
                             params).df()


def normalise_outcome(outcome: str) -> str:
    o = str(outcome).strip().lower().replace("_", "-").replace(" ", "-")
    if o not in OUTCOMES:
        raise DataError(f"Unknown outcome {outcome!r}.", hint=f"Use one of: {', '.join(OUTCOMES)}.")
    return o


def _known_customer(store, customer_id: str) -> bool:
    for name, col in (("customers", "id"), ("orders", "customer_id"),
                      ("subscriptions", "customer_id")):
        t = store.table(name)
        if t.filter(t[col] == customer_id).count().execute():
            return True
    return False


def _append_events(con, events: pd.DataFrame) -> None:
    """Append item events (``item_id`` given) in the open transaction of ``con``."""
    cols = [c for c in events.columns if c != "event_id"]
    con.register("_loyalist_events_src", events)
    names = ", ".join(f'"{c}"' for c in cols)
    con.execute(f"INSERT INTO {WORKLIST} (event_id, {names}) SELECT nextval('{WORKLIST}_seq'), "
                f"{names} FROM _loyalist_events_src")
    con.unregister("_loyalist_events_src")


@contextmanager
def _transaction(store):
    """A cursor inside one transaction: committed when the block ends, else rolled back."""
    con = store.cursor()
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        con.close()
        raise
    con.execute("COMMIT")
    con.close()


def write_events(store, events: pd.DataFrame, assignments: pd.DataFrame | None = None, *,
                 opened: pd.DataFrame | None = None) -> None:
    """Append item events, assignments and newly opened items (which get their id from
    the event sequence) in one transaction."""
    if not (len(events) or (assignments is not None and len(assignments))
            or (opened is not None and len(opened))):
        return
    with _transaction(store) as con:
        if opened is not None and len(opened):
            con.register("_loyalist_open_src", opened)
            cols = ", ".join(f'"{c}"' for c in opened.columns)
            con.execute(
                f"INSERT INTO {WORKLIST} (event_id, item_id, {cols}) SELECT e, 'W' || "
                f"lpad(CAST(e AS VARCHAR), 7, '0'), {cols} FROM (SELECT nextval("
                f"'{WORKLIST}_seq') AS e, * FROM _loyalist_open_src)")
            con.unregister("_loyalist_open_src")
        if len(events):
            _append_events(con, events)
        if assignments is not None and len(assignments):
            con.register("_loyalist_assign_src", assignments)
            cols = ", ".join(assignments.columns)
            con.execute(f"INSERT INTO {ASSIGNMENTS} ({cols}) SELECT {cols} "
                        "FROM _loyalist_assign_src")
            con.unregister("_loyalist_assign_src")


#: how far ahead of now a logged contact may be dated (clocks and time zones differ)
FUTURE_TOLERANCE = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Actor:
    """Who logs an outcome, for the rule on closing another person's item. ``None`` (the
    command line, run by whoever holds the store file) may close any item."""

    name: str
    admin: bool = False
    #: whether any agent may close any item (``[worklist] any_agent_may_close``)
    any_agent_may_close: bool = False

    def may_close(self, owner) -> bool:
        if self.admin or self.any_agent_may_close or owner is None or owner != owner:
            return True
        return same_person(self.name) == same_person(owner)


def same_person(name: str) -> str:
    """A name as compared with item owners: user ``chloe.novak`` owns "Chloe Novak"."""
    return ".".join(str(name).lower().replace("_", " ").replace(".", " ").split())


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
    try:
        when = pd.Timestamp(at)
    except (ValueError, TypeError, OverflowError):
        when = pd.NaT
    if pd.isna(when):
        raise DataError(f"Cannot read the time {str(at)[:60]!r}.",
                        hint="Give a date and time as YYYY-MM-DD or YYYY-MM-DD HH:MM "
                        "(ISO 8601), or leave it out for now.")
    if when.tzinfo is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    if when > now + FUTURE_TOLERANCE:
        raise DataError(f"The contact is dated {when:%Y-%m-%d %H:%M}, in the future.",
                        hint="Log a contact when it has happened; leave the time out for now.")
    if when.year < 1900:
        raise DataError(f"The contact is dated {when:%Y-%m-%d}, before 1900.",
                        hint="Check the year.")
    return when


def log_outcome(store, customer_id: str, outcome: str, *, note: str | None = None,
                by: str | None = None, item_id: str | None = None, no_item: bool = False,
                kind: str = "call", at=None, actor: Actor | None = None) -> Logged:
    """Record what happened when someone contacted a customer.

    Appends one row to ``touches`` and, for the item it answers, an event: ``closed``
    for every outcome but ``no-answer``, which is an ``attempt`` until the item has had
    ``max_attempts`` of them. The item is ``item_id`` when given; otherwise the
    customer's only open item. When the customer has several open items and none is
    named, nothing is written and the error lists them (``no_item=True`` logs the
    contact without answering any item). ``actor`` may close only their own items
    unless an admin (or ``any_agent_may_close``).
    """
    from loyalist.decisions.playbooks import load_playbooks

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
    if no_item:
        items = items[:0]
    elif item_id is not None:
        if item_id not in set(items["item_id"]):
            hist = item_history(store, item_id)
            why = ("is already closed" if len(hist) and hist["customer_id"].iloc[0] == customer_id
                   else f"is not an item of customer {customer_id}" if len(hist)
                   else "does not exist")
            raise DataError(f"Item {item_id!r} {why}.",
                            hint="See the open items with loyalist worklist --customer ID, or "
                            "log without --item.")
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
            raise PermissionDeniedError(
                f"Item {others['item_id'].iloc[0]} belongs to {others['owner'].iloc[0]}; "
                f"{actor.name} may not close it.",
                hint="Ask its owner or an admin, or have an admin reassign it.")
    touch_id = f"touch-{uuid.uuid4().hex[:16]}"
    touch = pd.DataFrame({
        "id": [touch_id], "customer_id": [customer_id], "at": [when], "kind": [kind],
        "by": [by], "outcome": [outcome], "note": [note],
        "item_id": [",".join(items["item_id"]) or None],
        "playbook": [",".join(sorted(set(items["playbook"]))) or None]})
    touch = touch.astype({c: "string" for c in touch.columns if c != "at"})
    store.ingest("touches", touch)
    closed, attempted = (), ()
    if len(items):
        limit = load_playbooks(store=store).settings.max_attempts
        closes = (outcome != "no-answer") | (items["attempts"] + 1 >= limit)
        events = pd.DataFrame({
            "item_id": items["item_id"], "event": closes.map({True: "closed", False: "attempt"}),
            "at": when, "recorded_at": pd.Timestamp.now("UTC").tz_localize(None),
            "customer_id": customer_id, "playbook": items["playbook"], "outcome": outcome,
            "touch_id": touch_id, "note": note if by is None else f"{by}: {note or ''}".strip()})
        write_events(store, events)
        closed = tuple(items.loc[closes, "item_id"])
        attempted = tuple(items.loc[~closes, "item_id"])
    mine = actor.name if actor is not None else by
    others = tuple(sorted({str(o) for i, o in zip(items["item_id"], items["owner"], strict=True)
                           if i in closed and isinstance(o, str) and mine
                           and same_person(o) != same_person(mine)}))
    still = tuple(sorted(set(_open_of(store, customer_id)["item_id"])))
    return Logged(touch_id, customer_id, outcome, when, closed, attempted, still, others)


def worklist_progress(store, as_of=None) -> pd.DataFrame:
    """One row per playbook: items open, closed and overdue (due before ``as_of``, by
    default the last run's date), outcomes logged by kind, and customers held out."""
    con = store.raw
    if as_of is None:
        as_of = con.execute(f"SELECT max(\"at\") FROM {WORKLIST} WHERE event = 'opened'"
                            ).fetchall()[0][0]
    items = open_items(store)
    hist = con.execute(f"SELECT playbook, count(DISTINCT item_id) FILTER (WHERE event = "
                       f"'opened') AS opened, count(*) FILTER (WHERE event = 'closed') AS closed"
                       f" FROM {WORKLIST} GROUP BY playbook").df().set_index("playbook")
    out = pd.DataFrame(index=hist.index)
    out["open"] = items.groupby("playbook").size().reindex(out.index).fillna(0).astype(int)
    out["closed"] = hist["closed"].astype(int)
    due = items[items["due_at"] < pd.Timestamp(as_of)] if as_of is not None else items[:0]
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
    held = con.execute(f"SELECT playbook, count(DISTINCT customer_id) FILTER (WHERE arm = "
                       f"'control') AS held_out, count(DISTINCT customer_id) FILTER (WHERE "
                       f"arm = 'treatment') AS treated FROM {ASSIGNMENTS} GROUP BY playbook"
                       ).df().set_index("playbook")
    out = out.join(held, how="outer").fillna(0).astype(int)
    return out.rename_axis("playbook").reset_index()
