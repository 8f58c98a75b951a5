"""The office calendar: which moments are working time, and what a limit means from a start.

A working day has the calendar's working hours (e.g. 09:00–12:00 and 13:00–18:00 in the
office's time zone). Which days are working days: first the calendar file's own days (this
year's holiday notice, loaded before any library knows it), then the base — China's statutory
holidays and make-up working days (调休) from ``chinese-calendar``, or plain Monday to Friday.

``chinese-calendar`` and not ``holidays``: ``holidays.China`` lists the days off (a moved day
off is named "substituted from 09/29/2024") but has no set of make-up working days, so a
Sunday like 29 September 2024 reads as a day off there; ``chinese_calendar.workdays`` has it.

Every time given and returned is aware; returned times are UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from .limits import ELAPSED_HOURS, WORKING_DAYS, Limit
from .timestamps import LATEST, deadline_after

CHINA = "chinese-calendar"
WEEKDAYS = "weekdays"
BASES = (CHINA, WEEKDAYS)
SEARCH_DAYS = 3 * 366
"""How far to look for a working day before deciding a calendar has none."""
CACHED_DAYS = 4096
"""Days (and day-and-count pairs) a calendar remembers the answers for, besides computing
them: a replay asks about the same few hundred days tens of thousands of times (a third of
a ``whatif`` was spent here); beyond this many the memory is emptied and starts again."""
_CHINA_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    hours: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13), time(18)))
    """A working day's working periods, local times in order, none overlapping."""
    base: str = CHINA
    days: Mapping[date, bool] = field(default_factory=dict)
    """Days the calendar file sets: True a working day, False a day off."""
    name: str = "office"
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False,
                                  compare=False)
    """Answers worked out already, by (question, day[, count]): what they depend on (the
    zone, hours, base and days) cannot change, as ``days`` is frozen here."""

    def __post_init__(self) -> None:
        # A read-only copy: the memory would go stale if the caller's dict changed later.
        object.__setattr__(self, "days", MappingProxyType(dict(self.days)))

    def _remember(self, key: Any, value: Any) -> Any:
        if len(self._memo) >= CACHED_DAYS:
            self._memo.clear()
        self._memo[key] = value
        return value

    # Days --------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        known = self._memo.get(day)
        if known is None:
            known = self._remember(day, self._is_working_day(day))
        return known  # type: ignore[no-any-return]

    def _is_working_day(self, day: date) -> bool:
        if day in self.days:
            return self.days[day]
        if self.base == CHINA and day.year in _CHINA_YEARS:
            if day in chinese_calendar.workdays:
                return True
            return day.weekday() < 5 and day not in chinese_calendar.holidays
        return day.weekday() < 5

    def working_days_from(self, day: date) -> Iterator[date]:
        """The working days from ``day`` on (itself included when it is one)."""
        misses = 0
        while misses < SEARCH_DAYS:
            if self.is_working_day(day):
                misses = 0
                yield day
            else:
                misses += 1
            day += timedelta(days=1)
        raise ValueError(f"calendar {self.name}: no working day in {SEARCH_DAYS} days "
                         f"before {day.isoformat()}")

    def periods_of(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of a working day, as UTC times."""
        return list(self._periods(day))

    def _periods(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        key = ("periods", day)
        periods = self._memo.get(key)
        if periods is None:
            periods = self._remember(key, tuple(
                (datetime.combine(day, start, self.zone).astimezone(UTC),
                 datetime.combine(day, end, self.zone).astimezone(UTC))
                for start, end in self.hours))
        return periods  # type: ignore[no-any-return]

    def periods_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working periods from ``moment`` on; the first one clipped to start there."""
        for day in self.working_days_from(self.local_day(moment)):
            for start, end in self._periods(day):
                if end > moment:
                    yield max(start, moment), end

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    # Moments -----------------------------------------------------------------------------

    def is_working_time(self, moment: datetime) -> bool:
        """Within a working period, its ends included (a deadline at 18:00 is on time)."""
        if not self.is_working_day(self.local_day(moment)):
            return False
        return any(start <= moment <= end for start, end in self._periods(self.local_day(moment)))

    def working_length(self, start: datetime, end: datetime) -> timedelta:
        """How much working time lies between two moments (nothing when end is not later)."""
        total = timedelta(0)
        if end <= start:
            return total
        for begin, finish in self.periods_from(start):
            if begin >= end:
                break
            total += min(finish, end) - begin
        return total

    def add_working(self, start: datetime, length: timedelta) -> datetime:
        """The moment when ``length`` of working time has passed since ``start``: inside a
        working period, or at the end of one."""
        left = length
        last = start.astimezone(UTC)
        for begin, finish in self.periods_from(start):
            last = begin + left
            if last <= finish:
                return _within_range(last, start, length)
            left -= finish - begin
        return last  # pragma: no cover - periods_from raises before it runs out

    def end_of_working_days(self, start: datetime, count: int) -> datetime:
        """The end of the ``count``-th working day after the day of ``start`` (the day a
        case arrives does not count, as offices count 7 working days)."""
        key = ("end", self.local_day(start), count)
        end = self._memo.get(key)
        if end is None:
            days = self.working_days_from(key[1] + timedelta(days=1))
            for _ in range(count - 1):
                next(days)
            end = self._remember(key, self._periods(next(days))[-1][1])
        return _within_range(end, start, count)

    def deadline(self, start: datetime, limit: Limit) -> datetime:
        """The deadline ``limit`` after ``start``; ValueError when it is past LATEST."""
        if limit.unit == ELAPSED_HOURS:
            return deadline_after(start.astimezone(UTC), float(limit.amount))
        if limit.unit == WORKING_DAYS:
            return self.end_of_working_days(start, int(limit.amount))
        return self.add_working(start, timedelta(hours=float(limit.amount)))

    def moved(self, deadline: datetime, paused: timedelta, limit: Limit | None) -> datetime:
        """A deadline moved by a pause of ``paused`` working time (elapsed time for a limit in
        elapsed hours)."""
        if limit is not None and not limit.working:
            return deadline + paused
        return self.add_working(deadline, paused)

    def paused_for(self, since: datetime, until: datetime, limit: Limit | None) -> timedelta:
        """How long a pause from ``since`` to ``until`` counts: its working length (its
        elapsed length for a limit in elapsed hours)."""
        if limit is not None and not limit.working:
            return max(until - since, timedelta(0))
        return self.working_length(since, until)


def _within_range(moment: datetime, start: datetime, what: object) -> datetime:
    if moment >= LATEST:
        raise ValueError(f"a deadline {what} after {start.isoformat()} is past {LATEST.year - 1}")
    return moment
