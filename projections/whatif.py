"""``casework whatif``: a period's recorded histories replayed under the policy in force and
under a candidate, side by side, without writing anything to the store.

One pass over the notification log folds each event of the period's cases as recorded into a
scratch read model (a temporary SQLite file: ``projections.scratch``, so memory stays flat)
and, where the candidate would have recorded it otherwise (``casework.whatif.under_policy``:
the deadlines to resolve and to contact its grade limits and calendar give), folds it again
from the case's candidate row. Only the rows that come out different (the cases that
diverged) are kept a second time, so a candidate that touches one grade costs little more
than one replay. The candidate's rows are
then the recorded ones with the diverged ones in their place; the report over each is
computed by the report's own code (the three rates by each side's settings), the figures
are compared leaf by leaf, and the diverged cases row by row for the verdicts that change on
each clock.

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
from uuid import UUID

from sqlalchemy import select

from casework import Casework
from casework.assessment import AssessmentRules
from casework.case import Case
from casework.timestamps import naive_utc, utc_now
from casework.whatif import CONTACT, RESOLVE, IllegalCommand, Policy, refused_by, under_policy
from casework.workflow import OPEN_STAGES

from .filters import Filters
from .read_model import decoded_row, fold
from .report import Report, report, verdicts
from .scratch import ScratchReadModel, diverged_summary, notification_pages
from .tables import case_summary
from .verification import differences
from .whatif_sweep import SweepChange, sweep_changes

ESCALATE, SYSTEM_ROLE = "escalate", "system"
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
                "deadline_in_force": _iso(self.deadline_in_force),
                "deadline_candidate": _iso(self.deadline_candidate)}


@dataclass(frozen=True)
class EscalationChange:
    """An overdue escalation by the nightly sweep that the candidate would have caused
    (``would``) or spared (the recorded one was overdue only under the policy in force)."""

    case_id: str
    at: datetime
    """When it fell due (the candidate's deadline), or when the spared one was made."""
    state: str
    would: bool

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "at": _iso(self.at), "state": self.state,
                "would_escalate": self.would}


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
        run = _Run(app, Policy(app.workflows, calendar=app.calendar), candidate, filters)
        for page in notification_pages(app):
            run.fold_page(page, in_force)
            if progress is not None:
                progress(len(page))
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


