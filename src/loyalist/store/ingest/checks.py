"""The ingest's per-row parse and check as Ibis expressions: the same rules on every engine.

Each contract column read from a raw source column becomes a pair of expressions: the
parsed value, typed as the contract's storage type, and a reason (text ``code|words``)
that is NULL when the value is acceptable. Nothing is guessed: a value that can be read
two ways (03/04/2021 without a date format) is rejected, not coerced. The expressions
are built over an unbound table (:func:`raw_table`) and compiled by the store's engine
(DuckDB or Spark), so a file is checked where its rows are.
"""

from __future__ import annotations

import re
import sys

import ibis
import ibis.expr.datatypes as dt

from loyalist.contract.schema import FALSE_WORDS, TRUE_WORDS, Column, Table
from loyalist.errors import MappingError
from loyalist.store.ingest.rules import DMY_RE, ISO_RE, ISO_TZ_RE, REASON_CODES, Options

#: the source types the readers report (DuckDB's names) as Ibis types
_SOURCE_TYPES = {"VARCHAR": "string", "BIGINT": "int64", "INTEGER": "int32",
                 "SMALLINT": "int16", "TINYINT": "int8", "HUGEINT": "decimal(38, 0)",
                 "UBIGINT": "uint64", "UINTEGER": "uint32", "USMALLINT": "uint16",
                 "UTINYINT": "uint8", "DOUBLE": "float64", "FLOAT": "float32",
                 "REAL": "float32", "BOOLEAN": "boolean", "DATE": "date",
                 "TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamp('UTC')",
                 "TIMESTAMPTZ": "timestamp('UTC')", "TIMESTAMP_NS": "timestamp",
                 "TIMESTAMP_MS": "timestamp", "TIMESTAMP_S": "timestamp"}
#: the contract's storage types (and the attributes' stored types) as Ibis types
STORED = {"VARCHAR": "string", "TIMESTAMP": "timestamp", "DOUBLE": "float64",
          "BIGINT": "int64", "BOOLEAN": "boolean", "BLOB": "binary"}
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")


WHOLE_LIMIT = 2**53  # below it a double holds every whole number exactly
FLOAT_MAX = sys.float_info.max


def source_type(duck_type: str) -> str:
    """The Ibis type of a raw column the reader typed ``duck_type``; anything it cannot
    name is read as text."""
    up = duck_type.upper()
    if up.startswith("DECIMAL"):
        return "float64"
    return _SOURCE_TYPES.get(up, "string")


def raw_table(name: str, columns, types: dict[str, str]):
    """The unbound Ibis table of a raw source: ``_line`` and its columns."""
    schema = {"_line": "int64", **{c: source_type(types.get(c, "VARCHAR")) for c in columns}}
    return ibis.table(schema, name=name)


def why(code: str, message: str):
    """A reason as an Ibis literal: its code and words."""
    assert code in REASON_CODES, code
    return ibis.literal(f"{code}|{message}", type="string")


def _when(cond, reason):
    """``reason`` where ``cond`` holds, else NULL (a NULL condition gives NULL)."""
    return ibis.cases((cond, reason), else_=ibis.null("string"))


def first(*reasons):
    """The first non-NULL of ``reasons`` (NULL when all are)."""
    reasons = [r for r in reasons if r is not None]
    if not reasons:
        return ibis.null("string")
    return reasons[0] if len(reasons) == 1 else ibis.coalesce(*reasons)


#: the whitespace trimmed off a value's ends (space, tab, newline, CR, VT, FF), as a
#: regex both engines read alike (RE2, Java); ``\A`` and ``\z``: Java's ``$`` would also
#: match before a final line break
_TRIM = r"\A[ \t\n\r\x0b\x0c]+|[ \t\n\r\x0b\x0c]+\z"


def text(v):
    """A raw value as trimmed text, NULL when empty.

    A value whose first and last characters are past the space (code 32) has nothing
    to trim (the whitespace is all at or below it) and is kept as it is: the test costs
    a fraction of a trim. The others are trimmed by a regex, not Ibis's ``strip``: on
    Spark that writes the set as ``'\\v\\f'``, which Spark reads as the letters v and
    f (``fulfilled`` became ``ulfilled``)."""
    return strip(v.cast("string")).nullif("")


def strip(s):
    """Text ``s`` without the whitespace at its ends, the same on every engine: use it
    instead of Ibis's ``strip`` (see :func:`text`)."""
    kept = (s.ascii_str() > 32) & (s.right(1).ascii_str() > 32)
    return ibis.cases((kept, s), else_=s.re_replace(_TRIM, ""))


