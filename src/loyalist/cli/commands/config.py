"""``loyalist config``: the settings in force and where each value comes from."""

from __future__ import annotations

import json

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loyalist.cli.options import STORE
from loyalist.settings import Settings, locate

out = Console()


def _shown(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v}" for k, v in value.items()) or "{}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "[]"
    return str(value)


def config(
    as_json: bool = typer.Option(False, "--json", help="Print the settings as JSON."),
    store: str = STORE,
) -> None:
    """The settings in force (loyalist.toml next to the store, else the defaults), and
    where each value comes from. docs/settings.md describes every key."""
    settings = Settings.load(store)
    if as_json:
        typer.echo(json.dumps(settings.to_dict(), indent=2, default=str))
        return
    path = locate(store)
    source = (f"from {path}" if path is not None and path.is_file()
              else f"defaults (no {path.name if path else 'loyalist.toml'} next to the store)")
    t = Table(title=f"Settings in force: {escape(source)}", box=box.SIMPLE_HEAD,
              title_justify="left", pad_edge=False)
    t.add_column("setting", no_wrap=True)
    t.add_column("value", overflow="fold", ratio=1)
    t.add_column("from", overflow="fold", max_width=24)
    for row in settings.table():
        t.add_row(f"{row['section']}.{row['key']}", escape(_shown(row["value"])),
                  escape(row["origin"]))
    out.print(t)


def register(app: typer.Typer) -> None:
    app.command()(config)
