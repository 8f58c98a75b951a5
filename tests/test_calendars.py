"""The office calendar: working days (with China's 调休), working hours, and limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework.calendar_files import load_calendar, office_calendar
from casework.calendars import CACHED_DAYS, Calendar
from casework.errors import CalendarError
from casework.limits import Limit, parse_limit

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = office_calendar()


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_the_office_calendar_is_chinas_in_shanghai_time() -> None:
    assert CALENDAR.zone == SHANGHAI
    assert CALENDAR.base == "chinese-calendar"


def test_chinese_calendar_knows_make_up_working_days_and_holidays_does_not() -> None:
    """Why the calendar is built on ``chinese-calendar``: Sunday 29 September 2024 was a
    working day (调休 for National Day). ``holidays`` names only the moved days off."""
    sunday = date(2024, 9, 29)
    assert chinese_calendar.is_workday(sunday)
    china = holidays.China(years=2024)
    assert sunday not in china and date(2024, 10, 4) in china  # a day off, but no working day
    assert CALENDAR.is_working_day(sunday)


def test_the_2024_national_day_week() -> None:
    off = [date(2024, 10, day) for day in range(1, 8)]
    assert not any(CALENDAR.is_working_day(day) for day in off)
    assert CALENDAR.is_working_day(date(2024, 9, 29))   # Sunday, working
    assert CALENDAR.is_working_day(date(2024, 10, 12))  # Saturday, working
    assert not CALENDAR.is_working_day(date(2024, 10, 13))


def test_working_days_across_the_national_day_holiday() -> None:
    # Accepted on Monday 30 September: the 7 working days after it are 8–12 (Saturday 12
    # working) and 14–15 October.
    start = local(2024, 9, 30, 16)
    assert CALENDAR.deadline(start, parse_limit("7wd")) == local(2024, 10, 15, 18)
    # Accepted on Saturday 28 September (a day off): Sunday 29 is the first working day.
    assert CALENDAR.deadline(local(2024, 9, 28, 10), parse_limit("1wd")) == local(2024, 9, 29, 18)
    # Working hours skip the whole week off.
    assert CALENDAR.deadline(start, parse_limit("4wh")) == local(2024, 10, 8, 11)


def test_working_days_across_a_weekend() -> None:
    friday = local(2024, 5, 24, 15)
    assert CALENDAR.deadline(friday, parse_limit("1wd")) == local(2024, 5, 27, 18)
    assert CALENDAR.deadline(friday, parse_limit("5wd")) == local(2024, 5, 31, 18)


def test_working_hours_across_the_end_of_a_working_day_and_the_lunch_break() -> None:
    afternoon = local(2024, 5, 23, 16)  # Thursday, two working hours left that day
    assert CALENDAR.deadline(afternoon, parse_limit("4wh")) == local(2024, 5, 24, 11)
    assert CALENDAR.deadline(afternoon, parse_limit("2wh")) == local(2024, 5, 23, 18)
    morning = local(2024, 5, 23, 11)
    assert CALENDAR.deadline(morning, parse_limit("2wh")) == local(2024, 5, 23, 14)
    evening = local(2024, 5, 23, 20)  # after hours: the clock starts next morning
    assert CALENDAR.deadline(evening, parse_limit("1wh")) == local(2024, 5, 24, 10)


def test_elapsed_hours_run_across_midnight_and_days_off() -> None:
    late = local(2024, 9, 30, 23)
    assert CALENDAR.deadline(late, parse_limit("2h")) == local(2024, 10, 1, 1)
    assert CALENDAR.deadline(late, parse_limit("24h")) == local(2024, 10, 1, 23)


@pytest.mark.parametrize("text", ["87000000h", "99999999999h", "99999999999wh", "99999999999wd"])
def test_a_limit_past_the_last_year_is_refused_as_a_value_error(text: str) -> None:
    """As a command refuses it (InvalidField), not an OverflowError's traceback: a limit
    longer than a century is refused before it is counted (day by day, a working limit
    would run off the last year a date can have)."""
    with pytest.raises(ValueError, match="longer than a century"):
        CALENDAR.deadline(local(2027, 1, 4, 9), parse_limit(text))


def test_working_length_of_an_interval() -> None:
    # Friday 17:00 to Monday 10:00: one hour on Friday, one on Monday.
    assert CALENDAR.working_length(local(2024, 5, 24, 17), local(2024, 5, 27, 10)) \
        == timedelta(hours=2)
    # The National Day week has no working time.
    assert CALENDAR.working_length(local(2024, 10, 1), local(2024, 10, 8)) == timedelta(0)


def test_limits_parse_and_add() -> None:
    assert parse_limit("2h") == Limit(2, "h")
    assert parse_limit("16wh") + parse_limit("8wh") == parse_limit("24wh")
    assert str(parse_limit("7wd")) == "7wd"
    assert parse_limit(72) == parse_limit("72h")
    for bad in ("", "7", "7d", "-2h", "0wd", "1.5wd", True):
        with pytest.raises(ValueError):
            parse_limit(bad)


NOTICE_2025 = '''
base = "weekdays"
hours = ["09:00-12:00", "13:00-18:00"]
off = ["2025-01-01", "2025-01-28..2025-02-04", "2025-04-04..2025-04-06",
       "2025-05-01..2025-05-05", "2025-05-31..2025-06-02", "2025-10-01..2025-10-08"]
work = ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]
'''


def test_a_years_holiday_notice_in_the_file_matches_the_library(tmp_path: Path) -> None:
    """The README's example: the State Council's notice for 2025, typed into a calendar file
    on a plain Monday-to-Friday base, gives the same working days as ``chinese-calendar``."""
    path = tmp_path / "notice.toml"
    path.write_text(NOTICE_2025, encoding="utf-8")
    typed = load_calendar(path, SHANGHAI)
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(365)]
    assert [typed.is_working_day(day) for day in days] \
        == [CALENDAR.is_working_day(day) for day in days]


def test_the_file_overrides_the_library(tmp_path: Path) -> None:
    path = tmp_path / "local.toml"
    path.write_text('base = "chinese-calendar"\noff = ["2024-05-27"]\nwork = ["2024-05-26"]\n',
                    encoding="utf-8")
    calendar = load_calendar(path, SHANGHAI)
    assert not calendar.is_working_day(date(2024, 5, 27))
    assert calendar.is_working_day(date(2024, 5, 26))


@pytest.mark.parametrize("text", ['base = "moon"', 'off = ["2024-13-01"]',
                                  'hours = ["18:00-09:00"]',
                                  'off = ["2024-05-27"]\nwork = ["2024-05-27"]', "nonsense = 1",
                                  "off = ["])
def test_a_bad_calendar_file_is_refused_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError, match=r"bad\.toml"):
        load_calendar(path, SHANGHAI)


# Properties ------------------------------------------------------------------------------

starts = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31),
                      timezones=st.just(UTC))
working_limits = st.one_of(
    st.builds(lambda n: Limit(n, "wd"), st.integers(1, 20)),
    st.builds(lambda n: Limit(n, "wh"), st.integers(1, 120)),
)
same_unit_pairs = st.sampled_from(["wd", "wh", "h"]).flatmap(
    lambda unit: st.tuples(*[st.builds(lambda n, u=unit: Limit(n, u), st.integers(1, 60))] * 2))


@given(starts, working_limits)
def test_a_deadline_in_working_time_is_working_time(start: datetime, limit: Limit) -> None:
    deadline = CALENDAR.deadline(start, limit)
    assert deadline > start
    assert CALENDAR.is_working_time(deadline)


@given(starts, same_unit_pairs)
def test_adding_limits_is_associative(start: datetime, pair: tuple[Limit, Limit]) -> None:
    first, second = pair
    assert CALENDAR.deadline(CALENDAR.deadline(start, first), second) \
        == CALENDAR.deadline(start, first + second)


@given(starts, working_limits, starts, st.integers(0, 30 * 24 * 60))
def test_a_pause_moves_the_deadline_by_exactly_its_working_length(
        start: datetime, limit: Limit, paused_from: datetime, minutes: int) -> None:
    deadline = CALENDAR.deadline(start, limit)
    paused = CALENDAR.working_length(paused_from, paused_from + timedelta(minutes=minutes))
    moved = CALENDAR.moved(deadline, paused, limit)
    assert CALENDAR.working_length(deadline, moved) == paused
    assert paused == timedelta(0) or CALENDAR.is_working_time(moved)


def test_a_calendar_without_working_days_is_refused() -> None:
    never = Calendar(SHANGHAI, base="weekdays",
                     days={date(2024, 1, 1) + timedelta(days=n): False for n in range(3 * 366)})
    with pytest.raises(ValueError, match="no working day"):
        never.deadline(local(2024, 1, 1, 9), parse_limit("1wd"))



@given(starts, working_limits)
def test_a_calendar_that_remembers_its_days_gives_the_deadlines_of_a_fresh_one(
        start: datetime, limit: Limit) -> None:
    """``Calendar`` remembers per day whether it works and when: the same answers as a
    calendar asked for the first time (the shared one has answered many questions)."""
    fresh = Calendar(CALENDAR.zone, CALENDAR.hours, CALENDAR.base, dict(CALENDAR.days))
    assert CALENDAR.deadline(start, limit) == fresh.deadline(start, limit)
    assert CALENDAR.deadline(start, limit) == fresh.deadline(start, limit)  # remembered
    day = CALENDAR.local_day(start)
    assert CALENDAR.is_working_day(day) == fresh.is_working_day(day)
    assert CALENDAR.periods_of(day) == fresh.periods_of(day)


def test_the_days_a_calendar_is_given_are_read_when_it_is_made() -> None:
    """What it remembers cannot go stale: changing the mapping it was given changes
    nothing (the calendar keeps a frozen copy)."""
    national_day = date(2024, 10, 1)
    days = {national_day: True}
    calendar = Calendar(SHANGHAI, days=days)
    assert calendar.is_working_day(national_day)
    days[national_day] = False
    assert calendar.is_working_day(national_day) and calendar.days[national_day]
    with pytest.raises(TypeError):
        calendar.days[national_day] = False  # type: ignore[index]


def test_what_a_calendar_remembers_stays_bounded() -> None:
    calendar = Calendar(SHANGHAI)
    first = date(2000, 1, 1)
    for n in range(2 * CACHED_DAYS + 10):
        calendar.is_working_day(first + timedelta(days=n))
    assert len(calendar._memo) <= CACHED_DAYS
    assert calendar.is_working_day(date(2024, 9, 29))  # 调休: still right after forgetting
