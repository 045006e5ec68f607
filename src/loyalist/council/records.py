"""The council's records: members confirmed (and leaving), meetings and who attended,
points raised and commitments made, each closed with "you said, we did".

Every function checks everything first and then writes in one transaction through the
store (:mod:`loyalist.store.council`, append-only, bound values): a member who is not a
customer, a commitment without an owner or a due date, an unknown meeting, point or
commitment raises :class:`~loyalist.errors.CouncilError` with a next step, and nothing
is written.
"""

from __future__ import annotations

import pandas as pd

from loyalist.contract.moments import moment
from loyalist.errors import CouncilError
from loyalist.store import council as db


def _now() -> pd.Timestamp:
    return pd.Timestamp.now("UTC").tz_localize(None).floor("s")


def _when(at, what: str) -> pd.Timestamp:
    return _now() if at is None else moment(at, what)


def _ids(values) -> list[str]:
    if isinstance(values, str):
        values = [values]
    out = [str(v).strip() for v in values if v is not None and str(v).strip()]
    return list(dict.fromkeys(out))


def _listing(ids: list[str], n: int = 5) -> str:
    more = f" and {len(ids) - n} more" if len(ids) > n else ""
    return ", ".join(ids[:n]) + more


def check_customers(store, customer_ids) -> list[str]:
    """The ids, each checked to be a customer in the store."""
    ids = _ids(customer_ids)
    if not ids:
        raise CouncilError("No customer was named.", hint="Give one or more customer ids "
                           "(loyalist council suggest proposes some).")
    c = store.table("customers")
    known = set(c.filter(c.id.isin(ids)).select("id").to_pandas()["id"].astype(str))
    missing = [i for i in ids if i not in known]
    if missing:
        raise CouncilError(f"Not a customer: {_listing(missing)}. A council member must be "
                           "one of the firm's customers.",
                           hint="Nothing was written. Check the ids (loyalist customer ID "
                           "shows one; loyalist council suggest proposes members).")
    return ids


def current_members(store) -> set[str]:
    """The ids of the members now (confirmed and not left)."""
    m = db.members_now(store)
    return set(m.filter(m.event == "joined").select("customer_id").to_pandas()[
        "customer_id"].astype(str))


def _check_members(store, customer_ids) -> list[str]:
    ids = check_customers(store, customer_ids)
    members = current_members(store)
    outside = [i for i in ids if i not in members]
    if outside:
        raise CouncilError(f"Not a council member: {_listing(outside)}.",
                           hint="Nothing was written. Confirm them first (loyalist council "
                           "confirm ID), or check the ids (loyalist council show).")
    return ids


def confirm(store, customer_ids, *, at=None, why: str | None = None,
            note: str | None = None, by: str | None = None) -> list[str]:
    """Confirm customers as council members; returns the ids newly confirmed (a
    current member is not confirmed twice)."""
    ids = check_customers(store, customer_ids)
    at = _when(at, "the date joined")
    new = [i for i in ids if i not in current_members(store)]
    now = _now()
    db.append(store, {"members": [
        {"customer_id": i, "event": "joined", "at": at, "why": why, "note": note,
         "recorded_at": now, "by_user": by} for i in new]})
    return new


def leave(store, customer_id: str, *, at=None, note: str | None = None,
          by: str | None = None) -> None:
    """Record that a member left the council."""
    (cid,) = _check_members(store, [customer_id])[:1]
    db.append(store, {"members": [{"customer_id": cid, "event": "left",
                                   "at": _when(at, "the date left"), "note": note,
                                   "recorded_at": _now(), "by_user": by}]})


def check_meeting(store, meeting_id) -> str:
    """The id, checked to be a recorded meeting."""
    mid = str(meeting_id or "").strip()
    t = db.table(store, "meetings")
    if not mid or not t.filter(t.id == mid).count().execute():
        raise CouncilError(f"No council meeting {mid!r}.",
                           hint="Nothing was written. loyalist council show lists the "
                           "meetings and their ids; loyalist council meeting records one.")
    return mid


def record_meeting(store, held_at, *, title: str | None = None, attended=(),
                   note: str | None = None, by: str | None = None) -> str:
    """Record a meeting held on ``held_at`` and the members who attended; returns the
    meeting's id."""
    held = moment(held_at, "the meeting's date")
    ids = _check_members(store, attended) if _ids(attended) else []
    (mid,) = db.next_ids(store, "MT", 1)
    now = _now()
    db.append(store, {
        "meetings": [{"id": mid, "held_at": held, "title": title, "note": note,
                      "recorded_at": now, "by_user": by}],
        "attendance": [{"meeting_id": mid, "customer_id": i, "recorded_at": now,
                        "by_user": by} for i in ids]})
    return mid


def attend(store, meeting_id: str, customer_ids, *, by: str | None = None) -> list[str]:
    """Record members as having attended a meeting; returns those newly recorded."""
    mid = check_meeting(store, meeting_id)
    ids = _check_members(store, customer_ids)
    a = db.table(store, "attendance")
    seen = set(a.filter(a.meeting_id == mid).select("customer_id").to_pandas()[
        "customer_id"].astype(str))
    new = [i for i in ids if i not in seen]
    db.append(store, {"attendance": [{"meeting_id": mid, "customer_id": i,
                                      "recorded_at": _now(), "by_user": by} for i in new]})
    return new


