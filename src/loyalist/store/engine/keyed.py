"""Small keyed tables (the web app's accounts, the model registry): named operations
with bound values and quoted names, so no module outside the adapter writes SQL for
them. A filter is ``{column: value}``: equal to ``value``, ``None`` for a missing value,
or ``(op, value)`` with ``op`` one of ``<``, ``>``, ``!=``. On Spark only the bookkeeping
tables are kept in the warehouse (read and appended; a change in place is a
:class:`NotOnEngineError` naming the operation and the table); the accounts' rows live in
a DuckDB file beside the warehouse's tables (:meth:`SparkStore.accounts`).
"""

from __future__ import annotations

from loyalist.errors import NotOnEngineError
from loyalist.store.engine import _run, append_rows, bookkeeping, engine_of, remove_rows
from loyalist.store.sql import q

_OPS = {"<": "<", ">": ">", "!=": "<>", "=": "="}


def _where(where: dict | None) -> tuple[str, list]:
    """``WHERE`` text and bound values of a filter ``{column: value}`` (see the module)."""
    if not where:
        return "", []
    parts, params = [], []
    for col, value in where.items():
        if value is None:
            parts.append(f"{q(col)} IS NULL")
            continue
        op, value = value if isinstance(value, tuple) else ("=", value)
        parts.append(f"{q(col)} {_OPS[op]} ?")
        params.append(value)
    return " WHERE " + " AND ".join(parts), params


def _filter_ibis(t, where: dict | None):
    for col, value in (where or {}).items():
        if value is None:
            t = t.filter(t[col].isnull())
            continue
        op, value = value if isinstance(value, tuple) else ("=", value)
        c = t[col]
        t = t.filter({"=": c == value, "<": c < value, ">": c > value, "!=": c != value}[op])
    return t


def _home(store, table: str):
    """Where ``table``'s rows live: the store itself, or, on Spark, for a table that is
    not a bookkeeping table (the web app's accounts: users, tokens, sessions, sign-in
    failures, idempotency answers, whose rows change in place on every request), the
    DuckDB file beside the warehouse's tables (:meth:`SparkStore.accounts`)."""
    from loyalist.contract.derived import DERIVED

    if engine_of(store) == "spark" and (table not in DERIVED
                                        or not DERIVED[table].bookkeeping):
        return store.accounts()
    return store


def select_rows(store, table: str, columns: list[str], where: dict | None = None, *,
                order_by: list[str] | None = None, descending: bool = False,
                limit: int | None = None) -> list[dict]:
    """``columns`` of the rows of ``table`` that pass ``where``, as dicts."""
    store = _home(store, table)
    if engine_of(store) == "spark":
        t = _filter_ibis(bookkeeping(store, table), where).select(*columns)
        if order_by:
            t = t.order_by([t[c].desc() if descending else t[c] for c in order_by])
        if limit is not None:
            t = t.limit(int(limit))
        return t.to_pyarrow().to_pylist()
    clause, params = _where(where)
    order = ""
    if order_by:
        order = " ORDER BY " + ", ".join(q(c) + (" DESC" if descending else "")
                                         for c in order_by)
    if limit is not None:
        order += " LIMIT ?"
        params.append(int(limit))
    rows = _run(store, f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)}{clause}"
                f"{order}", params)
    return [dict(zip(columns, r, strict=True)) for r in rows]


def insert_row(store, table: str, row: dict) -> None:
    """Add one row (``{column: value}``; columns not given are empty)."""
    store = _home(store, table)
    if engine_of(store) == "spark":
        import pandas as pd

        append_rows(store, [(table, pd.DataFrame([row]))])
        return
    cols = list(row)
    _run(store, f"INSERT INTO {q(table)} ({', '.join(q(c) for c in cols)}) VALUES "
         f"({', '.join('?' for _ in cols)})", [row[c] for c in cols])


def update_rows(store, table: str, values: dict, where: dict) -> int:
    """Set ``values`` in the rows of ``table`` that pass ``where``; rows changed."""
    store = _home(store, table)
    if engine_of(store) == "spark":  # a bookkeeping table: appended, never changed
        raise NotOnEngineError(f"Changing rows in place on {table}", "Spark")
    clause, params = _where(where)
    sets = ", ".join(f"{q(c)} = ?" for c in values)
    return int(_again(store, f"UPDATE {q(table)} SET {sets}{clause}",
                      [*values.values(), *params])[0][0])


def delete_rows(store, table: str, where: dict) -> int:
    """Remove the rows of ``table`` that pass ``where``; rows removed."""
    store = _home(store, table)
    if engine_of(store) == "spark":
        if len(where) != 1 or isinstance(next(iter(where.values())), tuple | type(None)):
            raise NotOnEngineError(f"Removing rows of {table} by {sorted(where)}", "Spark")
        (col, value), = where.items()
        return remove_rows(store, [(table, col)], value).get(table, 0)
    clause, params = _where(where)
    return int(_again(store, f"DELETE FROM {q(table)}{clause}", params)[0][0])


def upsert_row(store, table: str, row: dict, key: list[str], *, keep=(), add=()) -> dict:
    """Put ``row`` in ``table``; where a row with the same ``key`` columns is there
    already, replace its values but those of ``keep`` (left as they are) and ``add``
    (added to: a counter), in one statement, so two threads counting at once count
    twice. Returns the row as it is now."""
    store = _home(store, table)
    if engine_of(store) == "spark":  # a bookkeeping table: appended, never changed
        raise NotOnEngineError(f"Replacing a row of {table}", "Spark")
    cols = list(row)
    sets = ", ".join(f"{q(c)} = " + (f"{q(table)}.{q(c)} + excluded.{q(c)}" if c in add
                                    else f"excluded.{q(c)}")
                     for c in cols if c not in key and c not in keep)
    sql = (f"INSERT INTO {q(table)} ({', '.join(q(c) for c in cols)}) VALUES "
           f"({', '.join('?' for _ in cols)}) ON CONFLICT ({', '.join(q(c) for c in key)}) "
           f"DO UPDATE SET {sets} RETURNING {', '.join(q(c) for c in cols)}")
    got = _again(store, sql, [row[c] for c in cols])
    return dict(zip(cols, got[0], strict=True))


def _again(store, sql: str, params: list):
    """``sql`` run until DuckDB takes it: of two writes of one row at once it refuses one
    ("Conflict on update"), which is tried again after a few milliseconds (50 times)."""
    import random
    import time

    import duckdb

    for attempt in range(50):
        try:
            return _run(store, sql, params)
        except (duckdb.TransactionException, duckdb.ConstraintException):
            if attempt == 49:
                raise
            time.sleep(random.uniform(0.001, 0.02))
    raise AssertionError("unreachable")
