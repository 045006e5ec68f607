"""``loyalist team`` and ``loyalist uplift``: retention is everyone's job."""

from __future__ import annotations

import json

import typer

import loyalist
from loyalist.cli.options import STORE
from loyalist.cli.tables import out


def _f(v, fmt="{:.1%}") -> str:
    return "" if v is None or v != v else fmt.format(v)


def team(
    as_of: str = typer.Option(None, "--as-of", help="Date of the figures (default: the day "
                              "after the last order or subscription change)."),
    period: int = typer.Option(90, "--period", help="Days each practice is measured over "
                               "(the trend: the period before)."),
    agent: str = typer.Option(None, "--agent", help="Only this agent's own figures."),
    as_json: bool = typer.Option(False, "--json", help="Print everything as JSON."),
    store: str = STORE,
) -> None:
    """The retention-practices scorecard (each practice with its trend, department and
    how much more often customers who met the gap left), agents' responsiveness,
    first-contact resolution and call-backs (shrunk toward the team mean), verified
    saves against the control group, and the thank-you list. [team] settings apply."""
    from rich.table import Table

    from loyalist.team import team_report

    with loyalist.connect(store, read_only=True) as s:
        rep = team_report(s, as_of, period_days=period)
    if agent:
        rep = rep.for_agent(agent)
    if as_json:
        typer.echo(json.dumps(rep.to_dict(), indent=1, default=str))
        return
    t = Table(title=f"Retention practices, last {period} days to {rep.as_of.date()}")
    for c in ("practice", "department", "now", "before", "count", "left with gap vs without",
              "95% interval", "customers"):
        t.add_column(c)
    for p in rep.practices:
        extra = f" (median {p.median_hours:.1f} h)" if p.median_hours is not None else ""
        t.add_row(p.practice + extra, p.department, _f(p.value), _f(p.previous),
                  f"{p.count:,}", _f(p.risk_ratio, "{:.2f}x"),
                  f"{_f(p.rr_low, '{:.2f}')}-{_f(p.rr_high, '{:.2f}')}",
                  f"{p.left_with_gap}/{p.with_gap} vs {p.left_without}/{p.without}")
    out.print(t)
    if rep.stay_in_touch:
        st = rep.stay_in_touch
        out.print(f"Stay in touch: {_f(st['share'])} of {st['active']:,} active customers "
                  f"contacted within their interval ({st['overdue']:,} overdue).")
    if len(rep.agents):
        a = Table(title="Agents (rates shrunk toward the team mean; 95% intervals)")
        for c in ("agent", "team", "contacts", "answered in target", "first-contact "
                  "resolution", "call-backs caused", "satisfied (answers)"):
            a.add_column(c)
        for r in rep.agents.itertuples(index=False):
            sat = (f"{r.satisfaction:.1%} ({r.satisfaction_low:.1%}-"
                   f"{r.satisfaction_high:.1%}; {r.rated:,})" if r.rated else "no answers")
            a.add_row(str(r.agent), str(r.team), f"{r.handled:,}",
                      f"{r.responsiveness:.1%} ({r.responsiveness_low:.1%}-"
                      f"{r.responsiveness_high:.1%})",
                      f"{r.fcr:.1%} ({r.fcr_low:.1%}-{r.fcr_high:.1%})",
                      f"{r.callbacks_caused:,}", sat)
        out.print(a)
    if len(rep.thanks):
        out.print("Thank you this week: " + ", ".join(map(str, rep.thanks["agent"])))
    for n in rep.notes:
        out.print(f"[dim]{n}[/]", highlight=False)


def uplift(
    as_of: str = typer.Option(None, "--as-of", help="Only hold-out windows ended by then "
                              "count (default: the scores' date)."),
    method: str = typer.Option("x-learner", "--method", help="x-learner or two-model."),
    min_outcomes: int = typer.Option(None, "--min-outcomes", help="Outcomes needed in each "
                                     "arm; default: [team] uplift_min_outcomes."),
    save: bool = typer.Option(True, "--save/--no-save", help="Write uplift_scores (the "
                              "worklist ranks by it where a playbook's uplift is in force)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    store: str = STORE,
) -> None:
    """Learn from the worklist's own hold-outs how much a contact changes each customer's
    chance of staying (per playbook), validate it on held-out customers (Qini with a
    bootstrap interval), and say what the ranking would change."""
    from rich.table import Table

    from loyalist.settings import Settings
    from loyalist.team import fit_uplift

    settings = Settings.load(store).with_values("team", uplift_min_outcomes=min_outcomes)
    with loyalist.connect(store, read_only=not save) as s:
        run = fit_uplift(s, as_of, settings=settings, method=method, write=save)
    if as_json:
        typer.echo(json.dumps(run.to_dict(), indent=1, default=str))
        return
    t = Table(title=f"Uplift per playbook ({run.method}), as of {run.as_of.date()}")
    for c in ("playbook", "treated", "held out", "ranking", "why", "mean uplift",
              "top 10% kept"):
        t.add_column(c)
    for p in run.playbooks:
        t.add_row(p.playbook, f"{p.n_treated:,}", f"{p.n_control:,}",
                  "uplift x value" if p.in_force else "risk x value", p.reason,
                  _f(p.mean_uplift, "{:+.3f}"), _f(p.overlap_top))
    out.print(t)
    for n in run.notes:
        out.print(n, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(team)
    app.command()(uplift)
