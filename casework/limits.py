"""Time limits as workflows write them: ``2h`` elapsed hours, ``16wh`` working hours, ``7wd``
working days.

A limit is data; what it means on a given start is the office calendar's business
(``casework.calendars``). Limits of the same unit add up (``7wd + 3wd = 10wd``), which is what
lets a deadline be moved or extended without asking which order things happened in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

ELAPSED_HOURS = "h"
WORKING_HOURS = "wh"
WORKING_DAYS = "wd"
UNITS = (ELAPSED_HOURS, WORKING_HOURS, WORKING_DAYS)
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(wh|wd|h)\s*$")
NOMINAL_HOURS = {ELAPSED_HOURS: 1, WORKING_HOURS: 3, WORKING_DAYS: 24}
"""Roughly how many elapsed hours one unit takes: only for ordering limits of different
units (an 8-hour working day spreads over a calendar day)."""
LONGEST_HOURS = 100 * 366 * 24
"""No limit is longer than a century: every deadline then lies within the years a time can."""


@dataclass(frozen=True, order=True)
class Limit:
    """``amount`` of ``unit`` (one of UNITS); working days are whole days."""

    amount: Decimal
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r} (units: {', '.join(UNITS)})")
        if self.amount <= 0:
            raise ValueError(f"a limit must be positive, not {self.amount}")
        if self.unit == WORKING_DAYS and self.amount != int(self.amount):
            raise ValueError(f"working days are whole days, not {self.amount}")
        if self.nominal_hours > LONGEST_HOURS:  # counted day by day, it would run off the calendar
            raise ValueError(f"{self} is longer than a century")

    @property
    def working(self) -> bool:
        """Counted on the calendar's working time (else in elapsed hours)."""
        return self.unit != ELAPSED_HOURS

    @property
    def nominal_hours(self) -> float:
        return float(self.amount) * NOMINAL_HOURS[self.unit]

    def __add__(self, other: Limit) -> Limit:
        if not isinstance(other, Limit):
            return NotImplemented
        if other.unit != self.unit:
            raise ValueError(f"cannot add {other} to {self}: different units")
        return Limit(self.amount + other.amount, self.unit)

    def __str__(self) -> str:
        return f"{self.amount.normalize():f}{self.unit}"


def parse_limit(text: object) -> Limit:
    """``2h``, ``16wh``, ``7wd`` (or a bare number of elapsed hours, as version 1 workflows
    write ``deadline_hours``); ValueError naming what is wrong."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a limit")
    if isinstance(text, int | float):
        return Limit(Decimal(str(text)), ELAPSED_HOURS)
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a limit (e.g. 2h elapsed hours, 16wh working hours, "
                         "7wd working days)")
    try:
        return Limit(Decimal(match.group(1)), match.group(2))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a limit") from None
