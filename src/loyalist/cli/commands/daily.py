"""``loyalist daily``: the team's day in one command, made for cron."""

from __future__ import annotations

from pathlib import Path

import typer

from loyalist.cli.options import STORE, date_option
from loyalist.cli.tables import day as shown_day
from loyalist.cli.tables import out, progress, use_display

#: how each step's status is shown
STYLE = {"ok": "green", "failed": "bold red", "skipped": "dim"}


def daily(
    day: str = date_option("--day", "The day of the digest, YYYY-MM-DD (default: today, "
                           "UTC); what was sent is remembered per day."),
    inbox: Path = typer.Option(None, "--inbox", help="Folder of new exports for this run "
                               "(default: [daily] inbox in loyalist.toml)."),
    out_dir: Path = typer.Option(None, "--out", help="Folder of the day's report and a copy "
                                 "of every message (default: [daily] out)."),
    store: str = STORE,
) -> None:
    """Run the day: new files from the inbox, ingest, score, worklist, report, model
    health, then each owner's list and the lead's summary by e-mail or webhook. Safe to
    run again (nothing is ingested or sent twice); exits with 1 when a step failed."""
    import loyalist
    from loyalist.daily import run_day
    from loyalist.settings import Settings

    settings = Settings.load(store)
    with loyalist.connect(store, settings=settings) as s, progress() as step:
        use_display(s.settings.display)
        run = run_day(s, settings, day=day, inbox=inbox, out=out_dir, progress=step)
    for st in run.steps:
        out.print(f"{st.name:9}", end="", markup=False, highlight=False)
        out.print(f"{st.status:8}", end=" ", style=STYLE[st.status], markup=False,
                  highlight=False)
        out.print(f"{st.summary} ({st.seconds:.1f} s)", markup=False, highlight=False)
    if run.failed:
        out.print(f"Day {shown_day(run.day)}: something failed (see above); run again once "
                  "it is fixed: nothing is ingested or sent twice.", markup=False,
                  highlight=False)
        raise typer.Exit(1)
    out.print(f"Day {shown_day(run.day)} done.", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(daily)
