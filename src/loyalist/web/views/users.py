"""Users of the web app (admin only): list them, add one. The CLI does the same
(``loyalist user add``); the first admin always comes from the CLI."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from loyalist.web.auth import Caller, need
from loyalist.web.context import records

router = APIRouter(tags=["users"])


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)
    role: Literal["viewer", "agent", "admin"] = "viewer"


@router.get("/api/users")
def api_users(request: Request, caller: Caller = Depends(need("admin"))):
    """Every user with role, creation time and whether disabled (never a hash)."""
    return {"ok": True, "rows": records(request.app.state.accounts.users())}


@router.post("/api/users", status_code=201)
def api_add_user(request: Request, body: UserIn, caller: Caller = Depends(need("admin"))):
    """Add a user (the password is stored as an argon2 hash)."""
    accounts = request.app.state.accounts
    with request.app.state.write_lock:
        user = accounts.add_user(body.name, body.password, role=body.role)
        accounts.audit(caller.user, "user.add", user.name, {"role": user.role}, ip=caller.ip)
    return JSONResponse({"ok": True, "name": user.name, "role": user.role}, status_code=201)
