"""Users and security (admin only): the users, failed sign-ins and locks (an alert
when an account is under attack), the audit log; add a user, lift a lock. The CLI does
the same (``loyalist user ...``); the first admin always comes from the CLI."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from loyalist.web.auth import Caller, check_csrf, need
from loyalist.web.context import records
from loyalist.web.pages import html

router = APIRouter(tags=["users"])
UserName = Path(..., min_length=1, max_length=64)


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)
    role: Literal["viewer", "agent", "lead", "admin"] = "viewer"


def security_overview(accounts, audit_rows: int = 50) -> dict:
    """Users, the sign-in failures still counted (locked first) and the latest audit."""
    failures = accounts.failures()
    locked = failures[failures["locked"]] if len(failures) else failures
    return {"ok": True, "users": records(accounts.users()), "signin_failures": records(failures),
            "locked": len(locked), "locked_accounts": sorted(set(locked["account"]))
            if len(locked) else [], "audit": records(accounts.audit_log(audit_rows))}


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


@router.get("/api/security")
def api_security(request: Request, caller: Caller = Depends(need("admin"))):
    """Users, failed sign-ins per account and address (locked first), latest audit."""
    return security_overview(request.app.state.accounts)


@router.post("/api/users/{name}/unlock")
def api_unlock(request: Request, name: str = UserName, caller: Caller = Depends(need("admin"))):
    """Lift the sign-in back-off of an account from every address (audited)."""
    with request.app.state.write_lock:
        n = request.app.state.accounts.unlock(name, by=caller.user)
    return {"ok": True, "name": name, "lifted": n}


@router.get("/admin", include_in_schema=False)
def admin_page(request: Request, caller: Caller = Depends(need("admin"))):
    return html(request, "admin.html", title="Users and security",
                data=security_overview(request.app.state.accounts))


@router.post("/admin/unlock", include_in_schema=False, dependencies=[Depends(check_csrf)])
def admin_unlock(request: Request, name: str = Form(..., min_length=1, max_length=64),
                 caller: Caller = Depends(need("admin"))):
    with request.app.state.write_lock:
        request.app.state.accounts.unlock(name, by=caller.user)
    return RedirectResponse("/admin", status_code=303)
