"""One customer's story: timeline of orders, requests, feedback and touches, with the
latest score, its whispers and the alerts, each naming its evidence, the customer's
value and how the risk changed from one score run to the next.

Every question asked of one customer is built once per store with the customer's id as
a parameter and compiled once (:mod:`loyalist.store.prepared`); the store's indexes by
customer answer each without reading whole tables. The timeline is one query (a
``UNION ALL`` over the event tables (returned order lines as refunds) in one narrow shape, the newest ``limit`` rows
chosen in the engine by a row number: an ``ORDER BY ... LIMIT`` would make DuckDB scan
the tables instead of using the indexes); profile, score, value, reasons, alerts and
history are one small query each, read as plain Python values (one query for all of
them, cross-joined lists, took DuckDB longer to plan than the six take to run).
"""

from __future__ import annotations

import json
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
        lines = store.table("order_lines")
        back = lines.filter((lines.customer_id == customer_id) & (lines.status == "returned"))
        parts.append(back.select(  # each returned line: a refund against its order
            at=back["at"].cast(ts), source=ibis.literal("refund", s),
            id=back.document.cast(s), label=back.product.cast(s), text=back.order_id.cast(s),
            note=ibis.null(s), number=back.amount.cast(f), later=ibis.null(ts)))
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


def _text(v) -> str | None:
    """A value as text, or None when there is none (None, NaN, blank, 'nan')."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    text = str(v).strip()
    return None if not text or text.lower() in ("nan", "none", "nat", "null") else text


def describe(e: dict) -> tuple[str, str]:
    """What an event (a row of the timeline query) was and its one-line detail, in words
    (no 'nan' or 'None' where a value is missing)."""
    from loyalist.decisions.words import duration, name_words

    text = _text(e["text"])
    number, label = e["number"], _text(e["label"])
    if e["source"] == "order":
        detail = f"{number:,.2f}" if pd.notna(number) else ""
        return "order", (detail + (f" ({text})" if text else "")).strip()
    if e["source"] == "request":
        later = e["later"]
        wait = ("unanswered" if pd.isna(later) else
                "answered after " + duration((later - e["at"]).total_seconds() / 86_400))
        what = f"request ({label})" if label else "request"
        return what, (f"{text[:60]} - {wait}" if text else wait)
    if e["source"] == "refund":
        amount = f"{number:,.2f} refunded" if pd.notna(number) else "returned"
        what = f" for {label}" if label else ""
        return "refund", f"{amount}{what} (order {text})"
    if e["source"] == "feedback":
        nps = f"NPS {int(number)}" if pd.notna(number) else "no NPS"
        return "feedback", nps + (f' "{text[:50]}"' if text else "")
    outcome = name_words(text) if text else ""
    note = _text(e["note"])
    what = f"contact ({label})" if label else "contact"
    return what, (outcome + (f": {note}" if note else "")).strip()


def timeline_rows(events: list[dict]) -> list[dict]:
    """The events as the timeline shows them, oldest first: at, what, id, detail."""
    events = sorted(events, key=lambda e: (e["at"] is None, e["at"] or 0))
    out = []
    for e in events:
        what, detail = describe(e)
        out.append({"at": e["at"], "what": what, "id": e["id"], "detail": detail})
    return out


def customer_rows(store, customer_id: str, limit: int = 200) -> dict[str, list[dict]]:
    """One customer's rows as plain Python values, one query each (compiled once per
    store): ``profile``, ``score``, ``value``, ``reasons``, ``alerts``, ``history`` (the
    derived tables the store has) and ``events``, the newest ``limit`` of them (in no
    order). The cheapest way to read a customer: :func:`story` builds on it.

    Raises :class:`DataError` when the store knows nothing of ``customer_id``.
    """
    present = set(store.tables())
    got = {"profile": prepare(store, ("story", "customers"), _lookup("customers")).rows(
        store, customer_id=customer_id)}
    for name, table in DERIVED.items():
        got[name] = (prepare(store, ("story", table), _lookup(table)).rows(
            store, customer_id=customer_id) if table in present else [])
    got["events"] = prepare(store, ("story events", limit), _events(limit)).rows(
        store, customer_id=customer_id)
    if not got["profile"] and not got["events"]:
        raise DataError(f"No customer {customer_id!r} in the store.",
                        hint="Check the id (loyalist score lists the riskiest customers).")
    got["history"].sort(key=lambda r: (r["as_of"], r["model_id"]))
    return got


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows) if rows else pd.DataFrame()


def story(store, customer_id: str, limit: int = 200) -> Story:
    """The customer's whole story: profile, the newest ``limit`` timeline events (oldest
    first), the latest score with its reasons and alerts, value and score history.

    Raises :class:`DataError` when the store knows nothing of ``customer_id``.
    """
    got = customer_rows(store, customer_id, limit)
    timeline = pd.DataFrame(timeline_rows(got["events"]),
                            columns=["at", "what", "id", "detail"])
    timeline["at"] = pd.to_datetime(timeline["at"])

    def first(name):
        return dict(got[name][0]) if got[name] else None

    return Story(customer_id, first("profile") or {}, timeline, first("score"),
                 _frame(got["reasons"]), _frame(got["alerts"]), value=first("value"),
                 history=_frame(got["history"]))


#: the value models as their papers name them
_MODEL_NAMES = {"paretonbd": "Pareto/NBD", "bgnbd": "BG/NBD", "bgbb": "BG/BB",
                "gammagamma": "Gamma-Gamma", "mbgnbd": "MBG/NBD"}


def risk_questions(store, score: dict | None, value: dict | None) -> list[dict]:
    """The customer's risk figures, each with the question it answers and whether it
    drives the worklist: P(leave) of the churn model (which question depends on what it
    was trained to predict) and P(still a customer) of the value model."""
    out = []
    if score and score.get("p_leave") is not None:
        info: dict = {}
        try:
            m = store.models("churn")
            row = m[m["id"] == score.get("model_id")]
            info = row["info"].iloc[0] if len(row) else {}
            info = json.loads(info) if isinstance(info, str) else (info or {})
        except Exception:  # noqa: BLE001 - an old store without models: the plain question
            info = {}
        mode, horizon = info.get("mode"), info.get("horizon")
        within = f"in the next {horizon} days" if horizon else "soon"
        question = {
            "lapse": f"Will they place no order {within}?",
            "contract": f"Will every subscription they hold end {within}?",
            "table": f"Are they like the customers marked as gone ({info.get('label')})?",
        }.get(mode, f"Will they leave {within}?")
        out.append({"figure": "P(leave)", "value": score["p_leave"], "question": question,
                    "model": f"churn model #{score.get('model_id')}", "drives_list": True})
    if value and value.get("p_alive") is not None:
        out.append({"figure": "P(still a customer)", "value": value["p_alive"],
                    "question": "By the rhythm of their past orders alone, are they still "
                                "buying from you at all?",
                    "model": "value model (" + _MODEL_NAMES.get(
                        str(value.get("model")).lower(), value.get("model") or "BG/NBD") + ")",
                    "drives_list": False})
    return out
