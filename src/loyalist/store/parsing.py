"""SQL expressions that parse and check raw source values against the contract.

Each contract column becomes a pair of expressions: the parsed value, and a reason
(text) that is NULL when the value is acceptable. Nothing is guessed: a value that
can be read two ways (03/04/2021 without a date format) is rejected, not coerced.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalist.contract.schema import FALSE_WORDS, TRUE_WORDS, Column
from loyalist.store.sql import lit, q

NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL")

# day/month/year written with / . or -, optionally followed by a time
DMY_RE = r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$"
ISO_RE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
ISO_TZ_RE = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"
TEXT_MONTH_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y")


@dataclass
class Options:
    date_format: tuple[str, ...] = ()
    decimal: str = "."
    #: per source column: "dmy", "mdy" or "mixed", settled from the column's own values
    date_order: dict[str, str] | None = None


def text(src: str) -> str:
    return f"NULLIF(TRIM(CAST({q(src)} AS VARCHAR)), '')"


def id_text(src: str) -> str:
    """An identifier as text; one exported as a float (``17850.0``) is the whole
    number it names (``17850``)."""
    return f"regexp_replace({text(src)}, '^([+-]?[0-9]+)\\.0+$', '\\1')"


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


def number(src: str, src_type: str, opts: Options) -> str:
    if src_type.upper().startswith(NUMERIC_TYPES) or src_type.upper().startswith("DECIMAL"):
        return f"CAST({q(src)} AS DOUBLE)"
    t = text(src)
    # currency symbols and spaces are noise; thousands separators are not guessed
    t = f"regexp_replace({t}, '^[$€£¥]|[$€£¥]$|\\s', '', 'g')"
    if opts.decimal == ",":
        t = f"replace(replace({t}, '.', ''), ',', '.')"
    return f"TRY_CAST({t} AS DOUBLE)"


def settle_date_order(con, view: str, src: str) -> str | None:
    """Tell from a text column's own values whether d/m/y dates are day- or month-first."""
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE a > 12), count(*) FILTER (WHERE b > 12) FROM ("
        f"SELECT TRY_CAST(regexp_extract(v, {lit(DMY_RE)}, 1) AS INT) a, "
        f"TRY_CAST(regexp_extract(v, {lit(DMY_RE)}, 2) AS INT) b FROM ("
        f"SELECT {text(src)} v FROM {view}) WHERE regexp_matches(v, {lit(DMY_RE)}))").fetchall()[0]
    day_first, month_first = row
    if day_first and month_first:
        return "mixed"
    if day_first:
        return "dmy"
    if month_first:
        return "mdy"
    return None


def timestamp(src: str, src_type: str, opts: Options) -> str:
    up = src_type.upper()
    if up.startswith("TIMESTAMP WITH TIME ZONE") or up == "TIMESTAMPTZ":
        return f"CAST({q(src)} AS TIMESTAMP)"  # the session time zone is UTC
    if up.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({q(src)} AS TIMESTAMP)"
    t = text(src)
    if opts.date_format:
        tries = ", ".join(f"try_strptime({t}, {lit(f)})" for f in opts.date_format)
        return f"CAST(COALESCE({tries}) AS TIMESTAMP)"
    order = (opts.date_order or {}).get(src)
    a = f"regexp_extract({t}, {lit(DMY_RE)}, 1)"
    b = f"regexp_extract({t}, {lit(DMY_RE)}, 2)"
    y = f"regexp_extract({t}, {lit(DMY_RE)}, 3)"
    hms = f"coalesce(NULLIF(regexp_extract({t}, {lit(DMY_RE)}, 4), ''), '00:00')"
    if order == "dmy":
        day, month = a, b
    elif order == "mdy":
        day, month = b, a
    else:  # only dates whose day equals their month can be read without a format
        day, month = a, f"CASE WHEN {a} = {b} THEN {b} END"
    dmy = f"TRY_CAST({y} || '-' || lpad({month}, 2, '0') || '-' || lpad({day}, 2, '0') || ' ' || {hms} AS TIMESTAMP)"
    text_month = ", ".join(f"try_strptime({t}, {lit(f)})" for f in TEXT_MONTH_FORMATS)
    return (
        f"CASE WHEN {t} IS NULL THEN NULL "
        f"WHEN regexp_matches({t}, {lit(ISO_RE)}) THEN TRY_CAST({t} AS TIMESTAMP) "
        f"WHEN regexp_matches({t}, {lit(ISO_TZ_RE)}) THEN "
        f"CAST(TRY_CAST({t} AS TIMESTAMPTZ) AS TIMESTAMP) "
        f"WHEN regexp_matches({t}, '^\\d{{8}}$') THEN try_strptime({t}, '%Y%m%d') "
        f"WHEN regexp_matches({t}, {lit(DMY_RE)}) THEN {dmy} "
        f"ELSE CAST(COALESCE({text_month}) AS TIMESTAMP) END"
    )


