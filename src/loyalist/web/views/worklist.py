"""The worklist: my items and the team's, with reasons and evidence, filters, and one
click to log an outcome; its progress per playbook; and the measured impact."""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse

from loyalist.errors import DataError
from loyalist.web.auth import Caller, check_csrf, need
from loyalist.web.context import Limit, Offset, paged, plain, records, thread_store
from loyalist.web.pages import html
from loyalist.web.writes import KINDS, OUTCOMES, log_touch

router = APIRouter()
FILTERS = ("mine", "owner", "playbook", "segment", "due_before")


def worklist_items(store, caller: Caller, *, mine: bool = False, owner: str | None = None,
                   playbook: str | None = None, segment: str | None = None,
                   due_before: str | None = None, limit: int = 50, offset: int = 0) -> dict:
    """Open items, most urgent first, filtered; ``mine`` = owned by the caller."""
    from loyalist.decisions.outcomes import open_items, people

    if due_before:
        try:
            due = pd.Timestamp(due_before)
        except ValueError:
            raise DataError(f"Cannot read the date {due_before!r}.",
                            hint="Use YYYY-MM-DD.") from None
    else:
        due = None
    # one read of the open items: the filters below pick from it, the choices list all
    everything = items = open_items(store)
    if mine:
        items = items[items["owner"] == caller.user.person]
    elif owner:
        items = items[items["owner"] == owner]
    if playbook:
        items = items[items["playbook"] == playbook]
    if due is not None:
        if due.tzinfo is not None:
            due = due.tz_convert("UTC").tz_localize(None)
        items = items[items["due_at"] < due]
    c = store.table("customers")
    ids = list(everything["customer_id"].unique())
    customers = (c.filter(c.id.isin(ids)).select(customer_id=c.id, name=c.name,
                                                 segment=c.segment).to_pandas()
                 if ids else pd.DataFrame(columns=["customer_id", "name", "segment"]))
    items = items.merge(customers, on="customer_id", how="left")
    names = people(store)
    items["owner_name"] = items["owner"].map(lambda o: names.get(o, o), na_action="ignore")
    if segment:
        items = items[items["segment"] == segment]
    body = paged(items.iloc[offset:offset + limit], len(items), limit, offset)
    owners = sorted(everything["owner"].dropna().unique().tolist(),
                    key=lambda o: names.get(o, o))
    body["choices"] = {
        "playbook": sorted(everything["playbook"].dropna().unique().tolist()),
        "owner": [{"id": o, "name": names.get(o, o)} for o in owners],
        "segment": sorted(customers["segment"].dropna().unique().tolist())}
    body["filters"] = {"mine": mine, "owner": owner or "", "playbook": playbook or "",
                       "segment": segment or "", "due_before": due_before or ""}
    return body


def progress(store) -> dict:
    from loyalist.decisions.outcomes import worklist_progress

    df = worklist_progress(store)
    return {"ok": True, "rows": records(df.reset_index() if df.index.name else df)}


def impact(store, window_days: int = 90) -> dict:
    from loyalist.decisions.impact import measure_impact

    res = measure_impact(store, window_days=window_days)
    return {"ok": True, "as_of": plain(res.as_of), "window_days": res.window_days,
            "mode": res.mode, "pending": res.pending, "notes": res.notes,
            "verdict": res.verdict(), "rows": records(res.table)}


def _args(mine: bool = Query(False, description="Only the caller's items."),
          owner: str | None = Query(None, max_length=200),
          playbook: str | None = Query(None, max_length=200),
          segment: str | None = Query(None, max_length=200),
          due_before: str | None = Query(None, max_length=40,
                                         description="Due before this date (YYYY-MM-DD).")):
    return {"mine": mine, "owner": owner, "playbook": playbook, "segment": segment,
            "due_before": due_before}


@router.get("/api/worklist", tags=["worklist"])
def api_worklist(request: Request, args: dict = Depends(_args), limit: Limit = 50,
                 offset: Offset = 0, caller: Caller = Depends(need("agent"))):
    """Open worklist items with their reasons, evidence, action and script, paged."""
    return worklist_items(thread_store(request.app.state.store), caller, **args, limit=limit,
                          offset=offset)


@router.get("/api/worklist/progress", tags=["worklist"])
def api_progress(request: Request, caller: Caller = Depends(need("viewer"))):
    """Per playbook: open, closed, overdue, outcomes by kind, held out."""
    return progress(thread_store(request.app.state.store))


@router.get("/api/impact", tags=["worklist"])
def api_impact(request: Request, window_days: int = Query(90, ge=1, le=3650),
               caller: Caller = Depends(need("viewer"))):
    """Treated against held-out customers per playbook, with 95% intervals."""
    return impact(thread_store(request.app.state.store), window_days)


@router.get("/worklist", include_in_schema=False)
def worklist_page(request: Request, args: dict = Depends(_args), limit: Limit = 50,
                  offset: Offset = 0, caller: Caller = Depends(need("agent"))):
    store = thread_store(request.app.state.store)
    data = worklist_items(store, caller, **args, limit=limit, offset=offset)
    here = urlencode({k: "true" if v is True else v for k, v in data["filters"].items() if v})
    return html(request, "worklist.html", title="Worklist", data=data,
                progress=progress(store)["rows"], outcomes=OUTCOMES, kinds=KINDS, here=here)


@router.post("/worklist/outcome", include_in_schema=False, dependencies=[Depends(check_csrf)])
def worklist_outcome(request: Request, customer_id: str = Form(..., max_length=200),
                     item_id: str = Form(..., max_length=200),
                     outcome: str = Form(..., max_length=40),
                     note: str | None = Form(None, max_length=2000),
                     kind: str = Form("call", max_length=40),
                     back: str = Form("", max_length=2000),
                     caller: Caller = Depends(need("agent"))):
    log_touch(request.app.state, caller, customer_id, outcome, note=note or None, kind=kind,
              item_id=item_id)
    query = back if back and "\n" not in back and "/" not in back else ""
    return RedirectResponse(f"/worklist?{query}" if query else "/worklist", status_code=303)


@router.get("/impact", include_in_schema=False)
def impact_page(request: Request, window_days: int = Query(90, ge=1, le=3650),
                caller: Caller = Depends(need("viewer"))):
    store = thread_store(request.app.state.store)
    return html(request, "impact.html", title="Impact", data=impact(store, window_days),
                progress=progress(store)["rows"])
