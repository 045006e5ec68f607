"""How dates are shown: ``[display]`` in ``loyalist.toml``.

Pages, the CLI's tables and messages show a day with ``date_format`` (ISO
``YYYY-MM-DD`` by default) and a moment with ``date_format`` then ``HH:MM``. Typed
dates (options such as ``--as-of``, the web's filters) stay ISO, so what a user types
never depends on a setting. The format is read once into :class:`DisplaySettings` with
the rest of the settings; :meth:`DisplaySettings.day` and :meth:`DisplaySettings.moment`
do the formatting.

>>> from loyalist.settings.display import DisplaySettings
>>> DisplaySettings(date_format="%d/%m/%Y").day("2024-03-05")
'05/03/2024'
>>> DisplaySettings().moment("2024-03-05 14:30:10")
'2024-03-05 14:30'
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from loyalist.settings._declare import setting

#: a day whose every part differs (day 23, month 11, year 2031): a format must show all
#: three, so a day shown is a day read back without guessing
_PROBE = datetime.date(2031, 11, 23)


def _date_format(v) -> str | None:
    if not isinstance(v, str) or not v.strip():
        return "a strftime pattern such as \"%d/%m/%Y\""
    if any(d in v for d in ("%H", "%I", "%M", "%S", "%f", "%p", "%z", "%Z", "%c", "%X")):
        return "a pattern of the day alone (the time is added as HH:MM)"
    try:
        shown = _PROBE.strftime(v)
    except ValueError:
        return "a strftime pattern such as \"%d/%m/%Y\""
    if "%" in shown.replace("%%", ""):
        return "a pattern with known directives (%d, %m, %Y, %b ...)"
    day = any(x in v for x in ("%d", "%e", "%-d", "%j"))
    month = any(x in v for x in ("%m", "%b", "%B", "%-m", "%j"))
    year = any(x in v for x in ("%Y", "%y", "%G"))
    if not (day and month and year):
        return "a pattern showing the day, the month and the year"
    if len(shown) > 30:
        return "a pattern of at most 30 characters once shown"
    return None


@dataclass(frozen=True)
class DisplaySettings:
    """The ``[display]`` settings."""

    date_format: str = setting(
        "%Y-%m-%d", "How pages, CLI tables and messages show a day (a strftime pattern with "
        "the day, the month and the year); moments add the time as HH:MM. Typed dates "
        "stay ISO (YYYY-MM-DD) whatever this says.", check=_date_format,
        example='date_format = "%d/%m/%Y"')

    def day(self, value) -> str:
        """``value`` (a date, a timestamp or ISO text) as a day; '' for nothing."""
        d = _as_datetime(value)
        return "" if d is None else d.strftime(self.date_format)

    def moment(self, value) -> str:
        """``value`` as a day and HH:MM (the day alone when the time is midnight and the
        value is a plain date); '' for nothing."""
        d = _as_datetime(value)
        if d is None:
            return ""
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return d.strftime(self.date_format)
        return f"{d.strftime(self.date_format)} {d:%H:%M}"


def _as_datetime(value) -> datetime.datetime | None:
    if value is None or value == "":
        return None
    try:
        if value != value:  # NaN, NaT
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp (NaT has no year)
        try:
            return value.to_pydatetime()
        except (ValueError, AttributeError):
            return None
    try:
        return datetime.datetime.fromisoformat(str(value).strip().replace("Z", ""))
    except ValueError:
        return None
