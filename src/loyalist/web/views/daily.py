"""Daily: what ``loyalist daily`` did, for admins: each run step by step, the model's
health checks, the messages of the latest digest (with their addresses, hence admins
only) and the files of the inbox."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request

from loyalist.web.auth import Caller, need
from loyalist.web.context import thread_store
from loyalist.web.pages import html

router = APIRouter()


def daily_data(store, runs: int = 10) -> dict:
    from loyalist.daily.history import day_history

    data = day_history(store, runs)
    # JSON-ready: timestamps as ISO text, missing values as null
    return {"ok": True, **json.loads(json.dumps(data, default=_plain).replace("NaN", "null"))}


def _plain(v):
    import pandas as pd

    if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return str(v)


@router.get("/api/daily", tags=["daily"])
def api_daily(request: Request, runs: int = Query(10, ge=1, le=100),
              caller: Caller = Depends(need("admin"))):
    """The last ``runs`` daily runs with their steps, the model's health checks, the
    messages of the latest digest and the inbox's latest files."""
    return daily_data(thread_store(request.app.state.store), runs)


@router.get("/daily", include_in_schema=False)
def daily_page(request: Request, caller: Caller = Depends(need("admin"))):
    return html(request, "daily.html", title="Daily run",
                data=daily_data(thread_store(request.app.state.store)))
