"""``loyalist report``: the retention report as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

import typer

from loyalist.cli.options import STORE, date_option, open_store
from loyalist.cli.tables import out, progress


def report(
    out_path: Path = typer.Option(Path("loyalist-out/report.html"), "--out",
                                  help="Where to write the HTML file."),
    as_of: str = date_option("--as-of", "Report as of this date, YYYY-MM-DD (default: "
                             "midnight after the latest order or subscription change)."),
    target: float = typer.Option(None, help="Loss the business accepts in a year, e.g. 0.05 "
                                 "(default: [report] target_annual_loss in loyalist.toml next "
                                 "to the store, else 0.05)."),
    horizon: int = typer.Option(None, help="Days without an order after which a customer "
                                "counts as lost (default: the scoring model's, else "
                                "suggested)."),
    store: str = STORE,
) -> None:
    """Write the retention report: loss rate against the target, cohorts, revenue
    retention, value at risk, service, feedback, whispers, the relationship, the team
    (practices scorecard, agents, verified saves), losses by department and the
    worklist."""
    from loyalist.decisions.report.build import build_report, render_html
    from loyalist.settings import Settings

    settings = Settings.load(store).with_values("report", target_annual_loss=target,
                                                horizon=horizon)
    with open_store(store, read_only=True, settings=settings) as s, progress() as step:
        from loyalist.team.report import report_sections

        rep = build_report(s, as_of, progress=step, extra_sections=report_sections())
        step("writing the page")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(render_html(rep), encoding="utf-8")
    h = rep.headline
    out.print(h["sentence"], style="bold", markup=False, highlight=False)
    for line in h["lines"][1:]:
        out.print(line, highlight=False, markup=False)
    extra = []
    if h["nrr"] is not None:
        extra.append(f"net revenue retention {h['nrr']:.0%}, gross {h['grr']:.0%}")
    extra.append(f"top 20% of customers hold {h['top_share']:.0%} of value")
    if h["unanswered_now"] is not None:
        extra.append(f"{h['unanswered_now']:,} requests unanswered now")
    out.print(f"{h['active_now']:,} customers now; " + "; ".join(extra) + ".", highlight=False)
    out.print(f"Report ({rep.charts} charts): {out_path}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command()(report)
