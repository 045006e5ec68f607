"""Entry point of the ``loyalist`` command."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from rich.console import Console
from rich.markup import escape

import loyalist
from loyalist.cli import commands
from loyalist.errors import LoyalistError, PathError

app = typer.Typer(
    name="loyalist",
    help="Customer retention from your own records: who is drifting away, why, and whom "
    "to call today.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)


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


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user mistakes print one clear message and no traceback."""
    try:
        app(args=argv, prog_name="loyalist")  # standalone: usage errors print and exit
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except (LoyalistError, OSError) as e:
        if not isinstance(e, LoyalistError):
            if e.filename is None:  # not a path the user named: a bug, with its traceback
                raise
            e = PathError.from_os_error(e)
        err.print(f"[bold red]Error:[/] {escape(e.message)}", highlight=False)
        if e.hint:
            err.print(f"[bold]Next step:[/] {escape(e.hint)}", highlight=False)
        return e.exit_code
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
