"""``casework whatif``: a period's recorded histories replayed under the policy in force and
under a candidate, side by side, without writing anything to the history (the read model is
caught up, as a report does).

The rows as recorded are the live read model's (caught up first, as a report catches it up;
``casework audit`` checks they are what a replay folds): those of the period's cases are
copied into a scratch read model (a temporary SQLite file: ``projections.scratch``). One walk
over the notification log then finds the cases the candidate would have recorded otherwise
(``casework.whatif.under_policy``: the deadlines to resolve and to contact its grade limits
and calendar give) and the commands it would refuse, without folding anything; only the
cases that diverged are folded, whole, as recorded and under the candidate
(``projections.whatif_replay``), and only the rows that come out different are kept a second
time. Without a live read model to copy (PostgreSQL, or one that cannot catch up) the walk
folds the period's events as recorded into the scratch model as it goes. The candidate's
rows are then the recorded ones with the diverged ones in their place, and so are its units'
accounts: a diverged case's entries are those its fold under the candidate gives, where they
differ from the recorded ones (a deadline met or breached otherwise, a contact made in time
or late). The report over each is computed by the report's own code (the three rates by each
side's settings), the figures are compared leaf by leaf, and the diverged cases row by row
for the verdicts that change on each clock.

What the candidate changes is what a policy decides: deadlines, hence what is late, and so
when the nightly sweep would have escalated a case (and, at ``now``, what it would warn of
and close: ``projections.whatif_sweep``). Those are listed, not replayed (what the people
did afterwards would have been different, and is not known).
Commands the candidate would have refused are listed, and replayed as recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from casework import Casework
from casework.assessment import AssessmentRules
from casework.timestamps import naive_utc, utc_now
from casework.whatif import CONTACT, RESOLVE, IllegalCommand, Policy

from .filters import Filters
from .read_model import ProjectionError, ReadModel
from .report import Report, report, verdicts
from .scratch import ScratchReadModel, diverged_summary, notification_pages
from .tables import case_summary, projection_tracking
from .verification import differences
from .whatif_replay import EscalationChange, Replay, iso_or_none
from .whatif_sweep import SweepChange, sweep_changes

LATE, ON_TIME, OVERDUE, IN_TIME = "late", "on time", "overdue", "in time"
CONTACTED_IN_TIME, CONTACTED_LATE = "contacted in time", "contacted late"
NOT_REACHED, NOT_CONTACTED_OVERDUE, NOT_CONTACTED_YET = (
    "not reached", "not contacted, overdue", "not contacted yet")
"""How a case is judged on the contact clock, as the report judges it: contacted by the
deadline or after it, finished without being reached past it, open past it, open before it."""


@dataclass(frozen=True)
class ChangedCase:
    """A case judged differently against one of its deadlines under the candidate (a case
    judged differently on both clocks is listed once per clock)."""

    case_id: str
    kind: str
    grade: str | None
    in_force: str | None
    candidate: str | None
    deadline_in_force: datetime | None
    deadline_candidate: datetime | None
    clock: str = RESOLVE
    """``resolve`` (the deadline to resolve) or ``contact`` (to reach the petitioner)."""

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "kind": self.kind, "grade": self.grade,
                "clock": self.clock, "in_force": self.in_force, "candidate": self.candidate,
                "deadline_in_force": iso_or_none(self.deadline_in_force),
                "deadline_candidate": iso_or_none(self.deadline_candidate)}


@dataclass(frozen=True)
class WhatIf:
    in_force: Report
    candidate: Report
    figures: list[tuple[str, Any, Any]]
    """(figure path, in force, candidate) for every figure that differs."""
    changed_cases: list[ChangedCase]
    escalations: list[EscalationChange]
    illegal: list[IllegalCommand]
    events: int
    """Events read (the whole log, up to its end when the run started)."""
    replayed: int
    """Events of the period's cases folded (under each policy)."""
    sweep: list[SweepChange] = field(default_factory=list)
    """The due-soon warnings and default closes of the sweep at ``now`` that would change."""

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "replayed": self.replayed,
                "figures": [{"figure": path, "in_force": before, "candidate": after}
                            for path, before, after in self.figures],
                "changed_cases": [case.as_dict() for case in self.changed_cases],
                "escalations": [change.as_dict() for change in self.escalations],
                "illegal": [command.as_dict() for command in self.illegal],
                "sweep": [change.as_dict() for change in self.sweep],
                "in_force": self.in_force.as_dict(), "candidate": self.candidate.as_dict()}


