"""``loyalist council``: the customer council: suggest a panel, confirm members, record
meetings, attendance, points raised and commitments, close them with "you said, we
did", and show where it stands."""

from __future__ import annotations

import json

import typer

from loyalist.cli.options import STORE, date_option, group, open_store
from loyalist.cli.tables import Col, out, plural, show

council_app = group("The customer council: a panel representing the customer base, its "
                    "meetings, points raised and commitments kept (docs/council.md).")


#: who recorded a write (kept with it)
BY = typer.Option(None, "--by", help="Who recorded it.")


def _say(text: str) -> None:
    out.print(text, highlight=False, markup=False)


def _run(store: str, action: str, **given):
    """Run a council sub-command (:func:`loyalist.council.actions.run_action`)."""
    from loyalist.council.actions import run_action

    with open_store(store) as s:
        return run_action(s, action, **given)


def _date(v) -> str:
    import pandas as pd

    return "" if v is None or pd.isna(v) else f"{pd.Timestamp(v):%Y-%m-%d}"


@council_app.command("suggest")
def suggest(
    size: int = typer.Option(None, "--size", min=1, help="Members in all (default: "
                             "[council] size, 12); confirmed members count."),
    as_of: str = date_option("--as-of", "Current customers as of this date, YYYY-MM-DD "
                             "(default: the last date in the data)."),
    seed: int = typer.Option(0, "--seed", help="Seed breaking the last ties."),
    as_json: bool = typer.Option(False, "--json", help="Print the panel as JSON."),
    store: str = STORE,
) -> None:
    """Propose a panel that represents the customer base (segments, regions, tenure,
    size) and mixes advocates with valuable customers at risk, each pick explained;
    confirm the ones you invite with loyalist council confirm."""
    result = _run(store, "suggest", size=size, as_of=as_of, seed=seed)
    if as_json:
        typer.echo(json.dumps(result.body, indent=1))
        return
    panel, members, notes = (result.shown[k] for k in ("panel", "members", "notes"))
    show([Col("customer"), Col("name", wrap=True, min_width=12, drop=2), Col("segment"),
          Col("role", drop=1), Col("why", wrap=True, min_width=30)],
         [(r.customer_id, r.name or "", r.segment, r.role, r.why)
          for r in panel.itertuples(index=False)],
         title=f"Suggested council: {plural(len(panel), 'customer')}"
         + (f" beside {plural(members, 'member')} already confirmed" if members else ""),
         empty="No seat is free (the council is full at this size) or no current "
         "customer to propose.")
    for n in notes:
        _say(n)
    if len(panel):
        _say("Confirm the ones you invite: loyalist council confirm "
             + " ".join(panel["customer_id"].head(3)) + " ...")


@council_app.command("confirm")
def confirm(
    customers: list[str] = typer.Argument(..., metavar="customers <id>",
                                          help="Customer ids to confirm as members."),
    why: str = typer.Option(None, "--why", help="Why they were invited."),
    at: str = date_option("--at", "When they joined, YYYY-MM-DD (default: now)."),
    by: str = typer.Option(None, "--by", help="Who confirmed them."),
    store: str = STORE,
) -> None:
    """Confirm customers as council members (each must be a customer)."""
    _say(_run(store, "confirm", customers=customers, why=why, at=at, by=by).said)


@council_app.command("leave")
def leave(
    customer: str = typer.Argument(..., help="The member's customer id."),
    at: str = date_option("--at", "When they left, YYYY-MM-DD (default: now)."),
    note: str = typer.Option(None, "--note", help="Why they left."),
    by: str = BY,
    store: str = STORE,
) -> None:
    """Record that a member left the council."""
    _say(_run(store, "leave", customer_id=customer, at=at, note=note, by=by).said)


@council_app.command("meeting")
def meeting(
    held: str = typer.Argument(..., metavar="held <date>", help="When it was held, YYYY-MM-DD."),
    title: str = typer.Option(None, "--title", help="What it was about."),
    attended: list[str] = typer.Option(None, "--attended", "-a", help="A member who "
                                       "attended (repeat the option for each)."),
    note: str = typer.Option(None, "--note", help="Minutes or a note."),
    by: str = BY,
    store: str = STORE,
) -> None:
    """Record a council meeting and who attended; prints its id."""
    _say(_run(store, "meeting", held_at=held, title=title, attended=attended or (),
              note=note, by=by).said)


@council_app.command("attend")
def attend(
    meeting_id: str = typer.Argument(..., metavar="meeting_id <id>",
                                    help="The meeting's id."),
    customers: list[str] = typer.Argument(..., metavar="customers <id>",
                                          help="Members who attended."),
    by: str = BY,
    store: str = STORE,
) -> None:
    """Record members as having attended a meeting."""
    _say(_run(store, "attend", meeting_id=meeting_id, customers=customers, by=by).said)