def id_text(t):
    """An identifier from its trimmed text ``t``; one exported as a float (``17850.0``)
    is the whole number it names (``17850``)."""
    whole = r"^([+-]?[0-9]+)\.0+$"
    # no back-reference in the replacement: engines write it differently (\1, $1)
    return ibis.cases((t.re_search(whole), t.re_extract(whole, 1)), else_=t)


def _is_numeric(duck_type: str) -> bool:
    t = dt.dtype(source_type(duck_type))
    return t.is_numeric() and duck_type.upper() != "VARCHAR"


def number(v, src_type: str, opts: Options, txt=None):
    """Raw value ``v`` (``txt``: its trimmed text, when already at hand) as a number."""
    if _is_numeric(src_type):
        return v.cast("float64")
    t = (text(v) if txt is None else txt).re_replace(r"^[$€£¥]|[$€£¥]$|\s", "")  # noise; thousands are not guessed
    if opts.decimal == ",":
        t = t.replace(".", "").replace(",", ".")
    return t.try_cast("float64")


def _stamp(y, m, d, hms=None):
    """A timestamp from text parts (NULL when they name no real date or time)."""
    s = y.concat("-", _pad2(m), "-", _pad2(d), " ",
                 hms if hms is not None else ibis.literal("00:00:00"))
    return s.try_cast("timestamp")


def _pad2(digits):
    """One or two digits as two (``7`` -> ``07``): as ``lpad(2, "0")`` does for them,
    with ``digits`` written once in the compiled query."""
    return ibis.literal("0").concat(digits).right(2)


def _month_number(name):
    """The month number (two digits, as text) of an English month name or its
    three-letter form; ``name`` is read once (a simple CASE on it)."""
    return name.lower().cases(*[(form, ibis.literal(f"{i:02d}"))
                                for i, m in enumerate(MONTHS, start=1)
                                for form in dict.fromkeys((m, m[:3]))],
                              else_=ibis.null("string"))


_TEXT_MONTHS = (r"^(\d{1,2}) ([A-Za-z]+) (\d{4})$", r"^([A-Za-z]+) (\d{1,2}),? (\d{4})$")


def _text_month(t):
    a = t.re_extract(_TEXT_MONTHS[0], 0) != ""
    day_first = _stamp(t.re_extract(_TEXT_MONTHS[0], 3),
                       _month_number(t.re_extract(_TEXT_MONTHS[0], 2)),
                       t.re_extract(_TEXT_MONTHS[0], 1))
    month_first = _stamp(t.re_extract(_TEXT_MONTHS[1], 3),
                         _month_number(t.re_extract(_TEXT_MONTHS[1], 1)),
                         t.re_extract(_TEXT_MONTHS[1], 2))
    return ibis.cases((a, day_first), (t.re_search(_TEXT_MONTHS[1]), month_first),
                      else_=ibis.null("timestamp"))


#: strptime directives a date format may use: the regex each reads, and what it gives
_DIRECTIVES = {"Y": (r"(\d{4})", "year"), "y": (r"(\d{2})", "year2"),
               "m": (r"(\d{1,2})", "month"), "-m": (r"(\d{1,2})", "month"),
               "d": (r"(\d{1,2})", "day"), "-d": (r"(\d{1,2})", "day"),
               "e": (r" ?(\d{1,2})", "day"), "H": (r"(\d{1,2})", "hour"),
               "-H": (r"(\d{1,2})", "hour"), "M": (r"(\d{2})", "minute"),
               "S": (r"(\d{2})", "second"), "f": (r"(\d{1,9})", "fraction"),
               "b": (r"([A-Za-z]+)", "month_name"), "B": (r"([A-Za-z]+)", "month_name"),
               "h": (r"([A-Za-z]+)", "month_name")}
_SPECIAL = set(".^$*+?()[]{}|\\")


def ingest_options(date_format, decimal: str) -> Options:
    """The parse options of an ingest: the date formats given (one or several, checked)
    and the decimal mark (``.`` or ``,``)."""
    if isinstance(date_format, str):
        date_format = [date_format]
    formats = check_date_formats(date_format or ())
    if decimal not in (".", ","):
        raise MappingError(f"Cannot use {decimal!r} as the decimal mark.",
                           hint="Pass --decimal . or --decimal ,")
    return Options(date_format=formats, decimal=decimal)


def format_pattern(fmt: str) -> tuple[str, list[str]]:
    """A strptime date format as an anchored regex and the part each group reads, or a
    ValueError naming what it cannot use."""
    out, parts, i = ["^"], [], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            out.append(("\\" + ch) if ch in _SPECIAL else ch)
            i += 1
            continue
        code = fmt[i + 1:i + 3] if fmt[i + 1:i + 2] == "-" else fmt[i + 1:i + 2]
        if code == "%":
            out.append("%")
        elif code in _DIRECTIVES:
            regex, part = _DIRECTIVES[code]
            if part in parts:
                raise ValueError(f"%{code} is given twice")
            out.append(regex)
            parts.append(part)
        else:
            raise ValueError(f"%{code} is not one of the known directives "
                             "(%Y %y %m %d %e %H %M %S %f %b %B)" if code else
                             "a lone % at the end")
        i += 1 + max(len(code), 1)
    if "year" not in parts and "year2" not in parts or "day" not in parts or not (
            "month" in parts or "month_name" in parts):
        raise ValueError("it needs a year, a month and a day")
    return "".join(out) + "$", parts


def check_date_formats(formats) -> tuple[str, ...]:
    """The date formats, each one read by :func:`format_pattern` (never pasted into SQL),
    or a :class:`MappingError` naming the one it cannot use."""
    out = []
    for f in formats:
        f = str(f)
        if not f.strip() or len(f) > 100:
            raise MappingError(f"Cannot use {f[:100]!r} as a date format.",
                               hint="Give a strptime format of up to 100 characters, e.g. "
                               "--date-format %d/%m/%Y.")
        try:
            format_pattern(f)
        except ValueError as e:
            # the format is the user's own text (it may name a path): not repeated
            raise MappingError(f"Cannot use the date format given: {e}.",
                               hint="Use strptime codes such as %Y %m %d %H %M %S %b, e.g. "
                               "--date-format %d/%m/%Y.") from None
        out.append(f)
    return tuple(out)


def _formatted(t, fmt: str):
    """``t`` read with strptime format ``fmt`` (NULL when it does not match)."""
    pattern, parts = format_pattern(fmt)
    group = {p: t.re_extract(pattern, i) for i, p in enumerate(parts, start=1)}
    if "year" in group:
        year = group["year"]
    else:  # strptime's pivot: 69-99 are the 1900s
        year = ibis.cases((group["year2"].cast("int64") >= 69, "19"), else_="20").concat(
            group["year2"])
    month = group.get("month")
    if month is None:
        month = _month_number(group["month_name"])
    hms = _pad2(group.get("hour", ibis.literal("0"))).concat(
        ":", group.get("minute", ibis.literal("00")), ":",
        group.get("second", ibis.literal("00")))
    if "fraction" in group:
        hms = hms.concat(".", group["fraction"])
    return ibis.cases((t.re_search(pattern), _stamp(year, month, group["day"], hms)),
                      else_=ibis.null("timestamp"))


def timestamp(v, t, src: str, src_type: str, opts: Options):
    """Raw value ``v`` (trimmed text ``t``) of source column ``src`` as a timestamp."""
    up = src_type.upper()
    if up.startswith(("TIMESTAMP", "DATE")):
        return v.cast("timestamp")  # a zoned time is read in UTC (the session's zone)
    if opts.date_format:
        return ibis.coalesce(*[_formatted(t, f) for f in opts.date_format])
    order = (opts.date_order or {}).get(src)
    a, b = t.re_extract(DMY_RE, 1), t.re_extract(DMY_RE, 2)
    y = t.re_extract(DMY_RE, 3)
    hms = t.re_extract(DMY_RE, 4).nullif("").fill_null("00:00")
    if order == "dmy":
        day, month = a, b
    elif order == "mdy":
        day, month = b, a
    else:  # only dates whose day equals their month can be read without a format
        day, month = a, ibis.cases((a == b, b), else_=ibis.null("string"))
    compact = _stamp(t.substr(0, 4), t.substr(4, 2), t.substr(6, 2))
    return ibis.cases(
        (t.isnull(), ibis.null("timestamp")),
        (t.re_search(ISO_RE), t.try_cast("timestamp")),
        (t.re_search(ISO_TZ_RE), t.try_cast(dt.Timestamp(timezone="UTC")).cast("timestamp")),
        (t.re_search(r"^\d{8}$"), compact),
        (t.re_search(DMY_RE), _stamp(y, month, day, hms)),
        else_=_text_month(t))


def timestamp_reason(t, src: str, parsed, opts: Options):
    """Why trimmed text ``t`` of ``src`` gave no timestamp (``parsed``), or NULL."""
    order = (opts.date_order or {}).get(src)
    if opts.date_format:
        # the format is the user's own text: named by the option, not repeated
        expected = ("does not match the date format given (--date-format)" if
                    len(opts.date_format) == 1 else "matches none of the date formats given")
        return _when(t.notnull() & parsed.isnull(), why("bad_date", expected))
    ambiguous = why("ambiguous_date", "ambiguous date: day and month could be swapped; pass "
                    "--date-format %d/%m/%Y or %m/%d/%Y")
    mixed = why("ambiguous_date", "this column mixes day-first and month-first dates; pass "
                "--date-format")
    on_dmy = (mixed if order == "mixed" else ambiguous if order is None
              else why("bad_date", "impossible date"))
    return ibis.cases(
        (t.isnull() | parsed.notnull(), ibis.null("string")),
        (t.re_search(DMY_RE), on_dmy),
        else_=why("bad_date", "unparseable date (expected e.g. 2024-03-31 or 2024-03-31 "
                  "14:05, or pass --date-format)"))


def _typed(src_type: str) -> bool:
    """Whether a source column of ``src_type`` is read by its raw value, not only its text."""
    return src_type.upper() != "VARCHAR"


def _parse(col: Column, v, t, src: str, src_type: str, opts: Options) -> dict:
    """The first step of reading contract column ``col`` from raw value ``v`` (trimmed
    text ``t``): the expressions its checks read more than once (``value``, or ``num`` for
    a number), materialised once by :func:`staged`."""
    if col.type == "string":
        return {"value": id_text(t) if col.name == "id" or col.name.endswith("_id") else t}
    if col.type == "boolean":
        word = t.lower()
        return {"value": ibis.cases((word.isin(list(TRUE_WORDS)), True),
                                    (word.isin(list(FALSE_WORDS)), False),
                                    else_=ibis.null("boolean"))}
    if col.type == "timestamp":
        return {"value": timestamp(v, t, src, src_type, opts)}
    return {"num": number(v, src_type, opts, t)}


def _checked(col: Column, parts: dict, t, src: str, opts: Options):
    """The value of contract column ``col`` and its reason, from :func:`_parse`'s
    ``parts`` and the trimmed text ``t``."""
    reasons = []
    value = parts.get("value")
    if col.type == "boolean":
        reasons.append(_when(t.notnull() & value.isnull(), why("not_yes_no", "not yes or no")))
    elif col.type == "timestamp":
        reasons.append(timestamp_reason(t, src, value, opts))
    elif col.type not in ("string",):
        num = parts["num"]
        hint = " (if , is the decimal mark, pass --decimal ,)" if opts.decimal == "." else ""
        reasons.append(_when(t.notnull() & num.isnull(),
                             why("not_number", "not a number" + hint)))
        # inf, 1e400 and nan parse as doubles; no amount or count is one of them (NaN
        # sorts above every number on both engines, so it fails this test too)
        reasons.append(_when(~(num.abs() <= FLOAT_MAX),
                             why("not_number", "not a finite number")))
        if col.type == "integer":
            # ``% 1``, not ``round``: Ibis rounds to a 64-bit integer, which fails on a
            # number beyond its range instead of giving a reason; whole numbers beyond
            # 2^53 are refused, since a double no longer holds each of them exactly
            fits = num.abs() < WHOLE_LIMIT
            # a written fraction a double rounds away (9007199254740990.5,
            # 12.0000000000000001) is no whole number either
            mark = re.escape(opts.decimal)
            fraction = t.re_search(f"{mark}[0-9]*[1-9][0-9]*[^0-9eE{mark}]*$").fill_null(False)
            whole = fits & ((num % 1) == 0) & ~fraction
            reasons.append(_when(~fits, why(
                "out_of_range", f"too large to keep exactly: {WHOLE_LIMIT:,} (2^53) or more in size")))
            reasons.append(_when(fits & ~whole, why("not_whole_number", "not a whole number")))
            value = ibis.cases((whole, num), else_=ibis.null("float64")).cast("int64")
        else:
            value = num
        if col.min is not None:
            extra = (" (a return: give the returned order its positive amount and status "
                     "returned, or ingest order lines with --lines)"
                     if col.name == "amount" else "")
            low = (why("negative", "negative value not allowed" + extra) if col.min == 0
                   else why("out_of_range", f"below {col.min:g} not allowed"))
            reasons.append(_when(num < col.min, low))
        if col.max is not None:
            reasons.append(_when(num > col.max, why(
                "out_of_range", f"above the maximum {col.max:g} ({col.unit or ''})")))
    if col.required:
        reasons.insert(0, _when(t.isnull(), why("missing_value", "missing required value")))
    return value, first(*reasons)


