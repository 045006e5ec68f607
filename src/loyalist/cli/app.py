"""The Typer app: every command module of :mod:`loyalist.cli.commands` registered.

Imported only when a command (or ``--help``) needs it: ``loyalist --version`` answers
without it (see :func:`loyalist.cli.main.main`).
"""

from __future__ import annotations

import importlib
import os

import typer

import loyalist
from loyalist.cli import commands

app = typer.Typer(
    name="loyalist",
    help="Customer retention from your own records: who is drifting away, why, and whom "
    "to call today.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # help is plain text: "[service]" stays "[service]"
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loyalist {loyalist.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Customer retention from your own records."""


def _command_modules() -> list[str]:
    """The modules of loyalist.cli.commands (a directory listing: pkgutil is slower)."""
    folder = commands.__path__[0]
    return sorted(f[:-3] for f in os.listdir(folder)
                  if f.endswith(".py") and not f.startswith("_"))


for _name in _command_modules():
    importlib.import_module(f"{commands.__name__}.{_name}").register(app)
