"""Moments a person gives (``--as-of``, ``since``, a due date): read once, one way.

Text is read as ISO 8601 only (``2024-03-31``, ``2024-03-31 14:05``,
``2024-03-31T14:05:00+02:00``): ``03/04/2024`` is refused rather than guessed (is it
March or April?), as ingest refuses it. The store keeps UTC wall time without a zone,
so a moment with an offset is converted to UTC and loses its zone; one without is taken
as UTC wall time. Anything else gives a :class:`~loyalist.errors.DataError` naming the
value and the form expected, never a pandas parse error.

>>> moment("2024-03-31")
Timestamp('2024-03-31 00:00:00')
>>> moment("2024-03-31T14:05:00+02:00")
Timestamp('2024-03-31 12:05:00')
>>> moment("03/04/2024")
Traceback (most recent call last):
...
loyalist.errors.DataError: Cannot read as_of '03/04/2024' as a date: dates are written YYYY-MM-DD (ISO 8601), so that 03/04 is never read the wrong way round.
Next step: Give a date as YYYY-MM-DD, or a date and time as YYYY-MM-DD HH:MM, e.g. 2024-03-31.
"""

from __future__ import annotations

import re

import pandas as pd

from loyalist.errors import DataError

#: a date, then optionally a time (minutes, seconds, fractions) and a UTC offset
ISO = re.compile(r"\d{4}-\d{2}-\d{2}"
                 r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
                 r"(?:Z|[+-]\d{2}:?\d{2})?")
HINT = ("Give a date as YYYY-MM-DD, or a date and time as YYYY-MM-DD HH:MM, "
        "e.g. 2024-03-31.")


def moment(value, what: str = "as_of") -> pd.Timestamp:
    """``value`` (text, a date, a datetime, a Timestamp) as a naive UTC Timestamp.

    ``what`` names the value in the error (``as_of``, ``since``...).
    """
    if isinstance(value, str):
        text = value.strip()
        if not ISO.fullmatch(text):
            why = ("dates are written YYYY-MM-DD (ISO 8601), so that 03/04 is never read "
                   "the wrong way round" if re.search(r"\d[/.]\d", text) else
                   "expected YYYY-MM-DD (ISO 8601)")
            raise DataError(f"Cannot read {what} {value[:60]!r} as a date: {why}.", hint=HINT)
        value = text
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        ts = pd.NaT
    if pd.isna(ts):
        raise DataError(f"Cannot read {what} {str(value)[:60]!r} as a date: no such day or "
                        "time.", hint=HINT)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts
