"""Losses by cause and department: the JSON and the page ``/team/losses`` (the firm's
or one segment's, by period), read-only.

:func:`loyalist.team.department_losses` with the store's ``[departments]`` settings,
beside the stated reasons by department, computed once and kept until the next write.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from loyalist.web.auth import Caller, need
from loyalist.web.context import records, thread_store
from loyalist.web.pages import html

router = APIRouter()


def losses_data(store, cache, freq: str = "Q", segment: str | None = None) -> dict:
    """Lost revenue attributed to each department's failures per period and overall,
    the kinds' coefficients, and the stated reasons side by side (JSON-ready); with
    ``segment``, that segment's customers only."""

    def make():
        from loyalist.team.losses import department_losses, side_by_side, stated_reasons

        dl = department_losses(store, freq=freq, segment=segment)
        return {"ok": True, **dl.to_dict(),
                "side_by_side": records(side_by_side(dl, stated_reasons(
                    store, store.settings, segment)))}

    return cache.get(f"team-losses:{freq}:{segment!r}", make)


@router.get("/api/team/losses", tags=["team"])
def api_team_losses(request: Request, freq: str = Query("Q", pattern="^[MQY]$"),
                    segment: str | None = Query(None, max_length=200),
                    caller: Caller = Depends(need("viewer"))):
    """Losses by cause and department: per period (``freq`` M, Q or Y) and department
    the lost revenue attributed to its failures (excess over stayers who met the same),
    the naive share, the stayers' rate, the loss target; and the stated reasons by
    department beside it, never mixed. ``segment``: only that segment's customers
    (weighed by the firm's model)."""
    state = request.app.state
    return losses_data(thread_store(state.store), state.cache, freq, segment or None)


@router.get("/team/losses", include_in_schema=False)
def team_losses_page(request: Request, freq: str = Query("Q", pattern="^[MQY]$"),
                     segment: str | None = Query(None, max_length=200),
                     caller: Caller = Depends(need("viewer"))):
    """The losses by department as a page: a chart of each department's share with its
    interval, the table, the loss rate by period against the target and the stated
    reasons beside it; a form picks the segment and the periods."""
    from loyalist.team.losses import NONE, segments

    state = request.app.state
    store = thread_store(state.store)
    segment = segment or None
    data = losses_data(store, state.cache, freq, segment)
    bars = [{"department": r["department"], "share": r["share_of_lost_revenue"],
             "low": r.get("share_low"), "high": r.get("share_high")}
            for r in data["overall"] if r["department"] != NONE
            and r["share_of_lost_revenue"] is not None]
    choices = state.cache.get("team-segments", lambda: segments(store))
    title = f"Losses by department: {segment}" if segment else "Losses by department"
    return html(request, "team_losses.html", title=title, data=data, bars=bars,
                segments=choices, segment=segment, freq=freq)