def column(t, col: Column, src: str | None, src_type: str, opts: Options):
    """The parsed value of contract column ``col`` read from ``t[src]`` and its reason
    (one expression each over ``t``; :func:`staged` materialises the shared steps)."""
    if src is None:
        return ibis.null(STORED[col.storage_type]), ibis.null("string")
    v = t[src]
    txt = text(v)
    return _checked(col, _parse(col, v, txt, src, src_type, opts), txt, src, opts)


def _attribute_parse(v, t, src_type: str, target_type: str) -> dict:
    """The first step of an extra attribute: ``value`` cast to its stored type."""
    if target_type == "VARCHAR":
        return {"value": t}
    source = t if src_type.upper() == "VARCHAR" else v
    value = source.try_cast(STORED.get(target_type, source_type(target_type)))
    if target_type == "BIGINT" and src_type.upper() == "VARCHAR":  # no silent rounding
        value = ibis.cases((source.re_search(r"^[+-]?\d{1,18}$"), value),
                           else_=ibis.null("int64"))
    return {"value": value}


def _attribute_checked(parts: dict, v, t, src_type: str, target_type: str):
    """An attribute's value and its reason: a failed cast is a reason, not a NULL."""
    if target_type == "VARCHAR":
        return parts["value"], ibis.null("string")
    source = t if src_type.upper() == "VARCHAR" else v
    message = f"not a {target_type.lower()} like the other values of this attribute"
    return parts["value"], _when(source.notnull() & parts["value"].isnull(),
                                 why("attribute_type", message))


def attribute(t, src: str, src_type: str, target_type: str):
    """An extra attribute cast to its stored type; failures are reasons, not NULLs."""
    v = t[src]
    txt = text(v)
    return _attribute_checked(_attribute_parse(v, txt, src_type, target_type), v, txt,
                              src_type, target_type)


def reason_name(name: str) -> str:
    return f"_r_{name}"


def _parsed(t, contract: Table, chosen: dict, types: dict, attr_sources: dict,
            attr_types: dict, opts: Options):
    """``_line``, each output column's parsed value and its reason (``_r_<name>``), in
    three projections so that no step is repeated in the compiled query: each source
    column's trimmed text (and raw value when typed) once, then the steps its checks
    read more than once (the parsed value, or the number), then values and reasons."""
    reads = [(c.name, chosen[c.name], c) for c in contract.columns if c.name in chosen]
    reads += [(a, s, None) for a, s in attr_sources.items()]
    sources = list(dict.fromkeys(s for _, s, _ in reads))
    slot = {s: i for i, s in enumerate(sources)}
    kind = {s: types.get(s, "") for s in sources}
    cleaned = t.select(_line=t._line, **{f"_t{slot[s]}": text(t[s]) for s in sources},
                       **{f"_v{slot[s]}": t[s] for s in sources if _typed(kind[s])})

    def cells(tbl, s):
        i = slot[s]
        txt = tbl[f"_t{i}"]
        return (tbl[f"_v{i}"] if _typed(kind[s]) else txt), txt

    steps = {}
    for j, (name, s, col) in enumerate(reads):
        v, txt = cells(cleaned, s)
        parts = (_parse(col, v, txt, s, kind[s], opts) if col is not None else
                 _attribute_parse(v, txt, kind[s], attr_types[name]))
        steps.update({f"_p{j}_{k}": e for k, e in parts.items()})
    first_steps = cleaned.mutate(**steps)
    values, reasons = {}, {}
    for j, (name, s, col) in enumerate(reads):
        v, txt = cells(first_steps, s)
        parts = {k.split("_", 2)[2]: first_steps[k] for k in steps if k.startswith(f"_p{j}_")}
        values[name], reasons[reason_name(name)] = (
            _checked(col, parts, txt, s, opts) if col is not None else
            _attribute_checked(parts, v, txt, kind[s], attr_types[name]))
    return first_steps.select(_line=first_steps._line, **values, **reasons)


