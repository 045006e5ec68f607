"""``loyalist worklist``, ``loyalist log``, ``loyalist impact`` and ``loyalist playbooks``."""

from __future__ import annotations

from pathlib import Path

import typer

from loyalist.cli.options import STORE, date_option, open_store
from loyalist.cli.tables import Col, day, err, out, show


def _items_table(items, total: int) -> None:
    """The open items, readable in an 80-column terminal: short columns shown whole
    (the customer id and the owner are typed into other commands), and one wide cell
    (the playbook, then why) that wraps."""
    from rich.text import Text

    rows = []
    for r in items.itertuples(index=False):
        why = str(r.why or "")
        if len(why) > 160:
            why = why[:157] + "..."
        what = Text.assemble((str(r.playbook), "bold"), f": {why}")
        rows.append((Text.assemble(("!", "bold red") if r.must_do else "", str(r.priority)),
                     str(r.customer_id), str(r.owner), f"{r.due_at:%m-%d}", what))
    show([Col("#", right=True), Col("customer"), Col("owner", drop=1), Col("due"),
          Col("what and why", wrap=True, min_width=24)], rows,
         title=f"Open items ({total:,}), most urgent first; ! = must do")


def worklist(
    as_of: str = date_option("--as-of", "Day of the run, YYYY-MM-DD (default: the date of "
                             "the latest scores)."),
    owner: str = typer.Option(None, help="Show only this owner's items (their staff id)."),
    playbook: str = typer.Option(None, help="Show only this playbook's items."),
    top: int = typer.Option(20, help="How many items to print."),
    playbooks: Path = typer.Option(
        None, "--playbooks",
        help="Playbook file for this run (default: the shipped ones, overridden by "
        "loyalist.toml next to the store)."),
    control_share: float = typer.Option(
        None, "--control-share", help="Share of each discretionary playbook held out "
        "(default: [worklist] control_share, 0.1)."),
    seed: int = typer.Option(None, help="Seed of the control-group draw (default: [worklist] "
                             "seed)."),
    show_only: bool = typer.Option(False, "--show", help="Only show the open items; do not "
                                   "run."),
    cap: list[str] = typer.Option(None, "--cap", help="Raise (or lower) a playbook's cap for "
                                  "this run, PLAYBOOK=N; repeat for more."),
    sort: str = typer.Option("priority", help="Sort by: priority, customer, segment, "
                             "playbook, matter, owner, due, overdue, p_leave, value, saved, "
                             "opened, attempts."),
    descending: bool = typer.Option(False, "--descending", help="Sort the other way."),
    csv: Path = typer.Option(None, "--csv", help="Also write every listed item (not only "
                             "--top) to this CSV file, for a dialer or a CRM; - for the "
                             "terminal."),
    store: str = STORE,
) -> None:
    """Whom to contact today: open, keep and close worklist items, then list them."""
    from loyalist.decisions.worklist import build_worklist
    from loyalist.decisions.worklist.backlog import backlog_summary, parse_caps
    from loyalist.decisions.worklist.view import worklist_view
    from loyalist.settings import Settings

    caps = parse_caps(cap)
    # with --csv -, the terminal gets the CSV alone: everything else goes to stderr
    say = err if csv is not None and str(csv) == "-" else out
    settings = Settings.load(store)
    if playbooks is not None:
        settings = settings.with_playbooks(playbooks)
    settings = settings.with_values("worklist", control_share=control_share, seed=seed)
    with open_store(store, settings=settings) as s:
        if not show_only:
            run = build_worklist(s, as_of, caps=caps)
            say.print(f"Worklist as of {day(run.as_of)}: {run.opened:,} opened, "
                      f"{run.closed:,} closed ({run.merged:,} merged into another item of "
                      f"the same matter), {run.held_out:,} newly held out as controls; "
                      f"{len(run.items):,} open.", highlight=False)
            for n in run.notes:
                say.print(f"Note: {n}", highlight=False, markup=False)
        backlog = backlog_summary(s)
        view = worklist_view(s, owner=owner, playbook=playbook, sort=sort,
                             descending=descending, page_size=500)
    if backlog["waiting"]:
        say.print(backlog_line(backlog), highlight=False, markup=False)
    if csv is not None:
        text = view.csv()
        if str(csv) == "-":
            typer.echo(text, nl=False)
            return
        csv.write_text(text, encoding="utf-8")
        say.print(f"{view.total:,} items written to {csv}.", highlight=False, markup=False)
    items = view.all_rows.assign(owner=view.all_rows["owner_name"])
    if items.empty:
        filters = [f for f in (owner and f"owner {owner}", playbook and f"playbook {playbook}")
                   if f]
        out.print("No open items" + (f" for {' and '.join(filters)}" if filters else "")
                  + ". Owners and playbooks with items: loyalist worklist --show.",
                  highlight=False, markup=False)
        return
    _items_table(items.head(top), len(items))
    out.print("Log what happened: loyalist log CUSTOMER_ID --outcome reached --note '...'",
              highlight=False, markup=False)


def backlog_line(b: dict) -> str:
    """The backlog in one sentence: count, must-do count, oldest age, and how to raise
    a cap."""
    per = ", ".join(f"{p['playbook']} {p['waiting']:,}" for p in b["playbooks"][:4])
    day = "day" if b["oldest_days"] == 1 else "days"
    return (f"Waiting beyond today's caps: {b['waiting']:,} items ({b['must_do']:,} must-do; "
            f"the oldest reason {b['oldest_days']:,} {day} old): {per}. They open on later "
            "days, most urgent first; raise a cap with --cap PLAYBOOK=N or "
            "[worklist] cap_scale.")


