"""Scores, reasons and alerts as paged lists (API only; the pages show them in place)."""

from __future__ import annotations

import ibis
from fastapi import APIRouter, Depends, Query, Request

from loyalist.web.auth import Caller, need
from loyalist.web.context import Limit, Offset, page, paged, thread_store
from loyalist.web.errors import NotFoundError

router = APIRouter(tags=["scores"])


def _derived(store, name: str, command: str):
    if name not in store.tables():
        raise NotFoundError(f"The store has no {name} yet.", hint=f"Run `{command}` first.")
    return store.table(name)


def score_list(store, *, min_p: float = 0.0, limit: int = 50, offset: int = 0) -> dict:
    s = _derived(store, "scores", "loyalist score")
    s = s.filter(s.p_leave >= min_p)
    total, rows = page(s, limit, offset, [ibis.desc("p_leave"), ibis.asc("customer_id")])
    return paged(rows, total, limit, offset)


@router.get("/api/scores")
def api_scores(request: Request, min_p: float = Query(0.0, ge=0, le=1), limit: Limit = 50,
               offset: Offset = 0, caller: Caller = Depends(need("viewer"))):
    """P(leave) of every scored customer, riskiest first, paged."""
    return score_list(thread_store(request.app.state.store), min_p=min_p, limit=limit,
                      offset=offset)


def _listing(request: Request, name: str, filters: dict, order, limit: int,
             offset: int) -> dict:
    t = _derived(thread_store(request.app.state.store), name, "loyalist score")
    for column, value in filters.items():
        if value:
            t = t.filter(t[column] == value)
    total, rows = page(t, limit, offset, order)
    return paged(rows, total, limit, offset)


@router.get("/api/reasons")
def api_reasons(request: Request, customer_id: str | None = Query(None, max_length=200),
                family: str | None = Query(None, max_length=100), limit: Limit = 50,
                offset: Offset = 0, caller: Caller = Depends(need("viewer"))):
    """The whispers behind each score, with their evidence, paged."""
    return _listing(request, "reasons", {"customer_id": customer_id, "family": family},
                    [ibis.asc("customer_id"), ibis.asc("rank")], limit, offset)


@router.get("/api/alerts")
def api_alerts(request: Request, kind: str | None = Query(None, max_length=100),
               customer_id: str | None = Query(None, max_length=200), limit: Limit = 50,
               offset: Offset = 0, caller: Caller = Depends(need("viewer"))):
    """Hard alerts (unanswered requests, cancel words, detractors...), newest first."""
    return _listing(request, "alerts", {"kind": kind, "customer_id": customer_id},
                    [ibis.desc("at"), ibis.asc("customer_id")], limit, offset)