def staged(t, contract: Table, chosen: dict, types: dict, attr_sources: dict,
           attr_types: dict, opts: Options, strict: bool, known_ids=None):
    """The stage: one row per source row with ``_line``, the parsed values, their
    reasons (``_r_<name>``, NULL when fine; ``_r__key`` for the key, set later) and each
    good row's ``_key`` (its id when it has one). ``known_ids``: with ``strict``, the
    table of the customers' ids."""
    p = _parsed(t, contract, chosen, types, attr_sources, attr_types, opts)
    values = [n for n in p.columns if n != "_line" and not n.startswith("_r_")]
    if strict and "customer_id" in chosen and contract.name != "customers":
        known = known_ids.select(_known_id=known_ids.id).distinct()
        p = p.left_join(known, p.customer_id == known._known_id)
    out = {}
    for name in values:
        checks = [p[reason_name(name)]]
        if name in contract.names:
            col = contract.column(name)
            for other in col.not_before:
                if other in chosen:
                    checks.append(_when(p[name] < p[other], why(
                        "before_other", f"{name} is before {other}")))
            if strict and name == "customer_id" and contract.name != "customers":
                checks.append(_when(p[name].notnull() & p._known_id.isnull(), why(
                    "unknown_customer", "unknown customer (strict mode: not in customers)")))
        present = [c for c in contract.require_one_of if c in chosen]
        if present and name == present[0]:
            empty = ibis.and_(*[p[c].isnull() for c in present])
            message = f"empty {contract.name[:-1]}: no {' and no '.join(present)}"
            checks.append(_when(empty, why("empty_row", message)))
        out[reason_name(name)] = first(*checks)
    r = p.select(p._line, *values, **out)
    ok = ibis.and_(*[r[reason_name(n)].isnull() for n in values])
    key = r.id.cast("string") if "id" in chosen else ibis.null("string")
    return r.mutate(_key=ibis.cases((ok, key), else_=ibis.null("string")),
                    _r__key=ibis.null("string"))


def good(stage, names):
    """Whether a stage row passed every check of ``names``."""
    return ibis.and_(*[stage[reason_name(n)].isnull() for n in names])


def content_keys(stage, contract: Table, chosen, names):
    """The stage with a content key for every good row without an id: a hash of its
    natural key plus its occurrence number, so the n-th identical row of a file keeps
    the same key on every re-ingest."""
    ok = good(stage, names)
    id_text_ = stage.id.cast("string") if "id" in chosen else ibis.null("string")
    parts = [stage[c].cast("string").fill_null("\0") if c in chosen else ibis.literal("\0")
             for c in contract.natural_key]
    digest = ibis.literal("\x1f").join(parts).hexdigest("md5")
    nth = ibis.row_number().over(group_by=[ok, id_text_.isnull(), digest],
                                 order_by=stage._line) + 1
    key = ibis.cases((id_text_.notnull(), id_text_),
                     else_=ibis.literal("h:").concat(digest, ":", nth.cast("string")))
    return stage.mutate(_key=ibis.cases((ok, key), else_=ibis.null("string")))


def mark_duplicates(stage, names=()):
    """The stage with ``_r__key`` set on every row whose key another row shares.

    Rows of one key that differ in any of the columns ``names`` are a conflict: neither
    is trusted and neither moves anything. Rows of one key alike in every column are one
    record exported twice: the first line is loaded, each later one is kept out with the
    line it repeats."""
    n = stage._key.count().over(group_by=stage._key)
    parts = [stage[c].cast("string").fill_null("\0") for c in names]
    digest = (ibis.literal("\x1f").join(parts).hexdigest("md5") if parts
              else ibis.literal(""))
    alike = digest.min().over(group_by=stage._key) == digest.max().over(group_by=stage._key)
    first_line = stage._line.min().over(group_by=stage._key)
    conflict = why("duplicate_id", "the same id is on another line of this file (lines of "
                   "one order? ingest them with --lines); neither line is loaded")
    assert "repeated_line" in REASON_CODES
    repeat = ibis.literal("repeated_line|the same record as line ").concat(
        first_line.cast("string"), ibis.literal(" of this file, which is loaded"))
    twice = stage._key.notnull() & (n > 1)
    return stage.mutate(_r__key=ibis.cases(
        (twice & ~alike, conflict), (twice & (stage._line != first_line), repeat),
        else_=ibis.null("string")))
