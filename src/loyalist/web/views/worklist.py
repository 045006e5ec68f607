"""The worklist: my items first and the team's, one item per customer and matter, sorted
by any column, filtered (kept in the URL), paged; assign one or many, snooze, log an
outcome; the backlog beyond the caps and raising a cap for today's run (leads); CSV
export; progress per playbook; impact. Every write holds the app's write lock, is audited
and honours an Idempotency-Key."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from loyalist.errors import DataError
from loyalist.web.auth import Caller, check_csrf, need
from loyalist.web.context import Limit, Offset, paged, plain, records, thread_store
from loyalist.web.pages import html
from loyalist.web.writes import KINDS, OUTCOMES, actor, answer, fingerprint, log_touch, write_once

router = APIRouter()
FILTERS = ("mine", "owner", "playbook", "segment", "matter", "must_do", "overdue", "snoozed",
           "due_before")


def _view(store, caller: Caller, args: dict, *, page: int = 1, page_size: int = 25):
    from loyalist.decisions.worklist.view import worklist_view

    due = args.get("due_before")
    if due:
        try:
            pd.Timestamp(due)
        except ValueError:
            raise DataError(f"Cannot read the date {due!r}.", hint="Use YYYY-MM-DD.") from None
    return worklist_view(store, person=caller.user.person, page=page, page_size=page_size,
                         **args)


def worklist_items(store, caller: Caller, *, limit: int = 50, offset: int = 0,
                   **args) -> dict:
    """Open items, most urgent first (or sorted by ``sort``), filtered, ``limit`` from
    ``offset``; ``mine`` = owned by the caller."""
    v = _view(store, caller, args, page_size=500)
    rows = v.all_rows.iloc[offset:offset + limit]
    body = paged(rows, v.total, limit, offset, sort=v.sort, descending=v.descending)
    body["choices"] = v.choices
    body["filters"] = v.filters
    return body


def progress(store) -> dict:
    from loyalist.decisions.worklist.outcomes import worklist_progress

    df = worklist_progress(store)
    return {"ok": True, "rows": records(df.reset_index() if df.index.name else df)}


def impact(store, window_days: int = 90) -> dict:
    from loyalist.decisions.worklist.impact import measure_impact

    res = measure_impact(store, window_days=window_days)
    return {"ok": True, "as_of": plain(res.as_of), "window_days": res.window_days,
            "mode": res.mode, "pending": res.pending, "notes": res.notes,
            "verdict": res.verdict(), "rows": records(res.table)}


def _args(mine: bool | None = Query(None, description="Only the caller's items (agents "
                                    "see theirs first by default on the page)."),
          owner: str | None = Query(None, max_length=200),
          playbook: str | None = Query(None, max_length=200),
          segment: str | None = Query(None, max_length=200),
          matter: str | None = Query(None, max_length=40,
                                     description="request, order or customer."),
          must_do: str | None = Query(None, max_length=5, pattern="^(true|false|)$",
                                      description="Only must-do (true) or only the rest "
                                      "(false); empty: all."),
          overdue: bool = Query(False, description="Only items due before today."),
          snoozed: bool = Query(False, description="The snoozed items instead."),
          due_before: str | None = Query(None, max_length=40,
                                         description="Due before this date (YYYY-MM-DD)."),
          sort: str = Query("priority", max_length=40, description="Column to sort by."),
          desc: bool = Query(False, description="Sort the other way.")):
    return {"mine": mine, "owner": owner, "playbook": playbook, "segment": segment,
            "matter": matter, "must_do": {"true": True, "false": False}.get(must_do or ""),
            "overdue": overdue, "snoozed": snoozed,
            "due_before": due_before, "sort": sort, "descending": desc}


def _api(args: dict) -> dict:
    return {**args, "mine": bool(args["mine"])}


@router.get("/api/worklist", tags=["worklist"])
def api_worklist(request: Request, args: dict = Depends(_args), limit: Limit = 50,
                 offset: Offset = 0, caller: Caller = Depends(need("agent"))):
    """Open worklist items with their reasons, evidence, action and script, paged; sorted
    by any column (``sort``, ``desc``); overdue counts against today."""
    return worklist_items(thread_store(request.app.state.store), caller, **_api(args),
                          limit=limit, offset=offset)


@router.get("/api/worklist/export", tags=["worklist"])
def api_export(request: Request, args: dict = Depends(_args),
               caller: Caller = Depends(need("agent"))):
    """Every item of the view (the same filters and sort as the list) as CSV, for a
    dialer or a CRM."""
    v = _view(thread_store(request.app.state.store), caller, _api(args))
    return Response(v.csv(), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": 'attachment; filename="worklist.csv"'})


@router.get("/api/worklist/backlog", tags=["worklist"])
def api_backlog(request: Request, limit: Limit = 50, offset: Offset = 0,
                playbook: str | None = Query(None, max_length=200),
                caller: Caller = Depends(need("agent"))):
    """The items waiting beyond today's caps: count, must-do count and oldest age (days
    against today), per playbook, and the waiting rows in the order they will open."""
    from loyalist.decisions.worklist.backlog import read_backlog, summary

    rows = read_backlog(thread_store(request.app.state.store))
    body = summary(rows)
    if playbook:
        rows = rows[rows["playbook"] == playbook]
    return {**paged(rows.iloc[offset:offset + limit], len(rows), limit, offset), **body}


class Items(BaseModel):
    items: list[Annotated[str, Field(max_length=40)]] = Field(min_length=1, max_length=1000)
    note: str | None = Field(None, max_length=2000)


class AssignIn(Items):
    owner: str = Field(max_length=200, description="A staff id or a team.")


class SnoozeIn(Items):
    until: str | None = Field(None, max_length=40, description="YYYY-MM-DD; null wakes.")


# -- writes: assign and snooze items (one or many), and run the day with raised caps
# (leads and admins), under the write lock, audited, idempotent with a key ---------

def assign_items(state, caller, item_ids: list[str], owner: str, *, note: str | None = None,
                 key: str | None = None) -> tuple[dict, bool]:
    """Give items to ``owner`` with the rules of
    :func:`loyalist.decisions.worklist.team.assign`; audited as ``worklist.assign``."""
    from loyalist.decisions.worklist.team import assign

    fp = fingerprint("assign", ",".join(item_ids), owner, note or "")

    def run():
        view = thread_store(state.store)
        done = assign(view, item_ids, owner, actor=actor(state, caller),
                      by=caller.user.name, note=note)
        state.accounts.audit(caller.user, "worklist.assign", owner,
                             {"items": list(done.items), "from": list(done.before),
                              "note": note}, ip=caller.ip)
        return {"ok": True, "owner": owner, "assigned": list(done.items),
                "unchanged": [i for i in item_ids if i not in done.items]}

    return write_once(state, caller, key, fp, run)


def snooze_items(state, caller, item_ids: list[str], until: str | None, *,
                 note: str | None = None, key: str | None = None) -> tuple[dict, bool]:
    """Snooze items until a date (``None``: wake them); audited as ``worklist.snooze``."""
    from loyalist.decisions.worklist.team import snooze

    fp = fingerprint("snooze", ",".join(item_ids), until or "", note or "")

    def run():
        view = thread_store(state.store)
        done = snooze(view, item_ids, until, actor=actor(state, caller),
                      by=caller.user.name, note=note)
        when = None if done.until is None else f"{done.until:%Y-%m-%d}"
        state.accounts.audit(caller.user, "worklist.snooze", ",".join(done.items)[:200],
                             {"items": list(done.items), "until": when, "note": note},
                             ip=caller.ip)
        return {"ok": True, "snoozed": list(done.items), "until": when}

    return write_once(state, caller, key, fp, run)


def raise_caps(state, caller, caps: dict, *, note: str | None = None,
               key: str | None = None) -> tuple[dict, bool]:
    """Run the worklist today with ``caps`` (playbook -> items per owner today) in force:
    :func:`loyalist.decisions.worklist.build_worklist` with ``caps``, what
    ``loyalist worklist --cap PLAYBOOK=N`` runs; audited as ``worklist.caps``. The caps
    are checked first (a clear 400 names the wrong one); nothing is written then."""
    from loyalist.decisions.worklist import build_worklist
    from loyalist.decisions.worklist.backlog import caps_in_force

    caps = check_caps(caps)
    books = thread_store(state.store).settings.worklist
    in_force = caps_in_force(books, caps)  # an unknown playbook: DataError, nothing run
    before = caps_in_force(books)
    fp = fingerprint("caps", sorted(caps.items()), note or "")

    def run():
        view = thread_store(state.store)
        done = build_worklist(view, caps=caps)
        body = {"ok": True, "caps": {k: in_force[k] for k in caps},
                "before": {k: before[k] for k in caps}, "as_of": done.as_of.isoformat(),
                "opened": done.opened, "closed": done.closed,
                "open": len(done.items), "backlog": done.backlog_summary}
        state.accounts.audit(caller.user, "worklist.caps", ",".join(sorted(caps))[:200],
                             {"caps": body["caps"], "before": body["before"],
                              "opened": done.opened, "waiting": done.backlog_summary.get(
                                  "waiting", 0), "note": note}, ip=caller.ip)
        return body

    return write_once(state, caller, key, fp, run)


#: the highest cap the web accepts (a day's items per owner)
MAX_CAP = 10_000


def check_caps(caps: dict) -> dict[str, int]:
    """``caps`` as playbook -> whole number from 1 to :data:`MAX_CAP`, else DataError
    (HTTP 400) naming the playbook and the value."""
    if not caps:
        raise DataError("No cap was given.",
                        hint="Give a playbook and its cap, e.g. call_back_unanswered=80.")
    out = {}
    for name, value in caps.items():
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_CAP:
            raise DataError(f"The cap of {name} must be a whole number from 1 to "
                            f"{MAX_CAP:,}; got {value!r}.",
                            hint="Give how many items each owner may get today, e.g. 80.")
        out[str(name)] = int(text)
    return out


@router.post("/api/worklist/assign", tags=["worklist"])
def api_assign(request: Request, given: AssignIn, caller: Caller = Depends(need("agent"))):
    """Give items to an owner, all or none. Admins give any item to anyone; an agent
    hands over their own items and takes a team's. Audited; honours Idempotency-Key."""
    return answer(*assign_items(
        request.app.state, caller, given.items, given.owner, note=given.note,
        key=request.headers.get("idempotency-key")))


