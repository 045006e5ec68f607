"""``loyalist competitors`` and ``loyalist reasons``: the competition in customers' own
words, and why customers left."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

import loyalist
from loyalist.cli.options import STORE
from loyalist.cli.tables import Col, day, out, show, use_display

if TYPE_CHECKING:
    import pandas as pd



def _records(df: pd.DataFrame, limit: int | None = None) -> list[dict]:
    df = df if limit is None else df.head(limit)
    return json.loads(df.to_json(orient="records", date_format="iso"))


def _share(v) -> str:
    return "" if v is None or v != v else f"{v:.1%}"


def competitors(
    propose: bool = typer.Option(False, "--propose", help="Only the names the list lacks "
                                 "(works with an empty list)."),
    by: str = typer.Option("segment", "--by", help="Column of customers for the trends "
                           "('' for none)."),
    freq: str = typer.Option("M", "--freq", help="Period of the trends: M, Q or Y."),
    limit: int = typer.Option(15, "--limit", help="Rows shown per table."),
    as_of: str = typer.Option(None, "--as-of", help="Date of the analysis (default: the day "
                              "after the last order or subscription change)."),
    as_json: bool = typer.Option(False, "--json", help="Print everything as JSON."),
    store: str = STORE,
) -> None:
    """Competitors in customers' own words: mentions in requests, feedback comments and
    the team's notes (aliases, misspellings, several languages) with topic and evidence,
    the share of lost customers and revenue who named each before leaving, valuable
    customers naming one lately, and names the [listening] competitors list lacks."""
    from loyalist.listening import gather, proposed_competitors
    from loyalist.listening.analysis import listen, store_frames
    from loyalist.settings import Settings

    settings = Settings.load(store)
    cfg = settings.listening
    with loyalist.connect(store, settings=settings) as s:
        use_display(s.settings.display)
        if propose or not cfg.competitors:
            tables, *_ = store_frames(s, as_of, None)
            proposed = proposed_competitors(gather(tables), cfg)
            if as_json:
                typer.echo(json.dumps({"competitors": list(cfg.competitors),
                                       "proposed": _records(proposed)}, indent=1))
            else:
                if not cfg.competitors:
                    out.print("[yellow]No competitors are listed[/] in \\[listening] "
                              "competitors (loyalist.toml, docs/listening.md): only names "
                              "to confirm are shown.", highlight=False)
                _proposed(proposed, limit)
            return
        res = listen(s, cfg, as_of=as_of, by=by or None, freq=freq)
    if as_json:
        typer.echo(json.dumps({
            "as_of": str(res.as_of.date()), "texts": res.texts,
            "summary": _records(res.summary()), "lost_to": _records(res.lost_to),
            "whispers": _records(res.whispers), "trends": _records(res.trends),
            "mentions": _records(res.mentions), "proposed": _records(res.proposed)},
            indent=1))
        return
    _print_competition(res, limit)


def _print_competition(res, limit: int) -> None:
    """The competitors named, the valuable customers naming one, the names to confirm."""
    out.print(f"[bold]{len(res.mentions):,} competitor mentions[/] in {res.texts:,} texts "
              f"(as of {res.as_of.date()}).", highlight=False)
    show([Col("competitor", wrap=True, min_width=10), Col("mentions", right=True),
          Col("customers", right=True, drop=2), Col("topic named most", drop=1),
          Col("lost who named it", right=True), Col("lost revenue", right=True)],
         [(r.competitor, f"{r.mentions:,}", f"{r.customers:,}",
          f"{r.topic} ({r.topic_share:.0%})",
           _share(r.share_of_lost), _share(r.share_of_lost_revenue))
          for r in res.summary().head(limit).itertuples()], title="Competitors named",
         empty="No competitor named in customers' words.")
    if len(res.whispers):
        show([Col("customer"), Col("value", right=True), Col("whisper", wrap=True)],
             [(r.customer_id, f"{r.value:,.0f}", r.text)
              for r in res.whispers.head(limit).itertuples()],
             title="Valuable customers naming a competitor lately")
    _proposed(res.proposed, limit)


def _proposed(proposed: pd.DataFrame, limit: int) -> None:
    if proposed.empty:
        out.print("No new names near switching words.")
        return
    show([Col("name"), Col("customers", right=True), Col("texts", right=True, drop=1),
          Col("evidence", wrap=True)],
         [(r.name, f"{r.customers:,}", f"{r.texts:,}", r.evidence)
          for r in proposed.head(limit).itertuples()],
         title="Names to confirm (written near switching words, not on the list)")
    out.print("Add the real competitors to \\[listening] competitors in loyalist.toml.",
              highlight=False)


def reasons(
    by: str = typer.Option("segment", "--by", help="Column of customers to split by ('' "
                           "for none)."),
    freq: str = typer.Option("Q", "--freq", help="Period: M, Q or Y."),
    limit: int = typer.Option(20, "--limit", help="Customers listed."),
    as_of: str = typer.Option(None, "--as-of", help="Date of the analysis."),
    as_json: bool = typer.Option(False, "--json", help="Print everything as JSON."),
    store: str = STORE,
) -> None:
    """Why customers left: the reason the team logged at exit, else one suggested from
    the customer's last texts and alerts (with the evidence), else unknown, by period
    and segment; the taxonomy is [listening] loss_reasons."""
    from loyalist.listening.analysis import loss_reasons_of
    from loyalist.listening.reasons import reasons_overall
    from loyalist.settings import Settings

    settings = Settings.load(store)
    with loyalist.connect(store, settings=settings) as s:
        use_display(s.settings.display)
        each, by_period = loss_reasons_of(s, settings.listening, as_of=as_of, by=by or None,
                                          freq=freq)
    overall = reasons_overall(each)
    if as_json:
        typer.echo(json.dumps({"lost": len(each), "reasons": _records(overall),
                               "by_period": _records(by_period),
                               "customers": _records(each)}, indent=1))
        return
    _print_reasons(each, overall, limit)


def _print_reasons(each, overall, limit: int) -> None:
    """The stated reasons for leaving and the latest losses with their evidence."""

    logged = (each["source"] == "logged").sum()
    out.print(f"[bold]{len(each):,} lost customers[/]: {logged:,} with a reason the team "
              f"logged, {(each['source'] == 'suggested').sum():,} suggested from their "
              f"words, {(each['reason'] == 'unknown').sum():,} unknown.", highlight=False)
    show([Col("reason"), Col("customers", right=True), Col("share", right=True),
          Col("lost revenue", right=True)],
         [(r.reason, f"{r.customers:,}", _share(r.share), f"{r.revenue:,.0f}")
          for r in overall.itertuples()],
         title="Stated reasons for leaving (not failure-based attribution)")
    show([Col("customer"), Col("lost"), Col("reason"), Col("from", drop=1),
          Col("evidence", wrap=True)],
         [(r.customer_id, day(r.lost_at), r.reason, r.source,
           "" if not isinstance(r.evidence, str) else r.evidence[:100])
          for r in each.sort_values("lost_at", ascending=False).head(limit).itertuples()],
         title="Latest losses and their evidence")


def listening(
    by: str = typer.Option("segment", "--by", help="Column of customers for the trends and "
                           "the reasons ('' for none)."),
    freq: str = typer.Option("M", "--freq", help="Period of the competitors' trends: M, Q "
                             "or Y (the reasons by quarter)."),
    limit: int = typer.Option(15, "--limit", help="Rows shown per table."),
    as_of: str = typer.Option(None, "--as-of", help="Date of the analysis (default: the day "
                              "after the last order or subscription change)."),
    as_json: bool = typer.Option(False, "--json", help="Print everything as JSON (what "
                                 "/api/listening answers)."),
    store: str = STORE,
) -> None:
    """What customers' own words say: the competitors they name (with the [listening]
    competitors list; else the names to confirm) and why customers left, as the web
    app's Listening page shows it (docs/listening.md). `loyalist competitors` and
    `loyalist reasons` show each part with more options."""
    from loyalist.listening import listening as listening_report
    from loyalist.settings import Settings

    settings = Settings.load(store)
    with loyalist.connect(store, settings=settings) as s:
        use_display(s.settings.display)
        rep = listening_report(s, settings.listening, as_of=as_of, by=by or None, freq=freq)
    res, overall = rep.competition, rep.reasons_overall()
    if as_json:
        body = {"competitors": rep.competitors, "proposed": _records(rep.proposed, limit),
                "lost": len(rep.reasons), "reasons": _records(overall),
                "reasons_by": _records(rep.reasons_by),
                "losses": _records(rep.reasons.sort_values("lost_at", ascending=False),
                                   limit)}
        if res is not None:
            body |= {"as_of": str(res.as_of.date()), "texts": res.texts,
                     "summary": _records(res.summary()), "whispers": _records(res.whispers,
                                                                               limit),
                     "trends": _records(res.trends), "mentions": _records(res.mentions)}
        typer.echo(json.dumps(body, indent=1))
        return
    if res is None:
        out.print("[yellow]No competitors are listed[/] in \\[listening] competitors "
                  "(loyalist.toml, docs/listening.md): only names to confirm are shown.",
                  highlight=False)
        _proposed(rep.proposed, limit)
    else:
        _print_competition(res, limit)
    _print_reasons(rep.reasons, overall, limit)


def register(app: typer.Typer) -> None:
    app.command()(listening)
    app.command()(competitors)
    app.command()(reasons)
