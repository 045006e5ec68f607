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
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from loyalist.council.actions import run_action
from loyalist.errors import DataError
from loyalist.web.auth import Caller, check_csrf, need
from loyalist.web.context import thread_store
from loyalist.web.pages import html
from loyalist.web.writes import answer, fingerprint, write_once

router = APIRouter()
Id = Annotated[str, Field(min_length=1, max_length=200)]


def council_data(store, cache, as_of: str | None = None) -> dict:
    """Where the council stands (cached until the next write)."""
    return cache.get(f"council:{as_of}",
                     lambda: {"ok": True, **run_action(store, "show", as_of=as_of).body})


def suggestion(store, cache, size: int | None = None) -> dict:
    """A suggested panel (cached until the next write)."""
    return cache.get(f"council-suggest:{size}",
                     lambda: {"ok": True, **run_action(store, "suggest", size=size).body})


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

def _write(request: Request, caller: Caller, action: str, given: BaseModel
           ) -> tuple[dict, bool]:
    """Run one council write (:func:`~loyalist.council.actions.run_action`, the fields
    of ``given`` as its keywords) under the write lock, audited, once per
    Idempotency-Key."""
    state = request.app.state
    store = thread_store(state.store)
    key = request.headers.get("idempotency-key")
    fields = given.model_dump()

    def go():
        done = run_action(store, action, by=caller.user.person or caller.user.name, **fields)
        body = {"ok": True, **done.body}
        state.accounts.audit(caller.user, f"council.{action}", done.about, body, ip=caller.ip)
        return body

    return write_once(state, caller, key, fingerprint("council", action, *fields.values()),
                      go)


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


@router.post("/api/council/confirm", tags=["council"])
def api_confirm(request: Request, given: ConfirmIn, caller: Caller = Depends(need("admin"))):
    """Confirm customers as members (each must be a customer; nothing written else)."""
    return answer(*_write(request, caller, "confirm", given))


@router.post("/api/council/meeting", tags=["council"])
def api_meeting(request: Request, given: MeetingIn, caller: Caller = Depends(need("admin"))):
    """Record a meeting and the members who attended."""
    return answer(*_write(request, caller, "meeting", given))


@router.post("/api/council/attend", tags=["council"])
def api_attend(request: Request, given: AttendIn, caller: Caller = Depends(need("admin"))):
    """Record members as having attended a meeting."""
    return answer(*_write(request, caller, "attend", given))


@router.post("/api/council/point", tags=["council"])
def api_point(request: Request, given: PointIn, caller: Caller = Depends(need("admin"))):
    """Record a point raised at a meeting."""
    return answer(*_write(request, caller, "point", given))


@router.post("/api/council/commit", tags=["council"])
def api_commit(request: Request, given: CommitIn, caller: Caller = Depends(need("admin"))):
    """Record a commitment made to a member, with an owner and a due date."""
    return answer(*_write(request, caller, "commit", given))


@router.post("/api/council/close", tags=["council"])
def api_close(request: Request, given: CloseIn, caller: Caller = Depends(need("admin"))):
    """Close a commitment with "you said, we did"."""
    return answer(*_write(request, caller, "close", given))


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
    _write(request, caller, "confirm", ConfirmIn.model_construct(
        customers=_list(customers), why=why or None, at=None))
    return _back()


@router.post("/council/meeting", include_in_schema=False, dependencies=[Depends(check_csrf)])
def page_meeting(request: Request, held_at: str = Form(..., max_length=40),
                 title: str | None = Form(None, max_length=200),
                 attended: str | None = Form(None, max_length=20000),
                 caller: Caller = Depends(need("admin"))):
    _write(request, caller, "meeting", MeetingIn.model_construct(
        held_at=held_at, title=title or None, attended=_list(attended), note=None))
    return _back()


@router.post("/council/point", include_in_schema=False, dependencies=[Depends(check_csrf)])
def page_point(request: Request, meeting_id: str = Form(..., max_length=200),
               text: str = Form(..., max_length=4000),
               customer_id: str | None = Form(None, max_length=200),
               caller: Caller = Depends(need("admin"))):
    _write(request, caller, "point", PointIn(meeting_id=meeting_id, text=text,
                                             customer_id=customer_id or None))
    return _back()


@router.post("/council/commit", include_in_schema=False, dependencies=[Depends(check_csrf)])
def page_commit(request: Request, text: str = Form(..., max_length=4000),
                owner: str | None = Form(None, max_length=200),
                due: str | None = Form(None, max_length=40),
                point_id: str | None = Form(None, max_length=200),
                customer_id: str | None = Form(None, max_length=200),
                caller: Caller = Depends(need("admin"))):
    _write(request, caller, "commit", CommitIn(
        text=text, owner=owner or None, due=due or None, point_id=point_id or None,
        customer_id=customer_id or None))
    return _back()


@router.post("/council/close", include_in_schema=False, dependencies=[Depends(check_csrf)])
def page_close(request: Request, commitment_id: str = Form(..., max_length=200),
               we_did: str = Form(..., max_length=4000),
               you_said: str | None = Form(None, max_length=4000),
               caller: Caller = Depends(need("admin"))):
    _write(request, caller, "close", CloseIn(commitment_id=commitment_id, we_did=we_did,
                                             you_said=you_said or None))
    return _back()
