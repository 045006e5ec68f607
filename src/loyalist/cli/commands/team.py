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
    losses: bool = typer.Option(False, "--losses", help="Losses by cause and department: "
                                "lost revenue attributed to each department's failures "
                                "(against stayers who met the same), beside the stated "
                                "reasons; writes department_losses."),
    freq: str = typer.Option("Q", "--freq", help="With --losses: periods M, Q or Y."),
    segment: str = typer.Option(None, "--segment", help="With --losses: only this "
                                "segment's customers (weighed by the firm's model; "
                                "writes nothing)."),
    as_json: bool = typer.Option(False, "--json", help="Print everything as JSON."),
    store: str = STORE,
) -> None:
    """The retention-practices scorecard (each practice with its trend, department and
    how much more often customers who met the gap left), agents' responsiveness,
    first-contact resolution and call-backs (shrunk toward the team mean) and their
    place among the team's peers doing the same work, verified
    saves against the control group, and the thank-you list; with --losses, losses by
    cause and department. [team] and [departments] settings apply."""

    from loyalist.team import team_report
    from loyalist.team.report import LEVEL_NOTE, LEVEL_WITH_TEAM, signed, standing_text, who

    if segment is not None and not losses:
        raise typer.BadParameter("--segment goes with --losses.", param_hint="--segment")
    with loyalist.connect(store, read_only=not losses or segment is not None) as s:
        if losses:
            from loyalist.team.losses import department_losses, side_by_side, stated_reasons

            dl = department_losses(s, as_of, freq=freq, segment=segment,
                                   write=segment is None)
            both = side_by_side(dl, stated_reasons(s, s.settings, segment))
            if as_json:
                typer.echo(json.dumps({**dl.to_dict(), "side_by_side": _rows(both)},
                                      indent=1, default=str))
            else:
                _print_losses(dl, both)
            return
        rep = team_report(s, as_of, period_days=period)
    if agent:
        rep = rep.for_agent(agent)
    if as_json:
        typer.echo(json.dumps(rep.to_dict(), indent=1, default=str))
        return
    from loyalist.cli.tables import Col, show

    rows = []
    for p in rep.practices:
        extra = f" (median {p.median_hours:.1f} h)" if p.median_hours is not None else ""
        rows.append((p.practice + extra, p.department, _f(p.value), _f(p.previous),
                     f"{p.count:,}", _f(p.risk_ratio, "{:.2f}x"),
                     f"{_f(p.rr_low, '{:.2f}')}-{_f(p.rr_high, '{:.2f}')}",
                     f"{p.left_with_gap}/{p.with_gap} vs {p.left_without}/{p.without}"))
    show([Col("practice", wrap=True, min_width=18), Col("department"),
          Col("now", right=True), Col("before", right=True, drop=2),
          Col("count", right=True, drop=3), Col("left with gap vs without", right=True),
          Col("95% interval", right=True, drop=1), Col("customers", right=True, drop=4)],
         rows, title=f"Retention practices, last {period} days to {rep.as_of.date()}")
    if rep.stay_in_touch:
        st = rep.stay_in_touch
        out.print(f"Stay in touch: {_f(st['share'])} of {st['active']:,} active customers "
                  f"contacted within their interval ({st['overdue']:,} overdue).")
    if len(rep.agents):
        arows = []
        for r in rep.agents.itertuples(index=False):
            sat = (f"{r.satisfaction:.1%} ({r.satisfaction_low:.1%}-"
                   f"{r.satisfaction_high:.1%}; {r.rated:,})" if r.rated else "no answers")
            arows.append((who(r._asdict()), f"{r.team} ({signed(r.team_standing)})",
                          f"{r.handled:,}",
                          f"{r.responsiveness:.1%} ({r.responsiveness_low:.1%}-"
                          f"{r.responsiveness_high:.1%})",
                          f"{r.fcr:.1%} ({r.fcr_low:.1%}-{r.fcr_high:.1%})",
                          f"{r.callbacks_caused:,}", sat, standing_text(r._asdict())))
        show([Col("agent", wrap=True, min_width=15), Col("team (standing)", drop=3), Col("contacts", right=True),
              Col("answered in target", drop=4), Col("first-contact resolution", drop=2),
              Col("call-backs caused", right=True, drop=5),
              Col("satisfied (answers)", drop=1), Col("in the team")],
             arows, title="Agents (rates shrunk toward the team mean; 95% intervals; in "
             "the team: place among the team's peers doing the same work, and standing)")
        if any(row[-1] == LEVEL_WITH_TEAM for row in arows):
            out.print(LEVEL_NOTE)
    if len(rep.thanks):
        out.print("Thank you this week: "
                  + ", ".join(who(r) for r in rep.thanks.to_dict("records")))
    elif len(rep.agents):
        out.print("No thank-you list this week: no agent with at least 50 contacts stands "
                  "credibly above the peers of their team.")
    for n in rep.notes:
        out.print(f"[dim]{n}[/]", highlight=False)


