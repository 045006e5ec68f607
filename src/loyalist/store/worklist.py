"""The worklist's bookkeeping in the store: item events and control-group assignments.

Nothing here updates a row in place. Every item is a series of events (``opened``,
``attempt``, ``closed``, ``assigned``...) appended to ``_loyalist_worklist``; every
treatment or control draw is a row of ``_loyalist_assignments``. Reads are Ibis
expressions and appends go through the engine adapter (:func:`loyalist.store.engine.
append_rows`: one transaction on DuckDB, staged and put in place on Spark), so the
worklist runs on either engine.
"""

from __future__ import annotations

import ibis
import pandas as pd

from loyalist.store.engine import append_rows, bookkeeping, engine_of, next_numbers
from loyalist.store.migrations import ASSIGNMENTS, WORKLIST
from loyalist.store.prepared import prepare

#: the columns of an open item, as :func:`open_events` gives them
OPEN_COLUMNS = ["item_id", "customer_id", "playbook", "reason_kind", "must_do", "why",
                "evidence", "action", "script", "owner", "expected_value_saved", "p_leave",
                "value", "opened_at", "due_at", "attempts", "matter", "also",
                "snoozed_until", "matter_id"]
#: columns computed from later events rather than read from the ``opened`` event
_LATER = ("opened_at", "attempts", "owner", "snoozed_until", "why", "also")


def events(store) -> ibis.Table:
    """Every item event (an Ibis table)."""
    return bookkeeping(store, WORKLIST)


def assignments(store) -> ibis.Table:
    """Every treatment or control assignment (an Ibis table)."""
    return bookkeeping(store, ASSIGNMENTS)


def has_worklist(store) -> bool:
    """Whether the store holds the worklist's bookkeeping tables."""
    from ibis.common.exceptions import TableNotFound

    if engine_of(store) == "spark":  # declared, so there even before the first write
        return True
    try:
        events(store)
    except TableNotFound:
        return False
    return True


def open_events(store, customer_id=None) -> ibis.Table:
    """The ``opened`` events of items with no ``closed`` event, with their attempts;
    only one customer's when ``customer_id`` is given (a value or an Ibis parameter:
    their events are read through the index by customer)."""
    e = events(store)
    if customer_id is not None:
        e = e.filter(e.customer_id == customer_id)
    closed = e.filter(e.event == "closed").select("item_id")
    opened = e.filter(e.event == "opened")
    opened = opened.anti_join(closed, "item_id")
    later = e.filter(e.event.isin(["attempt", "assigned", "snoozed", "reasons"]))
    # the owner is the last assignment's, else the opening's; a snooze holds until the
    # last snooze's date (an empty one wakes the item); reasons merged into an open item
    # later bring their words (``why``) and playbooks (``also``)
    later = later.group_by("item_id").aggregate(
        attempts=(later.event == "attempt").cast("int64").sum(),
        new_owner=later.owner.argmax(later.event_id, where=later.event == "assigned"),
        snoozed_until=later["until"].argmax(later.event_id, where=later.event == "snoozed"),
        new_why=later.why.argmax(later.event_id, where=later.event == "reasons"),
        new_also=later.also.argmax(later.event_id, where=later.event == "reasons"))
    j = opened.left_join(later, "item_id")
    return j.select(*[c for c in OPEN_COLUMNS if c not in _LATER],
                    owner=j.new_owner.fill_null(j.owner), opened_at=j["at"],
                    attempts=j.attempts.fill_null(0), snoozed_until=j.snoozed_until,
                    why=j.new_why.fill_null(j.why), also=j.new_also.fill_null(j.also))


def ranked(items: ibis.Table) -> ibis.Table:
    """Open items (:func:`open_events`) with their ``priority``: their place, from 1,
    most urgent first: must-do items, then by expected value saved, then the earliest
    due; and ``status`` open."""
    return items.mutate(priority=ibis.row_number().over(order_by=[
        ibis.desc("must_do"), items.expected_value_saved.desc(nulls_first=False), "due_at",
        "item_id"]) + 1, status=ibis.literal("open"))