def what_if(app: Casework, candidate: Policy, filters: Filters, by: str | None = None,
            now: datetime | None = None, progress: Callable[[int], None] | None = None,
            rules: AssessmentRules | None = None, month: str | None = None,
            zone: tzinfo | None = None) -> WhatIf:
    """The report over ``filters`` (the cases opened from ``since`` to ``until``) under the
    policy in force and under ``candidate``; nothing is written to the store. ``rules``:
    the three rates' settings in force (the candidate's own, when it has them, count its
    side); ``month``: the assessment month (``YYYY-MM``) whose revisits the rates count,
    its first day each side's, its days those of ``zone`` (the office calendar's by
    default; ``casework report --month`` counts them in the settings' time zone)."""
    moment = naive_utc(now or utc_now())
    assert moment is not None
    rules = rules or AssessmentRules()
    sides = (rules, candidate.assessment or rules)
    periods = [None if month is None else side.month(month, zone or app.calendar.zone)
               for side in sides]
    with ScratchReadModel(app) as in_force:
        if candidate.calendar is None:  # limits in working time count on the office's
            candidate.calendar = app.calendar
        run = Replay(app, Policy(app.workflows, calendar=app.calendar), candidate, filters)
        position = live_rows(app, in_force, run.period)
        for page in notification_pages(app, stop=position):
            run.walk(page, in_force if position is None else None)
            if progress is not None:
                progress(len(page))
        run.replay_diverged(in_force)
        with in_force.overlaid() as replayed:
            reports = (report(in_force, filters, by, moment, sides[0], periods[0]),
                       report(replayed, filters, by, moment, sides[1], periods[1]))
            changed, late_escalations = _compare_rows(run, in_force, replayed, filters, moment)
            sweep = sweep_changes(run.in_force, candidate, in_force, replayed, filters, moment)
    figures = list(differences(reports[0].as_dict(), reports[1].as_dict()))
    escalations = sorted([*run.escalations, *late_escalations],
                         key=lambda change: (change.at, change.case_id))
    return WhatIf(reports[0], reports[1], figures, changed, escalations, run.illegal,
                  run.events, run.replayed, sweep)


def live_rows(app: Casework, scratch: ScratchReadModel, period: Filters) -> int | None:
    """Copy the live read model's rows of the ``period``'s cases into ``scratch``, caught up
    first as a report catches it up: the rows as recorded, as a replay would fold them (the
    audit checks they are). Returns the position in the log they are at; None when they
    cannot be had (not a SQLite store, whose file SQLite can attach; or the read model
    cannot catch up, e.g. the store is read-only or an event cannot be read: then the
    period is folded from the events, and a corrupt event of another period stays unread)."""
    if app.storage.backend != "sqlite":
        return None
    try:
        with ReadModel(app) as live:
            live.catch_up()
            tracking = select(projection_tracking.c.notification_id).where(
                projection_tracking.c.projection == live.name)
            return scratch.copy_live(live.engine, period.clause(), tracking)
    except (ProjectionError, SQLAlchemyError):
        return None


def _compare_rows(run: Replay, in_force: ScratchReadModel, replayed: ScratchReadModel,
                  filters: Filters, now: datetime
                  ) -> tuple[list[ChangedCase], list[EscalationChange]]:
    """The cases whose verdict changed, and the still-open ones the sweep would escalate
    under the candidate by ``now`` but not under the policy in force: among the diverged
    cases (a row the candidate left as it was is judged alike)."""
    changed, escalations = [], []
    for recorded, judged in zip(_diverged_rows(in_force, filters, now),
                                _diverged_rows(replayed, filters, now), strict=True):
        before, after = verdict(recorded), verdict(judged)
        if before != after:
            changed.append(ChangedCase(recorded.id, recorded.kind, recorded.grade, before,
                                       after, recorded.deadline, judged.deadline))
        before, after = contact_verdict(recorded), contact_verdict(judged)
        if before != after:
            changed.append(ChangedCase(recorded.id, recorded.kind, recorded.grade, before,
                                       after, recorded.contact_deadline,
                                       judged.contact_deadline, CONTACT))
        mapping, other = judged._mapping, recorded._mapping
        if run.unnoticed(mapping, now, candidate=True) and not run.overdue(other, now):
            escalations.append(EscalationChange(judged.id, judged.deadline, judged.state,
                                                would=True))
    return changed, escalations


def _diverged_rows(model: ScratchReadModel, filters: Filters, now: datetime
                   ) -> Iterator[Any]:
    """The rows ``filters`` selects of the cases that diverged, by id. The read model's
    table object: the filters' conditions are written over it, and the scratch table has
    its name."""
    query = (select(case_summary, *verdicts(now))
             .where(filters.clause(), case_summary.c.id.in_(select(diverged_summary.c.id)))
             .order_by(case_summary.c.id))
    with model.engine.connect() as conn:
        yield from conn.execution_options(yield_per=2000).execute(query)


def verdict(row: Any) -> str | None:
    """A case against its deadline, as the report judges it; None when it is not judged."""
    if row.deadline is None or not row.grade:
        return None
    if row.resolved_at is not None:
        return LATE if row.breached else ON_TIME
    return OVERDUE if row.open_overdue else IN_TIME


def contact_verdict(row: Any) -> str | None:
    """A case on the contact clock, as the report judges it (``_Tally._judge_contact``);
    None when it is not judged (no contact clock, or finished in time without a contact)."""
    if row.contact_deadline is None or not row.grade:
        return None
    if row.contacted_at is not None:
        return CONTACTED_LATE if row.contacted_at > row.contact_deadline else CONTACTED_IN_TIME
    ended = row.resolved_at or row.closed_at
    if ended is not None:
        return NOT_REACHED if ended > row.contact_deadline else None
    return NOT_CONTACTED_OVERDUE if row.contact_overdue else NOT_CONTACTED_YET
