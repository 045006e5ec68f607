"""Business time: how long a request waited in working hours, and when a target falls due.

The store keeps timestamps as UTC wall time without a zone. A
:class:`BusinessCalendar` turns each local working day into its opening windows
(local opening to closing times, one or more a day, possibly different per
weekday, converted to UTC with :mod:`zoneinfo`, so a day on which the clocks
change is as long as it really is). On the sorted windows a
"business clock" counts the working seconds since the first window; the business
time between two instants is the difference of the clock at both ends. Every
operation is a binary search over the windows, vectorised over any number of
rows; the only Python loop is over distinct working days.

Berlin is UTC+1 in December: 16:00-17:00 on the 24th and 09:00-10:00 on the 27th.

>>> cal = BusinessCalendar("Europe/Berlin", hours=("09:00", "17:00"),
...                        holidays=["2024-12-25", "2024-12-26"])
>>> cal.business_seconds("2024-12-24 15:00", "2024-12-27 09:00") / 3600  # UTC times
2.0
>>> cal.add_business_time("2024-12-24 15:00", 2 * 3600)   # due 2 h later in working time
Timestamp('2024-12-27 09:00:00')

Local times that do not exist (the hour the clocks skip) open or close at the
moment of the change; a local time that happens twice (the hour repeated in
autumn) opens at its first occurrence and closes at its last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from loyalist.errors import DataError

_DAY = 86_400
_NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1)
_WEEKDAYS = {name: i for i, names in enumerate(
    [("mon", "monday"), ("tue", "tuesday"), ("wed", "wednesday"), ("thu", "thursday"),
     ("fri", "friday"), ("sat", "saturday"), ("sun", "sunday")]) for name in names}
_KEYS = ("timezone", "workdays", "hours", "holidays")
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock_time(value, name: str) -> int:
    """Seconds after local midnight of "HH:MM" or "HH:MM:SS" ("24:00" is the day's end)."""
    try:
        parts = [int(p) for p in str(value).split(":")]
        if len(parts) not in (2, 3):
            raise ValueError
        h, m, s = (parts + [0])[:3]
        if not (0 <= h <= 24 and 0 <= m < 60 and 0 <= s < 60) or (h == 24 and m + s):
            raise ValueError
    except ValueError:
        raise DataError(f"BusinessCalendar {name} time must look like '09:00' (24 h clock, "
                        f"'24:00' for midnight at the end of the day). Got {value!r}.") from None
    return h * 3600 + m * 60 + s


def _intervals(spec, where: str) -> tuple[tuple[int, int], ...]:
    """Opening intervals of a day: one pair ("09:00", "17:00") or a list of pairs."""
    pairs = [spec] if (isinstance(spec, (tuple, list)) and len(spec) == 2
                       and all(isinstance(v, str) for v in spec)) else spec
    if isinstance(pairs, str) or not isinstance(pairs, (tuple, list)) or not pairs or not all(
            isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
        raise DataError(f"BusinessCalendar hours{where} must be a pair (opening, closing) like "
                        f"('09:00', '17:00'), or a list of such pairs. Got {spec!r}.")
    out = sorted((_clock_time(o, "opening"), _clock_time(c, "closing")) for o, c in pairs)
    for (o, c), (o2, _) in zip(out, out[1:] + [(_DAY, _DAY)], strict=True):
        if c <= o:
            raise DataError(f"BusinessCalendar hours{where}: closing must be after opening; "
                            f"got {spec!r} (hours across midnight are not supported; use "
                            "'24:00' and '00:00' on the next day).")
        if o2 < c:
            raise DataError(f"BusinessCalendar hours{where} overlap: {spec!r}.")
    return tuple(out)


def _weekday(value) -> int:
    if isinstance(value, str) and value.strip().lower() in _WEEKDAYS:
        return _WEEKDAYS[value.strip().lower()]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value <= 6:
        return int(value)
    raise DataError(f"BusinessCalendar workdays must be 0-6 (Monday = 0) or day names like "
                    f"'mon'. Got {value!r}.")


def _holiday(value) -> np.datetime64:
    try:
        return np.datetime64(pd.Timestamp(value).date(), "D")
    except (ValueError, TypeError):
        raise DataError(f"BusinessCalendar holiday {value!r} is not a date.",
                        hint="write dates as 'YYYY-MM-DD'.") from None


def _as_ns(values, name: str):
    """UTC-naive timestamps as int64 nanoseconds, the NaT mask, and whether a scalar."""
    scalar = np.ndim(values) == 0 and not isinstance(values, (pd.Series, pd.Index))
    try:
        dt = pd.to_datetime([values] if scalar else values)
    except (ValueError, TypeError) as e:
        raise DataError(f"'{name}' must hold timestamps; {e}.") from None
    dt = pd.DatetimeIndex(dt)
    if dt.tz is not None:  # an aware input: its UTC instant
        dt = dt.tz_convert("UTC").tz_localize(None)
    return dt.as_unit("ns").asi8.copy(), np.asarray(dt.isna()), scalar


def _like(values, template, scalar: bool):
    """Return ``values`` as a float/Timestamp, a Series on the template's index, or an array."""
    if scalar:
        v = values[0]
        return pd.Timestamp(v) if isinstance(v, np.datetime64) else float(v)
    if isinstance(template, pd.Series):
        return pd.Series(values, index=template.index)
    return values


class BusinessCalendar:
    """Working days, opening hours, holidays and the time zone of a business.

    Parameters
    ----------
    timezone : str, default "Europe/Berlin"
        IANA time zone of the opening hours.
    workdays : iterable, optional
        Weekdays that are open, as 0-6 (Monday = 0) or names ("mon", "tuesday");
        default Monday to Friday, or the days named in a dict of ``hours``.
    hours : (str, str), list of pairs, or dict, default ("09:00", "17:00")
        Local opening and closing time; "00:00", "24:00" is open all day. A list of
        pairs gives split hours, e.g. ``[("08:00", "12:00"), ("13:00", "17:00")]``; a
        dict gives the hours of each workday (every workday must be in it), e.g.
        ``{"mon": ("09:00", "17:00"), ..., "sat": ("10:00", "14:00")}``.
    holidays : iterable of dates
        Local dates that are closed although they are workdays.
    """

    def __init__(self, timezone: str = "Europe/Berlin",
                 workdays: Iterable | None = None,
                 hours=("09:00", "17:00"),
                 holidays: Iterable = ()):
        # a calendar is a value, not an estimator: check it where it is written down
        try:
            self._tz = ZoneInfo(str(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise DataError(f"Unknown time zone {timezone!r}.",
                            hint="use an IANA name such as 'Europe/Berlin' or "
                                 "'America/New_York'.") from None
        self.timezone = str(timezone)
        if workdays is None:  # the days the hours name, else Monday to Friday
            workdays = hours.keys() if isinstance(hours, Mapping) else range(5)
        self.workdays = tuple(sorted({_weekday(d) for d in workdays}))
        if not self.workdays:
            raise DataError("A BusinessCalendar needs at least one workday.")
        if isinstance(hours, Mapping):
            per_day = {_weekday(k): _intervals(v, f" of {k!r}") for k, v in hours.items()}
            missing = [d for d in self.workdays if d not in per_day]
            if missing:
                names = ", ".join(_DAY_NAMES[d] for d in missing)
                raise DataError(f"BusinessCalendar hours give no hours for the workday(s) "
                                f"{names}.", hint="add them to hours, or leave them out of "
                                                  "workdays.")
        else:
            same = _intervals(hours, "")
            per_day = dict.fromkeys(self.workdays, same)
        #: opening intervals (seconds after local midnight) of each workday
        self._hours = {d: per_day[d] for d in self.workdays}
        self.hours = hours
        self._holidays = np.unique(np.array([_holiday(h) for h in holidays],
                                            dtype="datetime64[D]"))
        self.holidays = tuple(date.fromisoformat(str(h)) for h in self._holidays)

    def __repr__(self) -> str:
        return (f"BusinessCalendar(timezone={self.timezone!r}, workdays={self.workdays!r}, "
                f"hours={self.hours!r}, holidays=[{len(self.holidays)} dates])")

    def __eq__(self, other) -> bool:
        return isinstance(other, BusinessCalendar) and (
            (self.timezone, self._hours, self.holidays)
            == (other.timezone, other._hours, other.holidays))

    __hash__ = None

    # -- configuration -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, config: Mapping) -> BusinessCalendar:
        """A calendar from a mapping with the keys timezone, workdays, hours, holidays."""
        unknown = sorted(set(config) - set(_KEYS))
        if unknown:
            raise DataError(f"Unknown calendar setting(s) {', '.join(map(repr, unknown))}.",
                            hint=f"the settings are {', '.join(_KEYS)}.")
        return cls(**dict(config))

    @classmethod
    def from_toml(cls, path, table: str = "calendar") -> BusinessCalendar:
        """A calendar from the ``[calendar]`` table of a TOML file (or the whole file)::

            [calendar]
            timezone = "Europe/Berlin"
            workdays = ["mon", "tue", "wed", "thu", "fri"]
            hours = ["09:00", "17:00"]
            holidays = [2024-12-25, 2024-12-26]
        """
        from loyalist.contract.config import read_table

        return cls.from_dict(read_table(path, table, example='hours = ["09:00", "17:00"]'))

    # -- the windows ---------------------------------------------------------------------
    def _utc(self, day: int, seconds: int, *, last: bool) -> int:
        """UTC seconds of local ``seconds`` after midnight of ``day`` (days since 1970)."""
        wall = day * _DAY + seconds
        local = _EPOCH + timedelta(seconds=wall)
        first = local.replace(tzinfo=self._tz, fold=0)
        second = local.replace(tzinfo=self._tz, fold=1)
        u0 = wall - int(first.utcoffset().total_seconds())
        u1 = wall - int(second.utcoffset().total_seconds())
        if u0 <= u1:  # exists: once (equal), or twice (pick the first or the last)
            return u1 if last else u0
        # skipped by the clocks: the first instant whose wall time is at or after it
        lo, hi = u1, u0  # wall(lo) < wall, wall(hi) >= wall
        while hi - lo > 1:
            mid = (lo + hi) // 2
            off = datetime.fromtimestamp(mid, self._tz).utcoffset()
            if mid + int(off.total_seconds()) >= wall:
                hi = mid
            else:
                lo = mid
        return hi

    def _windows(self, first_day: int, last_day: int) -> tuple[np.ndarray, np.ndarray]:
        """UTC nanoseconds of opening and closing of the working days in a day range."""
        days = np.arange(first_day, last_day + 1, dtype=np.int64)
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        work = np.isin(weekday, self.workdays)
        work &= ~np.isin(days.astype("datetime64[D]"), self._holidays)
        opens, closes = [], []
        for d, w in zip(days[work].tolist(), weekday[work].tolist(), strict=True):
            for o, c in self._hours[w]:
                opens.append(self._utc(d, o, last=False))
                closes.append(self._utc(d, c, last=True))
        return np.array(opens, dtype=np.int64) * _NS, np.array(closes, dtype=np.int64) * _NS

    @staticmethod
    def _clock(opens: np.ndarray, closes: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Working nanoseconds from the first window to each ``t`` (monotone in ``t``)."""
        if opens.size == 0:
            return np.zeros_like(t)
        length = closes - opens
        before = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
        i = np.searchsorted(opens, t, side="right") - 1
        j = np.maximum(i, 0)
        return np.where(i < 0, 0, before[j] + np.clip(t - opens[j], 0, length[j]))

    @staticmethod
    def _day_range(ns: np.ndarray) -> tuple[int, int]:
        day = ns // (_DAY * _NS)
        return int(day.min()) - 1, int(day.max()) + 1

    # -- the public operations -----------------------------------------------------------
    def windows(self, start, end) -> pd.DataFrame:
        """The opening windows between two instants, as UTC-naive timestamps.

        Columns ``opens``, ``closes`` and ``worked_before`` (working seconds of the
        earlier windows in the table). With them an engine can compute business time
        itself: the clock at ``t`` is ``worked_before + clip(t - opens, 0, closes -
        opens)`` of the last window opening at or before ``t`` (an as-of join), and
        the business time between two instants is the difference of their clocks.
        """
        lo, _, _ = _as_ns(start, "start")
        hi, _, _ = _as_ns(end, "end")
        opens, closes = self._windows(self._day_range(lo)[0], self._day_range(hi)[1])
        worked = (closes - opens) // _NS
        return pd.DataFrame({
            "opens": opens.astype("datetime64[ns]"), "closes": closes.astype("datetime64[ns]"),
            "worked_before": np.concatenate([[0], np.cumsum(worked)[:-1]]).astype(np.int64)})

    def is_open(self, at):
        """Whether the business is open at each instant (UTC-naive); False for NaT."""
        t, nat, scalar = _as_ns(at, "at")
        result = np.zeros(t.size, dtype=bool)
        if (~nat).any():
            opens, closes = self._windows(*self._day_range(t[~nat]))
            i = np.searchsorted(opens, t[~nat], side="right") - 1
            result[~nat] = (i >= 0) & (t[~nat] < closes[np.maximum(i, 0)])
        return bool(result[0]) if scalar else _like(result, at, False)

    def business_seconds(self, start, end, pauses: pd.DataFrame | None = None):
        """Working seconds from ``start`` to ``end`` (UTC-naive timestamps), row by row.

        Negative when ``end`` precedes ``start``; NaN when either is missing. The
        result is a float for scalars, a Series on the index of a Series ``start``
        (or ``end``), an array otherwise.

        ``pauses`` (optional) are intervals during which the clock stops, e.g. while
        waiting on the customer: a DataFrame with ``row`` (position of the interval
        in ``start``/``end``), ``start`` and ``end``. Overlapping pauses count once;
        the parts outside their row's interval do not count.
        """
        s, s_nat, s_scalar = _as_ns(start, "start")
        e, e_nat, e_scalar = _as_ns(end, "end")
        if s.size != e.size and min(s.size, e.size) != 1:
            raise DataError(f"'start' has {s.size} values and 'end' {e.size}; they must "
                            "match row by row.")
        s, e = np.broadcast_arrays(s, e)
        s_nat, e_nat = np.broadcast_arrays(s_nat, e_nat)
        missing = s_nat | e_nat
        out = np.full(s.size, np.nan)
        if (~missing).any():
            ok_s, ok_e = s[~missing], e[~missing]
            lo, hi = self._day_range(np.concatenate([ok_s, ok_e]))
            opens, closes = self._windows(lo, hi)
            worked = self._clock(opens, closes, ok_e) - self._clock(opens, closes, ok_s)
            out[~missing] = worked
            if pauses is not None:
                out -= self._paused(pauses, s, e, missing, opens, closes)
            out /= _NS
        template = start if isinstance(start, pd.Series) else end
        return _like(out, template, s_scalar and e_scalar)

    def _paused(self, pauses, s, e, missing, opens, closes) -> np.ndarray:
        need = {"row", "start", "end"}
        if not isinstance(pauses, pd.DataFrame) or not need <= set(pauses.columns):
            raise DataError("'pauses' must be a DataFrame with the columns row, start, end.")
        row = np.asarray(pauses["row"])
        if row.size and (not np.issubdtype(row.dtype, np.integer) or row.min() < 0
                         or row.max() >= s.size):
            raise DataError(f"pauses 'row' must be positions 0..{s.size - 1} of the "
                            "start/end rows.")
        ps, ps_nat, _ = _as_ns(pauses["start"], "pauses.start")
        pe, pe_nat, _ = _as_ns(pauses["end"], "pauses.end")
        # clip each pause to its row's interval; drop empty and incomplete ones
        ps, pe = np.maximum(ps, s[row]), np.minimum(pe, e[row])
        keep = ~(ps_nat | pe_nat | missing[row]) & (pe > ps)
        row, ps, pe = row[keep], ps[keep], pe[keep]
        total = np.zeros(s.size)
        if row.size == 0:
            return total
        # merge overlapping pauses of the same row so that they count once
        order = np.lexsort((ps, row))
        row, ps, pe = row[order], ps[order], pe[order]
        reach = pd.Series(pe).groupby(row).cummax().to_numpy()
        prev_reach = np.concatenate([[np.iinfo(np.int64).min], reach[:-1]])
        new = np.concatenate([[True], row[1:] != row[:-1]]) | (ps > prev_reach)
        m_start, m_row = ps[new], row[new]
        m_end = np.maximum.reduceat(pe, np.flatnonzero(new))
        # clipped to their rows, the pauses lie within the windows already built
        paused = self._clock(opens, closes, m_end) - self._clock(opens, closes, m_start)
        return np.bincount(m_row, weights=paused, minlength=s.size)

    def add_business_time(self, start, seconds):
        """The instant when ``seconds`` of working time have passed since ``start``.

        The due time of a target: ``add_business_time(opened_at, 8 * 3600)`` is one
        working day of 8 hours later. A target reached exactly at closing time is due
        at closing, not at the next opening. ``seconds`` may be numbers or timedeltas.
        """
        s, s_nat, s_scalar = _as_ns(start, "start")
        sec = seconds
        if isinstance(sec, (pd.Timedelta, timedelta, np.timedelta64)) or (
                np.ndim(sec) and pd.api.types.is_timedelta64_dtype(np.asarray(sec))):
            sec = pd.to_timedelta(sec) / pd.Timedelta(seconds=1)
        sec = np.asarray(sec, dtype=float).ravel() if np.ndim(sec) else np.array([float(sec)])
        if (sec[~np.isnan(sec)] < 0).any():
            raise DataError("'seconds' of add_business_time must be >= 0.")
        s, sec = np.broadcast_arrays(s, sec)
        s_nat = np.broadcast_to(s_nat, s.shape)
        missing = s_nat | np.isnan(sec)
        due = np.full(s.size, np.iinfo(np.int64).min, dtype=np.int64)  # NaT
        if (~missing).any():
            ok_s = s[~missing]
            add = np.round(sec[~missing] * _NS).astype(np.int64)
            lo, hi = self._day_range(ok_s)
            per_week = sum(c - o for day in self._hours.values() for o, c in day)
            hi += int(7 * np.ceil(add.max() / _NS / per_week)) + 7
            while True:
                opens, closes = self._windows(lo, hi)
                target = self._clock(opens, closes, ok_s) + add
                reached = np.concatenate([[0], np.cumsum(closes - opens)])
                if reached[-1] >= target.max():
                    break
                hi += max(366, hi - lo)  # holidays ate the margin: look further
            i = np.searchsorted(reached[1:], target, side="left")
            at = opens[i] + (target - reached[i])
            due[~missing] = np.where(add == 0, ok_s, np.maximum(at, ok_s))
        values = due.astype("datetime64[ns]")
        return _like(values, start, s_scalar and np.ndim(seconds) == 0)