class _Run:
    """The state of one replay: the policies, and what it found on the way."""

    def __init__(self, app: Casework, in_force: Policy, candidate: Policy,
                 filters: Filters) -> None:
        self.app, self.in_force, self.candidate = app, in_force, candidate
        self.since, self.until = naive_utc(filters.since), naive_utc(filters.until)
        self.kind = filters.kind
        self.events = self.replayed = 0
        self.illegal: list[IllegalCommand] = []
        self.escalations: list[EscalationChange] = []
        self._escalating: dict[tuple[bool, str, int], frozenset[str]] = {}

    def admits(self, event: Any) -> bool:
        """Whether a case's first event opens it within the period (and of the kind)."""
        at = naive_utc(event.at)
        assert at is not None
        return ((self.kind is None or event.kind == self.kind)
                and (self.since is None or at >= self.since)
                and (self.until is None or at < self.until))

    def fold_page(self, page: list[Any], model: ScratchReadModel) -> None:
        """Fold a page of stored events as recorded, and, where the candidate makes a case's
        row differ (it diverged), as the candidate would have recorded them. An event of a
        case opened outside the period is not even decoded."""
        self.events += len(page)
        named = [(case_key(stored[1]), stored) for stored in page]
        ids = list({case_id for case_id, _ in named})
        recorded, diverged = model.rows(ids), model.rows(ids, diverged_summary)
        touched: set[str] = set()
        converged: set[str] = set()
        entries: list[dict[str, Any]] = []  # the units' accounts, as recorded
        for case_id, stored in named:
            if stored[2] != 1 and case_id not in recorded:
                continue  # a case opened outside the period (its first event said so)
            event = decoded_row(self.app, stored)
            if isinstance(event, Case.Opened) and not self.admits(event):
                continue
            self.replayed += 1
            touched.add(case_id)
            as_recorded = recorded.get(case_id)
            before = diverged.get(case_id, as_recorded)
            kind = before["kind"] if before else event.kind
            version = before["workflow_version"] if before else event.workflow_version
            refused = refused_by(event, self.candidate, kind, version,
                                 before["state"] if before else None)
            if refused is not None:
                self.illegal.append(refused)
            if before is not as_recorded:  # alike, the candidate sees what was recorded
                self._escalation(as_recorded, before, event)
            entries += fold(self.app, recorded, [event])
            rewritten = under_policy(event, self.candidate, kind, version,
                                     before["grade"] if before else None,
                                     before if before is not as_recorded else None, before)
            if rewritten is event and before is as_recorded:
                continue  # the same row and the same event: the same fold
            judged = {} if before is None else {case_id: before}
            fold(self.app, judged, [rewritten], ledger=False)  # the accounts as recorded
            if judged[case_id] == recorded[case_id]:
                diverged.pop(case_id, None)
                converged.add(case_id)
            else:
                diverged[case_id] = judged[case_id]
                converged.discard(case_id)
        model.replace({case_id: recorded[case_id] for case_id in touched})
        model.add_entries(entries)
        model.replace({case_id: diverged[case_id] for case_id in touched if case_id in diverged},
                      diverged_summary, dropped=converged)

    def _escalation(self, recorded: dict[str, Any], judged: dict[str, Any], event: Any) -> None:
        """Note an escalation the candidate would have caused before ``event`` (its deadline
        passed unnoticed in a state the sweep escalates from, while the recorded one had
        not), or spared (``event`` is the sweep's escalation, not overdue under it)."""
        at = naive_utc(event.at)
        if self.unnoticed(judged, at, candidate=True) and not self.overdue(recorded, at):
            self.escalations.append(EscalationChange(judged["id"], judged["deadline"],
                                                     judged["state"], would=True))
        elif (event.trigger == ESCALATE and event.role == SYSTEM_ROLE
              and not self.overdue(judged, at)):
            self.escalations.append(EscalationChange(judged["id"], at, judged["state"],  # type: ignore[arg-type]
                                                     would=False))

    def overdue(self, row: Any, at: datetime | None) -> bool:
        return bool(row["missed_deadline"]) or (
            row["deadline"] is not None and at is not None and at > row["deadline"])

    def unnoticed(self, row: Any, at: datetime | None, candidate: bool) -> bool:
        """Open past its deadline at ``at``, not yet missed, in a state the sweep escalates."""
        if row["stage"] not in OPEN_STAGES or row["missed_deadline"] or row["deadline"] is None:
            return False
        if at is None or at <= row["deadline"]:
            return False
        return row["state"] in self.escalating(row, candidate)

    def escalating(self, row: Any, candidate: bool) -> frozenset[str]:
        key = (candidate, row["kind"], row["workflow_version"])
        if key not in self._escalating:
            policy = self.candidate if candidate else self.in_force
            self._escalating[key] = policy.escalating_states(key[1], key[2])
        return self._escalating[key]


def _compare_rows(run: _Run, in_force: ScratchReadModel, replayed: ScratchReadModel,
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


def case_key(stored_id: UUID | str) -> str:
    """A case id of ``select_notification_rows`` as the rows name the case (``str`` of its
    UUID): the SQLite store gives it as 32 hex digits, cut here rather than parsed."""
    if isinstance(stored_id, str) and len(stored_id) == 32:
        return "-".join((stored_id[:8], stored_id[8:12], stored_id[12:16], stored_id[16:20],
                         stored_id[20:]))
    return str(stored_id if isinstance(stored_id, UUID) else UUID(stored_id))


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


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
