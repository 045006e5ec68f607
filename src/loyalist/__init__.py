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


def connect(path=None, *, spark=None, **kwargs):
    """Open (or create) a Loyalist store.

    The engine is DuckDB (``path``: the store file, default ``loyalist.duckdb``; see
    :class:`loyalist.store.Store`) unless ``spark`` (a ``SparkSession``) is given or the
    settings next to ``path`` say ``[engine] kind = "spark"``: then ``path`` is the
    warehouse folder of a :class:`loyalist.store.engine.spark.store.SparkStore` (docs/scale.md).
    """
    from loyalist.store.engine import open_store

    return open_store(path, spark=spark, **kwargs)


__all__ = ["LoyalistError", "__version__", "connect"]
