"""``loyalist serve``: the web app and REST API on the store."""

from __future__ import annotations

import typer

from loyalist.cli.options import STORE, open_store
from loyalist.cli.tables import out
from loyalist.errors import LoyalistError


class NoAdminError(LoyalistError, RuntimeError):
    """The store has no admin user, so nobody could sign in to manage it."""


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (127.0.0.1: this "
                             "machine only)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    secure_cookies: bool = typer.Option(False, "--secure-cookies", help="Mark cookies Secure "
                                        "(when a TLS proxy sits in front; automatic for "
                                        "https requests)."),
    store: str = STORE,
) -> None:
    """Serve the web app and the REST API (OpenAPI schema at /api/openapi.json)."""
    import uvicorn

    from loyalist.store.accounts import Accounts
    from loyalist.web.app import create_app

    s = open_store(store)
    try:
        if not Accounts(s).has_admin():
            raise NoAdminError(
                f"The store {s.path} has no admin user, so nobody could sign in.",
                hint=f"Create one first: loyalist user add NAME --role admin --store {store}")
        app = create_app(s, secure_cookies=secure_cookies)
        where = (f"Spark warehouse {s.path}" if getattr(s, "engine", "duckdb") == "spark"
                 else f"store {s.path}")
        out.print(f"Loyalist on http://{host}:{port} ({where}); Ctrl+C stops it.",
                  highlight=False)
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True)
    finally:
        s.close()


def register(app: typer.Typer) -> None:
    app.command()(serve)
