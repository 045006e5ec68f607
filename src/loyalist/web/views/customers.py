"""Customers: search with paging, and one customer's whole story."""

from __future__ import annotations

import ibis
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from loyalist.store.prepared import prepare
from loyalist.web.auth import Caller, check_csrf, need
from loyalist.web.context import (
    Limit,
    Offset,
    json_rows,
    jsonable,
    paged,
    plain,
    thread_store,
)
from loyalist.web.errors import NotFoundError
from loyalist.web.pages import customer_href, html
from loyalist.web.writes import KINDS, OUTCOMES, answer, log_touch

router = APIRouter()


def _search(has_q: bool, scored: bool, limit: int, offset: int, count_only: bool = False):
    """How to build one page of the search (riskiest first), each row with the total of
    matching customers; or only their count. The text is bound (``q``: an id prefix;
    ``q_lower``: part of the name, lower case), never a pattern."""

    def build(store):
        c = store.table("customers").select("id", "name", "segment", "owner", "created_at")
        params = {}
        if has_q:
            q, q_lower = ibis.param("string"), ibis.param("string")
            c = c.filter(c.id.startswith(q) | c.name.lower().contains(q_lower))
            params = {"q": q, "q_lower": q_lower}
        if count_only:
            return c.aggregate(total=c.count()), params
        order = [ibis.asc("id")]
        if scored:
            s = store.table("scores").select("customer_id", "p_leave", "top_reason", "alerts")
            c = c.left_join(s, c.id == s.customer_id).drop("customer_id")
            order = [ibis.desc("p_leave"), ibis.asc("id")]
        if has_q:  # a few matching rows: count them on the way (scores: one per customer)
            c = c.mutate(_total=c.id.count().over(ibis.window()))
        return c.order_by(order).limit(limit, offset=offset), params

    return build


def customer_list(store, q: str | None = None, limit: int = 50, offset: int = 0) -> dict:
    """Customers matching ``q`` (id prefix or part of the name), riskiest first.

    One query per page (compiled once per page size and start), which also counts the
    matching customers when there is a ``q``; otherwise (or past the last page) one
    more query counts them.
    """
    scored = "scores" in store.tables()
    values = {"q": q, "q_lower": q.lower()} if q else {}
    rows = prepare(store, ("search", bool(q), scored, limit, offset),
                   _search(bool(q), scored, limit, offset)).rows(store, **values)
    if q and rows:
        total = rows[0].pop("_total")
        for r in rows[1:]:
            del r["_total"]
    else:
        total = prepare(store, ("search count", bool(q)),
                        _search(bool(q), scored, 0, 0, count_only=True)
                        ).rows(store, **values)[0]["total"]
        for r in rows:
            r.pop("_total", None)
    return paged(json_rows(rows), total, limit, offset, q=q or "")


def open_items_of(store, customer_id: str, names: dict | None = None) -> list[dict]:
    """The customer's open worklist items, most urgent first, with their owners' names."""
    from loyalist.decisions.worklist.outcomes import ITEM_COLUMNS, people
    from loyalist.store.worklist import ranked_open_rows

    names = people(store) if names is None else names
    rows = [{c: r.get(c) for c in ITEM_COLUMNS} for r in ranked_open_rows(store, customer_id)]
    for r in rows:
        r["owner_name"] = names.get(r["owner"], r["owner"]) if r["owner"] else None
    return json_rows(rows)


def customer_detail(store, customer_id: str) -> dict:
    """Profile, value, score with its reasons and history, alerts, open items and the
    timeline (newest first)."""
    from loyalist.decisions.signals.story import customer_rows, timeline_rows
    from loyalist.errors import DataError

    try:
        got = customer_rows(store, customer_id, limit=500)
    except DataError:
        got = None
    if got is None or not got["profile"]:
        raise NotFoundError(f"No customer {customer_id!r} in the store.",
                            hint="Search by name or id at /customers.")
    history = [{k: h.get(k) for k in ("as_of", "p_leave", "top_reason", "model_id")}
               for h in got["history"]]

    def first(name):
        return plain(got[name][0]) if got[name] else None

    from loyalist.decisions.worklist.outcomes import people

    names = people(store)
    profile = first("profile")
    if profile and profile.get("owner"):
        profile["owner_name"] = names.get(profile["owner"], profile["owner"])
    from loyalist.decisions.signals.story import risk_questions

    score, value = first("score"), first("value")
    return {"ok": True, "customer_id": customer_id, "profile": profile,
            "value": value, "score": score,
            "questions": risk_questions(store, score, value),
            "score_history": json_rows(history),
            "reasons": json_rows(sorted(got["reasons"], key=lambda r: r["rank"])),
            "alerts": json_rows(_alerts_in_words(store, got["alerts"])),
            "open_items": open_items_of(store, customer_id, names),
            "waiting": _waiting(store, customer_id, names),
            "council": _council(store, customer_id, names),
            "timeline": json_rows(timeline_rows(got["events"])[::-1])}


def _council(store, customer_id: str, names: dict) -> dict | None:
    """The customer's place on the council (None when they never joined): meetings
    attended and missed, and the open commitments made to them with their owners."""
    from loyalist.council import member_council

    got = member_council(store, customer_id)
    if got is None:
        return None
    for c in got["commitments"]:
        c["owner_name"] = names.get(c["owner"], c["owner"]) if c["owner"] else None
    return jsonable(got)


