"""``loyalist models``: every fitted model kept in the store."""

from __future__ import annotations

import json

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import loyalist
from loyalist.cli.options import STORE

out = Console()


def _day(v) -> str:
    return "" if v is None or v != v else str(v)[:10]


def models(
    kind: str = typer.Option(None, help="Only this kind (churn, advocacy, router, value)."),
    as_json: bool = typer.Option(False, "--json", help="Print them as JSON."),
    store: str = STORE,
) -> None:
    """The fitted models in the store, newest first: what each was trained on (dates
    and rows) and how well it did."""
    with loyalist.connect(store, read_only=True) as s:
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
    t = Table(title=f"{len(df):,} fitted model{'s' if len(df) != 1 else ''}, newest first",
              box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for col, kw in (("id", {"justify": "right"}), ("kind", {}), ("fitted", {}),
                    ("data", {}), ("rows", {"justify": "right"}),
                    ("metrics", {"overflow": "fold", "ratio": 1})):
        t.add_column(col, no_wrap=col != "metrics", **kw)
    for r in df.itertuples(index=False):
        span = f"{_day(r.data_from)}..{_day(r.data_to)}" if r.data_from else _day(r.data_to)
        metrics = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in r.metrics.items())
        t.add_row(str(r.id), r.kind, f"{r.created_at:%Y-%m-%d %H:%M}", span,
                  "" if r.rows is None or r.rows != r.rows else f"{int(r.rows):,}",
                  escape(metrics))
    out.print(t)


def register(app: typer.Typer) -> None:
    app.command()(models)
