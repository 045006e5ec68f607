"""Relationship: trust and commitment, want vs deliver, key drivers and the four
segments, as the last ``loyalist relationship`` run kept them.

Nothing is analysed on a request: the analysis (LightGBM models, bootstrap intervals)
takes minutes on a large store, so the page shows what ``loyalist relationship`` stored
(``relationship_summary`` and ``relationship_segments``), read once and cached until
the next write.
"""

from __future__ import annotations

import ibis
from fastapi import APIRouter, Depends, Query, Request

from loyalist.errors import NotFittedError
from loyalist.web.auth import Caller, need
from loyalist.web.context import records, thread_store
from loyalist.web.pages import html

router = APIRouter()

#: the segments whose customers the page lists, and how many of each
LISTED = ("at-risk promoter", "silent promoter")


def relationship_data(store, cache, listed: int = 25) -> dict:
    """The stored analysis as JSON-ready data, with the first ``listed`` customers of
    each segment in :data:`LISTED` (cached until the next write)."""

    def make():
        from loyalist.relationship.analysis import SEGMENTS_TABLE, stored_page_data

        data = stored_page_data(store)
        if data is None:
            raise NotFittedError("No relationship analysis has been kept for this store yet.",
                                 hint="Run: loyalist relationship --store "
                                 f"{getattr(store, 'path', 'STORE')}")
        people = {}
        if SEGMENTS_TABLE in store.tables():
            t = store.table(SEGMENTS_TABLE)
            for seg in LISTED:
                rank = t.p_leave if seg == "at-risk promoter" else t.p_promoter
                rows = (t.filter(t.relationship_segment == seg)
                        .order_by([ibis.desc(rank), t.customer_id]).limit(listed)
                        .select("customer_id", "said_nps", "said_at", "p_leave", "p_promoter",
                                "why", "action").to_pandas())
                people[seg] = records(rows)
        return {"ok": True, **data, "people": people}

    return cache.get(f"relationship:{listed}", make)


@router.get("/api/relationship", tags=["relationship"])
def api_relationship(request: Request, listed: int = Query(25, ge=0, le=500),
                     caller: Caller = Depends(need("viewer"))):
    """The last relationship analysis: reliability, want vs deliver (with the
    importance-performance points), key drivers, segments, findings, and the first
    ``listed`` at-risk and silent promoters."""
    state = request.app.state
    return relationship_data(thread_store(state.store), state.cache, listed)


@router.get("/relationship", include_in_schema=False)
def relationship_page(request: Request, caller: Caller = Depends(need("viewer"))):
    state = request.app.state
    try:
        data, missing = relationship_data(thread_store(state.store), state.cache), None
    except NotFittedError as e:
        data, missing = None, e
    return html(request, "relationship.html", title="Relationship", data=data,
                missing=missing)
