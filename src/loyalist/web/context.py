"""What every request handler shares: a store view of its own thread, JSON-ready
records, and a small cache of heavy summaries that a write invalidates."""

from __future__ import annotations

import datetime
import decimal
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Annotated

import pandas as pd
from fastapi import Query

_local = threading.local()
#: the paging parameters of every paged list
Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Rows to skip.")]


def thread_store(store):
    """The store seen through this thread's own DuckDB cursor (and its own Ibis backend).

    One DuckDB connection must not be used by two threads at once; the web server runs
    handlers on a pool of threads, so each keeps a cursor of its own, reused across
    requests. A Spark store is its own view (a SparkSession serves many threads, and the
    store reads a table's folder again only when it changed).
    """
    views = getattr(_local, "views", None)
    if views is None:
        views = _local.views = {}
    view = views.get(id(store))
    if view is None or getattr(view, "_db", True) is None:  # (a closed DuckDB view)
        view = store.view()
        if view is not store:  # a Spark store serves every thread itself
            view.tables = _recent(view.tables, TABLES_SECONDS)
            view.table = _recent_tables(view.table, TABLES_SECONDS, view.tables)
        views[id(store)] = view
    return view


#: how long a thread's view trusts its list of tables (derived tables appear rarely)
TABLES_SECONDS = 2.0
#: writes seen so far (:meth:`Cache.bump`): a thread's remembered tables made before the
#: last write are looked up again, however recent (a table just written is there)
_writes = [0]


def _recent_tables(fn: Callable, seconds: float, tables) -> Callable:
    """``store.table(name)`` remembered for ``seconds``: Ibis asks the engine for the
    schema every time a table is named, a tenth of a customer page's time. A table the
    remembered list of ``tables`` lacks is looked for again (it may be new)."""
    from loyalist.errors import UnknownTableError

    held: dict = {}

    def table(name: str, *, meta: bool = False):
        hit = held.get((name, meta))
        if hit is None or time.monotonic() - hit[0] > seconds or hit[2] != _writes[0]:
            try:
                made = fn(name, meta=meta)
            except UnknownTableError:
                tables.forget()
                made = fn(name, meta=meta)
            hit = held[(name, meta)] = (time.monotonic(), made, _writes[0])
        return hit[1]

    return table


def _recent(fn: Callable[[], list], seconds: float) -> Callable[[], list]:
    """``fn()``, remembered for ``seconds`` and until the next write (every page asks for
    the table list often); ``.forget()`` asks again next time."""
    held: list = [0.0, None, 0]

    def call():
        if held[1] is None or time.monotonic() - held[0] > seconds or held[2] != _writes[0]:
            held[:] = [time.monotonic(), fn(), _writes[0]]
        return list(held[1])

    call.forget = lambda: held.__setitem__(1, None)
    return call


def plain(value):
    """A JSON-ready version of one value (timestamps as ISO text, NaN as null)."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return plain(value.item())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def records(df: pd.DataFrame | None) -> list[dict]:
    """Rows of ``df`` as JSON-ready dicts."""
    if df is None or len(df) == 0:
        return []
    return json.loads(df.to_json(orient="records", date_format="iso", date_unit="s",
                                 default_handler=str))


class IngestNotes:
    """What the latest ingests said beside their counts (their notes and the columns not
    loaded), by ingest id, for the page an upload form redirects to: the last ``keep``
    in this process."""

    def __init__(self, keep: int = 100):
        self.keep = keep
        self._lock = threading.Lock()
        self._items: dict[int, dict] = {}

    def put(self, ingest_id: int, body: dict) -> None:
        with self._lock:
            self._items[int(ingest_id)] = {
                "notes": list(body.get("notes") or []),
                "ignored_columns": list(body.get("ignored_columns") or [])}
            while len(self._items) > self.keep:
                self._items.pop(next(iter(self._items)))

    def get(self, ingest_id: int | None) -> dict | None:
        with self._lock:
            return None if ingest_id is None else self._items.get(int(ingest_id))


class Cache:
    """Results of slow summaries, kept until new data is ingested or ``ttl`` seconds.

    One caller computes a missing entry while the others wait for it, so a burst of
    visitors does not run the same summary fifty times.
    """

    def __init__(self, ttl: float = 300.0):
        self.ttl = ttl
        self.version = 0
        self._lock = threading.Lock()
        self._items: dict[str, tuple[int, float, object]] = {}
        self._making: dict[str, threading.Lock] = {}

    def bump(self) -> None:
        with self._lock:
            self.version += 1
            _writes[0] += 1

    def _fresh(self, key: str, ttl: float):
        with self._lock:
            hit = self._items.get(key)
            if hit and hit[0] == self.version and time.monotonic() - hit[1] < ttl:
                return hit
            return None

    def get(self, key: str, make: Callable[[], object], ttl: float | None = None):
        """The value kept under ``key``, made by ``make()`` when missing, older than
        ``ttl`` seconds (default: the cache's) or made before the last write."""
        ttl = self.ttl if ttl is None else min(ttl, self.ttl)
        hit = self._fresh(key, ttl)
        if hit:
            return hit[2]
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        with making:
            hit = self._fresh(key, ttl)
            if hit:
                return hit[2]
            version = self.version
            value = make()
            with self._lock:
                self._items[key] = (version, time.monotonic(), value)
            return value


def json_rows(rows: list[dict]) -> list[dict]:
    """Rows read as Python values (:meth:`loyalist.store.prepared.Query.rows`), made
    JSON-ready as :func:`records` makes a frame's: times as ISO text to the second,
    NaN as null."""
    return [{k: jsonable(v) for k, v in r.items()} for r in rows]


def jsonable(v):
    """A Python value (nested dicts and lists too) made JSON-ready like :func:`records`
    makes a frame's: times as ISO text to the second, NaN as null."""
    if v is None or isinstance(v, str | int | bool):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if isinstance(v, datetime.datetime):
        return v.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(v, datetime.date):
        return f"{v.isoformat()}T00:00:00"
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    return plain(v)


def page(expr, limit: int, offset: int, order=None, *, count=None) -> tuple[int, pd.DataFrame]:
    """The total row count of Ibis expression ``expr`` (or of ``count``, a cheaper
    expression with as many rows) and one page of its rows."""
    total = int((expr if count is None else count).count().execute())
    if order is not None:
        expr = expr.order_by(order)
    # through Arrow: Ibis's own pandas conversion costs more than a page's query
    return total, expr.limit(limit, offset=offset).to_pyarrow().to_pandas()


def paged(rows: pd.DataFrame | list[dict], total: int, limit: int, offset: int, **extra) -> dict:
    """The JSON body of one page: rows, total, and where the next page starts."""
    nxt = offset + limit if offset + limit < total else None
    return {"ok": True, "total": total, "limit": limit, "offset": offset, "next_offset": nxt,
            **extra, "rows": rows if isinstance(rows, list) else records(rows)}
