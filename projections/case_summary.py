"""One row per case, folded from its events: what the reports count.

``summarise`` is a pure function of the row so far and the next event, so the same code
serves the incremental catch-up, a full rebuild and the tests' plain replay.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from casework.case import Case, case_fields_changed
from casework.compiler import ASSIGNS_ACTOR
from casework.organisation import Organisation
from casework.registry import WorkflowRegistry
from casework.timestamps import naive_utc
from casework.workflow import OPEN_STAGES, Workflow

OPEN, CLOSED = "open", "closed"
"""A case's status: in an open stage or not."""
ABOVE_COMMUNITY = {"subdistrict", "department"}
"""Levels a case leaves its community for: it is then not resolved locally."""
MILESTONE_SEPARATOR = ","
UNKNOWN_LEVEL = "(none)"
"""The level of a unit the organisation does not list (a case moved out of it)."""


def summarise(row: dict[str, Any] | None, event: Any, workflows: WorkflowRegistry,
              organisation: Organisation) -> dict[str, Any]:
    """The summary row after ``event`` (``row`` is None for a case's first event)."""
    at = naive_utc(event.at)
    assert at is not None
    if isinstance(event, Case.Opened):
        row = _opened(event, at)
    elif row is None:
        raise ValueError("the case's history does not start with Opened")
    else:
        row = dict(row)
    if isinstance(event, Case.Migrated):
        row["workflow_version"] = event.workflow_version
    if row["stage"] in OPEN_STAGES and row["deadline"] is not None and at > row["deadline"] \
            and row["paused_since"] is None:
        # Sticky: a deadline that passed while the case was open stays missed, even when
        # an escalation then gives the new unit a fresh one. (A paused clock is judged when
        # the pause ends and its event has moved the deadline.)
        row["missed_deadline"] = True
    fields = case_fields_changed(event)  # a trigger's other fields are its event's only
    for name in ("category", "channel", "satisfaction", "title", "place"):
        if name in fields:
            row[name] = fields[name]
    _changed(row, event.changes, organisation, at)
    if "location" in fields:
        row["location"] = location = fields["location"]
        row["grid"] = organisation.ancestor_at(location, "grid") if location else None
    row["jurisdiction"] = row["unit"] or row["location"]  # as ``Case.jurisdiction`` says
    workflow = workflows.get(row["kind"], row["workflow_version"])
    _assigned(row, workflow, event)
    _reached(row, workflow, event, at)
    row["events"] = event.originator_version
    row["updated_at"] = at
    row["head"] = event.hash
    return row


def _opened(event: Any, at: datetime) -> dict[str, Any]:
    return {
        "id": str(event.originator_id),
        "kind": event.kind,
        "workflow_version": event.workflow_version,
        "grade": None, "category": None, "channel": None,
        "unit": None, "community": None, "block": None, "level": None,
        "left_community": False,
        "opened_at": at,
        "dispatched_at": None, "unit_since": None, "resolved_at": None, "closed_at": None,
        "deadline": None,
        "paused_since": None, "contact_deadline": None, "contacted_at": None,
        "resolve_from": None, "resolve_limit": None, "contact_from": None,
        "contact_limit": None,
        "breached": None, "missed_deadline": False, "resolved_level": None,
        "escalations": 0, "escalation_steps": MILESTONE_SEPARATOR, "reopens": 0,
        "ever_closed": False, "satisfaction": None,
        "volunteers": 0, "milestones": MILESTONE_SEPARATOR,
        "parent": event.fields.get("parent"),
        "stage": None, "outcome": None, "status": None,
        "title": None, "place": None,
        "location": None, "grid": None, "jurisdiction": None, "assignee": None,
    }


def _assigned(row: dict[str, Any], workflow: Workflow, event: Any) -> None:
    """Who took the case on last: the trigger's actor or the field its workflow names
    (``assignee`` in the definition)."""
    trigger = (workflow.opening if event.trigger == workflow.opening.name
               else workflow.triggers.get(event.trigger))
    if trigger is None or trigger.assignee is None:
        return
    row["assignee"] = (event.actor_id if trigger.assignee == ASSIGNS_ACTOR
                       else event.fields.get(trigger.assignee, row["assignee"]))