def raise_point(store, meeting_id: str, text: str, *, customer_id: str | None = None,
                by: str | None = None) -> str:
    """Record a point raised at a meeting (by a member, or by the council as a whole);
    returns its id."""
    mid = check_meeting(store, meeting_id)
    text = (text or "").strip()
    if not text:
        raise CouncilError("A point raised needs its words.",
                           hint="Nothing was written. Give what the member said, e.g. "
                           "loyalist council point MT00012 'Invoices arrive late'.")
    cid = _check_members(store, [customer_id])[0] if customer_id else None
    (pid,) = db.next_ids(store, "PT", 1)
    db.append(store, {"points": [{"id": pid, "meeting_id": mid, "customer_id": cid,
                                  "text": text, "recorded_at": _now(), "by_user": by}]})
    return pid


def _point(store, point_id: str) -> dict:
    p = db.table(store, "points")
    rows = p.filter(p.id == str(point_id).strip()).to_pandas()
    if rows.empty:
        raise CouncilError(f"No point {point_id!r} raised at the council.",
                           hint="Nothing was written. loyalist council show lists "
                           "the points and their ids.")
    return rows.iloc[0].to_dict()


def commit(store, text: str, *, owner: str | None, due, point_id: str | None = None,
           meeting_id: str | None = None, customer_id: str | None = None,
           by: str | None = None) -> str:
    """Record a commitment made to the council: what will be done, by whom (``owner``,
    a person's staff id or name) and by when (``due``); made in answer to a point
    (``point_id``: its meeting and member come with it) or to a member at a meeting.
    Returns its id."""
    text = (text or "").strip()
    if not text:
        raise CouncilError("A commitment needs its words: what the firm will do.",
                           hint="Nothing was written. Give it, e.g. loyalist council "
                           "commit 'Send invoices with the goods' --owner S014 --due "
                           "2025-04-30 --point PT00013.")
    owner = (owner or "").strip()
    if not owner:
        raise CouncilError("A commitment needs an owner: the person who will keep it.",
                           hint="Nothing was written. Give --owner with their staff id or "
                           "name; the commitment becomes a worklist item for them.")
    if due is None or (isinstance(due, str) and not due.strip()):
        raise CouncilError("A commitment needs a due date.",
                           hint="Nothing was written. Give --due YYYY-MM-DD.")
    due_at = moment(due, "the due date")
    point = _point(store, point_id) if point_id else None
    if point is not None:
        meeting_id = meeting_id or point["meeting_id"]
        customer_id = customer_id or (point["customer_id"] if isinstance(
            point["customer_id"], str) else None)
    mid = check_meeting(store, meeting_id) if meeting_id else None
    if not customer_id:
        raise CouncilError("A commitment is made to a member: name them (--customer) or "
                           "the point they raised (--point).",
                           hint="Nothing was written. loyalist council show lists members "
                           "and points.")
    cid = _check_members(store, [customer_id])[0]
    (kid,) = db.next_ids(store, "CM", 1)
    now = _now()
    db.append(store, {"commitments": [{
        "commitment_id": kid, "event": "made", "at": now, "meeting_id": mid,
        "point_id": point["id"] if point is not None else None, "customer_id": cid,
        "text": text, "owner": owner, "due_at": due_at, "recorded_at": now,
        "by_user": by}]})
    return kid


def close(store, commitment_id: str, *, we_did: str, you_said: str | None = None,
          at=None, by: str | None = None) -> dict:
    """Close a commitment with "you said, we did": what the member said (default: the
    point they raised, else the commitment's words) and what the firm did. Returns the
    commitment as closed."""
    kid = str(commitment_id or "").strip()
    c = db.commitments_now(store)
    rows = c.filter(c.commitment_id == kid).to_pandas()
    if rows.empty:
        raise CouncilError(f"No commitment {kid!r}.",
                           hint="Nothing was written. loyalist council show lists them "
                           "with their ids.")
    row = rows.iloc[0].to_dict()
    if row["closed_at"] is not None and not pd.isna(row["closed_at"]):
        raise CouncilError(f"Commitment {kid} was already closed on "
                           f"{pd.Timestamp(row['closed_at']):%Y-%m-%d}.",
                           hint="Nothing was written; a closed commitment stays closed. "
                           "Record a new commitment if more was promised.")
    we_did = (we_did or "").strip()
    if not we_did:
        raise CouncilError("Closing a commitment needs what the firm did (\"we did\").",
                           hint="Nothing was written. Give --we-did 'Invoices now go out "
                           "with the delivery note'.")
    if not (you_said or "").strip():
        point = _point(store, row["point_id"]) if isinstance(row["point_id"], str) else None
        you_said = point["text"] if point is not None else row["text"]
    at = _when(at, "the date closed")
    db.append(store, {"commitments": [{
        "commitment_id": kid, "event": "closed", "at": at, "customer_id": row["customer_id"],
        "owner": row["owner"], "you_said": you_said.strip(), "we_did": we_did,
        "recorded_at": _now(), "by_user": by}]})
    return {**row, "closed_at": at, "you_said": you_said.strip(), "we_did": we_did}


def has_council(store) -> bool:
    """Whether the store holds the council's tables (a store made by this Loyalist)."""
    return db.has_council(store)


def due_commitments(store, as_of, remind_days: int) -> pd.DataFrame:
    """Open commitments due within ``remind_days`` of ``as_of`` (or overdue): the
    worklist's items for their owners."""
    return db.due_commitments(store, moment(as_of) + pd.Timedelta(days=remind_days))


__all__ = ["attend", "check_customers", "check_meeting", "close", "commit", "confirm",
           "current_members", "due_commitments", "has_council", "leave", "raise_point",
           "record_meeting"]
