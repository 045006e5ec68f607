"""``loyalist service``: responsiveness, call-backs, misrouting, open requests."""

from __future__ import annotations

from pathlib import Path

import typer

from loyalist.cli.options import STORE, date_option, open_store
from loyalist.cli.tables import Col, moment, out, plural, show


def _fmt(column: str, v) -> str:
    if v is None or v != v:
        return ""
    if column.endswith(("_share", "_rate")):
        return f"{v:.1%}"
    if column == "requests":
        return f"{int(v):,}"
    return f"{v:,.1f}" if isinstance(v, float) else str(v)


#: short headers, so that a team's figures fit 80 columns
_HEADERS = {"answered_share": "answered", "median_response_h": "median h",
            "p90_response_h": "p90 h", "breach_share": "past target",
            "callback_rate": "call-backs", "misrouted_share": "misrouted",
            "median_response_business_h": "median work h",
            "breach_share_business": "past target in work h"}


def service(
    since: str = date_option("--since", "Only requests opened on or after this date "
                             "(YYYY-MM-DD)."),
    as_of: str = date_option("--as-of", "Report as of this moment, YYYY-MM-DD [HH:MM] "
                             "(default: just after the latest record)."),
    policy: Path = typer.Option(None, help="TOML file whose [service] (targets, category "
                                "-> team map) and [calendar] tables take over from "
                                "loyalist.toml for this run."),
    out_dir: Path = typer.Option(Path("loyalist-out/service"), "--out",
                                 help="Folder for the CSV tables and PNG plots."),
    store: str = STORE,
) -> None:
    """Print and save the service report."""
    from loyalist.decisions.service.report import service_report
    from loyalist.settings import Settings

    settings = Settings.load(store)
    if policy is not None:
        settings = settings.with_file(policy, sections=("service", "calendar"))
    with open_store(store, settings=settings) as s, \
            out.status("Computing the service report"):
        report = service_report(s, as_of, since=since)
        paths = report.save(out_dir)
    sm = report.summary
    out.print(f"[bold]Service as of {moment(report.as_of)}[/]: {int(sm['requests']):,} "
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
        # the figures of a team are short numbers: headers wrap, values never do
        show([Col(dim), *(Col(_HEADERS.get(c, c.replace("_", " ")), right=True,
                              drop=i - 3 if i >= 4 else 0)
                          for i, c in enumerate(df.columns))],
             [(str(idx), *[_fmt(c, v) for c, v in row.items()]) for idx, row in df.iterrows()],
             title=f"By {dim}", empty=f"By {dim}: no requests.")
    if report.followthrough is not None:
        show([Col("problem", wrap=True), Col("orders", right=True),
              Col("median days", right=True)],
             [(str(idx).replace("_", " "), f"{int(row['orders']):,}",
               f"{row['median_days']:.1f}") for idx, row in report.followthrough.iterrows()],
             title="Order follow-through")
    out.print(f"Tables and plots: {out_dir}/ ({plural(len(paths), 'file')})", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(service)
