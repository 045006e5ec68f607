"""The customer council's records in the store: members, meetings, attendance, points
raised and commitments.

Nothing here updates or deletes a row: a member joins and leaves by appended events, a
commitment is made and closed by appended events ("you said, we did" on the closing
one). Reads are Ibis tables and every write goes through :func:`append` (the engine
adapter's :func:`~loyalist.store.engine.append_rows`: one transaction on DuckDB, staged
and put in place on Spark; no value is ever put into SQL text), so a write of several
tables (a meeting and who attended it) lands whole or not at all, on either engine.
"""

from __future__ import annotations

import ibis
import pandas as pd

from loyalist.store.engine import append_rows, bookkeeping, engine_of, next_numbers
from loyalist.store.migrations import (
    COUNCIL_ATTENDANCE,
    COUNCIL_COMMITMENTS,
    COUNCIL_MEETINGS,
    COUNCIL_MEMBERS,
    COUNCIL_POINTS,
)

#: the sequence numbering the council's events and ids
SEQUENCE = "_loyalist_council_seq"

#: short name -> (table, columns a row may fill)
TABLES = {
    "members": (COUNCIL_MEMBERS, ("event_id", "customer_id", "event", "at", "why", "note",
                                  "recorded_at", "by_user")),
    "meetings": (COUNCIL_MEETINGS, ("id", "held_at", "title", "note", "recorded_at",
                                    "by_user")),
    "attendance": (COUNCIL_ATTENDANCE, ("meeting_id", "customer_id", "recorded_at",
                                        "by_user")),
    "points": (COUNCIL_POINTS, ("id", "meeting_id", "customer_id", "text", "recorded_at",
                                "by_user")),
    "commitments": (COUNCIL_COMMITMENTS, ("event_id", "commitment_id", "event", "at",
                                          "meeting_id", "point_id", "customer_id", "text",
                                          "owner", "due_at", "you_said", "we_did",
                                          "recorded_at", "by_user")),
}
#: the tables whose rows name a customer (a member), for access and erasure requests
WITH_CUSTOMER = (COUNCIL_MEMBERS, COUNCIL_ATTENDANCE, COUNCIL_POINTS, COUNCIL_COMMITMENTS)


def table(store, name: str) -> ibis.Table:
    """One of the council's tables (``members``, ``meetings``, ``attendance``,
    ``points``, ``commitments``) as an Ibis table."""
    return bookkeeping(store, TABLES[name][0])


def frame(store, name: str) -> pd.DataFrame:
    """One of the council's tables, every row, oldest first."""
    t = table(store, name)
    order = "event_id" if "event_id" in t.columns else (
        "held_at" if name == "meetings" else "recorded_at")
    return t.order_by(order).to_pandas()


def members_now(store) -> ibis.Table:
    """Each customer's last membership event (``joined`` or ``left``) with when."""
    m = table(store, "members")
    return m.group_by("customer_id").aggregate(
        event=m.event.argmax(m.event_id), at=m["at"].argmax(m.event_id),
        since=m["at"].max(where=m.event == "joined"), why=m.why.argmax(
            m.event_id, where=m.event == "joined"))


def commitments_now(store) -> ibis.Table:
    """Every commitment as made, with its closing (``closed_at``, ``you_said``,
    ``we_did``) when it has one."""
    c = table(store, "commitments")
    made = c.filter(c.event == "made").drop("you_said", "we_did", "event")
    closed = c.filter(c.event == "closed")
    closed = closed.group_by("commitment_id").aggregate(
        closed_at=closed["at"].argmax(closed.event_id),
        you_said=closed.you_said.argmax(closed.event_id),
        we_did=closed.we_did.argmax(closed.event_id),
        closed_by=closed.by_user.argmax(closed.event_id))
    j = made.left_join(closed, "commitment_id")
    return j.select(*[c for c in j.columns if not c.endswith("_right")])


def open_commitments(store) -> pd.DataFrame:
    """The commitments not yet closed, with their owner, member and due date (the
    worklist opens an item for each)."""
    c = commitments_now(store)
    return c.filter(c.closed_at.isnull()).order_by("due_at").to_pandas()


def has_council(store) -> bool:
    """Whether the store holds the council's tables (a store made by this Loyalist)."""
    from ibis.common.exceptions import TableNotFound

    if engine_of(store) == "spark":  # declared, so there even before the first write
        return True
    try:
        table(store, "commitments")
    except TableNotFound:
        return False
    return True


def due_commitments(store, until) -> pd.DataFrame:
    """Open commitments made to a member and due by ``until`` (overdue ones too),
    earliest first: the worklist opens an item for each one's owner."""
    if not has_council(store):
        return pd.DataFrame(columns=["commitment_id", "customer_id", "owner", "text",
                                     "due_at"])
    c = commitments_now(store)
    return c.filter(c.closed_at.isnull() & (c.due_at <= pd.Timestamp(until).to_pydatetime())
                    & c.customer_id.notnull()).order_by(
        ["due_at", "customer_id", "commitment_id"]).to_pandas()


