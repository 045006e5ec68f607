"""Server-rendered pages: one Jinja2 environment (autoescaped) over the package's
templates, and helpers that render a template for a request."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

import loyalist

#: (path, label, the role that may open it): the menu shows each user what they may open
NAV = [("/", "Overview", "viewer"), ("/worklist", "Worklist", "agent"),
       ("/customers", "Customers", "viewer"), ("/service", "Service", "viewer"),
       ("/relationship", "Relationship", "viewer"), ("/impact", "Impact", "viewer"), ("/data", "Data", "admin"),
       ("/admin", "Users", "admin"), ("/daily", "Daily", "admin")]


def _pct(v, digits: int = 0) -> str:
    return "" if v is None else f"{float(v):.{digits}%}"


def _num(v, digits: int = 0) -> str:
    if v is None:
        return ""
    return f"{float(v):,.{digits}f}" if isinstance(v, float | int) else str(v)


def customer_href(customer_id) -> str:
    """The page of a customer; any id (with /, ? or #) becomes one path segment."""
    return "/customers/" + quote(str(customer_id), safe="")


def _when(v) -> str:
    return "" if not v else str(v).replace("T", " ")[:16]


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("loyalist.web", "templates"),
                      autoescape=select_autoescape(["html"], default=True),
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters.update(pct=_pct, num=_num, when=_when, customer_href=customer_href)
    env.globals.update(nav=NAV, version=loyalist.__version__)
    return env


def render(request: Request, template: str, **context) -> str:
    caller = getattr(request.state, "caller", None)
    return environment().get_template(template).render(
        request=request, path=request.url.path, user=caller.user if caller else None,
        csrf=context.pop("csrf", None) or (caller.csrf if caller else ""), **context)


def html(request: Request, template: str, *, status_code: int = 200,
         headers: dict | None = None, **context) -> HTMLResponse:
    return HTMLResponse(render(request, template, **context), status_code=status_code,
                        headers=headers)
