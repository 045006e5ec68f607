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


def _records(df, limit: int | None = None) -> list[dict]:
    df = df if limit is None else df.head(limit)
    return json.loads(df.to_json(orient="records", date_format="iso", date_unit="s"))


def _say(text: str) -> None:
    out.print(text, highlight=False, markup=False)


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
    from loyalist.council import current_members
    from loyalist.council import suggest as propose

    with open_store(store) as s:
        panel = propose(s, size=size, as_of=as_of, seed=seed)
        members = len(current_members(s))
        notes = [] if "scores" in s.tables() else [
            "No scores yet: run loyalist score so that valuable customers at risk join "
            "the mix (advocates come from survey answers meanwhile)."]
    if as_json:
        typer.echo(json.dumps({"members_already": members, "panel": _records(panel),
                               "notes": notes}, indent=1))
        return
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
    from loyalist.council import confirm as confirm_members

    with open_store(store) as s:
        new = confirm_members(s, customers, at=at, why=why, by=by)
    already = [c for c in dict.fromkeys(customers) if c not in new]
    _say(f"Confirmed {plural(len(new), 'member')}" + (f": {', '.join(new)}" if new else "")
         + (f"; already members: {', '.join(already)}" if already else "") + ".")


@council_app.command("leave")
def leave(
    customer: str = typer.Argument(..., help="The member's customer id."),
    at: str = date_option("--at", "When they left, YYYY-MM-DD (default: now)."),
    note: str = typer.Option(None, "--note", help="Why they left."),
    by: str = typer.Option(None, "--by", help="Who recorded it."),
    store: str = STORE,
) -> None:
    """Record that a member left the council."""
    from loyalist.council import leave as member_leaves

    with open_store(store) as s:
        member_leaves(s, customer, at=at, note=note, by=by)
    _say(f"{customer} left the council.")


@council_app.command("meeting")
def meeting(
    held: str = typer.Argument(..., metavar="held <date>", help="When it was held, YYYY-MM-DD."),
    title: str = typer.Option(None, "--title", help="What it was about."),
    attended: list[str] = typer.Option(None, "--attended", "-a", help="A member who "
                                       "attended (repeat the option for each)."),
    note: str = typer.Option(None, "--note", help="Minutes or a note."),
    by: str = typer.Option(None, "--by", help="Who recorded it."),
    store: str = STORE,
) -> None:
    """Record a council meeting and who attended; prints its id."""
    from loyalist.council import record_meeting

    with open_store(store) as s:
        mid = record_meeting(s, held, title=title, attended=attended or (), note=note, by=by)
    _say(f"Recorded meeting {mid} ({held}) with {plural(len(set(attended or ())), 'member')}"
         " attending.")


@council_app.command("attend")
def attend(
    meeting_id: str = typer.Argument(..., metavar="meeting_id <id>",
                                    help="The meeting's id."),
    customers: list[str] = typer.Argument(..., metavar="customers <id>",
                                          help="Members who attended."),
    by: str = typer.Option(None, "--by", help="Who recorded it."),
    store: str = STORE,
) -> None:
    """Record members as having attended a meeting."""
    from loyalist.council import attend as record_attendance

    with open_store(store) as s:
        new = record_attendance(s, meeting_id, customers, by=by)
    _say(f"{plural(len(new), 'member')} recorded at {meeting_id}.")


@council_app.command("point")
def point(
    meeting_id: str = typer.Argument(..., metavar="meeting_id <id>",
                                    help="The meeting's id."),
    text: str = typer.Argument(..., help="The point raised, in the member's words."),
    customer: str = typer.Option(None, "--customer", "-c", help="The member who raised "
                                 "it (default: the council as a whole)."),
    by: str = typer.Option(None, "--by", help="Who recorded it."),
    store: str = STORE,
) -> None:
    """Record a point raised at a meeting; prints its id."""
    from loyalist.council import raise_point

    with open_store(store) as s:
        pid = raise_point(s, meeting_id, text, customer_id=customer, by=by)
    _say(f"Recorded point {pid}.")


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
    by: str = typer.Option(None, "--by", help="Who recorded it."),
    store: str = STORE,
) -> None:
    """Record a commitment made to a member, with an owner and a due date."""
    from loyalist.council import commit as make

    with open_store(store) as s:
        kid = make(s, text, owner=owner, due=due, point_id=point_id, meeting_id=meeting_id,
                   customer_id=customer, by=by)
    _say(f"Recorded commitment {kid}: {owner} by {due}. Close it with loyalist council "
         f"done {kid} --we-did '...'.")


def done(
    commitment: str = typer.Argument(..., help="The commitment's id."),
    we_did: str = typer.Option(None, "--we-did", help="What the firm did."),
    you_said: str = typer.Option(None, "--you-said", help="What the member said "
                                 "(default: the point raised, else the commitment)."),
    at: str = date_option("--at", "When it was done, YYYY-MM-DD (default: now)."),
    by: str = typer.Option(None, "--by", help="Who recorded it."),
    store: str = STORE,
) -> None:
    """Close a commitment with "you said, we did"."""
    from loyalist.council import close

    with open_store(store) as s:
        row = close(s, commitment, we_did=we_did, you_said=you_said, at=at, by=by)
    _say(f"Closed {commitment}. You said: {row['you_said']} We did: {row['we_did']}")


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
    from loyalist.council import council_state

    with open_store(store) as s:
        st = council_state(s, as_of)
    if as_json:
        typer.echo(json.dumps({
            "summary": st.summary(), "members": _records(st.members),
            "meetings": _records(st.meetings), "points": _records(st.points),
            "commitments": _records(st.commitments), "whispers": _records(st.whispers),
            "notes": st.notes}, indent=1))
        return
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
