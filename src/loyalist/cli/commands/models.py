"""``loyalist models``: every fitted model kept in the store."""

from __future__ import annotations

import json

import typer

from loyalist.cli.options import STORE, open_store
from loyalist.cli.tables import Col, moment, out, plural, show


def _day(v) -> str:
    return "" if v is None or v != v else str(v)[:10]


def models(
    kind: str = typer.Option(None, help="Only this kind (churn, advocacy, router, value)."),
    as_json: bool = typer.Option(False, "--json", help="Print them as JSON."),
    store: str = STORE,
) -> None:
    """The fitted models in the store, newest first: what each was trained on (dates
    and rows) and how well it did."""
    with open_store(store, read_only=True) as s:
        df = s.models(kind)
    if as_json:
        rows = [{"id": int(r.id), "kind": r.kind, "fitted_at": str(r.created_at),
                 "trained_on": {"from": r.data_from, "to": r.data_to, "rows": r.rows},
                 "metrics": r.metrics} for r in df.itertuples(index=False)]
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    if df.empty:
        out.print("No fitted models yet: loyalist score, loyalist value or loyalist route "
                  "--train fit them.")
        return
    rows = []
    for r in df.itertuples(index=False):
        span = f"{_day(r.data_from)}..{_day(r.data_to)}" if r.data_from else _day(r.data_to)
        metrics = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in r.metrics.items())
        rows.append((str(r.id), r.kind, moment(r.created_at), span,
                     "" if r.rows is None or r.rows != r.rows else f"{int(r.rows):,}",
                     metrics))
    show([Col("id", right=True), Col("kind"), Col("fitted", drop=2), Col("data"),
          Col("rows", right=True, drop=1), Col("metrics", wrap=True, min_width=20)], rows,
         title=f"{plural(len(df), 'fitted model')}, newest first")


def register(app: typer.Typer) -> None:
    app.command()(models)
