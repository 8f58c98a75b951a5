"""Business time: every ``at`` the engine stores is a timezone-aware datetime.

Callers may pass naive datetimes or ISO 8601 text; a naive value means the office's time
zone (the application passes it; UTC where none is given), never the machine's, so that the
same input always means the same instant. Stored times are aware.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def as_utc(moment: datetime, zone: tzinfo = UTC) -> datetime:
    """The same instant as an aware datetime with a fixed offset (naive means ``zone``).

    A zone with daylight saving (ZoneInfo) becomes its offset at that instant, so that adding
    "72 hours" to it means 72 elapsed hours, whatever the clocks do meanwhile."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    offset = moment.utcoffset()
    if offset is None:  # a tzinfo that knows no offset: as naive
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(timezone(offset))


def parse_time(value: datetime | str, zone: tzinfo = UTC) -> datetime:
    """An aware datetime from a datetime or ISO 8601 text (naive: in ``zone``); ValueError if
    it is not one.

    Only times from EARLIEST to LATEST pass, so that adding any deadline to one, or
    converting it to UTC, stays within what a datetime can hold (year 9999 -05:00 cannot)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty time")
        if not text.isprintable():
            raise ValueError(f"{text!r} contains control or invalid characters")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2024-05-26T09:30)") from None
    if not isinstance(value, datetime):
        raise ValueError(f"{value!r} is not a time")
    try:
        moment = as_utc(value, zone)
        within = EARLIEST <= moment < LATEST
    except OverflowError:  # so far out that even its UTC time is not a datetime
        within = False
    if not within:
        raise ValueError(f"{value.isoformat()} is outside {EARLIEST.year}..{LATEST.year - 1}")
    return moment


def deadline_after(moment: datetime, hours: float) -> datetime:
    """``hours`` after ``moment``; ValueError if that is past LATEST (or past year 9999)."""
    try:
        deadline = moment + timedelta(hours=hours)
        within = deadline < LATEST
    except OverflowError:
        within = False
    if not within:
        raise ValueError(f"a deadline {hours:g} hours after {moment.isoformat()} is past "
                         f"{LATEST.year - 1}")
    return deadline


def utc_now() -> datetime:
    return datetime.now(UTC)


def naive_utc(moment: datetime | None) -> datetime | None:
    """The instant as a naive UTC datetime: how the tables beside the events store times, the
    same on SQLite and PostgreSQL."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None)


def aware_utc(moment: datetime | None) -> datetime | None:
    """A naive UTC datetime of those tables as the aware instant it stands for (the inverse
    of ``naive_utc``)."""
    return None if moment is None else moment.replace(tzinfo=UTC)


def utc_iso(moment: datetime | None) -> str | None:
    """A naive UTC datetime of those tables in ISO 8601, marked UTC (``Z``)."""
    return None if moment is None else moment.isoformat() + "Z"


def local_day(moment: datetime, zone: tzinfo) -> str:
    """The day (ISO date) in ``zone`` of ``moment``, naive UTC as the read models store it."""
    return moment.replace(tzinfo=UTC).astimezone(zone).date().isoformat()
