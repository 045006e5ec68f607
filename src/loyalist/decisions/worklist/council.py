"""The customer council's reasons for a worklist item.

``promise``: each member with a commitment still open and due within ``[council]
remind_days`` of the run (or overdue), read from the council's records in the store;
one row per member (their promises together), owned by the person who made the
earliest one and due on its date. ``stopped_attending``: each member who missed the
latest ``[council] missed_meetings`` meetings (the council's whisper).
"""

from __future__ import annotations

import pandas as pd

from loyalist.store import council as records

COLUMNS = ["customer_id", "why", "evidence", "promise_owner", "promise_due"]


def _none() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})


def _day(ts) -> str:
    ts = pd.Timestamp(ts)
    return f"{ts.day} {ts:%B %Y}"


def council_reasons(store, trigger: str, as_of) -> pd.DataFrame:
    """The members a council trigger picks, with why (in words), evidence, and for a
    promise its owner and due date."""
    if not records.has_council(store):
        return _none()
    as_of = pd.Timestamp(as_of)
    settings = store.settings.council
    if trigger == "stopped_attending":
        from loyalist.council.state import council_state

        w = council_state(store, as_of, settings).whispers
        w = w[w["kind"] == "stopped_attending"]
        return w[["customer_id"]].assign(why=w["text"], evidence="council:" + w["evidence"],
                                         promise_owner=None, promise_due=pd.NaT)
    due = records.due_commitments(store, as_of + pd.Timedelta(days=settings.remind_days))
    due = due.sort_values(["customer_id", "due_at", "commitment_id"], kind="stable")
    if due.empty:
        return _none()
    late = due["due_at"] < as_of
    words = pd.Series([
        f"Promised at the customer council, {'overdue since' if lt else 'due'} "
        f"{_day(d)}: \u201c{t}\u201d" for lt, d, t in zip(late, due["due_at"], due["text"],
                                                          strict=True)], index=due.index)
    due = due.assign(words=words)
    g = due.groupby("customer_id", sort=True)
    out = pd.DataFrame({
        "why": g["words"].agg("; ".join), "evidence": g["commitment_id"].agg(
            lambda ids: " ".join("council:" + i for i in ids)),
        "promise_owner": g["owner"].first(), "promise_due": g["due_at"].min()})
    return out.reset_index()[COLUMNS]
