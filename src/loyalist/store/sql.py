"""The reviewed helpers that put names and values into SQL text.

Every identifier or value written into SQL text anywhere in Loyalist goes through one of
these (values that can be bound as parameters are bound instead). ``tests/
test_sql_safety.py`` fails on SQL text built outside the store's reviewed functions.
"""

from __future__ import annotations

from contextlib import contextmanager


def q(name: str) -> str:
    """Quote an identifier: ``a"b`` becomes ``"a""b"``."""
    return '"' + str(name).replace('"', '""') + '"'


def lit(s: str) -> str:
    """A SQL string literal holding ``s`` exactly (quotes doubled; DuckDB reads no
    backslash escapes in plain literals)."""
    return "'" + str(s).replace("'", "''") + "'"


@contextmanager
def transaction(con):
    """``BEGIN``, then ``COMMIT`` when the block ends, ``ROLLBACK`` (and the error again)
    when it raises: the one shape of every all-or-nothing write on a DuckDB connection."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
