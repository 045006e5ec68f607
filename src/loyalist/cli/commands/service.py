"""``loyalist service``: responsiveness, call-backs, misrouting, open requests."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

import loyalist
from loyalist.cli.options import STORE
from loyalist.settings import Settings

out = Console()


def _fmt(column: str, v) -> str:
    if v is None or v != v:
        return ""
    if column.endswith(("_share", "_rate")):
        return f"{v:.1%}"
    if column == "requests":
        return f"{int(v):,}"
    return f"{v:,.1f}" if isinstance(v, float) else str(v)


def service(
    since: str = typer.Option(None, help="Only requests opened on or after this date."),
    as_of: str = typer.Option(None, "--as-of", help="Report as of this moment (default: "
                              "just after the latest record)."),
    policy: Path = typer.Option(None, help="TOML file whose [service] (targets, category "
                                "-> team map) and [calendar] tables take over from "
                                "loyalist.toml for this run."),
    out_dir: Path = typer.Option(Path("loyalist-out/service"), "--out",
                                 help="Folder for the CSV tables and PNG plots."),
    store: str = STORE,
) -> None:
    """Print and save the service report."""
    from loyalist.decisions.service_report import service_report

    settings = Settings.load(store)
    if policy is not None:
        settings = settings.with_file(policy, sections=("service", "calendar"))
    with loyalist.connect(store, settings=settings) as s, \
            out.status("Computing the service report"):
        report = service_report(s, as_of, since=since)
        paths = report.save(out_dir)
    sm = report.summary
    out.print(f"[bold]Service as of {report.as_of:%Y-%m-%d %H:%M}[/]: {int(sm['requests']):,} "
              f"requests, {sm['answered_share']:.1%} answered, median first response "
              f"{sm['median_response_h']:.1f} h (p90 {sm['p90_response_h']:.1f} h), "
              f"{sm['breach_share']:.1%} past target, call-backs {sm['callback_rate']:.1%} "
              f"of contacts, {sm['unanswered_now']:,} unanswered now.", highlight=False)
    if "breach_share_business" in sm:
        out.print(f"In working hours: median first response "
                  f"{sm['median_response_business_h']:.1f} h, "
                  f"{sm['breach_share_business']:.1%} past target.", highlight=False)
    if "misrouted_share" in sm:
        out.print(f"Misrouted: {sm['misrouted_share']:.1%} of requests; they wait "
                  f"{sm['misrouting_delay_h']:+.1f} h longer (median).", highlight=False)
    for dim in ("team", "channel"):
        df = report.by[dim]
        t = Table(title=f"By {dim}")
        t.add_column(dim)
        for c in df.columns:
            t.add_column(c.replace("_", " "), justify="right")
        for idx, row in df.iterrows():
            t.add_row(str(idx), *[_fmt(c, v) for c, v in row.items()])
        out.print(t)
    if report.followthrough is not None:
        t = Table(title="Order follow-through")
        t.add_column("problem")
        t.add_column("orders", justify="right")
        t.add_column("median days", justify="right")
        for idx, row in report.followthrough.iterrows():
            t.add_row(str(idx).replace("_", " "), f"{int(row['orders']):,}",
                      f"{row['median_days']:.1f}")
        out.print(t)
    out.print(f"Tables and plots: {out_dir}/ ({len(paths)} files)")


def register(app: typer.Typer) -> None:
    app.command()(service)