def _changed(row: dict[str, Any], changes: dict[str, Any], organisation: Organisation,
             at: datetime) -> None:
    """What the event's effects changed: unit, grade, deadline, counters, volunteers."""
    if "unit" in changes:
        level_before = row["level"]
        _moved_to(row, changes["unit"], organisation, at)
        if changes.get("escalations", row["escalations"]) > row["escalations"]:
            row["escalation_steps"] = _step_taken(row["escalation_steps"], level_before,
                                                  row["level"])
    if "grade" in changes:
        row["grade"] = changes["grade"]
    if "deadline" in changes:
        row["deadline"] = naive_utc(changes["deadline"])
    if "reopens" in changes and "resolve_from" in changes:
        row["missed_deadline"] = False  # a reopened case is judged on its new clock
    for name in ("paused_since", "contact_deadline", "contacted_at", "resolve_from",
                 "contact_from"):
        if name in changes:
            row[name] = naive_utc(changes[name])
    for name in ("resolve_limit", "contact_limit"):
        if name in changes:
            row[name] = changes[name]
    for name in ("escalations", "reopens"):
        if name in changes:
            row[name] = changes[name]
    if "volunteers" in changes:
        row["volunteers"] = len(changes["volunteers"])


def _reached(row: dict[str, Any], workflow: Workflow, event: Any, at: datetime) -> None:
    """The state the event reached: its stage, outcome, and what closing or resolving a case
    (or reopening it) means for the figures."""
    previous_stage, previous_outcome = row["stage"], row["outcome"]
    stage = event.to_stage
    state = workflow.states.get(event.to_state)
    outcome = None if state is None else state.outcome
    row.update(state=event.to_state, stage=stage, outcome=outcome,
               status=OPEN if stage in OPEN_STAGES else CLOSED)
    if workflow.report is not None and event.trigger in workflow.report.milestones.values():
        mark = f"{event.trigger}{MILESTONE_SEPARATOR}"
        if MILESTONE_SEPARATOR + mark not in row["milestones"]:
            row["milestones"] += mark
    if stage in OPEN_STAGES:
        row["closed_at"] = None
        if previous_outcome == "resolved":  # reopened: the earlier resolution no longer counts
            row.update(resolved_at=None, breached=None, resolved_level=None,
                       unit_since=at if row["unit"] is not None else None)
    elif previous_stage is None or previous_stage in OPEN_STAGES:
        row["closed_at"] = at
        row["ever_closed"] = True
    if outcome == "resolved" and previous_outcome != "resolved":
        row["resolved_at"] = at
        row["resolved_level"] = row["level"]
        row["unit_since"] = None  # the unit's time with it ends (see projections.unit_ledger)
        row["breached"] = row["missed_deadline"] or (
            row["deadline"] is not None and at > row["deadline"])


def _step_taken(steps: str, before: str | None, after: str | None) -> str:
    """``steps`` with one more escalation from level ``before`` to level ``after``: an
    escalation is the effect that raises the case's escalation count as it moves it."""
    counts = escalation_steps(steps)
    step = (before or UNKNOWN_LEVEL, after or UNKNOWN_LEVEL)
    counts[step] = counts.get(step, 0) + 1
    return MILESTONE_SEPARATOR + "".join(
        f"{low}>{high}:{count}{MILESTONE_SEPARATOR}" for (low, high), count in sorted(
            counts.items()))


def escalation_steps(steps: str) -> dict[tuple[str, str], int]:
    """The ``escalation_steps`` column read back: (from level, to level) → escalations."""
    counts: dict[tuple[str, str], int] = {}
    for item in steps.split(MILESTONE_SEPARATOR):
        if item:
            path, _, count = item.rpartition(":")
            low, _, high = path.partition(">")
            counts[(low, high)] = int(count)
    return counts


def reached_milestone(row: Any, trigger: str) -> bool:
    """Whether the case had ``trigger`` fired on it (a milestone its workflow's report names)."""
    return f"{MILESTONE_SEPARATOR}{trigger}{MILESTONE_SEPARATOR}" in row.milestones


def _moved_to(row: dict[str, Any], unit: str | None, organisation: Organisation,
              at: datetime | None) -> None:
    row["unit"] = unit
    row["unit_since"] = None if unit is None else at
    if unit is None or unit not in organisation:
        row.update(community=None, block=None, level=None)
        return
    row["community"] = organisation.ancestor_at(unit, "community")
    row["block"] = organisation.ancestor_at(unit, "block")
    row["level"] = organisation[unit].level
    if row["level"] in ABOVE_COMMUNITY:
        row["left_community"] = True
    if row["dispatched_at"] is None:
        row["dispatched_at"] = at
