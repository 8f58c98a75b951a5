"""The nightly sweep: the workflows' deadlines applied to every open case.

- a dispatched or in-progress case past its deadline is escalated to the parent unit, with
  the reason "overdue", by the system, and gets the grade's time again at the new level;
- a resolved case nobody confirmed within the workflow's days is closed by default;
- a volunteer task not claimed by its deadline expires;
- closed cases due a revisit are listed for the revisit team.

Business time is ``now``, given by the caller, so a sweep is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from .actor import SYSTEM
from .application import Batch
from .registry import WorkflowRegistry

ESCALATE, CLOSE, EXPIRE, REVISIT = "escalate", "close", "expire", "revisit"


@dataclass(frozen=True)
class SweepRule:
    """Cases of ``kind`` in one of ``states`` whose ``column`` is before ``before`` are due
    ``trigger`` (the read model's column names: deadline, updated_at, closed_at)."""

    kind: str
    trigger: str
    states: tuple[str, ...]
    column: str
    before: datetime


def sweep_rules(workflows: WorkflowRegistry, now: datetime) -> list[SweepRule]:
    """What is due, per workflow, derived from the workflow definitions themselves."""
    rules = []
    for name in workflows.names():
        for workflow in (workflows.get(name, v) for v in workflows.versions(name)):
            def states_for(trigger: str, wf: Any = workflow) -> tuple[str, ...]:
                return tuple(sorted(s for (s, t) in wf.transitions if t == trigger))

            settings = workflow.settings
            if workflow.grades and states_for(ESCALATE):
                rules.append(SweepRule(name, ESCALATE, states_for(ESCALATE), "deadline", now))
            days = settings.get("close_after_days_without_objection")
            if days is not None:
                resolved = tuple(s for s in states_for(CLOSE)
                                 if workflow.states[s].outcome == "resolved")
                rules.append(SweepRule(name, CLOSE, resolved, "updated_at",
                                       now - timedelta(days=days)))
            if states_for(EXPIRE):
                rules.append(SweepRule(name, EXPIRE, states_for(EXPIRE), "deadline", now))
            days = settings.get("revisit_after_days")
            if days is not None and states_for(REVISIT):
                rules.append(SweepRule(name, REVISIT, states_for(REVISIT), "closed_at",
                                       now - timedelta(days=days)))
    return [rule for rule in rules if rule.states]


@dataclass
class Sweep:
    """The sweep's step: one case, checked against its workflow as it is now."""

    now: datetime
    name: str = "sweep"
    listed: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, batch: Batch, case_id: UUID) -> str | None:
        case = batch.load(case_id)
        workflow = batch.app.workflow_of(case)
        legal = set(workflow.legal_triggers(case.state))
        if ESCALATE in legal and workflow.grades and case.deadline is not None \
                and case.deadline < self.now:
            unit = case.unit
            batch.fire(case_id, ESCALATE, SYSTEM, self.now, reason="overdue")
            return f"escalated from {unit} (overdue since {case.deadline.isoformat()})"
        days = workflow.settings.get("close_after_days_without_objection")
        if CLOSE in legal and workflow.states[case.state].outcome == "resolved" \
                and days is not None and case.updated_at <= self.now - timedelta(days=days):
            batch.fire(case_id, CLOSE, SYSTEM, self.now, confirmed_by="default")
            return f"closed: no objection in {days} days"
        if EXPIRE in legal and case.deadline is not None and case.deadline < self.now:
            batch.fire(case_id, EXPIRE, SYSTEM, self.now)
            return f"expired: unclaimed since {case.deadline.isoformat()}"
        days = workflow.settings.get("revisit_after_days")
        if REVISIT in legal and days is not None \
                and case.updated_at <= self.now - timedelta(days=days):
            contact = batch.app.personal.reveal(case.fields)  # decrypted, or "[erased]"
            self.listed.append({"case": str(case_id), "kind": case.kind, "unit": case.unit,
                                "closed": case.updated_at.isoformat(),
                                "petitioner": contact.get("petitioner"),
                                "phone": contact.get("phone")})
        return None
