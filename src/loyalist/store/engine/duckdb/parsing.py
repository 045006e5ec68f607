"""DuckDB's part of reading a raw column before the checks: the SQL text of a value, a
reason as SQL, and the two looks at a raw column's own values made before parsing
(day/month order, an attribute's type). The options, reason codes and date shapes
are the engine-neutral :mod:`loyalist.store.ingest.rules`; the parse and check of each value
are Ibis expressions (:mod:`loyalist.store.ingest.checks`), the same on every engine.
"""

from __future__ import annotations

from loyalist.store.ingest.rules import (  # noqa: F401  (the adapter's modules read them here)
    DMY_RE,
    ISO_RE,
    ISO_TZ_RE,
    REASON_CODES,
    Options,
)
from loyalist.store.sql import lit, q


def text(src: str) -> str:
    return f"NULLIF(TRIM(CAST({q(src)} AS VARCHAR)), '')"


def why(code: str, message: str) -> str:
    """A reason as SQL text: its code and words (no value: that is kept beside it)."""
    assert code in REASON_CODES, code
    return lit(f"{code}|{message}")


def settle_date_order(con, view: str, src: str) -> str | None:
    """Tell from a text column's own values whether d/m/y dates are day- or month-first."""
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE a > 12), count(*) FILTER (WHERE b > 12) FROM ("
        f"SELECT TRY_CAST(regexp_extract(v, {lit(DMY_RE)}, 1) AS INT) a, "
        f"TRY_CAST(regexp_extract(v, {lit(DMY_RE)}, 2) AS INT) b FROM ("
        f"SELECT DISTINCT {text(src)} v FROM {view}) WHERE regexp_matches(v, {lit(DMY_RE)}))"
    ).fetchall()[0]
    day_first, month_first = row
    if day_first and month_first:
        return "mixed"
    if day_first:
        return "dmy"
    if month_first:
        return "mdy"
    return None


def infer_attribute_type(con, view: str, src: str, src_type: str) -> str:
    """Type for an extra customer attribute: its own type, or the narrowest that fits all text."""
    up = src_type.upper()
    if up != "VARCHAR":
        return "DOUBLE" if up.startswith(("FLOAT", "REAL", "DECIMAL")) else src_type
    t = text(src)
    n, ints, nums, stamps = con.execute(
        f"SELECT count({t}), count(*) FILTER (WHERE regexp_matches({t}, '^[+-]?\\d{{1,18}}$')), "
        f"count(TRY_CAST({t} AS DOUBLE)), "
        f"count(CASE WHEN regexp_matches({t}, {lit(ISO_RE)}) THEN TRY_CAST({t} AS TIMESTAMP) END) "
        f"FROM {view}").fetchall()[0]
    if n == 0:
        return "VARCHAR"
    if ints == n:
        # leading zeros are identifiers, not numbers
        zeros = con.execute(f"SELECT count(*) FROM {view} WHERE regexp_matches({t}, '^-?0\\d')"
                            ).fetchall()[0][0]
        return "VARCHAR" if zeros else "BIGINT"
    if nums == n:
        return "DOUBLE"
    if stamps == n:
        return "TIMESTAMP"
    return "VARCHAR"
