"""The customer council: its members, meetings, points raised, commitments ("you said,
we did") and whispers for every signed-in user; a suggested panel; and the writes
(confirm members, record a meeting, attendance, a point, a commitment, close one) for
admins (the retention lead). Roles are checked before a body is read (the guard reads
each route's role); every write holds the write lock, is audited and honours an
Idempotency-Key.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from loyalist.errors import DataError
from loyalist.web.auth import Caller, check_csrf, need
from loyalist.web.context import records, thread_store
from loyalist.web.pages import html
from loyalist.web.writes import fingerprint, once

router = APIRouter()
Id = Annotated[str, Field(min_length=1, max_length=200)]


def council_data(store, cache, as_of: str | None = None) -> dict:
    """Where the council stands (cached until the next write)."""

    def make():
        from loyalist.council import council_state

        st = council_state(store, as_of)
        return {"ok": True, "summary": st.summary(), "members": records(st.members),
                "meetings": records(st.meetings), "points": records(st.points),
                "commitments": records(st.commitments), "whispers": records(st.whispers),
                "notes": st.notes}

    return cache.get(f"council:{as_of}", make)


def suggestion(store, cache, size: int | None = None) -> dict:
    def make():
        from loyalist.council import suggest

        panel = suggest(store, size=size)
        notes = [] if "scores" in store.tables() else [
            "No scores yet: run loyalist score so that valuable customers at risk join the "
            "mix."]
        return {"ok": True, "panel": records(panel), "notes": notes}

    return cache.get(f"council-suggest:{size}", make)


@router.get("/api/council", tags=["council"])
def api_council(request: Request, as_of: str | None = Query(None, max_length=40),
                caller: Caller = Depends(need("viewer"))):
    """Members with their attendance, meetings, points raised, commitments (open, due,
    overdue, done with "you said, we did") and whispers."""
    state = request.app.state
    return council_data(thread_store(state.store), state.cache, as_of)


@router.get("/api/council/suggest", tags=["council"])
def api_suggest(request: Request, size: int | None = Query(None, ge=1, le=500),
                caller: Caller = Depends(need("viewer"))):
    """A suggested panel representing the customer base, each pick explained (the
    members already confirmed keep their seats)."""
    state = request.app.state
    return suggestion(thread_store(state.store), state.cache, size)


# -- writes ----------------------------------------------------------------------------

def _write(request: Request, caller: Caller, action: str, target: str, parts: tuple,
           run) -> tuple[dict, bool]:
    """Run one council write under the write lock, audited, once per Idempotency-Key."""
    state = request.app.state
    store = thread_store(state.store)
    key = request.headers.get("idempotency-key")

    def go():
        body = {"ok": True, **run(store, caller.user.person or caller.user.name)}
        state.accounts.audit(caller.user, f"council.{action}", target, body, ip=caller.ip)
        state.cache.bump()
        return body

    with state.write_lock:
        return once(state, caller.user, key, fingerprint("council", action, *parts), go)


def _answer(result) -> JSONResponse:
    body, replayed = result
    return JSONResponse(body, headers={"Idempotent-Replayed": "true"} if replayed else None)


class ConfirmIn(BaseModel):
    customers: list[Id] = Field(min_length=1, max_length=500)
    why: str | None = Field(None, max_length=2000)
    at: str | None = Field(None, max_length=40)


class MeetingIn(BaseModel):
    held_at: str = Field(max_length=40, description="YYYY-MM-DD")
    title: str | None = Field(None, max_length=200)
    attended: list[Id] = Field(default_factory=list, max_length=500)
    note: str | None = Field(None, max_length=4000)


class AttendIn(BaseModel):
    meeting_id: Id
    customers: list[Id] = Field(min_length=1, max_length=500)


class PointIn(BaseModel):
    meeting_id: Id
    text: str = Field(max_length=4000)
    customer_id: str | None = Field(None, max_length=200)


class CommitIn(BaseModel):
    text: str = Field(max_length=4000)
    owner: str | None = Field(None, max_length=200)
    due: str | None = Field(None, max_length=40, description="YYYY-MM-DD")
    point_id: str | None = Field(None, max_length=200)
    meeting_id: str | None = Field(None, max_length=200)
    customer_id: str | None = Field(None, max_length=200)


class CloseIn(BaseModel):
    commitment_id: Id
    we_did: str = Field(max_length=4000)
    you_said: str | None = Field(None, max_length=4000)
    at: str | None = Field(None, max_length=40)


def do_confirm(request, caller, g: ConfirmIn):
    from loyalist.council import confirm

    return _write(request, caller, "confirm", ",".join(g.customers[:20]),
                  (g.customers, g.why, g.at),
                  lambda s, by: {"confirmed": confirm(s, g.customers, at=g.at, why=g.why,
                                                      by=by)})


def do_meeting(request, caller, g: MeetingIn):
    from loyalist.council import record_meeting

    return _write(request, caller, "meeting", g.held_at, (g.held_at, g.title, g.attended,
                                                          g.note),
                  lambda s, by: {"meeting_id": record_meeting(
                      s, g.held_at, title=g.title, attended=g.attended, note=g.note, by=by)})


def do_attend(request, caller, g: AttendIn):
    from loyalist.council import attend

    return _write(request, caller, "attend", g.meeting_id, (g.meeting_id, g.customers),
                  lambda s, by: {"recorded": attend(s, g.meeting_id, g.customers, by=by)})


def do_point(request, caller, g: PointIn):
    from loyalist.council import raise_point

    return _write(request, caller, "point", g.meeting_id, (g.meeting_id, g.text,
                                                          g.customer_id),
                  lambda s, by: {"point_id": raise_point(s, g.meeting_id, g.text,
                                                         customer_id=g.customer_id, by=by)})


def do_commit(request, caller, g: CommitIn):
    from loyalist.council import commit

    return _write(request, caller, "commit", g.customer_id or g.point_id or "",
                  (g.text, g.owner, g.due, g.point_id, g.meeting_id, g.customer_id),
                  lambda s, by: {"commitment_id": commit(
                      s, g.text, owner=g.owner, due=g.due, point_id=g.point_id,
                      meeting_id=g.meeting_id, customer_id=g.customer_id, by=by)})


def do_close(request, caller, g: CloseIn):
    from loyalist.council import close

    def run(s, by):
        row = close(s, g.commitment_id, we_did=g.we_did, you_said=g.you_said, at=g.at,
                    by=by)
        return {"commitment_id": g.commitment_id, "you_said": row["you_said"],
                "we_did": row["we_did"]}

    return _write(request, caller, "close", g.commitment_id,
                  (g.commitment_id, g.we_did, g.you_said, g.at), run)


@router.post("/api/council/confirm", tags=["council"])
def api_confirm(request: Request, given: ConfirmIn, caller: Caller = Depends(need("admin"))):
    """Confirm customers as members (each must be a customer; nothing written else)."""
    return _answer(do_confirm(request, caller, given))


@router.post("/api/council/meeting", tags=["council"])
def api_meeting(request: Request, given: MeetingIn, caller: Caller = Depends(need("admin"))):
    """Record a meeting and the members who attended."""
    return _answer(do_meeting(request, caller, given))


@router.post("/api/council/attend", tags=["council"])
def api_attend(request: Request, given: AttendIn, caller: Caller = Depends(need("admin"))):
    """Record members as having attended a meeting."""
    return _answer(do_attend(request, caller, given))


@router.post("/api/council/point", tags=["council"])
def api_point(request: Request, given: PointIn, caller: Caller = Depends(need("admin"))):
    """Record a point raised at a meeting."""
    return _answer(do_point(request, caller, given))


@router.post("/api/council/commit", tags=["council"])
def api_commit(request: Request, given: CommitIn, caller: Caller = Depends(need("admin"))):
    """Record a commitment made to a member, with an owner and a due date."""
    return _answer(do_commit(request, caller, given))


@router.post("/api/council/close", tags=["council"])
def api_close(request: Request, given: CloseIn, caller: Caller = Depends(need("admin"))):
    """Close a commitment with "you said, we did"."""
    return _answer(do_close(request, caller, given))


# -- the page --------------------------------------------------------------------------

@router.get("/council", include_in_schema=False)
def council_page(request: Request, suggest: bool = Query(False),
                 caller: Caller = Depends(need("viewer"))):
    state = request.app.state
    store = thread_store(state.store)
    try:
        data, problem = council_data(store, state.cache), None
        panel = suggestion(store, state.cache) if suggest else None
    except DataError as e:
        data, panel, problem = None, None, e
    return html(request, "council.html", title="Council", data=data, panel=panel,
                problem=problem, is_admin=caller.user.role == "admin",
                today=f"{pd.Timestamp.now():%Y-%m-%d}")


def _back() -> RedirectResponse:
    return RedirectResponse("/council", status_code=303)


def _list(text: str | None) -> list[str]:
    return [t for t in (text or "").replace(",", " ").split() if t]


@router.post("/council/confirm", include_in_schema=False, dependencies=[Depends(check_csrf)])
def page_confirm(request: Request, customers: str = Form(..., max_length=20000),
                 why: str | None = Form(None, max_length=2000),
                 caller: Caller = Depends(need("admin"))):
    do_confirm(request, caller, ConfirmIn.model_construct(customers=_list(customers),
                                                          why=why or None, at=None))
    return _back()


@router.post("/council/meeting", include_in_schema=False, dependencies=[Depends(check_csrf)])
def page_meeting(request: Request, held_at: str = Form(..., max_length=40),
                 title: str | None = Form(None, max_length=200),
                 attended: str | None = Form(None, max_length=20000),
                 caller: Caller = Depends(need("admin"))):
    do_meeting(request, caller, MeetingIn.model_construct(held_at=held_at, title=title or None,
                                          attended=_list(attended), note=None))
    return _back()


@router.post("/council/point", include_in_schema=False, dependencies=[Depends(check_csrf)])
def page_point(request: Request, meeting_id: str = Form(..., max_length=200),
               text: str = Form(..., max_length=4000),
               customer_id: str | None = Form(None, max_length=200),
               caller: Caller = Depends(need("admin"))):
    do_point(request, caller, PointIn(meeting_id=meeting_id, text=text,
                                      customer_id=customer_id or None))
    return _back()


@router.post("/council/commit", include_in_schema=False, dependencies=[Depends(check_csrf)])
def page_commit(request: Request, text: str = Form(..., max_length=4000),
                owner: str | None = Form(None, max_length=200),
                due: str | None = Form(None, max_length=40),
                point_id: str | None = Form(None, max_length=200),
                customer_id: str | None = Form(None, max_length=200),
                caller: Caller = Depends(need("admin"))):
    do_commit(request, caller, CommitIn(text=text, owner=owner or None, due=due or None,
                                        point_id=point_id or None,
                                        customer_id=customer_id or None))
    return _back()


@router.post("/council/close", include_in_schema=False, dependencies=[Depends(check_csrf)])
def page_close(request: Request, commitment_id: str = Form(..., max_length=200),
               we_did: str = Form(..., max_length=4000),
               you_said: str | None = Form(None, max_length=4000),
               caller: Caller = Depends(need("admin"))):
    do_close(request, caller, CloseIn(commitment_id=commitment_id, we_did=we_did,
                                      you_said=you_said or None))
    return _back()
