"""When a clock is due soon: before it breaches, so that a unit can act.

A workflow says it in its settings: ``due_soon_fraction`` (due soon when less than this
share of the clock's time is left) and ``due_soon_within`` (a limit: due soon when the
deadline falls within it from now). Either makes a clock due soon; a workflow with neither
warns of nothing. Time left is counted as the clock counts: working time for a limit in
working time, elapsed time for one in elapsed hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .calendars import Calendar
from .limits import Limit, parse_limit
from .workflow import Workflow

RESOLVE, CONTACT = "resolve", "contact"
CLOCKS = (CONTACT, RESOLVE)


@dataclass(frozen=True)
class Warning:
    """What makes a clock of a workflow due soon."""

    fraction: float | None
    within: Limit | None

    @classmethod
    def of(cls, workflow: Workflow) -> Warning | None:
        fraction = workflow.settings.get("due_soon_fraction")
        within = workflow.settings.get("due_soon_within")
        if fraction is None and within is None:
            return None
        return cls(None if fraction is None else float(fraction),
                   None if within is None else parse_limit(within))

    def due_soon(self, calendar: Calendar, now: datetime, start: datetime | None,
                 deadline: datetime, limit: Limit | None) -> bool:
        """Whether a clock from ``start`` to ``deadline`` (by ``limit``) is due soon at
        ``now``: not yet past, and close by either rule."""
        if deadline <= now:
            return False
        if self.within is not None and deadline <= calendar.deadline(now, self.within):
            return True
        if self.fraction is None or start is None:
            return False
        if limit is not None and not limit.working:
            left, total = deadline - now, deadline - start
        else:
            left = calendar.working_length(now, deadline)
            total = calendar.working_length(start, deadline)
        return left < total * self.fraction
