"""What the nightly sweep would do at ``--now`` under a candidate policy besides escalating:
the clocks it lists as due soon (the workflows' ``due_soon_fraction`` and ``due_soon_within``,
counted on the policy's calendar, on the candidate's deadlines) and the resolved cases it
closes by default (``close_after_days_without_objection``).

Like the escalations of ``projections.whatif``, these are listed, not replayed: a case the
candidate's sweep would have closed earlier is replayed as recorded all the same. The closes
compared are those due at ``now``; a default close recorded during the period stays as it
was (the rows keep no trace of which close was the sweep's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from casework.due_soon import Warning
from casework.jobs.sweep import CLOSE, rules_of
from casework.timestamps import aware_utc, naive_utc
from casework.whatif import Policy

from .due_soon import due_soon
from .filters import Filters
from .scratch import ScratchReadModel, diverged_summary
from .tables import case_summary

DUE_SOON = "due soon"


@dataclass(frozen=True)
class SweepChange:
    """A case the sweep at ``now`` would list as due soon (on ``clock``) or close by
    default under the candidate and not under the policy in force (``would``), or the
    reverse."""

    case_id: str
    action: str
    """``due soon`` or ``close``."""
    would: bool
    at: datetime | None
    """The clock's deadline under the policy that lists it; for a close, the last change."""
    clock: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "action": self.action, "clock": self.clock,
                "would": self.would, "at": None if self.at is None else self.at.isoformat()}


def sweep_changes(in_force: Policy, candidate: Policy, recorded: ScratchReadModel,
                  judged: ScratchReadModel, filters: Filters, now: datetime
                  ) -> list[SweepChange]:
    """The due-soon warnings and default closes at ``now`` that differ between the policy
    in force (over the rows as recorded) and the candidate (over its rows)."""
    changes = _due_soon(in_force, candidate, recorded, judged, filters, now)
    changes += _closes(in_force, candidate, recorded, filters, now)
    return sorted(changes, key=lambda c: (c.action, c.case_id, c.clock or ""))


def _due_soon(in_force: Policy, candidate: Policy, recorded: ScratchReadModel,
              judged: ScratchReadModel, filters: Filters, now: datetime) -> list[SweepChange]:
    moment = aware_utc(now)
    # With the same warnings and calendar, a case the candidate left as recorded is listed
    # alike: only the diverged ones are asked about.
    diverged = None if candidate.replacements or candidate.own_calendar else (
        case_summary.c.id.in_(select(diverged_summary.c.id)))
    sides = []
    for policy, model in ((in_force, recorded), (candidate, judged)):
        listed = due_soon(model, moment, filters.unit, policy.counting_calendar(),
                          lambda kind, version, p=policy: Warning.of(p.workflow(kind, version)),
                          diverged)
        sides.append({(due.case, due.clock): naive_utc(due.deadline) for due in listed})
    before, after = sides
    return ([SweepChange(case, DUE_SOON, True, after[case, clock], clock)
             for case, clock in sorted(after.keys() - before.keys())]
            + [SweepChange(case, DUE_SOON, False, before[case, clock], clock)
               for case, clock in sorted(before.keys() - after.keys())])


def _closes(in_force: Policy, candidate: Policy, model: ScratchReadModel, filters: Filters,
            now: datetime) -> list[SweepChange]:
    """The open cases the sweep closes by default at ``now`` under one policy and not the
    other (what people did is the same under both: the rows as recorded)."""
    rules: dict[tuple[bool, str, int], Any] = {}

    def due(policy: Policy, row: Any) -> bool:
        key = (policy is candidate, row.kind, row.workflow_version)
        if key not in rules:
            workflow = policy.workflow(row.kind, row.workflow_version)
            rules[key] = next((rule for rule in rules_of(workflow, aware_utc(now))
                               if rule.trigger == CLOSE and rule.states), None)
        rule = rules[key]
        return (rule is not None and row.state in rule.states
                and row.updated_at < naive_utc(rule.before))

    query = (select(case_summary.c.id, case_summary.c.kind, case_summary.c.workflow_version,
                    case_summary.c.state, case_summary.c.updated_at)
             .where(filters.clause(), case_summary.c.resolved_at.is_not(None))
             .order_by(case_summary.c.id))
    changes = []
    with model.engine.connect() as conn:
        for row in conn.execution_options(yield_per=2000).execute(query):
            before, after = due(in_force, row), due(candidate, row)
            if before != after:
                changes.append(SweepChange(row.id, CLOSE, after, row.updated_at))
    return changes
