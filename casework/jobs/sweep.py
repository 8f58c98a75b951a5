"""The nightly sweep: the workflows' deadlines applied to every open case.

- a dispatched or in-progress case past its deadline is escalated to the parent unit, with
  the reason "overdue", by the system, and gets the grade's time again at the new level;
- a resolved case nobody confirmed within the workflow's days is closed by default;
- a volunteer task not claimed by its deadline expires;
- closed cases due a revisit are listed for the revisit team, with the fields the workflow
  marks as the contact (``contact = true``), decrypted;
- an overdue case at the top of the organisation (nothing above to escalate to) is listed as
  overdue at the top, not refused: the sweep's exit status stays something a cron job trusts.

Each rule is derived from the workflow definitions and stated once: the same rule selects
the candidates (``projections.selection`` turns it into SQL) and decides on each case.
Business time is ``now``, given by the caller, so a sweep is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ..actor import SYSTEM
from ..batch import Batch
from ..case import Case
from ..registry import WorkflowRegistry
from ..workflow import Workflow

ESCALATE, CLOSE, EXPIRE, REVISIT = "escalate", "close", "expire", "revisit"
OVERDUE_AT_TOP = "overdue_at_top"
"""A listed case past its deadline at a unit with no parent: nothing to escalate it to."""

DEADLINE, LAST_CHANGE = "deadline", "last_change"
"""The moments of a case a rule compares: its deadline, and its last event."""


@dataclass(frozen=True)
class SweepRule:
    """Cases of ``kind`` v``version`` in one of ``states`` whose ``moment`` (DEADLINE or
    LAST_CHANGE) is before ``before`` are due ``trigger``."""

    kind: str
    version: int
    trigger: str
    states: tuple[str, ...]
    moment: str
    before: datetime

    def due(self, case: Case) -> bool:
        if case.state not in self.states:
            return False
        moment = case.deadline if self.moment == DEADLINE else case.updated_at
        return moment is not None and moment < self.before


def sweep_rules(workflows: WorkflowRegistry, now: datetime) -> list[SweepRule]:
    """What is due, per workflow version, derived from the workflow definitions themselves,
    in the order a case is decided on (escalate, close, expire, then revisit)."""
    return [rule for workflow in workflows for rule in rules_of(workflow, now) if rule.states]


def rules_of(workflow: Workflow, now: datetime) -> list[SweepRule]:
    """One workflow's rules at ``now`` (also a candidate's not installed: ``casework
    whatif``)."""
    def rule(trigger: str, states: tuple[str, ...], moment: str, before: datetime
             ) -> SweepRule:
        return SweepRule(workflow.name, workflow.version, trigger, states, moment, before)

    def states_for(trigger: str) -> tuple[str, ...]:
        return tuple(sorted(s for (s, t) in workflow.transitions if t == trigger))

    rules = []
    if workflow.grades:
        rules.append(rule(ESCALATE, states_for(ESCALATE), DEADLINE, now))
    days = workflow.settings.get("close_after_days_without_objection")
    if days is not None:
        resolved = tuple(s for s in states_for(CLOSE) if workflow.states[s].outcome == "resolved")
        rules.append(rule(CLOSE, resolved, LAST_CHANGE, now - timedelta(days=days)))
    rules.append(rule(EXPIRE, states_for(EXPIRE), DEADLINE, now))
    days = workflow.settings.get("revisit_after_days")
    if days is not None:
        rules.append(rule(REVISIT, states_for(REVISIT), LAST_CHANGE, now - timedelta(days=days)))
    return rules


@dataclass
class Sweep:
    """The sweep's step: one case, decided by the first of its workflow's rules it is due."""

    now: datetime
    name: str = "sweep"
    listed: list[dict[str, Any]] = field(default_factory=list)
    rules: list[SweepRule] | None = None
    """The rules at ``now`` of the workflows of the batch's application (found at first use)."""

    def __call__(self, batch: Batch, case_id: UUID) -> str | None:
        if self.rules is None:
            self.rules = sweep_rules(batch.app.workflows, self.now)
        case = batch.load(case_id)
        due = next((rule for rule in self.rules if rule.kind == case.kind
                    and rule.version == case.workflow_version and rule.due(case)), None)
        if due is None:
            return None
        if due.trigger == ESCALATE:
            unit, missed = case.unit, case.deadline
            assert missed is not None
            if unit in batch.app.organisation and batch.app.organisation.parent(unit) is None:
                # Not a refusal: the rule has nothing to do here, so the nightly run can
                # still exit 0; the case is listed for whoever runs the top unit.
                self.listed.append({"due": OVERDUE_AT_TOP, "case": str(case.id),
                                    "kind": case.kind, "unit": unit,
                                    "overdue_since": missed.isoformat()})
                return None
            batch.fire(case_id, ESCALATE, SYSTEM, self.now, reason="overdue")
            return f"escalated from {unit} (overdue since {missed.isoformat()})"
        if due.trigger == CLOSE:
            batch.fire(case_id, CLOSE, SYSTEM, self.now, confirmed_by="default")
            days = batch.app.workflow_of(case).settings["close_after_days_without_objection"]
            return f"closed: no objection in {days} days"
        if due.trigger == EXPIRE:
            deadline = case.deadline
            assert deadline is not None
            batch.fire(case_id, EXPIRE, SYSTEM, self.now)
            return f"expired: unclaimed since {deadline.isoformat()}"
        self.listed.append(self._revisit(batch, case))
        return None

    @staticmethod
    def _revisit(batch: Batch, case: Case) -> dict[str, Any]:
        """A closed case for the revisit team: where it was, and whom to call."""
        workflow = batch.app.workflow_of(case)
        revealed = batch.app.personal.reveal(case.fields)  # decrypted, or "[erased]"
        return {"due": REVISIT, "case": str(case.id), "kind": case.kind, "unit": case.unit,
                "closed": case.updated_at.isoformat(),
                **{name: revealed.get(name) for name in workflow.contact_fields}}