@router.post("/api/worklist/snooze", tags=["worklist"])
def api_snooze(request: Request, given: SnoozeIn, caller: Caller = Depends(need("agent"))):
    """Snooze items until a date (their owner or an admin). Audited."""
    return answer(*snooze_items(
        request.app.state, caller, given.items, given.until, note=given.note,
        key=request.headers.get("idempotency-key")))


class CapsIn(BaseModel):
    caps: dict[Annotated[str, Field(max_length=200)], Any] = Field(
        min_length=1, max_length=100, description="Playbook -> items each owner may get "
        "today (a whole number from 1 to 10,000).")
    note: str | None = Field(None, max_length=2000)


@router.post("/api/worklist/caps", tags=["worklist"])
def api_caps(request: Request, given: CapsIn, caller: Caller = Depends(need("lead"))):
    """Run today's worklist with these caps in force (leads and admins): what
    ``loyalist worklist --cap PLAYBOOK=N`` does; the backlog opens in order up to the new
    caps. Audited; honours Idempotency-Key. A wrong playbook or cap: 400, nothing run."""
    return answer(*raise_caps(request.app.state, caller, given.caps,
                                        note=given.note,
                                        key=request.headers.get("idempotency-key")))


@router.get("/api/worklist/progress", tags=["worklist"])
def api_progress(request: Request, caller: Caller = Depends(need("viewer"))):
    """Per playbook: open, closed, overdue, outcomes by kind, held out."""
    return progress(thread_store(request.app.state.store))


