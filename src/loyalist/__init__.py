"""Loyalist: customer retention from a company's own records.

>>> import loyalist
>>> store = loyalist.connect("loyalist.duckdb")     # doctest: +SKIP
>>> store.ingest("orders", "orders.csv")            # doctest: +SKIP
>>> store.table("orders")                           # an Ibis table  # doctest: +SKIP
"""

from __future__ import annotations

from loyalist.errors import LoyalistError

#: the release (pyproject.toml's version; a test checks they agree)
__version__ = "0.1.0"


def connect(path: str = "loyalist.duckdb", **kwargs):
    """Open (or create) a Loyalist store. See :class:`loyalist.store.Store`."""
    from loyalist.store import Store

    return Store(path, **kwargs)


__all__ = ["LoyalistError", "__version__", "connect"]