def _waiting(store, customer_id: str, names: dict) -> list[dict]:
    """What of the customer waits beyond today's caps (the backlog), with the playbook
    and the owner in words."""
    from loyalist.decisions.words import name_words
    from loyalist.decisions.worklist.backlog import waiting_of

    rows = waiting_of(store, customer_id)
    for r in rows:
        r["playbook_words"] = name_words(r["playbook"])
        r["owner_name"] = names.get(r["owner"], r["owner"]) if r.get("owner") else None
    return json_rows(rows)


def _alerts_in_words(store, alerts: list[dict]) -> list[dict]:
    """The customer's alerts, alarms first, each with its kind in words and its level
    (from the alert row, else the stored weights)."""
    from loyalist.decisions.signals.alert_weights import LEVELS, levels
    from loyalist.decisions.words import kind_words

    known = levels(store) if any(not a.get("level") for a in alerts) else {}
    out = []
    for a in alerts:
        level = a.get("level") or known.get(a["kind"], "not weighed")
        out.append({**a, "level": level, "kind_words": kind_words(a["kind"])})
    return sorted(out, key=lambda a: (LEVELS.index(a["level"]) if a["level"] in LEVELS
                                      else 9, not a.get("must_do"), str(a.get("at") or "")))


def warm(store) -> None:
    """Compile the queries of a search, a customer's page and an outcome's checks (each
    once per store) on the first customer, before any visitor asks."""
    from loyalist.store.lookups import is_customer, knows_customer

    first = store.table("customers").id.min().execute()
    if not isinstance(first, str):  # no customers: None (DuckDB) or NaN (Spark)
        return
    customer_list(store, first[:-1] or first, 20, 0)
    customer_list(store, first[:-1] or first, 50, 0)
    customer_detail(store, first)
    is_customer(store, first)
    knows_customer(store, first)


@router.get("/api/customers", tags=["customers"])
def api_customers(request: Request, q: str | None = Query(None, max_length=200),
                  limit: Limit = 50, offset: Offset = 0,
                  caller: Caller = Depends(need("viewer"))):
    """Customers matching ``q`` (id prefix or part of the name), riskiest first, paged."""
    return customer_list(thread_store(request.app.state.store), q, limit, offset)


@router.get("/api/customers/{customer_id:path}", tags=["customers"])
def api_customer(request: Request, customer_id: str,
                 caller: Caller = Depends(need("viewer"))):
    """One customer: profile, value, P(leave), reasons, alerts, open items, timeline."""
    return customer_detail(thread_store(request.app.state.store), customer_id)


class TouchIn(BaseModel):
    customer_id: str = Field(min_length=1, max_length=200)
    outcome: str = Field(min_length=1, max_length=40, description=", ".join(OUTCOMES))
    note: str | None = Field(None, max_length=2000)
    kind: str = Field("call", min_length=1, max_length=40)
    at: str | None = Field(None, max_length=40, description="When (ISO 8601); default now.")
    item_id: str | None = Field(None, max_length=200, description="The item the contact "
                                "answered; default the customer's only open item (with "
                                "several, name one or set no_item).")
    no_item: bool = Field(False, description="Log the contact without closing any item.")
    request_id: str | None = Field(None, max_length=200, description="The request the "
                                   "contact was about (default: the item's request).")
    order_id: str | None = Field(None, max_length=200, description="The order the contact "
                                 "was about (default: the item's order).")


@router.post("/api/touches", tags=["touches"], status_code=201)
def api_touch(request: Request, touch: TouchIn, caller: Caller = Depends(need("agent"))):
    """Log a touch and its outcome; attributed to the caller. Honours Idempotency-Key."""

    from loyalist.decisions.worklist.outcomes import contact_time

    at = contact_time(touch.at) if touch.at else None
    body, replayed = log_touch(request.app.state, caller, touch.customer_id, touch.outcome,
                               note=touch.note, kind=touch.kind, at=at, item_id=touch.item_id,
                               no_item=touch.no_item, request_id=touch.request_id,
                               order_id=touch.order_id,
                               key=request.headers.get("idempotency-key"))
    return answer(body, replayed, created=True)


@router.get("/customers", include_in_schema=False)
def customers_page(request: Request, q: str | None = Query(None, max_length=200),
                   limit: Limit = 50, offset: Offset = 0,
                   caller: Caller = Depends(need("viewer"))):
    data = customer_list(thread_store(request.app.state.store), q, limit, offset)
    return html(request, "customers.html", title="Customers", data=data)


@router.get("/customers/{customer_id:path}", include_in_schema=False)
def customer_page(request: Request, customer_id: str,
                  caller: Caller = Depends(need("viewer"))):
    data = customer_detail(thread_store(request.app.state.store), customer_id)
    return html(request, "customer.html", title=f"Customer {customer_id}", data=data,
                outcomes=OUTCOMES, kinds=KINDS)


@router.post("/customers/outcome", include_in_schema=False, dependencies=[Depends(check_csrf)])
def customer_outcome(request: Request, customer_id: str = Form(..., min_length=1, max_length=200),
                     outcome: str = Form(..., min_length=1, max_length=40),
                     note: str | None = Form(None, max_length=2000),
                     kind: str = Form("call", max_length=40),
                     item_id: str = Form("", max_length=200),
                     caller: Caller = Depends(need("agent"))):
    """The customer page's form: ``item_id`` is an item, or ``none`` for a contact that
    answers no item."""
    body, _ = log_touch(request.app.state, caller, customer_id, outcome, note=note or None,
                        kind=kind, item_id=None if item_id in ("", "none") else item_id,
                        no_item=item_id == "none")
    return RedirectResponse(f"{customer_href(customer_id)}?logged={len(body['closed'])}",
                            status_code=303)
