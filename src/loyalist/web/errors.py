"""One error shape for every error, as JSON under /api and as a page elsewhere.

``{"ok": false, "error": message, "hint": next step, "status": code, "errors": [...]}``;
:func:`status_for` maps Loyalist's error classes to HTTP status codes.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from loyalist.errors import (
    DataError,
    IngestError,
    LoyalistError,
    MappingError,
    NotFittedError,
    SourceError,
    StoreLockedError,
    UnknownTableError,
)

log = logging.getLogger("loyalist.web")


class NotFoundError(LoyalistError, LookupError):
    """No such customer, page or record (HTTP 404)."""

    status = 404


class ConflictError(LoyalistError, ValueError):
    """A request that contradicts an earlier one, e.g. a reused idempotency key (409)."""

    status = 409


#: most specific first
_STATUS = [(UnknownTableError, 404), (NotFittedError, 409), (StoreLockedError, 503),
           (IngestError, 422), (SourceError, 400), (MappingError, 400), (DataError, 400)]
_TITLES = {400: "Bad request", 401: "Not signed in", 403: "Not allowed", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Too large",
           422: "Cannot use this input", 429: "Too many attempts", 500: "Server error",
           503: "Busy"}


def status_for(exc: LoyalistError) -> int:
    own = getattr(exc, "status", None)
    if own:
        return own
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 400


def error_body(status: int, error: str, *, hint: str | None = None,
               errors: list | None = None) -> dict:
    return {"ok": False, "error": error, "hint": hint, "status": status, "errors": errors or []}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def error_response(request: Request, status: int, error: str, *, hint: str | None = None,
                   errors: list | None = None, headers: dict | None = None):
    """The error as JSON for the API, as a page (or a sign-in redirect) otherwise."""
    body = error_body(status, error, hint=hint, errors=errors)
    if wants_json(request):
        return JSONResponse(body, status_code=status, headers=headers)
    if status == 401 and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    from loyalist.web.pages import render

    html = render(request, "error.html", title=_TITLES.get(status, "Error"), error=body)
    return HTMLResponse(html, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Route every kind of error through :func:`error_response`."""

    @app.exception_handler(LoyalistError)
    async def _loyalist(request: Request, exc: LoyalistError):
        wait = getattr(exc, "retry_after", None)
        return error_response(request, status_for(exc), exc.message, hint=exc.hint,
                              headers={"Retry-After": str(wait)} if wait else None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = [{"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg")}
                  for e in exc.errors()]
        first = errors[0] if errors else {"where": "request", "problem": "invalid"}
        return error_response(request, 422, f"{first['where']}: {first['problem']}",
                              hint="See the API schema at /api/openapi.json.", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code,
                                                                               "Error")
        if exc.status_code == 404:
            message = f"Nothing at {request.url.path}."
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}."
        return error_response(request, exc.status_code, message,
                              headers=getattr(exc, "headers", None))