def log(
    customer_id: str = typer.Argument(..., help="The customer's id."),
    outcome: str = typer.Option(..., help="reached, no-answer, saved, lost or escalated."),
    note: str = typer.Option(None, help="What was said or agreed."),
    by: str = typer.Option(None, help="Who made the contact."),
    item: str = typer.Option(None, help="The worklist item answered (default: the "
                             "customer's only open item)."),
    no_item: bool = typer.Option(False, "--no-item", help="Log the contact without closing "
                                 "any item."),
    kind: str = typer.Option("call", help="call, email, visit, letter..."),
    at: str = date_option("--at", "When it happened, YYYY-MM-DD [HH:MM] (default: now).",
                          metavar="WHEN"),
    request: str = typer.Option(None, "--request", help="The request the contact was "
                                "about (default: the request of the item answered)."),
    order: str = typer.Option(None, "--order", help="The order the contact was about "
                              "(default: the order of the item answered)."),
    store: str = STORE,
) -> None:
    """Record the outcome of a contact (appended to touches; closes the item it answers;
    the request or order it was about counts as word to the customer on it)."""
    from loyalist.decisions.worklist import log_outcome

    with open_store(store) as s:
        logged = log_outcome(s, customer_id, outcome, note=note, by=by, item_id=item,
                             no_item=no_item, kind=kind, at=at, request_id=request,
                             order_id=order)
    parts = [f"Logged {logged.touch_id} for {customer_id}"]
    about = [f"{w} {i}" for w, i in (("request", logged.request_id),
                                     ("order", logged.order_id)) if i]
    if about:
        parts[0] += f" about {' and '.join(about)}"
    if logged.closed:
        parts.append(f"closed {', '.join(logged.closed)}")
    if logged.attempted:
        parts.append(f"attempt counted on {', '.join(logged.attempted)}")
    if not logged.closed and not logged.attempted:
        parts.append("no item closed")
    if logged.still_open:
        parts.append(f"still open: {', '.join(logged.still_open)}")
    out.print("; ".join(parts) + ".", highlight=False, markup=False)


def impact(
    window: int = typer.Option(90, "--window", help="Days after assignment to measure over."),
    as_of: str = date_option("--as-of", "Measure with the records up to this date, "
                             "YYYY-MM-DD (default: the latest)."),
    store: str = STORE,
) -> None:
    """Does outreach work? Retention and revenue of treated vs held-out customers."""
    from loyalist.decisions.worklist.impact import measure_impact

    with open_store(store) as s:
        res = measure_impact(s, window_days=window, as_of=as_of)
    rows = []
    for r in res.table.itertuples(index=False):
        have = r.uplift == r.uplift and r.uplift is not None  # not NaN, not None
        rows.append((r.playbook, f"{r.n_treated:,}", f"{r.n_control:,}",
                     f"{r.retention_treated:.1%} / {r.retention_control:.1%}" if have else "",
                     f"{100 * r.uplift:+.1f} pts ({100 * r.ci_low:+.1f} to "
                     f"{100 * r.ci_high:+.1f})" if have else "",
                     f"{r.revenue_uplift:+,.0f} ({r.revenue_ci_low:+,.0f} to "
                     f"{r.revenue_ci_high:+,.0f})" if have else ""))
    show([Col("playbook"), Col("treated", right=True), Col("held out", right=True),
          Col("retention T / C", wrap=True, min_width=9, drop=1),
          Col("uplift (95% CI)", wrap=True, min_width=10),
          Col("revenue uplift (95% CI)", wrap=True, min_width=10, drop=2)], rows,
         title=f"Impact over {res.window_days} days after assignment (records to "
         f"{day(res.as_of)}; {res.mode} retention)",
         empty="No worklist items assigned yet: nothing to measure (loyalist worklist "
         "opens them).")
    for r in res.table.itertuples(index=False):
        out.print(f"{r.playbook}: {r.verdict}", highlight=False, markup=False)
    if res.pending:
        out.print(f"{res.pending:,} assignments are still inside their window.",
                  highlight=False)
    for n in res.notes:
        out.print(f"Note: {n}", highlight=False, markup=False)


def playbooks(
    file: Path = typer.Option(None, "--playbooks", help="Playbook file to check."),
    store: str = STORE,
) -> None:
    """The playbooks in force (shipped defaults plus overrides), checked."""
    from loyalist.settings import Settings
    from loyalist.settings.docs import playbook_rows

    settings = Settings.load(store)
    pbs = settings.with_playbooks(file).worklist if file is not None else settings.worklist
    rows = playbook_rows(pbs)  # the same rows as the table in docs/worklist.md
    # the name is what --playbook takes: whole, on one line; the rest wraps or goes
    show([Col("playbook"), Col("must-do", drop=3), Col("trigger", wrap=True, min_width=14),
          Col("action", wrap=True, min_width=14, drop=4), Col("due", drop=2),
          Col("owner", drop=5), Col("cap/day", drop=6), Col("control", drop=1)],
         [list(r.values()) for r in rows], title=f"Playbooks ({', '.join(pbs.sources)})")


def register(app: typer.Typer) -> None:
    app.command()(worklist)
    app.command()(log)
    app.command()(impact)
    app.command()(playbooks)
