"""``loyalist alerts``: which alert kinds matter, weighed on the firm's own history."""

from __future__ import annotations

import json

import typer

import loyalist
from loyalist.cli.options import STORE
from loyalist.cli.tables import day, out, use_display


def _pct(v) -> str:
    return "" if v is None or v != v else f"{v:.0%}"


def alerts(
    as_json: bool = typer.Option(False, "--json", help="Print the weights and the counts "
                                 "as JSON."),
    store: str = STORE,
) -> None:
    """Each alert kind's level (alarm, housekeeping, not weighed) and weight: how much
    more often customers with it left than comparable customers without it (measured
    by loyalist score); how many customers carry an alarm, and how many the team works
    this week ([alerts] weekly_capacity)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from loyalist.decisions.words import kind_words
    from loyalist.decisions.worth_saving import alarm_summary, weights

    with loyalist.connect(store, read_only=True) as s:
        use_display(s.settings.display)
        rows, summary = weights(s), alarm_summary(s)
    if as_json:
        typer.echo(json.dumps({"summary": summary, "weights": rows}, indent=2, default=str))
        return
    if not rows:
        out.print("No alert weights yet: loyalist score weighs every alert kind on past "
                  "outcomes.")
        return
    first = rows[0]
    t = Table(title=f"Alert kinds, weighed on {day(first['measured_at'])} (who left "
              f"within {first['horizon_days']} days)", box=box.SIMPLE_HEAD,
              title_justify="left", pad_edge=False)
    for col, kw in (("kind", {"overflow": "fold", "ratio": 1}), ("level", {}),
                    ("with", {"justify": "right"}), ("without", {"justify": "right"}),
                    ("ratio (95%)", {"justify": "right"}), ("n", {"justify": "right"})):
        t.add_column(col, **kw)
    for r in rows:
        ratio = ("" if r["risk_ratio"] is None or r["risk_ratio"] != r["risk_ratio"] else
                 f"{r['risk_ratio']:.1f} ({r['ratio_low']:.1f}-{r['ratio_high']:.1f})")
        t.add_row(escape(kind_words(r["kind"])), r["level"], _pct(r["share_left_with"]),
                  _pct(r["share_left_without"]), ratio, f"{r['customers_with']:,}")
    out.print(t)
    out.print("with / without: share who left among customers with the kind and among "
              f"{first['comparable']} without it; n: customers with it then.",
              highlight=False)
    if summary and summary.get("weighed"):
        out.print(f"{summary['with_alarm']:,} of {summary['scored']:,} scored customers "
                  f"({summary['share_alarm']:.0%}) carry an alarm; "
                  f"{summary['with_any']:,} ({summary['share_any']:.0%}) carry any alert. "
                  f"This week: {summary['this_week']:,} (weekly capacity "
                  f"{summary['weekly_capacity']:,}); {summary['rest']:,} more waiting.",
                  highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(alerts)
