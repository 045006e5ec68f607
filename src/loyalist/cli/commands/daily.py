"""``loyalist daily``: the team's day in one command, made for cron."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

import loyalist
from loyalist.cli.options import STORE
from loyalist.settings import Settings

out = Console()


def daily(
    day: str = typer.Option(None, "--day", help="The day of the digest, YYYY-MM-DD "
                            "(default: today, UTC); what was sent is remembered per day."),
    inbox: Path = typer.Option(None, "--inbox", help="Folder of new exports for this run "
                               "(default: [daily] inbox in loyalist.toml)."),
    out_dir: Path = typer.Option(None, "--out", help="Folder of the day's report and a copy "
                                 "of every message (default: [daily] out)."),
    store: str = STORE,
) -> None:
    """Run the day: new files from the inbox, ingest, score, worklist, report, model
    health, then each owner's list and the lead's summary by e-mail or webhook. Safe to
    run again (nothing is ingested or sent twice); exits with 1 when a step failed."""
    from loyalist.contract.moments import moment
    from loyalist.daily import run_day

    if day is not None:
        day = moment(day, "--day")  # a bad date fails before the store is opened
    settings = Settings.load(store)
    with loyalist.connect(store, settings=settings) as s, out.status("starting") as bar:
        run = run_day(s, settings, day=day, inbox=inbox, out=out_dir,
                      progress=lambda m: bar.update(escape(m)))
    colour = {"ok": "green", "failed": "bold red", "skipped": "dim"}
    for step in run.steps:
        out.print(f"{step.name:9}[{colour[step.status]}]{step.status:8}[/] "
                  f"{escape(step.summary)} [dim]({step.seconds:.1f} s)[/]", highlight=False)
    if run.failed:
        out.print(f"Day {run.day:%Y-%m-%d}: something failed (see above); run again once it "
                  "is fixed: nothing is ingested or sent twice.", highlight=False)
        raise typer.Exit(1)
    out.print(f"Day {run.day:%Y-%m-%d} done.", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(daily)
