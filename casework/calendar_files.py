"""Reading the office's calendar: the office file names the calendar and the time zone, the
calendar file gives working hours, a base of holidays and the days it adds or overrides.

``office.toml`` (beside the organisation's CSV files)::

    calendar = "cn_mainland"        # workflows/calendars/cn_mainland.toml
    timezone = "Asia/Shanghai"

A calendar file (``workflows/calendars/NAME.toml``)::

    base = "chinese-calendar"       # or "weekdays": Monday to Friday
    hours = ["09:00-12:00", "13:00-18:00"]
    off = ["2027-02-15..2027-02-21"]   # days off: a day or a range, both ends included
    work = ["2027-02-14"]              # make-up working days (调休)
"""

from __future__ import annotations

import tomllib
from datetime import date, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workflows import CALENDARS, ORGANISATION

from .calendars import BASES, Calendar
from .errors import CalendarError

OFFICE_FILE = "office.toml"


def office_zone(organisation: str | Path | None = None) -> ZoneInfo:
    """The office's time zone, as the office file beside ``organisation`` names it: what a
    time a user gives without an offset means (read without building the calendar)."""
    office, data = _office_file(organisation)
    return _zone(office, data.get("timezone", "UTC"))


def office_calendar(organisation: str | Path | None = None) -> Calendar:
    """The calendar the office file beside ``organisation`` (a folder or a CSV file) names;
    the shipped office file when there is none there."""
    office, data = _office_file(organisation)
    zone = _zone(office, data.get("timezone", "UTC"))
    name = data.get("calendar")
    if not isinstance(name, str) or not name:
        raise CalendarError(f"{office}: 'calendar' must name a file in {CALENDARS}")
    path = Path(name) if name.endswith(".toml") else CALENDARS / f"{name}.toml"
    return load_calendar(path, zone)


def _office_file(organisation: str | Path | None) -> tuple[Path, dict[str, Any]]:
    """The office file beside ``organisation`` (the shipped one when there is none there)
    and what it says."""
    place = Path(organisation) if organisation is not None else ORGANISATION
    folder = place if place.is_dir() else place.parent
    office = folder / OFFICE_FILE
    if not office.is_file():
        office = ORGANISATION / OFFICE_FILE
    return office, _read(office)


def load_calendar(path: str | Path, zone: ZoneInfo) -> Calendar:
    """The calendar in a calendar file, in the office's time zone."""
    path = Path(path)
    data = _read(path)
    unknown = set(data) - {"base", "hours", "off", "work", "description"}
    if unknown:
        raise CalendarError(f"{path}: unknown key {sorted(unknown)[0]!r} "
                            "(keys: base, hours, off, work, description)")
    base = data.get("base", "weekdays")
    if base not in BASES:
        raise CalendarError(f"{path}: base {base!r} is not one of {', '.join(BASES)}")
    days: dict[date, bool] = {}
    for key, working in (("off", False), ("work", True)):
        for entry in _list(path, data, key):
            for day in _days(path, key, entry):
                if days.get(day, working) != working:
                    raise CalendarError(f"{path}: {day.isoformat()} is both off and work")
                days[day] = working
    hours = tuple(_period(path, text) for text in _list(path, data, "hours")) \
        or Calendar.hours
    if any(a[1] > b[0] for a, b in pairwise(hours)):
        raise CalendarError(f"{path}: working hours must be in order and not overlap")
    return Calendar(zone, hours, base, days, path.stem)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise CalendarError(f"{path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise CalendarError(f"{path}: not TOML ({error})") from None


def _zone(path: Path, name: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"{path}: no time zone {name!r} (e.g. Asia/Shanghai)") from None


def _list(path: Path, data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str | date) for item in value):
        raise CalendarError(f"{path}: {key!r} must be a list of texts")
    return value


def _days(path: Path, key: str, entry: str | date) -> list[date]:
    if isinstance(entry, date):
        return [entry]
    first, _, last = entry.partition("..")
    try:
        start = date.fromisoformat(first.strip())
        end = date.fromisoformat(last.strip()) if last else start
    except ValueError:
        raise CalendarError(f"{path}: {key}: {entry!r} is not a day (2027-02-14) "
                            "or a range (2027-02-15..2027-02-21)") from None
    if end < start or (end - start).days > 366:
        raise CalendarError(f"{path}: {key}: {entry!r} is not a range of at most a year")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _period(path: Path, text: str) -> tuple[time, time]:
    first, _, last = text.partition("-")
    try:
        start, end = time.fromisoformat(first.strip()), time.fromisoformat(last.strip())
    except ValueError:
        raise CalendarError(f"{path}: hours: {text!r} is not a period (09:00-12:00)") from None
    if end <= start:
        raise CalendarError(f"{path}: hours: {text!r} ends before it starts")
    return start, end
