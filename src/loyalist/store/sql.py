"""The reviewed helpers that put names and values into SQL text.

Every identifier or value written into SQL text anywhere in Loyalist goes through one of
these (values that can be bound as parameters are bound instead). ``tests/
test_sql_safety.py`` fails on SQL text built outside the store's reviewed functions.
"""

from __future__ import annotations


def q(name: str) -> str:
    """Quote an identifier: ``a"b`` becomes ``"a""b"``."""
    return '"' + str(name).replace('"', '""') + '"'


def lit(s: str) -> str:
    """A SQL string literal holding ``s`` exactly (quotes doubled; DuckDB reads no
    backslash escapes in plain literals)."""
    return "'" + str(s).replace("'", "''") + "'"


def transaction(con):
    """The all-or-nothing block of a DuckDB connection: kept in the engine adapter
    (:func:`loyalist.store.engine.transaction`); this name stays for older imports."""
    from loyalist.store.engine import transaction as in_engine

    return in_engine(con)
