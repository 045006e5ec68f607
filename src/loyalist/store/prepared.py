"""Ibis expressions compiled once and run many times with bound values.

A customer page asks the same questions of every customer (their profile, their
score, their newest events...). Building an Ibis expression and compiling it to SQL
costs more than DuckDB takes to answer it through an index, so the pages build each
question once, with :func:`ibis.param` placeholders for what changes (the customer's
id), and run it with the value bound:

>>> import ibis, loyalist
>>> store = loyalist.connect(":memory:")
>>> def build(s):
...     c, who = s.table("customers"), ibis.param("string")
...     return c.filter(c.id == who).select("id", "name"), {"customer_id": who}
>>> ask = prepare(store, "profile", build)
>>> ask.rows(store, customer_id="C1")
[]

The SQL text is made by Ibis for the store's engine, once per store (and again if a
table it reads was replaced with other columns); the values are bound by the engine,
never written into the text. On another engine, Ibis runs the expression with the
values (:meth:`Query.arrow`).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import ibis
import pandas as pd
import pyarrow as pa

from loyalist.errors import DataError
from loyalist.store.engine import PLAN_OUTDATED, prepared_arrow, prepared_rows

#: (store) -> (expression, {name: ibis.param}); the names are the keyword arguments
#: of the :class:`Query`'s methods
Build = Callable[[object], tuple[ibis.Table, dict[str, object]]]


@dataclass
class Query:
    """One prepared question: how to build it, and its SQL for the engine (None where
    the engine binds no parameters: then Ibis runs the expression with the values)."""

    build: Build
    expr: ibis.Table
    params: dict[str, object]
    sql: str | None

    def _bound(self, values: dict) -> dict:
        missing = set(self.params) - set(values)
        if missing:
            raise DataError(f"No value for {', '.join(sorted(missing))}.",
                            hint="Give a value for every parameter of the query.")
        return {k: values[k] for k in self.params}

    def _run(self, store, run, values: dict):
        """``run(connection, sql, bound values)``, compiled again (once) if a table it
        reads was replaced with other columns since it was compiled."""
        bound = self._bound(values)
        try:
            return run(store.raw, self.sql, bound)
        except PLAN_OUTDATED:
            fresh = _compile(store, self.build)
            self.expr, self.params, self.sql = fresh.expr, fresh.params, fresh.sql
            return run(store.raw, self.sql, bound)

    def arrow(self, store, **values) -> pa.Table:
        """The answer for ``values`` (one per parameter) as an Arrow table, run on
        ``store``'s own connection (a thread's view), with the engine's exact types."""
        if self.sql is None:
            bound = self._bound(values)
            return self.expr.to_pyarrow(params={self.params[k]: v for k, v in bound.items()})
        return self._run(store, prepared_arrow, values)

    def rows(self, store, **values) -> list[dict]:
        """The answer as a list of dicts (column -> Python value): the cheapest way to
        read a few rows (DuckDB plans the query once, no Arrow or pandas in between)."""
        if self.sql is None:
            return self.arrow(store, **values).to_pylist()
        return self._run(store, prepared_rows, values)

    def frame(self, store, **values) -> pd.DataFrame:
        """The answer as a pandas DataFrame (built from :meth:`rows`: an empty answer
        has the columns but no types)."""
        rows = self.rows(store, **values)
        return pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(self.expr.columns))


_lock = threading.Lock()


#: prepared queries kept per store; the least recently used go first beyond this
KEEP = 256


def prepare(store, key: Hashable, build: Build) -> Query:
    """The query ``build(store)`` makes, compiled once per store and ``key`` (a key
    must name one question: include in it whatever changes what ``build`` builds)."""
    held = store.prepared_queries
    with _lock:
        query = held.get(key)
        if query is not None:
            held.move_to_end(key)
            return query
    query = _compile(store, build)
    with _lock:
        query = held.setdefault(key, query)
        while len(held) > KEEP:
            held.popitem(last=False)
    return query


def _compile(store, build: Build) -> Query:
    expr, params = build(store)
    backend = store.ibis
    if backend.name != "duckdb":
        return Query(build, expr, params, None)
    import sqlglot.expressions as sge

    # each parameter is compiled as a unique text stand-in, then made a placeholder
    stand_in, by_param = {}, {}
    for name, p in params.items():
        if not p.type().is_string():
            raise DataError(f"Prepared queries take text parameters; {name} is {p.type()}.",
                            hint="Cast the value to text in the expression.")
        by_param[p] = f"loyalist-param-{secrets.token_hex(8)}"
        stand_in[by_param[p]] = name
    tree = backend.compiler.to_sqlglot(expr, params=by_param)

    def placeholder(node):
        if isinstance(node, sge.Literal) and node.is_string and node.this in stand_in:
            return sge.Placeholder(this=stand_in[node.this])
        return node

    sql = tree.transform(placeholder).sql(dialect=backend.dialect)
    if any(s in sql for s in stand_in):  # a stand-in the compiler rewrote: not bound
        raise DataError("A query parameter could not be bound.",
                        hint="Compare the parameter with a column directly.")
    return Query(build, expr, params, sql)
