"""What the ingest's checks share: the options, the reason codes, the date shapes, and
the two looks at a raw column's own values made before parsing (day/month order, an
attribute's type). The parse and check of each value are Ibis expressions
(:mod:`loyalist.store.checks`), the same on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalist.store.sql import lit, q

# day/month/year written with / . or -, optionally followed by a time
DMY_RE = r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$"
ISO_RE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
ISO_TZ_RE = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"


@dataclass
class Options:
    date_format: tuple[str, ...] = ()
    decimal: str = "."
    #: per source column: "dmy", "mdy" or "mixed", settled from the column's own values
    date_order: dict[str, str] | None = None


def text(src: str) -> str:
    return f"NULLIF(TRIM(CAST({q(src)} AS VARCHAR)), '')"


#: reason codes of rejected values (the ``code`` column of the quarantine), and what
#: each means; the offending value is kept beside it in the ``value`` column
REASON_CODES = {
    "missing_value": "a required value is empty",
    "not_number": "not a number",
    "not_whole_number": "not a whole number",
    "negative": "a negative value where none is allowed",
    "out_of_range": "below the minimum or above the maximum of the column",
    "not_yes_no": "not a yes or no",
    "bad_date": "a date that cannot be read",
    "ambiguous_date": "a date whose day and month could be swapped",
    "before_other": "a timestamp before the one it follows",
    "unknown_customer": "a customer not in customers (strict mode)",
    "empty_row": "neither of the columns one of which must be filled",
    "duplicate_id": "two rows of one file with the same id (both kept out)",
    "append_only": "an append-only row already recorded with other content",
    "attribute_type": "an attribute value not of the attribute's type",
    "malformed_line": "a line the file's format cannot read",
    "order_conflict": "lines of one order that disagree on its customer or date",
    "no_amount": "an order line with neither an amount nor a quantity and unit price",
    "unknown_item": "a survey answer to an item its survey definition does not have",
    "off_scale": "a survey answer outside its item's scale (or a number for an open one)",
}


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
