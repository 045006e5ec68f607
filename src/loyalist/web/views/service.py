"""Service: responsiveness, call-backs, misrouting, open requests by age; routing of
new requests with their confidence."""

from __future__ import annotations

import threading

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from loyalist.errors import NotFittedError
from loyalist.web.auth import Caller, need
from loyalist.web.context import plain, records, thread_store
from loyalist.web.pages import html

router = APIRouter()
_router_lock = threading.Lock()


def service_data(store, cache) -> dict:
    """The service report's tables as JSON-ready data (cached until the next write)."""

    def make():
        from loyalist.decisions.service.report import service_report

        rep = service_report(store, sample=2000)
        by = {k: records(v.reset_index()) for k, v in rep.by.items() if k in ("team", "channel",
                                                                            "category")}
        ageing = rep.open_ageing.reset_index() if rep.open_ageing is not None else None
        return {"ok": True, "as_of": plain(rep.as_of), "summary": plain(rep.summary),
                "by": by, "monthly": records(rep.monthly.reset_index()),
                "open_ageing": records(ageing),
                "followthrough": records(rep.followthrough.reset_index()
                                         if rep.followthrough is not None else None)}

    return cache.get("service", make)


def _router(state):
    from loyalist.models.routing import load_router, newest_router_id

    newest = newest_router_id(state.store)
    with _router_lock:
        held = getattr(state, "router", None)
        if held is None or held[0] != newest or newest is None:
            state.router = held = (newest, load_router(state.store))
    return held[1]


def route_texts(state, texts: list[str]) -> dict:
    routed = _router(state).route(list(texts))
    routed.insert(0, "text", list(texts))
    return {"ok": True, "rows": records(routed.drop(columns=["id"], errors="ignore"))}


class RouteIn(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=1000,
                             description="Request texts to route.")


@router.get("/api/service", tags=["service"])
def api_service(request: Request, caller: Caller = Depends(need("viewer"))):
    """Service report: summary, by team/channel/category, monthly, open requests by age."""
    state = request.app.state
    return service_data(thread_store(state.store), state.cache)


@router.post("/api/route", tags=["service"])
def api_route(request: Request, body: RouteIn, caller: Caller = Depends(need("viewer"))):
    """Category, team and confidence of each text; unsure ones go to the human queue."""
    return route_texts(request.app.state, body.texts)


@router.get("/service", include_in_schema=False)
def service_page(request: Request, text: str | None = Query(None, max_length=5000),
                 caller: Caller = Depends(need("viewer"))):
    state = request.app.state
    data = service_data(thread_store(state.store), state.cache)
    routed, route_error = None, None
    if text:
        try:
            routed = route_texts(state, [text])["rows"][0]
        except NotFittedError as e:
            route_error = f"{e.message} {e.hint}"
    return html(request, "service.html", title="Service", data=data, text=text or "",
                routed=routed, route_error=route_error)
