"""Options and helpers shared by several commands (kept light: imported at start-up)."""

from __future__ import annotations

from pathlib import Path

import typer

STORE = typer.Option(
    "loyalist.duckdb", "--store", "-s", envvar="LOYALIST_STORE", metavar="PATH",
    help="Path of the store file.",
)


def group(help: str) -> typer.Typer:
    """A command group (``loyalist user ...``), with the same plain-text help as the app."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


def open_store(store: str, **kwargs):
    """Open a store that must already exist: a command that reads (status, rejects,
    explain...) never creates a store, nor the folder it would sit in."""
    from loyalist.errors import SourceError

    if store != ":memory:" and not kwargs.get("spark"):
        from loyalist.store.engine import location

        # a broken loyalist.toml beside it is the first thing to fix; a Spark store
        # (``[engine] kind = "spark"``) is its warehouse folder
        engine, found = location(store)
        where = Path(found).parent
        if not Path(found).exists():  # (a folder for DuckDB: connect says so)
            raise SourceError(
                f"No {'Spark warehouse' if engine == 'spark' else 'store'} at {found}"
                + ("" if where.is_dir() else f" (the folder {where} does not exist)")
                + ".",
                hint="Load data first (loyalist ingest TABLE FILE --store PATH, or "
                "loyalist demo), or name an existing store with --store or LOYALIST_STORE.")
    import loyalist
    from loyalist.cli.tables import use_display

    opened = loyalist.connect(store, **kwargs)
    use_display(opened.settings.display)
    return opened


def date_option(flag: str, help: str, *, metavar: str = "DATE"):
    """An option holding a date (or a date and time), read one way: ISO 8601
    (YYYY-MM-DD [HH:MM]). A wrong one fails before anything runs, naming the option;
    the command receives the text as given."""

    def check(value):
        if value is not None:
            from loyalist.contract.moments import moment

            moment(value, flag)
        return value

    return typer.Option(None, flag, metavar=metavar, help=help, callback=check)