def _any_of(store):
    customer_id = ibis.param("string")
    e = events(store)
    return e.filter(e.customer_id == customer_id).select("event").limit(1), {
        "customer_id": customer_id}


def _open_of(store):
    customer_id = ibis.param("string")
    return open_events(store, customer_id), {"customer_id": customer_id}


def _ranked_of(store):
    customer_id = ibis.param("string")
    items = ranked(open_events(store))
    return items.filter(items.customer_id == customer_id), {"customer_id": customer_id}


def _has_items(store, customer_id: str) -> bool:
    """Whether the customer has any item event (most customers have none: one read of
    the index answers them)."""
    return bool(prepare(store, "any item of", _any_of).rows(store, customer_id=customer_id))


#: an open item's columns in :func:`open_events`' order
_OPEN_ORDER = [*[c for c in OPEN_COLUMNS if c not in _LATER], "owner", "opened_at",
               "attempts", "snoozed_until", "why", "also"]
_NO_ITEMS: dict = {}


def _none_open(columns: list[str]) -> pd.DataFrame:
    """An empty frame of ``columns`` (made once: making one costs a millisecond)."""
    key = tuple(columns)
    if key not in _NO_ITEMS:
        _NO_ITEMS[key] = pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return _NO_ITEMS[key].copy()


def _open_rows(store, customer_id: str) -> list[dict]:
    if not _has_items(store, customer_id):
        return []
    return prepare(store, "open events of", _open_of).rows(store, customer_id=customer_id)


def open_events_of(store, customer_id: str) -> pd.DataFrame:
    """One customer's open items (no priority), read through the index by customer with
    a query compiled once per store."""
    rows = _open_rows(store, customer_id)
    return pd.DataFrame(rows) if rows else _none_open(_OPEN_ORDER)


def ranked_open_rows(store, customer_id: str) -> list[dict]:
    """One customer's open items with their ``priority`` among all open items (read
    only when the customer has some) and ``status``, most urgent first, as plain rows."""
    if not _open_rows(store, customer_id):
        return []
    rows = prepare(store, "ranked open of", _ranked_of).rows(store, customer_id=customer_id)
    return sorted(rows, key=lambda r: r["priority"])


def ranked_open_of(store, customer_id: str) -> pd.DataFrame:
    """:func:`ranked_open_rows` as a DataFrame."""
    rows = ranked_open_rows(store, customer_id)
    return pd.DataFrame(rows) if rows else _none_open([*_OPEN_ORDER, "priority", "status"])


def history(store, item_id: str | None = None) -> pd.DataFrame:
    """Every event of every item (or of one), oldest first."""
    e = events(store)
    if item_id is not None:
        e = e.filter(e.item_id == item_id)
    return e.order_by("event_id").to_pandas()


def next_run_id(store) -> int:
    """One more than the last run recorded in the events or the assignments."""
    runs = [events(store).run_id.max().execute(), assignments(store).run_id.max().execute()]
    runs = [int(r) for r in runs if r is not None and not pd.isna(r)]
    return max(runs, default=0) + 1


def write_events(store, items: pd.DataFrame, draws: pd.DataFrame | None = None, *,
                 opened: pd.DataFrame | None = None) -> None:
    """Append item events (``items``, each naming its ``item_id``), assignments
    (``draws``) and newly opened items (``opened``: each gets its id, ``W`` and the
    event's number) in one transaction."""
    if opened is not None and len(opened):
        numbers = next_numbers(store, f"{WORKLIST}_seq", len(opened))
        opened = opened.assign(event_id=numbers, item_id=[f"W{n:07d}" for n in numbers])
    if len(items):
        items = items.assign(event_id=next_numbers(store, f"{WORKLIST}_seq", len(items)))
    append_rows(store, [(WORKLIST, opened), (WORKLIST, items), (ASSIGNMENTS, draws)])
