"""Team: the retention-practices scorecard, the agents' figures (shrunk toward the team
mean, with intervals and counts), verified saves and the thank-you list; one page per
agent.

The figures are :func:`loyalist.team.team_report`'s, exactly what ``loyalist team
--json`` prints (cached until the next write). Who sees whose figures: a lead or an
admin sees every agent's; an agent sees only their own (the person their user is, ``staff.id``),
and another agent's page answers 403; a viewer sees the scorecard and the thank-you
list's names, not any agent's figures. The guard checks the route's role before
anything else runs.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from loyalist.errors import ForbiddenError
from loyalist.web.auth import Caller, need
from loyalist.web.context import plain, thread_store
from loyalist.web.errors import NotFoundError
from loyalist.web.pages import html

router = APIRouter()


def team_data(store, cache) -> dict:
    """``team_report(store).to_dict()`` as JSON-ready data (cached until the next write):
    the same figures as ``loyalist team --json``."""

    def make():
        from loyalist.team import team_report
        from loyalist.team.losses import stored_losses

        return plain({**team_report(store).to_dict(), "losses": stored_losses(store)})

    return cache.get("team", make)


def visible(data: dict, caller: Caller) -> dict:
    """What ``caller`` may see of the team's figures: all (lead, admin), their own
    (agent), the scorecard and the thank-you list's names (viewer)."""
    user = caller.user
    if user.can("lead"):
        return {**data, "scope": "all"}

    def own(rows):
        return [r for r in rows if str(r.get("agent")) == user.person]

    thanks = [{"agent": r.get("agent"), "name": r.get("name")} for r in data["thank_you"]]
    if user.can("agent"):
        return {**data, "scope": "own", "agents": own(data["agents"]),
                "verified_saves": own(data["verified_saves"]), "thank_you": thanks}
    return {**data, "scope": "none", "agents": [], "verified_saves": [], "thank_you": thanks}


def agent_data(data: dict, caller: Caller, name: str) -> dict:
    """One agent's figures, for that agent, a lead or an admin (else ForbiddenError)."""
    user = caller.user
    if not user.can("lead") and name != user.person:
        raise ForbiddenError(f"{user.name} may see only their own figures ({user.person}), "
                             f"not {name}'s.", hint="Ask a lead or an admin, or open /team.")
    row = next((r for r in data["agents"] if str(r.get("agent")) == name), None)
    saves = next((r for r in data["verified_saves"] if str(r.get("agent")) == name), None)
    if row is None and saves is None:
        raise NotFoundError(f"No figures for agent {name} in the last year.",
                            hint="Agents are the people in requests.agent and touches.by.")
    thanked = any(str(r.get("agent")) == name for r in data["thank_you"])
    return {"ok": True, "as_of": data["as_of"], "agent": name, "figures": row,
            "verified_saves": saves, "thank_you": thanked}


@router.get("/api/team", tags=["team"])
def api_team(request: Request, caller: Caller = Depends(need("viewer"))):
    """The retention-practices scorecard, stay-in-touch coverage, agents, verified saves
    and the thank-you list (``loyalist team --json``); agents' figures as the caller's
    role allows (``scope``: all, own or none)."""
    state = request.app.state
    return {"ok": True, **visible(team_data(thread_store(state.store), state.cache), caller)}


@router.get("/api/team/agent/{name}", tags=["team"])
def api_team_agent(request: Request, name: str, caller: Caller = Depends(need("agent"))):
    """One agent's figures with their intervals and counts: the agent themself or an
    admin."""
    state = request.app.state
    return agent_data(team_data(thread_store(state.store), state.cache), caller, name)


@router.get("/team", include_in_schema=False)
def team_page(request: Request, caller: Caller = Depends(need("viewer"))):
    state = request.app.state
    data = visible(team_data(thread_store(state.store), state.cache), caller)
    return html(request, "team.html", title="Team", data=data)


@router.get("/team/agent/{name}", include_in_schema=False)
def team_agent_page(request: Request, name: str, caller: Caller = Depends(need("agent"))):
    state = request.app.state
    data = agent_data(team_data(thread_store(state.store), state.cache), caller, name)
    return html(request, "team_agent.html", title=f"Agent {name}", data=data)
