"""Listening: competitors in customers' own words and why customers left (read-only).

The page and its JSON twin compute :func:`loyalist.listening.analysis.listen` and
:func:`~loyalist.listening.analysis.loss_reasons_of` with the store's ``[listening]``
settings, once, and keep the result until the next write.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from loyalist.errors import DataError
from loyalist.web.auth import Caller, need
from loyalist.web.context import records, thread_store
from loyalist.web.pages import html

router = APIRouter()


def listening_data(store, cache, limit: int = 50) -> dict:
    """Competitors named (summary, trends, whispers, names to confirm) and the stated
    reasons for leaving, as JSON-ready data (cached until the next write)."""

    def make():
        from loyalist.listening import listening

        rep = listening(store, store.settings.listening)
        if rep.competition is None:
            return {"ok": True, "competitors": [], "proposed": records(rep.proposed.head(limit))}
        res = rep.competition
        return {"ok": True, "competitors": rep.competitors,
                "as_of": str(res.as_of.date()), "texts": res.texts,
                "summary": records(res.summary()), "whispers": records(res.whispers.head(limit)),
                "trends": records(res.trends), "proposed": records(res.proposed.head(limit)),
                "mentions": records(res.mentions.tail(limit)), "lost": len(rep.reasons),
                "reasons": records(rep.reasons_overall()),
                "reasons_by": records(rep.reasons_by),
                "losses": records(rep.reasons.sort_values("lost_at", ascending=False)
                                  .head(limit))}

    return cache.get(f"listening:{limit}", make)


@router.get("/api/listening", tags=["listening"])
def api_listening(request: Request, limit: int = Query(50, ge=1, le=1000),
                  caller: Caller = Depends(need("viewer"))):
    """Competitor mentions (summary per competitor, trends by month and segment, the
    latest ``limit`` mentions with evidence), whispers, names to confirm, and the
    stated reasons for leaving with the unknown share."""
    state = request.app.state
    return listening_data(thread_store(state.store), state.cache, limit)


@router.get("/listening", include_in_schema=False)
def listening_page(request: Request, caller: Caller = Depends(need("viewer"))):
    state = request.app.state
    try:
        data, problem = listening_data(thread_store(state.store), state.cache), None
    except DataError as e:
        data, problem = None, e
    return html(request, "listening.html", title="Listening", data=data, problem=problem)
