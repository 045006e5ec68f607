"""The application: routes of every view, authentication, errors, static files.

>>> import loyalist
>>> from loyalist.web.app import create_app
>>> app = create_app(loyalist.connect(":memory:"))
>>> app.openapi_url
'/api/openapi.json'
"""

from __future__ import annotations

import asyncio
import os
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

import loyalist
from loyalist.store.accounts import Accounts, Backoff
from loyalist.web import errors
from loyalist.web.auth import identify, is_public
from loyalist.web.context import Cache, IngestNotes
from loyalist.web.guard import Guard, Limits
from loyalist.web.views import (
    council,
    customers,
    daily,
    data,
    listening,
    losses,
    overview,
    privacy,
    relationship,
    scores,
    service,
    session,
    team,
    users,
    worklist,
)

STATIC = Path(__file__).parent / "static"
#: one module per kind of page, each with its ``router``
VIEWS = (session, overview, worklist, customers, scores, service, relationship, listening,
         council, losses, team, data, users, privacy, daily)


def plotly_js() -> Path:
    """plotly.js as shipped inside the plotly Python package (served locally, no CDN)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _warm(app: FastAPI) -> None:
    """Compute the overview once in the background (refreshing its figures if they are
    stale), and compile the customer pages' queries, so the first visitors do not wait."""
    from loyalist.web.context import thread_store

    store = thread_store(app.state.store)
    for what, warm in (("the overview", lambda: overview.overview_data(store, app.state.cache)),
                       ("the customer pages", lambda: customers.warm(store))):
        try:
            warm()
        except Exception:  # noqa: BLE001 - a failed warm-up shows up on the first visit
            errors.log.warning("could not prepare %s", what, exc_info=True)


def _outcome(path: str) -> bool:
    return path == "/api/touches" or path.endswith("/outcome")


class Turns:
    """At most ``readers`` reads (GET requests for pages and JSON) computed at once, and
    none started while an outcome is being logged; the others wait their turn. Writes
    never wait for a turn; only outcomes (short, and what an agent waits for) hold the
    reads back: an upload, which may take minutes, does not.

    Handlers run on a pool of threads that share one interpreter lock: with fifty reads
    interleaved, a write holding the store's write lock got a fiftieth of the
    interpreter and every writer behind it waited seconds. Static files and health
    checks pass straight through.
    """

    def __init__(self, app, readers: int):
        self.app = app
        self.readers = readers
        self.writes = 0
        self._turns: asyncio.Semaphore | None = None
        self._quiet: asyncio.Event | None = None

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/static") or path == "/health":
            return await self.app(scope, receive, send)
        if self._turns is None:
            self._turns, self._quiet = asyncio.Semaphore(self.readers), asyncio.Event()
            self._quiet.set()
        if scope.get("method") not in ("GET", "HEAD"):
            if not _outcome(path):
                return await self.app(scope, receive, send)
            self.writes += 1
            self._quiet.clear()
            try:
                return await self.app(scope, receive, send)
            finally:
                self.writes -= 1
                if not self.writes:
                    self._quiet.set()
        async with self._turns:
            while self.writes:
                await self._quiet.wait()
            await self.app(scope, receive, send)


@asynccontextmanager
async def _lifespan(app: FastAPI):
    threading.Thread(target=_warm, args=(app,), daemon=True, name="loyalist-warm").start()
    yield


def create_app(store, *, secure_cookies: bool = False, cache_seconds: float = 120.0,
               readers: int | None = None, limits: Limits | None = None,
               backoff: Backoff | None = None) -> FastAPI:
    """The web app and REST API on ``store`` (a :class:`loyalist.store.Store` opened for
    writing; this process then holds the store file).

    Parameters
    ----------
    store : Store
        The store to serve.
    secure_cookies : bool
        Mark cookies Secure even on plain http (behind a TLS proxy); https requests get
        Secure cookies anyway.
    cache_seconds : float
        How long summaries (overview, service) are kept when nothing is ingested.
    readers : int, optional
        How many reads are computed at once (default: twice the cores); more wait their
        turn, so writes are not starved.
    limits : Limits, optional
        Largest request bodies (JSON and forms; uploads); default the store's ``[web]``
        settings.
    backoff : Backoff, optional
        Sign-in back-off after failed passwords or tokens, per (account, address);
        default the store's ``[web]`` settings.
    secure_cookies : bool
        Also sends Strict-Transport-Security (the app is behind TLS).
    """
    app = FastAPI(title="Loyalist", version=loyalist.__version__,
                  description="Customer retention from your own records: scores, reasons, "
                  "alerts, service metrics, ingestion and outcomes. Authenticate with "
                  "'Authorization: Bearer TOKEN' (loyalist token create NAME).",
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
                  lifespan=_lifespan)
    app.state.store = store
    web = store.settings.web
    backoff = backoff or Backoff(web.signin_free_failures, web.signin_first_wait_seconds,
                                 web.signin_max_wait_seconds)
    limits = limits or Limits(int(web.max_body_mb * 2**20), int(web.max_upload_mb * 2**20))
    app.state.accounts = Accounts(store, backoff=backoff)
    app.state.cache = Cache(cache_seconds)
    app.state.write_lock = threading.Lock()
    # what the latest uploads said beside their counts (notes, columns not loaded), shown
    # on the page the upload form redirects to; the JSON API answers them directly
    app.state.ingest_notes = IngestNotes()
    app.state.secure_cookies = secure_cookies
    app.state.any_agent_may_close = store.settings.worklist.settings.any_agent_may_close
    app.state.router = None
    errors.install(app)
    app.add_middleware(Turns, readers=readers or 2 * (os.cpu_count() or 1))
    app.add_middleware(Guard, public=is_public, identify=identify, limits=limits,
                       hsts=secure_cookies)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def _plotly():
        return FileResponse(plotly_js(), media_type="application/javascript",
                            headers={"Cache-Control": "max-age=86400"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for view in VIEWS:
        app.include_router(view.router)
    return app
