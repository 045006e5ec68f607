"""``loyalist assign`` and ``loyalist snooze``: work the list as a team."""

from __future__ import annotations

import getpass

import typer

from loyalist.cli.options import STORE, date_option, open_store
from loyalist.cli.tables import day, out


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "command line"


def assign(
    items: list[str] = typer.Argument(..., metavar="items <id>",
                                      help="The item ids (W0000123 ...): one or many."),
    to: str = typer.Option(..., "--to", help="The new owner: a staff id or a team."),
    note: str = typer.Option(None, help="Why (kept in the item's history)."),
    by: str = typer.Option(None, help="Who reassigns (default: your login name)."),
    store: str = STORE,
) -> None:
    """Give worklist items to someone (one or many; all or none), recorded in their history."""
    from loyalist.decisions.worklist.outcomes import person_name
    from loyalist.decisions.worklist.team import assign as give

    with open_store(store) as s:
        done = give(s, items, to, by=_who(by), note=note)
        name = person_name(s, to)
    same = len(items) - len(done)
    out.print(f"Assigned {len(done):,} item{'s' if len(done) != 1 else ''} to {name}"
              + (f" ({same:,} already theirs)" if same else "") + ".",
              highlight=False, markup=False)


def snooze(
    items: list[str] = typer.Argument(..., metavar="items <id>",
                                      help="The item ids (W0000123 ...): one or many."),
    until: str = date_option("--until", "Hide until this date, YYYY-MM-DD (the item comes "
                             "back that morning)."),
    wake: bool = typer.Option(False, "--wake", help="Bring the items back now."),
    note: str = typer.Option(None, help="Why (kept in the item's history)."),
    by: str = typer.Option(None, help="Who snoozes (default: your login name)."),
    store: str = STORE,
) -> None:
    """Put worklist items off until a date (or --wake them), recorded in their history."""
    from loyalist.decisions.worklist.team import snooze as put_off
    from loyalist.errors import DataError

    if (until is None) == (not wake):
        raise DataError("Give either --until DATE or --wake.",
                        hint="e.g. loyalist snooze W0000123 --until 2026-12-24.")
    with open_store(store) as s:
        done = put_off(s, items, None if wake else until, by=_who(by), note=note)
    n = f"{len(done):,} item{'s' if len(done) != 1 else ''}"
    out.print(f"Woke {n}." if wake else f"Snoozed {n} until {day(done.until)}.",
              highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command()(assign)
    app.command()(snooze)