@council_app.command("point")
def point(
    meeting_id: str = typer.Argument(..., metavar="meeting_id <id>",
                                    help="The meeting's id."),
    text: str = typer.Argument(..., help="The point raised, in the member's words."),
    customer: str = typer.Option(None, "--customer", "-c", help="The member who raised "
                                 "it (default: the council as a whole)."),
    by: str = BY,
    store: str = STORE,
) -> None:
    """Record a point raised at a meeting; prints its id."""
    _say(_run(store, "point", meeting_id=meeting_id, text=text, customer_id=customer,
              by=by).said)


@council_app.command("commit")
def commit(
    text: str = typer.Argument(..., help="What the firm will do."),
    owner: str = typer.Option(None, "--owner", help="Who keeps it (staff id or name): the "
                              "worklist gives them an item."),
    due: str = date_option("--due", "By when, YYYY-MM-DD."),
    point_id: str = typer.Option(None, "--point", help="The point it answers (its meeting "
                                 "and member come with it)."),
    meeting_id: str = typer.Option(None, "--meeting", help="The meeting it was made at."),
    customer: str = typer.Option(None, "--customer", "-c", help="The member it was made "
                                 "to (default: the one who raised the point)."),
    by: str = BY,
    store: str = STORE,
) -> None:
    """Record a commitment made to a member, with an owner and a due date."""
    _say(_run(store, "commit", text=text, owner=owner, due=due, point_id=point_id,
              meeting_id=meeting_id, customer_id=customer, by=by).said)


def done(
    commitment: str = typer.Argument(..., help="The commitment's id."),
    we_did: str = typer.Option(None, "--we-did", help="What the firm did."),
    you_said: str = typer.Option(None, "--you-said", help="What the member said "
                                 "(default: the point raised, else the commitment)."),
    at: str = date_option("--at", "When it was done, YYYY-MM-DD (default: now)."),
    by: str = BY,
    store: str = STORE,
) -> None:
    """Close a commitment with "you said, we did"."""
    _say(_run(store, "done", commitment_id=commitment, we_did=we_did, you_said=you_said,
              at=at, by=by).said)


council_app.command("done")(done)
council_app.command("close", hidden=True)(done)


@council_app.command("show")
def show_council(
    as_of: str = date_option("--as-of", "Where the council stands on this date, "
                             "YYYY-MM-DD (default: now)."),
    as_json: bool = typer.Option(False, "--json", help="Print everything as JSON."),
    store: str = STORE,
) -> None:
    """Members and their attendance, meetings, open and overdue commitments, "you said,
    we did", and whispers."""
    result = _run(store, "show", as_of=as_of)
    if as_json:
        typer.echo(json.dumps(result.body, indent=1))
        return
    st = result.shown["council"]
    sm = st.summary()
    _say(f"Council on {sm['as_of']}: {plural(sm['members'], 'member')}, "
         f"{plural(sm['meetings'], 'meeting')}, {plural(sm['points'], 'point')} raised; "
         f"commitments: {sm['commitments_open']} open ({sm['commitments_overdue']} "
         f"overdue), {sm['commitments_done']} done.")
    for n in st.notes:
        _say(n)
    show([Col("member"), Col("name", wrap=True, min_width=12, drop=2),
          Col("since"), Col("attended", right=True), Col("missed in a row", right=True),
          Col("open promises", right=True, drop=1)],
         [(r.customer_id, r.name if isinstance(r.name, str) else "", _date(r.since),
           f"{r.attended} of {r.meetings_held}", str(r.missed_in_row),
           str(r.open_commitments)) for r in st.members.itertuples(index=False)],
         title="Members", empty="No members yet.")
    points = st.points.groupby("meeting_id")["text"].agg(lambda t: "; ".join(t))
    show([Col("meeting"), Col("held"), Col("title", wrap=True, min_width=10, drop=2),
          Col("attended", right=True), Col("points raised", wrap=True, drop=1)],
         [(r.id, _date(r.held_at), r.title if isinstance(r.title, str) else "",
           str(r.attended), points.get(r.id, "")) for r in st.meetings.itertuples(index=False)],
         title="Meetings", empty="No meeting recorded yet (loyalist council meeting DATE).")
    open_c = st.commitments[st.commitments["status"] != "done"]
    show([Col("commitment"), Col("status"), Col("due"), Col("owner"), Col("member"),
          Col("what", wrap=True)],
         [(r.commitment_id, r.status, _date(r.due_at), r.owner, r.customer_id, r.text)
          for r in open_c.itertuples(index=False)],
         title="Open commitments", empty="No open commitments.")
    closed = st.commitments[st.commitments["status"] == "done"]
    show([Col("commitment"), Col("closed"), Col("you said", wrap=True),
          Col("we did", wrap=True)],
         [(r.commitment_id, _date(r.closed_at), r.you_said, r.we_did)
          for r in closed.itertuples(index=False)],
         title="You said, we did", empty="No commitment closed yet.")
    show([Col("member"), Col("whisper", wrap=True, min_width=30)],
         [(r.customer_id, r.text) for r in st.whispers.itertuples(index=False)],
         title="Whispers", empty="No whispers: every member comes and every promise is "
         "on time.")


def register(app: typer.Typer) -> None:
    app.add_typer(council_app, name="council")
