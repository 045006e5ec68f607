"""The guard in front of every route: who is calling and whether their role may use the
route, how large the body may be, the security headers, and the last word on errors.

It is plain ASGI and runs before any route reads a byte of the request's body, so an
anonymous caller gets 401, a lower role 403 and an oversized body 413 without the
server parsing (or even receiving) what was sent. Routes still ask for their role
with ``Depends(need(...))``; the guard reads the same declaration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from anyio import to_thread
from fastapi import Request
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.routing import Match

from loyalist.errors import AuthError, ForbiddenError, LoyalistError
from loyalist.web.auth import role_message
from loyalist.web.errors import error_response, status_for

log = logging.getLogger("loyalist.web")

#: Content-Security-Policy of every answer: the app's own scripts only (no inline
#: script, no eval), no frames, no plugins, forms post back to the app. Styles may be
#: inline because plotly.js sets them on the charts it draws (the browser test shows
#: what strict styles would block); page text is escaped, so no style can be injected.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"


@dataclass(frozen=True)
class Limits:
    """Largest request bodies accepted, in bytes: JSON and forms, and file uploads
    (which are streamed to disk as they arrive)."""

    max_body_bytes: int = 5 * 1024 * 1024
    max_upload_bytes: int = 1024 * 1024 * 1024


@dataclass(frozen=True)
class RouteRule:
    role: str | None  # None: public
    uploads: bool


class TooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"The request body is larger than {limit / 2**20:,.0f} MB.")


def _flatten(routes) -> list:
    """Routes with included routers opened up (FastAPI may keep them as one entry)."""
    out = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        out += _flatten(inner.routes) if inner is not None else [route]
    return out


def _role_of(dependant) -> str | None:
    for dep in dependant.dependencies:
        role = getattr(dep.call, "role", None) or _role_of(dep)
        if role:
            return role
    return None


def _takes_files(dependant) -> bool:
    return any(getattr(p, "type_", None) is UploadFile or "UploadFile" in str(
        getattr(p.field_info, "annotation", "")) for p in dependant.body_params)


class Guard:
    """ASGI middleware; see the module's docstring.

    Parameters
    ----------
    app : ASGI app
    public : callable
        ``public(path)``: whether a path answers without signing in.
    identify : callable
        ``identify(accounts, request)`` -> caller, raising AuthError/ForbiddenError.
    limits : Limits
    hsts : bool
        Send Strict-Transport-Security (behind TLS).
    """

    def __init__(self, app, *, public, identify, limits: Limits, hsts: bool = False):
        self.app = app
        self.public = public
        self.identify = identify
        self.limits = limits
        self.hsts = hsts
        self._rules: dict[int, RouteRule] = {}

    def _rule(self, scope) -> RouteRule:
        partial = None
        for route in _flatten(scope["app"].router.routes):
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return self._rule_of(route)
            if match == Match.PARTIAL and partial is None:
                partial = route
        return self._rule_of(partial) if partial is not None else RouteRule("viewer", False)

    def _rule_of(self, route) -> RouteRule:
        rule = self._rules.get(id(route))
        if rule is None:
            if isinstance(route, APIRoute):
                rule = RouteRule(_role_of(route.dependant) or "viewer",
                                 _takes_files(route.dependant))
            else:
                rule = RouteRule("viewer", False)
            self._rules[id(route)] = rule
        return rule

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        static = path.startswith("/static/")
        started = False

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode("latin-1").lower() not in HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                if self.hsts:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                if not static:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        request = Request(scope)
        try:
            scope.setdefault("state", {})["caller"] = None
            rule = RouteRule(None, False) if self.public(path) else self._rule(scope)
            if rule.role is not None:
                accounts = scope["app"].state.accounts
                caller = await to_thread.run_sync(self.identify, accounts, request)
                scope["state"]["caller"] = caller
                if not caller.user.can(rule.role):
                    raise ForbiddenError(role_message(caller.user, rule.role),
                                         hint="Ask an admin for the role.")
            limit = self.limits.max_upload_bytes if rule.uploads else self.limits.max_body_bytes
            length = request.headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                raise TooLarge(limit)
            received = 0

            async def counted():
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise TooLarge(limit)
                return message

            await self.app(scope, counted, send_with_headers)
        except (AuthError, ForbiddenError, LoyalistError) as e:
            if started:
                raise
            headers = {"WWW-Authenticate": "Bearer"} if status_for(e) == 401 else {}
            if getattr(e, "retry_after", None):
                headers["Retry-After"] = str(e.retry_after)
            response = error_response(request, status_for(e), e.message, hint=e.hint,
                                      headers=headers or None)
            await response(scope, receive, send_with_headers)
        except TooLarge as e:
            if started:
                raise
            response = error_response(request, 413, e.detail,
                                      hint="Send less at once: split the file, or ingest it "
                                      "with the command line (loyalist ingest).")
            await response(scope, receive, send_with_headers)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), path)
            if started:
                return
            response = error_response(request, 500, "Something went wrong on the server.",
                                      hint="The server log has the details; please report it.")
            await response(scope, receive, send_with_headers)