def member_rows(store, customer_id: str) -> pd.DataFrame:
    """One customer's place on the council, in one query: a ``member`` row (``at`` the
    date joined, ``left_at`` when they left), one ``meeting`` row per meeting held while
    they were a member (``attended`` true or false), and one ``promise`` row per open
    commitment made to them (``text``, ``owner``, ``due_at``). No row when they never
    joined, or when the store has no council tables."""
    if not has_council(store):
        return pd.DataFrame(columns=["kind", "id", "at", "left_at", "attended", "text",
                                     "owner", "due_at"])
    s, ts, b = ibis.null().cast("string"), ibis.null().cast("timestamp"), \
        ibis.null().cast("boolean")
    m = table(store, "members")
    m = m.filter(m.customer_id == customer_id)
    me = m.aggregate(since=m["at"].min(where=m.event == "joined"),
                     last=m.event.argmax(m.event_id), last_at=m["at"].argmax(m.event_id))
    me = me.filter(me.since.notnull()).mutate(
        left_at=ibis.ifelse(me["last"] == "left", me.last_at, ts))
    member = me.select(kind=ibis.literal("member"), id=s, at=me.since.cast("timestamp"),
                       left_at=me.left_at.cast("timestamp"), attended=b, text=s, owner=s,
                       due_at=ts)
    mt, a = table(store, "meetings"), table(store, "attendance")
    a = a.filter(a.customer_id == customer_id).select(a.meeting_id).distinct()
    held = mt.cross_join(me).filter(
        (mt.held_at >= me.since.cast("date").cast("timestamp"))
        & (me.left_at.isnull() | (mt.held_at <= me.left_at)))
    held = held.left_join(a, held.id == a.meeting_id)
    meetings = held.select(kind=ibis.literal("meeting"), id=held.id,
                           at=held.held_at.cast("timestamp"), left_at=ts,
                           attended=held.meeting_id.notnull(), text=held.title, owner=s,
                           due_at=ts)
    c = commitments_now(store)
    c = c.filter((c.customer_id == customer_id) & c.closed_at.isnull())
    promises = c.select(kind=ibis.literal("promise"), id=c.commitment_id,
                        at=c["at"].cast("timestamp"), left_at=ts, attended=b, text=c.text,
                        owner=c.owner, due_at=c.due_at.cast("timestamp"))
    got = member.union(meetings).union(promises).to_pandas()
    return got.sort_values(["kind", "at", "id"], na_position="first").reset_index(drop=True)


def next_ids(store, prefix: str, n: int) -> list[str]:
    """``n`` new ids (``prefix`` and a number from the council's sequence)."""
    return [f"{prefix}{k:05d}" for k in next_numbers(store, SEQUENCE, int(n))]


def append(store, rows: dict[str, list[dict]]) -> dict[str, int]:
    """Append rows to the council's tables (``{"meetings": [{...}], "attendance":
    [...]}``) all or nothing, every value bound; rows of ``members`` and
    ``commitments`` get their ``event_id`` from the sequence. Returns rows written per
    table."""
    batches, written = [], {}
    for name, batch in rows.items():
        target, allowed = TABLES[name]
        for row in batch:
            unknown = set(row) - set(allowed)
            if unknown:
                raise KeyError(f"{name} has no column {sorted(unknown)[0]}")
        cols = [c for c in allowed if c != "event_id" and any(c in row for row in batch)]
        frame = pd.DataFrame([[_plain(row.get(c)) for c in cols] for row in batch],
                             columns=cols, dtype=object)
        if "event_id" in allowed and len(batch):
            frame.insert(0, "event_id", next_numbers(store, SEQUENCE, len(batch)))
        batches.append((target, _typed(frame, target)))
        written[name] = len(batch)
    append_rows(store, batches)
    return written


def _typed(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """``frame``'s columns in the declared types of ``target`` (pandas guesses none
    from a column of Python objects)."""
    from loyalist.contract.derived import get_derived

    types = {c.name: c.type for c in get_derived(target).columns}
    out = frame.copy()
    for c in out.columns:
        t = types.get(c)
        if t == "timestamp":
            out[c] = pd.to_datetime(out[c])
        elif t == "integer":
            out[c] = out[c].astype("Int64")
        elif t == "string":
            out[c] = out[c].astype("string")
    return out


def _plain(v):
    """A value DuckDB binds: timestamps as Python datetimes, missing values as NULL."""
    if v is None:
        return None
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.to_pydatetime()
    if not isinstance(v, str) and pd.isna(v):
        return None
    return v
