"""``loyalist customer export|erase``: one customer's data, for a subject-access request
or an erasure request."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from loyalist.cli.options import STORE, group, open_store
from loyalist.cli.tables import out
from loyalist.errors import DataError

customer_app = group("One customer's data: export it as JSON, or erase it.")


@customer_app.command("export")
def export(
    customer_id: str = typer.Argument(..., help="The customer's id."),
    to: Path = typer.Option(None, "--out", help="Write the JSON to this file (default: "
                            "print it)."),
    store: str = STORE,
) -> None:
    """Everything held about one customer, as JSON (every table, the worklist, rejects)."""
    with open_store(store) as s:
        data = s.customer_data(customer_id)
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if to is None:
        typer.echo(text)
        return
    to.write_text(text + "\n", encoding="utf-8")
    n = sum(len(v) for group in ("tables", "derived", "worklist") for v in data[group].values())
    out.print(f"Wrote {n + len(data['rejected_rows']):,} rows about {customer_id} to {to}.",
              highlight=False, markup=False)


@customer_app.command("erase")
def erase(
    customer_id: str = typer.Argument(..., help="The customer's id."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: the erasure cannot be undone."),
    store: str = STORE,
) -> None:
    """Erase one customer from every table (touches, scores, worklist, rejects too)."""
    if not yes:
        raise DataError(f"Erasing {customer_id} cannot be undone.",
                        hint=f"Export first if needed (loyalist customer export "
                        f"{customer_id} --out FILE), then run again with --yes.")
    with open_store(store) as s:
        removed = s.erase_customer(customer_id, by="cli")
    total = sum(v for k, v in removed.items() if k != "_loyalist_audit")
    out.print(f"Erased {customer_id}: {total:,} rows removed ("
              + ", ".join(f"{k} {v:,}" for k, v in removed.items()) + ").",
              highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(customer_app, name="customer")