@router.get("/api/impact", tags=["worklist"])
def api_impact(request: Request, window_days: int = Query(90, ge=1, le=3650),
               caller: Caller = Depends(need("viewer"))):
    """Treated against held-out customers per playbook, with 95% intervals."""
    return impact(thread_store(request.app.state.store), window_days)


#: page sizes offered on the page
SIZES = (10, 25, 50, 100)


def _here(args: dict, **change) -> str:
    """The page's query string with ``change`` applied (filters kept in the URL)."""
    keep = {**args, **change}
    out = {}
    for k, v in keep.items():
        if v is None or v == "" or v is False and k not in ("mine",):
            continue
        if k == "sort" and v == "priority":
            continue
        out["desc" if k == "descending" else k] = ("true" if v is True else "false"
                                                   if v is False else v)
    return urlencode(out)


@router.get("/worklist", include_in_schema=False)
def worklist_page(request: Request, args: dict = Depends(_args),
                  page: int = Query(1, ge=1, le=10**6), size: int | None = Query(None, ge=1,
                                                                                 le=500),
                  caller: Caller = Depends(need("agent"))):
    from loyalist.decisions.worklist.backlog import backlog_summary
    from loyalist.decisions.worklist.view import SORTS

    store = thread_store(request.app.state.store)
    if args["mine"] is None:  # an agent's own list first; the team's one click away
        args["mine"] = caller.user.role == "agent" and bool(caller.user.person)
    size = size or store.settings.worklist.settings.page_size
    v = _view(store, caller, args, page=page, page_size=size)
    rows = records(v.rows)
    state = {k: args[k] for k in (*FILTERS, "sort", "descending")}
    state["size"] = size if size != store.settings.worklist.settings.page_size else None
    here = _here(state, page=v.page if v.page > 1 else None)
    sorts = {}
    for name in SORTS:
        flip = name == v.sort and not v.descending
        sorts[name] = {"href": "?" + _here(state, sort=name, descending=flip),
                       "aria": ("descending" if v.descending else "ascending")
                       if name == v.sort else None}
    lo, hi = max(1, v.page - 3), min(v.pages, v.page + 3)
    pages = [{"n": n, "href": "?" + _here(state, page=n if n > 1 else None)}
             for n in sorted({1, *range(lo, hi + 1), v.pages})]
    return html(request, "worklist.html", title="Worklist", view=v, rows=rows,
                filters=v.filters, choices=v.choices, sorts=sorts, pages=pages,
                sizes=SIZES, size=size, here=here,
                mine_href="?" + _here(state, mine=True, page=None),
                team_href="?" + _here(state, mine=False, page=None),
                export_href="/api/worklist/export?" + _here(state, page=None, size=None),
                backlog=backlog_summary(store), may_raise=caller.user.can("lead"),
                caps=_caps_now(store) if caller.user.can("lead") else {},
                person=caller.user.person, progress=progress(store)["rows"],
                outcomes=OUTCOMES, kinds=KINDS, today=f"{pd.Timestamp.now():%Y-%m-%d}")