def _rows(df) -> list[dict]:
    return [{k: (None if isinstance(v, float) and v != v else
                 v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in df.to_dict("records")]


def _print_losses(dl, both) -> None:
    from loyalist.cli.tables import Col, show

    o = dl.overall()
    last = dl.table["period"].max() if len(dl.table) else None
    cur = dl.table[dl.table["period"] == last].set_index("department")
    rows = []
    for r in o.itertuples(index=False):
        row = dl.table[dl.table["department"] == r.department]
        met = row["met_lost_share"].dropna()
        stay = row["met_stayers_share"].dropna()
        lo, hi = getattr(r, "share_low", None), getattr(r, "share_high", None)
        rows.append((str(r.department), f"{r.attributed_revenue:,.0f}",
                     f"{r.attributed_customers:,.0f}", _f(r.share_of_lost_revenue),
                     f"{_f(lo, '{:.0%}')}-{_f(hi, '{:.0%}')}" if lo is not None else "",
                     _f(r.naive_share),
                     _f(float((row["met_lost"]).sum()) / max(r.lost_customers, 1))
                     if len(met) else "", _f(float(stay.iloc[0])) if len(stay) else "",
                     _f(cur["share_of_lost_revenue"].get(r.department))))
    show([Col("department"), Col("lost revenue", right=True),
          Col("customers", right=True, drop=3), Col("share", right=True),
          Col("90% interval", right=True), Col("naive share", right=True, drop=1),
          Col("lost who met it", right=True, drop=4),
          Col("stayers who met it", right=True, drop=2),
          Col(f"last period ({last})", right=True, drop=5)], rows,
         title=f"Lost revenue by department whose failures caused it, to "
               f"{dl.as_of.date()} (failure-based)")
    if last is not None:
        c = cur.iloc[0]
        out.print(f"Last period: revenue loss rate {_f(c['annual_loss_rate'])} a year "
                  f"against the target {_f(dl.target)}.", highlight=False)
    show([Col("department"), Col("failures", right=True), Col("stated", right=True),
          Col("stated share", right=True), Col("stated revenue", right=True, drop=1)],
         [(str(r.department), _f(r.failure_share), f"{r.stated_customers:,}",
           _f(r.stated_share), _f(r.stated_revenue_share)) for r in both.itertuples(index=False)],
         title="Side by side, never mixed: share of lost revenue attributed to failures; "
               "lost customers who stated a reason, their share and revenue share "
               "(loyalist reasons)")
    for n in dl.notes:
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
    from loyalist.cli.tables import Col, show
    from loyalist.settings import Settings
    from loyalist.team import fit_uplift

    settings = Settings.load(store).with_values("team", uplift_min_outcomes=min_outcomes)
    with loyalist.connect(store, read_only=not save) as s:
        run = fit_uplift(s, as_of, settings=settings, method=method, write=save)
    if as_json:
        typer.echo(json.dumps(run.to_dict(), indent=1, default=str))
        return
    rows = [(p.playbook, f"{p.n_treated:,}", f"{p.n_control:,}",
             "uplift x value" if p.in_force else "risk x value", p.reason,
             _f(p.mean_uplift, "{:+.3f}"), _f(p.overlap_top)) for p in run.playbooks]
    # no playbook has outcomes yet: the notes below say why, without an empty table
    if rows:
        show([Col("playbook"), Col("treated", right=True), Col("held out", right=True),
              Col("ranking"), Col("why", wrap=True), Col("mean uplift", right=True, drop=2),
              Col("top 10% kept", right=True, drop=1)], rows,
             title=f"Uplift per playbook ({run.method}), as of {run.as_of.date()}")
    for n in run.notes:
        out.print(n, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(team)
    app.command()(uplift)
