"""Signing in and out, who am I, and health."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from loyalist.errors import AuthError, ForbiddenError, ThrottledError
from loyalist.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Caller,
    check_csrf,
    need,
    set_session_cookie,
)
from loyalist.web.pages import html

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after signing in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/health", tags=["session"])
def health():
    """Liveness; answers without signing in."""
    return {"ok": True, "status": "up"}


@router.get("/favicon.ico", include_in_schema=False)
def favicon():
    return Response(status_code=204)


@router.get("/api/me", tags=["session"])
def me(caller: Caller = Depends(need("viewer"))):
    """The calling user and role."""
    return {"ok": True, "user": caller.user.name, "role": caller.user.role, "via": caller.via}


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str | None = Query(None, max_length=2000)):
    token = secrets.token_urlsafe(32)
    response = html(request, "login.html", title="Sign in", csrf=token,
                    next=_safe_next(next), error=None)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="lax", path="/login",
                        secure=request.url.scheme == "https")
    return response


@router.post("/login", include_in_schema=False)
async def login(request: Request, name: str = Form("", max_length=64),
                password: str = Form("", max_length=1000), csrf: str = Form(""),
                next: str = Form("/", max_length=2000)):
    state = request.app.state
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf, expected):
        raise ForbiddenError("The sign-in form's security token is missing or wrong "
                             "(CSRF check).", hint="Reload /login and try again.")
    ip = request.client.host if request.client else None
    try:
        user = await run_in_threadpool(state.accounts.sign_in, name, password, ip)
    except ThrottledError as e:
        return html(request, "login.html", title="Sign in", csrf=expected,
                    next=_safe_next(next), error=f"{e.message} {e.hint}", status_code=429,
                    headers={"Retry-After": str(e.retry_after)})
    except AuthError as e:
        return html(request, "login.html", title="Sign in", csrf=expected,
                    next=_safe_next(next), error=e.message, status_code=401)
    sid, _ = await run_in_threadpool(state.accounts.create_session, user)
    await run_in_threadpool(state.accounts.audit, user, "login", None, None, ip)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, request, sid, secure=state.secure_cookies)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout", include_in_schema=False, dependencies=[Depends(check_csrf)])
def logout(request: Request, caller: Caller = Depends(need("viewer"))):
    state = request.app.state
    state.accounts.end_session(request.cookies.get(SESSION_COOKIE, ""))
    state.accounts.audit(caller.user, "logout", None, None, caller.ip)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
