"""Options shared by several commands."""

from __future__ import annotations

import typer

STORE = typer.Option(
    "loyalist.duckdb", "--store", "-s", envvar="LOYALIST_STORE",
    help="Path of the store file (env: LOYALIST_STORE).",
)
