"""The two clocks of a case, as the events record them.

The **contact** clock runs from the unit accepting a case to its first successful contact
with the petitioner; the **resolution** clock from the assessment (or a reopening, or an
escalation) to the resolution. Each deadline is computed on the office calendar when the
command that starts the clock is accepted and is recorded in that event's changes, with the
limit it came from; replay reads it back and never consults a calendar. A case in a pausing
state stops the resolution clock: leaving the state moves the recorded deadline by the
paused working time, recorded in that event too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .calendars import Calendar
from .case import Case
from .errors import InvalidField
from .limits import Limit, parse_limit
from .views import CaseView
from .workflow import OPEN_STAGES, Grade, Workflow


def computed(deadline: Any) -> datetime:
    """Call ``deadline()``; a deadline past what the engine holds is the ``at`` given."""
    try:
        return deadline()
    except ValueError as error:
        raise InvalidField("at", str(error)) from None


def resolution_clock(calendar: Calendar, grade: Grade, start: datetime) -> dict[str, Any]:
    """The changes that start the grade's resolution clock at ``start``."""
    deadline = computed(lambda: calendar.deadline(start, grade.resolve))
    return {"deadline": deadline, "resolve_limit": str(grade.resolve), "resolve_from": start}


def contact_clock(calendar: Calendar, grade: Grade | None, start: datetime) -> dict[str, Any]:
    """The changes that start the contact clock (none for a grade without a contact limit)."""
    if grade is None or grade.contact is None:
        return {}
    limit = grade.contact
    deadline = computed(lambda: calendar.deadline(start, limit))
    return {"contact_deadline": deadline, "contact_limit": str(limit), "contact_from": start}


def limit_of(case: Case) -> Limit | None:
    return _limit(case.resolve_limit)


def pause_changes(calendar: Calendar, workflow: Workflow, case: Case, destination: str,
                  moment: datetime, changes: dict[str, Any]) -> dict[str, Any]:
    """Entering a pausing state stops the resolution clock; leaving one moves the deadline
    by the paused time (working time, or elapsed for a limit in elapsed hours). ``changes``:
    what the command's effects change; a clock they start anew starts unpaused."""
    pausing = workflow.states[destination].pauses
    if "resolve_from" in changes or "deadline" in changes:
        if pausing:
            return {"paused_since": moment}
        return {"paused_since": None} if case.paused_since is not None else {}
    if case.paused_since is None:
        return {"paused_since": moment} if pausing and case.deadline is not None else {}
    if pausing:
        return {}
    paused = calendar.paused_for(case.paused_since, moment, limit_of(case))
    resumed: dict[str, Any] = {"paused_since": None,
                               "paused_seconds": case.paused_seconds + paused.total_seconds()}
    if case.deadline is not None and paused > timedelta(0):
        resumed["deadline"] = computed(lambda: calendar.moved(case.deadline, paused,
                                                              limit_of(case)))
    return resumed


def clocks_of(calendar: Calendar, view: CaseView, now: datetime) -> dict[str, dict[str, Any]]:
    """A case's two clocks at ``now``, as ``show`` gives them: deadline, the limit it came
    from, whether it runs, stands still (paused), stopped in time or late, the time left
    (working hours for a limit in working time) and the time paused."""
    clocks: dict[str, dict[str, Any]] = {}
    closed = view.stage not in OPEN_STAGES
    if view.contact_deadline is not None:
        clocks["contact"] = _clock(calendar, view.contact_deadline, view.contact_limit,
                                   view.contacted_at, None, now)
        if closed and view.contacted_at is None:
            clocks["contact"].update(status="not reached", left_hours=None)
    if view.deadline is not None:
        clock = _clock(calendar, view.deadline, view.resolve_limit, None,
                       view.paused_since, now)
        if closed:  # stopped: the report judges it met or late at its resolution
            clock.update(status="stopped", left_hours=None)
        paused = view.paused_seconds / 3600
        if view.paused_since is not None:
            paused += calendar.paused_for(view.paused_since, now,
                                          _limit(view.resolve_limit)).total_seconds() / 3600
        clocks["resolve"] = {**clock, "paused_hours": round(paused, 2)}
    return clocks


def _clock(calendar: Calendar, deadline: datetime, limit_text: str | None,
           stopped: datetime | None, paused_since: datetime | None, now: datetime
           ) -> dict[str, Any]:
    limit = _limit(limit_text)
    until = paused_since or stopped or now
    if until > deadline:
        left = -(calendar.working_length(deadline, until) if limit is None or limit.working
                 else until - deadline)
    else:
        left = calendar.working_length(until, deadline) if limit is None or limit.working \
            else deadline - until
    if stopped is not None:
        status = "met" if stopped <= deadline else "late"
    elif paused_since is not None:
        status = "paused"
    else:
        status = "running" if now <= deadline else "overdue"
    return {"deadline": deadline, "limit": limit_text, "status": status,
            "left_hours": round(left.total_seconds() / 3600, 2),
            "working": limit is None or limit.working}


def _limit(text: str | None) -> Limit | None:
    return None if text is None else parse_limit(text)