def timestamp_reason(src: str, parsed: str, opts: Options) -> str:
    t = text(src)
    order = (opts.date_order or {}).get(src)
    if opts.date_format:
        expected = "does not match the date format " + " or ".join(opts.date_format)
        return (f"CASE WHEN {t} IS NOT NULL AND {parsed} IS NULL THEN "
                f"{why('bad_date', expected)} END")
    ambiguous = why("ambiguous_date", "ambiguous date: day and month could be swapped; pass "
                    "--date-format %d/%m/%Y or %m/%d/%Y")
    mixed = why("ambiguous_date", "this column mixes day-first and month-first dates; pass "
                "--date-format")
    return (
        f"CASE WHEN {t} IS NULL OR {parsed} IS NOT NULL THEN NULL "
        f"WHEN regexp_matches({t}, {lit(DMY_RE)}) THEN "
        + (mixed if order == "mixed" else ambiguous if order is None
           else why("bad_date", "impossible date"))
        + " ELSE " + why("bad_date", "unparseable date (expected e.g. 2024-03-31 or "
                         "2024-03-31 14:05, or pass --date-format)") + " END"
    )


@dataclass
class ColumnSQL:
    name: str
    value: str  # parsed value expression, typed as the contract's storage type
    reason: str  # NULL when fine, else a sentence


def column_sql(col: Column, src: str | None, src_type: str, opts: Options) -> ColumnSQL:
    """Parse and check one contract column read from source column ``src``."""
    if src is None:
        return ColumnSQL(col.name, f"CAST(NULL AS {col.storage_type})", "NULL")
    reasons = []
    if col.type == "string":
        value = id_text(src) if col.name == "id" or col.name.endswith("_id") else text(src)
    elif col.type == "boolean":
        word = f"lower({text(src)})"
        yes = ", ".join(lit(w) for w in TRUE_WORDS)
        no = ", ".join(lit(w) for w in FALSE_WORDS)
        value = f"CASE WHEN {word} IN ({yes}) THEN true WHEN {word} IN ({no}) THEN false END"
        reasons.append(f"CASE WHEN {text(src)} IS NOT NULL AND {value} IS NULL THEN "
                       f"{why('not_yes_no', 'not yes or no')} END")
    elif col.type == "timestamp":
        value = timestamp(src, src_type, opts)
        reasons.append(timestamp_reason(src, value, opts))
    else:
        num = number(src, src_type, opts)
        hint = " (if , is the decimal mark, pass --decimal ,)" if opts.decimal == "." else ""
        reasons.append(f"CASE WHEN {text(src)} IS NOT NULL AND {num} IS NULL THEN "
                       f"{why('not_number', 'not a number' + hint)} END")
        if col.type == "integer":
            reasons.append(f"CASE WHEN {num} <> round({num}) THEN "
                           f"{why('not_whole_number', 'not a whole number')} END")
            value = f"CAST(CASE WHEN {num} = round({num}) THEN {num} END AS BIGINT)"
        else:
            value = num
        if col.min is not None:
            extra = (" (record returns with status returned, or ingest order lines with "
                     "--lines)" if col.name == "amount" else "")
            low = (why("negative", "negative value not allowed" + extra) if col.min == 0
                   else why("out_of_range", f"below {col.min:g} not allowed"))
            reasons.append(f"CASE WHEN {num} < {col.min} THEN {low} END")
        if col.max is not None:
            high = why("out_of_range", f"above the maximum {col.max:g} ({col.unit or ''})")
            reasons.append(f"CASE WHEN {num} > {col.max} THEN {high} END")
    if col.required:
        reasons.insert(0, f"CASE WHEN {text(src)} IS NULL THEN "
                       f"{why('missing_value', 'missing required value')} END")
    reason = "coalesce(" + ", ".join(reasons) + ")" if reasons else "NULL"
    if len(reasons) == 1:
        reason = reasons[0]
    return ColumnSQL(col.name, value, reason)


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


def attribute_sql(name: str, src: str, src_type: str, target_type: str) -> ColumnSQL:
    """Cast an extra attribute to its stored type; failures are reasons, not NULLs."""
    if target_type == "VARCHAR":
        return ColumnSQL(name, text(src), "NULL")
    source = text(src) if src_type.upper() == "VARCHAR" else q(src)
    value = f"TRY_CAST({source} AS {target_type})"
    if target_type == "BIGINT" and src_type.upper() == "VARCHAR":  # no silent rounding
        value = f"CASE WHEN regexp_matches({source}, '^[+-]?\\d{{1,18}}$') THEN {value} END"
    message = f"not a {target_type.lower()} like the other values of this attribute"
    reason = (f"CASE WHEN {source} IS NOT NULL AND {value} IS NULL THEN "
              f"{why('attribute_type', message)} END")
    return ColumnSQL(name, value, reason)
