"""The web app and REST API on a Loyalist store (``loyalist serve``).

Layout by kind of page: :mod:`.app` builds the application and its error handling,
:mod:`.accounts` holds users, tokens, sessions and the audit log, :mod:`.auth` checks
who is calling, and :mod:`.views` has one module per kind of page, each serving an
HTML page and its JSON twin from the same function.
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(store, **kwargs):
    """The FastAPI application serving ``store``; see :func:`loyalist.web.app.create_app`."""
    from loyalist.web.app import create_app as _create

    return _create(store, **kwargs)
