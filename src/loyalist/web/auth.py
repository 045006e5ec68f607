"""Who is calling: bearer tokens for the API, session cookies for pages, roles, CSRF.

Every request passes the guard (:mod:`loyalist.web.guard`) before any route runs or its
body is read: it identifies the caller with :func:`identify` and checks the role the
route asks for with ``Depends(need("agent"))``, so nothing but the public paths answers
an anonymous caller. Form posts check the session's CSRF token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Request

from loyalist.errors import AuthError, ForbiddenError
from loyalist.store.accounts import SESSION_HOURS, User

SESSION_COOKIE = "loyalist_session"
LOGIN_COOKIE = "loyalist_login"
CSRF_HEADER = "x-csrf-token"
#: paths answered without signing in
PUBLIC = {"/health", "/login", "/favicon.ico"}
PUBLIC_PREFIXES = ("/static/",)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Caller:
    user: User
    via: str  # "token" or "session"
    csrf: str | None = None
    ip: str | None = None


def is_public(path: str) -> bool:
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


def identify(accounts, request: Request) -> Caller:
    """The caller of ``request`` from its bearer token or session cookie, else AuthError."""
    ip = request.client.host if request.client else None
    header = request.headers.get("authorization", "")
    api = request.url.path.startswith("/api")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("The Authorization header must be 'Bearer TOKEN'.",
                            hint="Create a token with `loyalist token create NAME`.")
        return Caller(accounts.user_for_token(token.strip(), ip or "unknown"), "token", ip=ip)
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        raise AuthError("Sign in first." if not api else "No credentials were sent.",
                        hint="Send 'Authorization: Bearer TOKEN' (loyalist token create NAME)"
                        if api else "Sign in at /login.")
    user, csrf = accounts.session(sid)
    if api and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent, csrf):
            raise ForbiddenError("API writes from a browser session need the X-CSRF-Token "
                                 "header.", hint="Or use a bearer token.")
    return Caller(user, "session", csrf=csrf, ip=ip)


def role_message(user, role: str) -> str:
    """'Sam is an agent; this needs the admin role.'"""
    from loyalist.decisions.words import article

    return (f"{user.name} is {article(user.role)} {user.role}; this needs the {role} role.")


def need(role: str):
    """A dependency giving the :class:`Caller` if their role is ``role`` or above."""

    def check(request: Request) -> Caller:
        caller = getattr(request.state, "caller", None)
        if caller is None:
            raise AuthError("Sign in first.", hint="Sign in at /login.")
        if not caller.user.can(role):
            raise ForbiddenError(role_message(caller.user, role), hint="Ask an admin for the role.")
        return caller

    check.__name__ = f"need_{role}"
    check.role = role  # read by the guard, which checks it before the body is read
    return check


async def check_csrf(request: Request) -> None:
    """Dependency of form posts: the form's ``csrf`` field must match the session's."""
    caller = getattr(request.state, "caller", None)
    form = await request.form()
    sent = str(form.get("csrf") or request.headers.get(CSRF_HEADER) or "")
    expected = caller.csrf if caller and caller.csrf else ""
    if not expected or not secrets.compare_digest(sent, expected):
        raise ForbiddenError("The form's security token is missing or wrong (CSRF check).",
                             hint="Reload the page and submit the form again.")


def set_session_cookie(response, request: Request, sid: str, *, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax",
                        secure=secure or request.url.scheme == "https", path="/",
                        max_age=SESSION_HOURS * 3600)
