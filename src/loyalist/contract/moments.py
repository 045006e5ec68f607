"""Moments a person gives (``--as-of``, ``since``, a due date): read once, one way.

The store keeps UTC wall time without a zone, so a moment with an offset is converted
to UTC and loses its zone; one without is taken as UTC wall time. Anything that is not
a date gives a :class:`~loyalist.errors.DataError` naming the value, never a pandas
parse error.

>>> moment("2024-03-31")
Timestamp('2024-03-31 00:00:00')
>>> moment("2024-03-31T14:05:00+02:00")
Timestamp('2024-03-31 12:05:00')
"""

from __future__ import annotations

import pandas as pd

from loyalist.errors import DataError


def moment(value, what: str = "as_of") -> pd.Timestamp:
    """``value`` (text, a date, a datetime, a Timestamp) as a naive UTC Timestamp.

    ``what`` names the value in the error (``as_of``, ``since``...).
    """
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        ts = pd.NaT
    if pd.isna(ts):
        raise DataError(f"Cannot read {what} {str(value)[:60]!r} as a date.",
                        hint="Give a date as YYYY-MM-DD, or a date and time as YYYY-MM-DD "
                        "HH:MM (ISO 8601), e.g. 2024-03-31.")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts
