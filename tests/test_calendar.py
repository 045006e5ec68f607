"""Business time: weekends, holidays, time zones, daylight saving, pauses, due times.

The vectorised results are compared with a slow reference that walks minute by
minute and asks pandas (not the calendar's own zoneinfo path) for the local time.
"""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

import loyalist.settings.calendar as calendar_module
from loyalist.errors import DataError, SourceError
from loyalist.settings.calendar import BusinessCalendar

H = 3600.0
BERLIN = BusinessCalendar("Europe/Berlin")
NEW_YORK = BusinessCalendar("America/New_York")


DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def opening_minutes(cal: BusinessCalendar) -> dict[int, list[tuple[int, int]]]:
    """Weekday -> [(opening, closing)] in minutes after midnight, read from cal's settings."""
    def minute(hhmm):
        h, m = map(int, hhmm.split(":"))
        return 60 * h + m

    def pairs(spec):
        spec = [spec] if isinstance(spec[0], str) else spec
        return [(minute(o), minute(c)) for o, c in spec]

    if isinstance(cal.hours, dict):
        per_day = {DAYS.index(k) if isinstance(k, str) else k: pairs(v)
                   for k, v in cal.hours.items()}
        return {d: per_day[d] for d in cal.workdays}
    return {d: pairs(cal.hours) for d in cal.workdays}


def reference_minutes(cal: BusinessCalendar, start, end, pauses=()) -> pd.Series:
    """Open minutes in [start, end) (UTC-naive, minute aligned), one by one."""
    minutes = pd.date_range(start, end, freq="min", inclusive="left")
    local = minutes.tz_localize("UTC").tz_convert(cal.timezone)
    clock = np.asarray(local.hour * 60 + local.minute)
    weekday = np.asarray(local.day_of_week)
    is_open = np.zeros(len(minutes), dtype=bool)
    for day, intervals in opening_minutes(cal).items():
        for o, c in intervals:
            is_open |= (weekday == day) & (clock >= o) & (clock < c)
    is_open &= ~np.isin(local.date, list(cal.holidays))
    for p_start, p_end in pauses:
        is_open &= ~((minutes >= pd.Timestamp(p_start)) & (minutes < pd.Timestamp(p_end)))
    return pd.Series(is_open, index=minutes)


def reference_seconds(cal, start, end, pauses=()) -> float:
    return 60.0 * reference_minutes(cal, start, end, pauses).sum()


def reference_due(cal, start, seconds) -> pd.Timestamp:
    """End of the minute in which the open minutes since ``start`` reach ``seconds``."""
    if seconds == 0:
        return pd.Timestamp(start)
    minutes = reference_minutes(cal, start, pd.Timestamp(start) + pd.Timedelta(days=40))
    done = minutes.cumsum() * 60
    return done.index[np.argmax(done.to_numpy() >= seconds)] + pd.Timedelta(minutes=1)


# -- worked examples ---------------------------------------------------------------------
def test_docstring_examples_run():
    assert doctest.testmod(calendar_module).failed == 0


def test_within_one_day_and_overnight():
    # Berlin in January is UTC+1: 09:00-17:00 local is 08:00-16:00 UTC
    assert BERLIN.business_seconds("2024-01-15 08:00", "2024-01-15 16:00") == 8 * H
    assert BERLIN.business_seconds("2024-01-15 07:00", "2024-01-15 17:00") == 8 * H
    assert BERLIN.business_seconds("2024-01-15 10:30", "2024-01-15 11:00") == 0.5 * H
    # opened at 15:00 UTC (16:00 local), answered next morning at 09:00 UTC (10:00 local)
    assert BERLIN.business_seconds("2024-01-15 15:00", "2024-01-16 09:00") == 2 * H
    # entirely at night: nothing
    assert BERLIN.business_seconds("2024-01-15 17:00", "2024-01-16 07:59") == 0.0


def test_weekends_and_holidays():
    # Friday 15:00 UTC to Monday 09:00 UTC: 1 h on Friday, 1 h on Monday
    assert BERLIN.business_seconds("2024-01-19 15:00", "2024-01-22 09:00") == 2 * H
    assert BERLIN.business_seconds("2024-01-20 08:00", "2024-01-21 20:00") == 0.0
    xmas = BusinessCalendar("Europe/Berlin", holidays=["2024-12-24", "2024-12-25",
                                                       "2024-12-26"])
    # Monday 23 Dec 15:00 UTC to Friday 27 Dec 09:00 UTC: 1 h + 1 h
    assert xmas.business_seconds("2024-12-23 15:00", "2024-12-27 09:00") == 2 * H
    assert BERLIN.business_seconds("2024-12-23 15:00", "2024-12-27 09:00") == 26 * H
    # a six-day week
    shop = BusinessCalendar("Europe/Berlin", workdays=["mon", "tue", "wed", "thu", "fri",
                                                       "sat"], hours=("10:00", "14:00"))
    assert shop.business_seconds("2024-01-19 00:00", "2024-01-22 00:00") == 8 * H


def test_utc_input_against_local_hours():
    # the same 09:00 local opening is a different UTC hour in winter and summer, per zone
    for cal, winter, summer in ((BERLIN, 8, 7), (NEW_YORK, 14, 13)):
        w = pd.Timestamp(f"2024-01-15 {winter:02d}:00")
        s = pd.Timestamp(f"2024-07-15 {summer:02d}:00")
        assert cal.business_seconds(w - pd.Timedelta("1h"), w) == 0.0
        assert cal.business_seconds(w, w + pd.Timedelta("1h")) == H
        assert cal.business_seconds(s - pd.Timedelta("1h"), s) == 0.0
        assert cal.business_seconds(s, s + pd.Timedelta("8h")) == 8 * H
    # Monday 03:00 UTC is still Sunday evening in New York: closed there, open in Tokyo
    tokyo = BusinessCalendar("Asia/Tokyo")
    assert NEW_YORK.business_seconds("2024-01-15 00:00", "2024-01-15 04:00") == 0.0
    assert tokyo.business_seconds("2024-01-15 00:00", "2024-01-15 04:00") == 4 * H
    # an aware timestamp counts by its UTC instant
    aware = pd.Timestamp("2024-01-15 09:00", tz="Europe/Berlin")
    assert BERLIN.business_seconds(aware, "2024-01-15 09:00") == H


@pytest.mark.parametrize("zone, spring, autumn", [
    ("Europe/Berlin", "2024-03-31", "2024-10-27"),
    ("America/New_York", "2024-03-10", "2024-11-03"),
])
def test_daylight_saving_days_are_as_long_as_they_are(zone, spring, autumn):
    always = BusinessCalendar(zone, workdays=range(7), hours=("00:00", "24:00"))
    for day, hours in ((spring, 23), (autumn, 25), ("2024-06-12", 24)):
        local = pd.date_range(day, periods=2, freq="D", tz=zone)
        start, end = local.tz_convert("UTC").tz_localize(None)
        assert always.business_seconds(start, end) == hours * H, day
    # office hours straddling a week with the change: still 8 h a day, 5 days
    office = BusinessCalendar(zone)
    monday = pd.Timestamp(spring) - pd.Timedelta(days=6)
    assert office.business_seconds(monday, monday + pd.Timedelta(days=7)) == 40 * H


def test_hours_the_clocks_skip_or_repeat():
    # the window 01:30-03:30 local holds 1 h on the spring day and 3 h on the autumn day
    night = BusinessCalendar("Europe/Berlin", workdays=range(7), hours=("01:30", "03:30"))
    assert night.business_seconds("2024-03-30 12:00", "2024-03-31 12:00") == 1 * H
    assert night.business_seconds("2024-10-26 12:00", "2024-10-27 12:00") == 3 * H
    # opening at 02:30, which does not exist on 31 March: open from the change (03:00)
    gap = BusinessCalendar("Europe/Berlin", workdays=range(7), hours=("02:30", "05:00"))
    assert gap.business_seconds("2024-03-30 12:00", "2024-03-31 12:00") == 2 * H
    assert gap.add_business_time("2024-03-30 23:00", 60) == pd.Timestamp("2024-03-31 01:01")


# -- against the minute-by-minute reference ------------------------------------------------
CALENDARS = {
    "berlin office": BusinessCalendar("Europe/Berlin", holidays=["2024-03-29", "2024-04-01",
                                                                 "2024-10-03", "2024-12-25"]),
    "new york office": BusinessCalendar("America/New_York", hours=("08:30", "18:15"),
                                        holidays=["2024-07-04", "2024-11-28"]),
    "berlin always": BusinessCalendar("Europe/Berlin", workdays=range(7),
                                      hours=("00:00", "24:00")),
    "new york nights": BusinessCalendar("America/New_York", workdays=[5, 6, 0],
                                        hours=("00:15", "04:45")),
    "berlin small hours": BusinessCalendar("Europe/Berlin", workdays=range(7),
                                           hours=("01:30", "03:30")),
    "berlin lunch break": BusinessCalendar("Europe/Berlin", hours=[("13:00", "18:00"),
                                                                   ("08:00", "12:30")]),
    "new york saturdays": BusinessCalendar("America/New_York", hours={
        "mon": ("09:00", "17:00"), "tue": ("09:00", "17:00"), "wed": ("09:00", "17:00"),
        "thu": [("07:00", "11:00"), ("12:00", "20:00")], "sat": ("10:00", "14:00"),
        "sun": ("00:00", "03:00")}, holidays=["2024-11-02"]),
}
#: around the daylight-saving changes of both zones, and ordinary days
ANCHORS = pd.to_datetime(["2024-03-10", "2024-03-31", "2024-10-27", "2024-11-03",
                          "2024-03-28", "2024-07-03", "2024-12-23"])


def random_intervals(rng, n):
    anchor = ANCHORS[rng.integers(len(ANCHORS), size=n)]
    start = anchor + pd.to_timedelta(rng.integers(-4 * 1440, 3 * 1440, size=n), unit="min")
    length = pd.to_timedelta(rng.integers(0, 9 * 1440, size=n), unit="min")
    return pd.Series(start), pd.Series(start + length)


@pytest.mark.parametrize("name", list(CALENDARS))
def test_business_seconds_equals_minute_by_minute_reference(name):
    cal = CALENDARS[name]
    rng = np.random.default_rng(list(CALENDARS).index(name))
    start, end = random_intervals(rng, 60)
    got = cal.business_seconds(start, end)
    want = [reference_seconds(cal, s, e) for s, e in zip(start, end, strict=True)]
    assert isinstance(got, pd.Series) and got.index.equals(start.index)
    np.testing.assert_array_equal(got.to_numpy(), want)
    # end before start: the same time, negative
    np.testing.assert_array_equal(cal.business_seconds(end, start).to_numpy(), -got.to_numpy())


@pytest.mark.parametrize("name", list(CALENDARS))
def test_add_business_time_equals_reference_and_inverts(name):
    cal = CALENDARS[name]
    rng = np.random.default_rng(100 + list(CALENDARS).index(name))
    start, _ = random_intervals(rng, 40)
    seconds = rng.integers(0, 3 * 8 * 60, size=40) * 60
    due = cal.add_business_time(start, seconds)
    want = [reference_due(cal, s, x) for s, x in zip(start, seconds, strict=True)]
    assert list(due) == want
    np.testing.assert_array_equal(cal.business_seconds(start, due).to_numpy(), seconds)


def test_pauses_are_subtracted_once():
    cal = CALENDARS["berlin office"]
    rng = np.random.default_rng(7)
    start, end = random_intervals(rng, 30)
    rows, p_start, p_end = [], [], []
    for i in range(30):
        for _ in range(rng.integers(0, 4)):  # 0-3 pauses a row, possibly overlapping
            a = start[i] + pd.Timedelta(minutes=int(rng.integers(-600, 12 * 1440)))
            rows.append(i)
            p_start.append(a)
            p_end.append(a + pd.Timedelta(minutes=int(rng.integers(1, 3 * 1440))))
    pauses = pd.DataFrame({"row": rows, "start": p_start, "end": p_end})
    got = cal.business_seconds(start, end, pauses=pauses)
    for i in range(30):
        mine = pauses[pauses["row"] == i]
        want = reference_seconds(cal, start[i], end[i], zip(mine["start"], mine["end"],
                                                            strict=True))
        assert got[i] == want, i
    assert (got <= cal.business_seconds(start, end)).all()
    assert (pauses["row"].value_counts() >= 2).any()  # overlaps were really exercised


def test_windows_let_an_engine_compute_the_same_clock():
    cal = CALENDARS["new york saturdays"]
    start, end = random_intervals(np.random.default_rng(3), 50)
    table = cal.windows(min(start.min(), end.min()), max(start.max(), end.max()))
    assert table["opens"].is_monotonic_increasing and (table["closes"] > table["opens"]).all()

    def clock(t):  # as-of join, as SQL would do it
        at = pd.DataFrame({"t": t.to_numpy().astype("datetime64[ns]"), "i": np.arange(len(t))})
        at = at.sort_values("t")
        j = pd.merge_asof(at, table, left_on="t", right_on="opens").sort_values("i")
        inside = (j["t"] - j["opens"]).clip(lower=pd.Timedelta(0),
                                           upper=j["closes"] - j["opens"])
        return (j["worked_before"] + inside.dt.total_seconds()).fillna(0).to_numpy()

    np.testing.assert_array_equal(clock(end) - clock(start),
                                  cal.business_seconds(start, end).to_numpy())


def test_is_open():
    at = pd.Series(pd.to_datetime(["2024-01-15 07:59", "2024-01-15 08:00", "2024-01-15 15:59",
                                   "2024-01-15 16:00", "2024-01-13 10:00", None]))
    assert list(BERLIN.is_open(at)) == [False, True, True, False, False, False]
    assert BERLIN.is_open("2024-07-15 07:00") is True  # 09:00 in summer time
    lunch = CALENDARS["berlin lunch break"]
    assert not lunch.is_open("2024-01-15 11:45") and lunch.is_open("2024-01-15 12:00")


# -- shapes, missing values, speed ---------------------------------------------------------
def test_types_missing_values_and_broadcasting():
    start = np.array(["2024-01-15T08:00", "NaT", "2024-01-15T08:00"], dtype="datetime64[ns]")
    end = np.array(["2024-01-15T10:00", "2024-01-15T10:00", "NaT"], dtype="datetime64[ns]")
    got = BERLIN.business_seconds(start, end)
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, [2 * H, np.nan, np.nan])
    assert isinstance(BERLIN.business_seconds("2024-01-15 08:00", "2024-01-15 09:00"), float)
    # one end for many starts
    many = BERLIN.business_seconds(pd.Series(pd.to_datetime(["2024-01-15 08:00",
                                                             "2024-01-15 09:00"])),
                                   "2024-01-15 10:00")
    assert list(many) == [2 * H, H]
    due = BERLIN.add_business_time(pd.Series(pd.to_datetime(["2024-01-19 15:00", None])),
                                   pd.Timedelta(hours=2))
    assert due[0] == pd.Timestamp("2024-01-22 09:00") and pd.isna(due[1])
    assert BERLIN.add_business_time("2024-01-19 15:00", 0) == pd.Timestamp("2024-01-19 15:00")
    # a target reached exactly at closing is due at closing
    assert BERLIN.add_business_time("2024-01-19 08:00", 8 * H) == pd.Timestamp("2024-01-19 16:00")
    # a long target with many holidays in the way
    holidays = pd.date_range("2024-02-01", "2024-06-30", freq="D").date
    closed = BusinessCalendar("Europe/Berlin", holidays=holidays)
    assert closed.add_business_time("2024-01-31 15:00", 2 * H) == pd.Timestamp("2024-07-01 08:00")


def test_vectorised_speed():
    rng = np.random.default_rng(1)
    n = 200_000
    start = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365 * 1440, n),
                                                         unit="min")
    end = start + pd.to_timedelta(rng.integers(0, 20 * 1440, n), unit="min")
    import time

    t = time.process_time()
    got = BERLIN.business_seconds(start.to_numpy(), end.to_numpy())
    due = BERLIN.add_business_time(start.to_numpy(), np.full(n, 8 * H))
    assert time.process_time() - t < 5
    assert got.shape == (n,) and (got >= 0).all() and due.shape == (n,)


def test_bad_configuration_says_what_to_write():
    with pytest.raises(DataError, match="Unknown time zone 'Europe/Berlinn'"):
        BusinessCalendar("Europe/Berlinn")
    with pytest.raises(DataError, match="look like '09:00'"):
        BusinessCalendar(hours=("9", "17:00"))
    with pytest.raises(DataError, match="closing must be after opening"):
        BusinessCalendar(hours=("18:00", "08:00"))
    with pytest.raises(DataError, match="overlap"):
        BusinessCalendar(hours=[("08:00", "12:00"), ("11:00", "17:00")])
    with pytest.raises(DataError, match="must be a pair"):
        BusinessCalendar(hours="09:00-17:00")
    with pytest.raises(DataError, match="no hours for the workday.*fri"):
        BusinessCalendar(workdays=range(5), hours={"mon": ("09:00", "17:00"),
                                                   "tue": ("09:00", "17:00"),
                                                   "wed": ("09:00", "17:00"),
                                                   "thu": ("09:00", "17:00")})
    with pytest.raises(DataError, match="workdays must be 0-6"):
        BusinessCalendar(workdays=["someday"])
    with pytest.raises(DataError, match="at least one workday"):
        BusinessCalendar(workdays=[])
    with pytest.raises(DataError, match="is not a date"):
        BusinessCalendar(holidays=["christmas"])
    with pytest.raises(DataError, match="must be >= 0"):
        BERLIN.add_business_time("2024-01-15", -1)
    with pytest.raises(DataError, match="columns row, start, end"):
        BERLIN.business_seconds(["2024-01-15"], ["2024-01-16"], pauses=pd.DataFrame({"a": []}))
    with pytest.raises(DataError, match="positions 0..0"):
        BERLIN.business_seconds(["2024-01-15"], ["2024-01-16"], pauses=pd.DataFrame(
            {"row": [3], "start": ["2024-01-15"], "end": ["2024-01-16"]}))


def test_from_toml(tmp_path):
    p = tmp_path / "loyalist.toml"
    p.write_text('[calendar]\ntimezone = "America/New_York"\n'
                 'workdays = ["mon", "tue", "wed", "thu"]\nhours = ["08:00", "16:30"]\n'
                 'holidays = [2024-07-04, "2024-12-25"]\n\n[other]\nx = 1\n')
    cal = BusinessCalendar.from_toml(p)
    assert cal == BusinessCalendar("America/New_York", workdays=(0, 1, 2, 3),
                                   hours=("08:00", "16:30"),
                                   holidays=["2024-07-04", "2024-12-25"])
    assert cal.business_seconds("2024-07-03 12:00", "2024-07-05 23:00") == 8.5 * H
    p.write_text('[calendar]\ntimezone = "UTC"\nopening = "09:00"\n')
    with pytest.raises(DataError, match="Unknown calendar setting.*'opening'"):
        BusinessCalendar.from_toml(p)
    p.write_text('[calendar]\ntimezone = "Europe/Berlin"\n\n[calendar.hours]\n'
                 'mon = ["09:00", "17:00"]\nsat = [["10:00", "12:00"], ["13:00", "15:00"]]\n')
    shop = BusinessCalendar.from_toml(p)
    assert shop.workdays == (0, 5)
    assert shop.business_seconds("2024-01-13 00:00", "2024-01-16 00:00") == 12 * H
    with pytest.raises(SourceError, match="File not found"):
        BusinessCalendar.from_toml(tmp_path / "missing.toml")
