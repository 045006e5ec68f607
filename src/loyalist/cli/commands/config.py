"""``loyalist config``: the settings in force and where each value comes from."""

from __future__ import annotations

import json

import typer

from loyalist.cli.options import STORE
from loyalist.cli.tables import Col, show


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
    from loyalist.settings import Settings, locate

    settings = Settings.load(store)
    if as_json:
        typer.echo(json.dumps(settings.to_dict(), indent=2, default=str))
        return
    path = locate(store)
    source = (f"from {path}" if path is not None and path.is_file()
              else f"defaults (no {path.name if path else 'loyalist.toml'} next to the store)")
    show([Col("setting"), Col("value", wrap=True), Col("from", wrap=True, drop=1,
                                                       min_width=12)],
         [(f"{row['section']}.{row['key']}", _shown(row["value"]), row["origin"])
          for row in settings.table()], title=f"Settings in force: {source}")


def register(app: typer.Typer) -> None:
    app.command()(config)
