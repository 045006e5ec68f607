"""The overview: risk, alerts, NPS, service health, loss rates and cohorts, this week's
top whispers, and the work open now.

The figures come from :mod:`loyalist.decisions.overview`: what changes only with the
data is read from derived tables (refreshed by ``loyalist score``, or here first when
they are stale), what must be live is counted when asked. Both are kept in memory for a
few seconds (``LIVE_SECONDS``), with the JSON already encoded: under load, a visit
costs the server almost nothing.
"""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from loyalist.web.auth import Caller, need
from loyalist.web.context import jsonable, plain, records, thread_store
from loyalist.web.pages import html

router = APIRouter()
#: how long the overview's live counts (open items, overdue, unanswered now) are kept
LIVE_SECONDS = 5.0


def _overview(store, cache) -> tuple[dict, bytes]:
    from loyalist.decisions import overview

    figures = cache.get("overview", lambda: overview.figures(store))

    def make():
        data = jsonable(overview.with_live(figures, overview.live(store)))
        return data, json.dumps(data, ensure_ascii=False, allow_nan=False,
                                separators=(",", ":")).encode()

    return cache.get("overview live", make, ttl=LIVE_SECONDS)


def overview_data(store, cache) -> dict:
    """Everything on the overview page, as JSON-ready data."""
    return _overview(store, cache)[0]


def metrics(store, freq: str = "M", by: str | None = None) -> dict:
    """Retention metrics: loss rates per period (optionally by segment or owner), the
    trailing 12 months, revenue retention (NRR/GRR) and value concentration."""
    from loyalist.features import retention

    basis = retention.retention_basis(store)
    conc = retention.value_concentration(store, basis=basis)
    return {"ok": True, "as_of": plain(basis.as_of), "mode": basis.mode,
            "horizon_days": basis.horizon,
            "loss_rates": records(retention.loss_rates(store, freq, by, basis=basis)),
            "trailing": records(retention.trailing_loss(store, by, basis=basis)),
            "revenue_retention": records(retention.revenue_retention(store)),
            "concentration": {"top_fraction": conc.top_fraction, "top_share": conc.top_share,
                              "customers": conc.customers, "total": plain(conc.total),
                              "source": conc.source}}


@router.get("/api/metrics", tags=["overview"])
def api_metrics(request: Request, freq: Literal["M", "Q", "Y"] = "M",
                by: Literal["segment", "owner"] | None = None,
                caller: Caller = Depends(need("viewer"))):
    """Loss rates by period (and segment or owner), NRR/GRR and value concentration."""
    state = request.app.state
    key = f"metrics:{freq}:{by}"
    return state.cache.get(key, lambda: metrics(thread_store(state.store), freq, by))


@router.get("/api/overview", tags=["overview"])
def api_overview(request: Request, caller: Caller = Depends(need("viewer"))):
    """Risk, alerts by kind, NPS, service health, loss rates and cohorts (each with the
    date it is as of and when it was refreshed), the top whispers, and the work open now
    (``work``: open items, overdue, requests unanswered)."""
    state = request.app.state
    return Response(_overview(thread_store(state.store), state.cache)[1],
                    media_type="application/json")


@router.get("/", include_in_schema=False)
def overview_page(request: Request, caller: Caller = Depends(need("viewer"))):
    state = request.app.state
    return html(request, "overview.html", title="Overview",
                data=overview_data(thread_store(state.store), state.cache))
