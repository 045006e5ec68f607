"""Server-rendered pages: one Jinja2 environment (autoescaped) over the package's
templates, and helpers that render a template for a request."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape

import loyalist

#: (path, label, the role that may open it): the menu shows each user what they may open
NAV = [("/", "Overview", "viewer"), ("/worklist", "Worklist", "agent"),
       ("/customers", "Customers", "viewer"), ("/service", "Service", "viewer"),
       ("/relationship", "Relationship", "viewer"),
       ("/listening", "Listening", "viewer"), ("/council", "Council", "viewer"),
       ("/impact", "Impact", "viewer"), ("/team", "Team", "viewer"),
       ("/data", "Data", "admin"), ("/admin", "Users", "admin"), ("/daily", "Daily", "admin")]


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


def _display(ctx):
    """The ``[display]`` settings of the page being rendered (the default without)."""
    shown = ctx.get("display")
    if shown is None:
        from loyalist.settings.display import DisplaySettings

        shown = DisplaySettings()
    return shown


@pass_context
def _day_filter(ctx, v) -> str:
    """A day as ``[display] date_format`` shows it."""
    return _display(ctx).day(v)


@pass_context
def _moment_filter(ctx, v) -> str:
    """A moment as ``[display] date_format`` and HH:MM."""
    return _display(ctx).moment(v) if v else ""


def _fmt(v, format: str | None) -> str:
    if v is None:
        return "no value"
    if format and format.endswith("%"):
        return f"{float(v):.0%}"
    return f"{float(v):,.1f}" if isinstance(v, float) else str(v)


def chart_text(rows, kind: str, x=None, y=None, label=None, format=None, target=None) -> str:
    """A chart in words, from the rows it is drawn from: how many points, their span,
    the first, lowest, highest and latest values (the text alternative of the chart)."""
    rows = list(rows or [])
    if not rows:
        return "No data yet."
    if kind == "loss":
        x, y, format, label = "period", "annualised_loss_rate", ".0%", "annualised loss rate"
    elif kind == "cohorts":
        cohorts = sorted({str(r.get("cohort"))[:7] for r in rows})
        last = {}
        for r in rows:
            last[str(r.get("cohort"))[:7]] = r
        worst = min(last.values(), key=lambda r: r.get("retained") or 0)
        return (f"Share still a customer by months since acquisition, for {len(cohorts)} "
                f"cohorts ({cohorts[0]} to {cohorts[-1]}); the lowest latest value is "
                f"{_fmt(worst.get('retained'), '%')} for {str(worst.get('cohort'))[:7]} after "
                f"{worst.get('months')} months.")
    if kind == "quadrants":
        groups: dict[str, list[str]] = {}
        for r in rows:
            groups.setdefault(str(r.get("quadrant")), []).append(str(r.get("label")))
        return "Attributes by how much customers care and how well you deliver: " + "; ".join(
            f"{q}: {', '.join(v)}" for q, v in groups.items()) + "."
    if kind == "bars":
        return f"{label or x} by {y}: " + "; ".join(
            f"{r.get(y)} {_fmt(r.get(x), format)}" for r in rows) + "."
    if not x or not y:
        return f"{len(rows)} rows."
    vals = [r.get(y) for r in rows if r.get(y) is not None]
    days = sorted({_when(r.get(x))[:10] for r in rows})
    n = len(rows)
    what = label or y
    span = (f"on {days[0]}" if len(days) == 1 else f"from {days[0]} to {days[-1]}")
    text = f"{what}: {n} point{'s' if n != 1 else ''} {span}"
    if len(days) < n:
        text += f" (several on the same day: {n} points over {len(days)} "
        text += "day)" if len(days) == 1 else "days)"
    if vals:
        text += (f"; latest {_fmt(vals[-1], format)}" if n > 1 else
                 f": {_fmt(vals[-1], format)}")
        if n > 2:
            text += f", lowest {_fmt(min(vals), format)}, highest {_fmt(max(vals), format)}"
    if target is not None:
        text += f"; target {_fmt(target, format)}"
    return text + "."


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("loyalist.web", "templates"),
                      autoescape=select_autoescape(["html"], default=True),
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    from loyalist.team.report import signed

    env.filters.update(pct=_pct, num=_num, when=_moment_filter, day=_day_filter,
                       customer_href=customer_href, signed=signed)
    env.globals.update(nav=NAV, version=loyalist.__version__, chart_text=chart_text)
    return env


def render(request: Request, template: str, **context) -> str:
    caller = getattr(request.state, "caller", None)
    store = getattr(request.app.state, "store", None)
    context.setdefault("display", store.settings.display if store is not None else None)
    return environment().get_template(template).render(
        request=request, path=request.url.path, user=caller.user if caller else None,
        csrf=context.pop("csrf", None) or (caller.csrf if caller else ""), **context)


def html(request: Request, template: str, *, status_code: int = 200,
         headers: dict | None = None, **context) -> HTMLResponse:
    return HTMLResponse(render(request, template, **context), status_code=status_code,
                        headers=headers)
