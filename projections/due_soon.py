"""Cases due soon, by unit: open clocks not yet past their deadline but close to it, by the
rules their workflow sets (``casework.due_soon``). What ``casework sweep`` lists besides
what it escalates, and what a unit looks at before a case breaches.

The candidates come from the read model (open, in time, not paused); whether each is due
soon is decided on the office calendar, which SQL cannot count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select

from casework.calendars import Calendar
from casework.due_soon import CONTACT, RESOLVE, Warning
from casework.limits import parse_limit
from casework.timestamps import aware_utc, naive_utc, utc_now

from .filters import is_open, unit_within
from .read_model import ReadModel
from .tables import case_summary

_c = case_summary.c


@dataclass(frozen=True)
class DueSoon:
    """One clock of one case that is due soon."""

    case: str
    kind: str
    unit: str | None
    grade: str | None
    clock: str
    """``contact`` or ``resolve``."""
    deadline: datetime
    left_hours: float
    """Time left, in working hours (elapsed hours for a clock in elapsed hours)."""

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case, "kind": self.kind, "unit": self.unit, "grade": self.grade,
                "clock": self.clock, "deadline": self.deadline.isoformat(),
                "left_hours": round(self.left_hours, 2)}


def due_soon(read_model: ReadModel, now: datetime | None = None, unit: str | None = None,
             calendar: Calendar | None = None,
             warning_of: Callable[[str, int], Warning | None] | None = None,
             where: ColumnElement[bool] | None = None) -> list[DueSoon]:
    """The clocks due soon at ``now``, by unit then deadline; ``unit``: that unit and those
    below it only. ``calendar`` and ``warning_of`` (kind, version → its rule): those of
    another policy (``casework whatif``), else the office's and each case's workflow's;
    ``where``: among the cases it selects only."""
    read_model.catch_up()
    app = read_model.app
    calendar = calendar or app.calendar
    warning_of = warning_of or (lambda kind, version: Warning.of(app.workflows.get(kind,
                                                                                   version)))
    moment = now or utc_now()
    at = naive_utc(moment)
    resolve = and_(_c.deadline > at, _c.paused_since.is_(None), _c.resolved_at.is_(None),
                   _c.missed_deadline.is_(False))
    contact = and_(_c.contact_deadline > at, _c.contacted_at.is_(None))
    query = select(case_summary).where(is_open(), or_(resolve, contact))
    if unit is not None:
        query = query.where(unit_within(unit))
    if where is not None:
        query = query.where(where)
    warnings: dict[tuple[str, int], Warning | None] = {}
    found: list[DueSoon] = []
    with read_model.engine.connect() as conn:
        for row in conn.execution_options(yield_per=2000).execute(query):
            key = (row.kind, row.workflow_version)
            if key not in warnings:
                warnings[key] = warning_of(*key)
            warning = warnings[key]
            if warning is not None:
                found += _clocks_due(calendar, warning, moment, row)
    return sorted(found, key=lambda due: (due.unit or "", due.deadline, due.case))


def _clocks_due(calendar: Any, warning: Warning, now: datetime, row: Any) -> list[DueSoon]:
    clocks = []
    if row.resolved_at is None and row.paused_since is None and not row.missed_deadline \
            and row.deadline is not None:
        clocks.append((RESOLVE, row.resolve_from, row.deadline, row.resolve_limit))
    if row.contacted_at is None and row.contact_deadline is not None:
        clocks.append((CONTACT, row.contact_from, row.contact_deadline, row.contact_limit))
    found = []
    for clock, start, deadline, limit_text in clocks:
        limit = None if limit_text is None else parse_limit(limit_text)
        begin, end = aware_utc(start), aware_utc(deadline)
        assert end is not None
        if warning.due_soon(calendar, now, begin, end, limit):
            left = (end - now if limit is not None and not limit.working
                    else calendar.working_length(now, end))
            found.append(DueSoon(row.id, row.kind, row.unit, row.grade, clock, end,
                                 left.total_seconds() / 3600))
    return found
