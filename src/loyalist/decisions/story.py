"""One customer's story: timeline of orders, requests, feedback and touches, with the
latest score, its whispers and the alerts, each naming its evidence, the customer's
value and how the risk changed from one score run to the next.

Every question asked of one customer is built once per store with the customer's id as
a parameter and compiled once (:mod:`loyalist.store.prepared`); the store's indexes by
customer answer each without reading whole tables. The timeline is one query (a
``UNION ALL`` over the four event tables in one narrow shape, the newest ``limit`` rows
chosen in the engine by a row number: an ``ORDER BY ... LIMIT`` would make DuckDB scan
the tables instead of using the indexes); profile, score, value, reasons, alerts and
history are one small query each, read through Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from loyalist.errors import DataError
from loyalist.store.prepared import prepare

#: derived tables read per customer, by the name the story gives them
DERIVED = {"score": "scores", "value": "customer_value", "reasons": "reasons",
           "alerts": "alerts", "history": "score_history"}


@dataclass
class Story:
    customer_id: str
    profile: dict
    timeline: pd.DataFrame  # at, what, id, detail
    score: dict | None
    reasons: pd.DataFrame
    alerts: pd.DataFrame
    value: dict | None = None
    #: one row per score run: as_of, p_leave, model_id, top_reason (oldest first); empty
    #: when the store has no ``score_history`` (stores scored before it existed)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)


def _events(limit: int):
    """How to build the query of the newest ``limit`` events of one customer (parameter
    ``customer_id``) from the four event tables, in one narrow shape: at, source, id,
    label, text, note, number, later."""

    def build(store):
        s, f, ts = dt.string, dt.float64, dt.timestamp
        customer_id = ibis.param(s)

        def shape(t, source, at, label, text, note, number, later):
            return t.filter(t.customer_id == customer_id).select(
                at=t[at].cast(ts), source=ibis.literal(source, s), id=t.id.cast(s),
                label=label.cast(s), text=text.cast(s), note=note.cast(s),
                number=number.cast(f), later=later.cast(ts))

        o, r = store.table("orders"), store.table("requests")
        fb, t = store.table("feedback"), store.table("touches")
        parts = [
            shape(o, "order", "ordered_at", ibis.null(s), o.status, ibis.null(s), o.amount,
                  ibis.null(ts)),
            shape(r, "request", "opened_at",
                  r.channel.fill_null("?").concat(", ", r.category.fill_null("?")),
                  r.subject.fill_null(r.text), ibis.null(s), ibis.null(f),
                  r.first_response_at),
            shape(fb, "feedback", "answered_at", ibis.null(s), fb.comment, ibis.null(s),
                  fb.nps, ibis.null(ts)),
            shape(t, "touch", "at", t.kind, t.outcome, t.note, ibis.null(f), ibis.null(ts)),
        ]
        events = ibis.union(*parts)
        newest = events.mutate(_n=ibis.row_number().over(order_by=ibis.desc("at")))
        return newest.filter(newest._n < limit).drop("_n"), {"customer_id": customer_id}

    return build


def _lookup(table: str):
    """How to build the query of one customer's rows of ``table``."""

    def build(store):
        t, customer_id = store.table(table), ibis.param(dt.string)
        column = "id" if table == "customers" else "customer_id"
        return t.filter(t[column] == customer_id), {"customer_id": customer_id}

    return build


def _detail(e) -> tuple[str, str]:
    """What an event was and its one-line detail."""
    text = "" if e.text is None else str(e.text)
    if e.source == "order":
        detail = f"{e.number:,.2f}" if pd.notna(e.number) else ""
        return "order", (detail + (f" ({text})" if e.text is not None else "")).strip()
    if e.source == "request":
        wait = ("unanswered" if pd.isna(e.later) else
                f"answered after {(e.later - e.at).total_seconds() / 3600:.1f} h")
        return f"request ({e.label})", f"{text[:60]} - {wait}"
    if e.source == "feedback":
        nps = f"NPS {int(e.number)}" if pd.notna(e.number) else "no NPS"
        return "feedback", nps + (f' "{text[:50]}"' if e.text is not None else "")
    return f"touch ({e.label})", f"{e.text or ''} {e.note or ''}"


def _timeline(events: pd.DataFrame) -> pd.DataFrame:
    events = events.sort_values("at", kind="stable", ignore_index=True)
    described = [_detail(e) for e in events.itertuples(index=False)]
    return pd.DataFrame({"at": events["at"], "what": [w for w, _ in described],
                         "id": events["id"], "detail": [d for _, d in described]})


def story(store, customer_id: str, limit: int = 200) -> Story:
    """The customer's whole story: profile, the newest ``limit`` timeline events (oldest
    first), the latest score with its reasons and alerts, value and score history.

    Raises :class:`DataError` when the store knows nothing of ``customer_id``.
    """
    present = set(store.tables())

    def rows(table: str) -> pd.DataFrame:
        return prepare(store, ("story", table), _lookup(table)).frame(
            store, customer_id=customer_id)

    got = {"profile": rows("customers")}
    for name, table in DERIVED.items():
        if table in present:
            got[name] = rows(table)
    events = prepare(store, ("story events", limit), _events(limit)).frame(
        store, customer_id=customer_id)
    if got["profile"].empty and events.empty:
        raise DataError(f"No customer {customer_id!r} in the store.",
                        hint="Check the id (loyalist score lists the riskiest customers).")

    def first(name):
        df = got.get(name)
        return df.iloc[0].to_dict() if df is not None and len(df) else None

    history = got.get("history", pd.DataFrame())
    if len(history):
        history = history.sort_values(["as_of", "model_id"], ignore_index=True)
    return Story(customer_id, first("profile") or {}, _timeline(events), first("score"),
                 got.get("reasons", pd.DataFrame()), got.get("alerts", pd.DataFrame()),
                 value=first("value"), history=history)