def _back(back: str) -> RedirectResponse:
    query = back if back and "\n" not in back and "/" not in back else ""
    return RedirectResponse(f"/worklist?{query}" if query else "/worklist", status_code=303)


def _caps_now(store) -> dict:
    from loyalist.decisions.worklist.backlog import caps_in_force

    return caps_in_force(store.settings.worklist)


@router.post("/worklist/caps", include_in_schema=False, dependencies=[Depends(check_csrf)])
def worklist_caps(request: Request, playbook: str = Form(..., max_length=200),
                  cap: str = Form(..., max_length=40),
                  note: str | None = Form(None, max_length=2000),
                  back: str = Form("", max_length=2000),
                  caller: Caller = Depends(need("lead"))):
    """The page's form: one playbook's cap for today's run."""
    raise_caps(request.app.state, caller, {playbook.strip(): cap}, note=note or None)
    return _back(back)


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
    return _back(back)


@router.post("/worklist/assign", include_in_schema=False, dependencies=[Depends(check_csrf)])
def worklist_assign(request: Request, item: list[str] = Form(..., max_length=1000),
                    owner: str = Form(..., max_length=200),
                    note: str | None = Form(None, max_length=2000),
                    back: str = Form("", max_length=2000),
                    caller: Caller = Depends(need("agent"))):
    assign_items(request.app.state, caller, item, owner, note=note or None)
    return _back(back)


@router.post("/worklist/snooze", include_in_schema=False, dependencies=[Depends(check_csrf)])
def worklist_snooze(request: Request, item: list[str] = Form(..., max_length=1000),
                    until: str = Form(..., max_length=40),
                    back: str = Form("", max_length=2000),
                    caller: Caller = Depends(need("agent"))):
    snooze_items(request.app.state, caller, item, until or None)
    return _back(back)


@router.get("/impact", include_in_schema=False)
def impact_page(request: Request, window_days: int = Query(90, ge=1, le=3650),
                caller: Caller = Depends(need("viewer"))):
    store = thread_store(request.app.state.store)
    return html(request, "impact.html", title="Impact", data=impact(store, window_days),
                progress=progress(store)["rows"])
