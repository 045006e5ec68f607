"""Entry point of the ``loyalist`` command.

Start-up stays light: this module and the command modules import Typer and nothing
heavy (no pandas, Ibis, DuckDB, scikit-learn, not even Rich's console) at the top, so
``loyalist --help`` and ``--version`` answer at once; each command imports what it
needs when it runs (``bench/startup.py`` measures it, tests/test_terminal.py checks it).
"""

from __future__ import annotations

import sys

from loyalist.errors import LoyalistError, PathError


def __getattr__(name: str):
    if name == "app":  # ``from loyalist.cli.main import app`` builds it on first use
        from loyalist.cli.app import app

        return app
    raise AttributeError(name)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user mistakes print one clear message and no traceback; warnings
    of the libraries underneath become one line of ours."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:  # the one answer that needs no command at all
        import loyalist

        print(f"loyalist {loyalist.__version__}")
        return 0
    from loyalist.cli.app import app
    from loyalist.cli.quiet import library_warnings
    from loyalist.cli.tables import err

    try:
        with library_warnings(err):
            app(args=args, prog_name="loyalist")  # standalone: usage errors print and exit
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except (LoyalistError, OSError) as e:
        if not isinstance(e, LoyalistError):
            if e.filename is None:  # not a path the user named: a bug, with its traceback
                raise
            e = PathError.from_os_error(e)
        err.print(f"[bold red]Error:[/] {_escape(e.message)}", highlight=False)
        if e.hint:
            err.print(f"[bold]Next step:[/] {_escape(e.hint)}", highlight=False)
        return e.exit_code
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 130
    return 0


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
