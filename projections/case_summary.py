"""One row per case, folded from its events: what the reports count.

``summarise`` is a pure function of the row so far and the next event, so the same code
serves the incremental catch-up, a full rebuild and the tests' plain replay.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from casework.case import Case
from casework.organisation import Organisation
from casework.registry import WorkflowRegistry
from casework.workflow import OPEN_STAGES

ABOVE_COMMUNITY = {"subdistrict", "department"}
"""Levels a case leaves its community for: it is then not resolved locally."""


def naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None)


def summarise(row: dict[str, Any] | None, event: Any, workflows: WorkflowRegistry,
              organisation: Organisation) -> dict[str, Any]:
    """The summary row after ``event`` (``row`` is None for a case's first event)."""
    at = naive_utc(event.at)
    if isinstance(event, Case.Opened):
        row = {
            "id": str(event.originator_id),
            "kind": event.kind,
            "workflow_version": event.workflow_version,
            "grade": None, "category": None, "channel": None,
            "unit": None, "community": None, "block": None, "level": None,
            "left_community": False,
            "opened_at": at,
            "dispatched_at": None, "resolved_at": None, "closed_at": None, "deadline": None,
            "breached": None, "missed_deadline": False, "resolved_level": None,
            "escalations": 0, "reopens": 0, "ever_closed": False, "satisfaction": None,
            "volunteers": 0, "claimed_at": None, "completed_at": None,
            "parent": event.fields.get("parent"),
            "stage": None, "outcome": None,
        }
    else:
        if row is None:
            raise ValueError("the case's history does not start with Opened")
        row = dict(row)
    if isinstance(event, Case.Migrated):
        row["workflow_version"] = event.workflow_version

    previous_stage, previous_outcome = row["stage"], row["outcome"]
    if previous_stage in OPEN_STAGES and row["deadline"] is not None and at > row["deadline"]:
        # Sticky: a deadline that passed while the case was open stays missed, even when
        # an escalation then gives the new unit a fresh one.
        row["missed_deadline"] = True
    fields, changes = event.fields, event.changes
    for name in ("category", "channel", "satisfaction"):
        if name in fields:
            row[name] = fields[name]
    if "unit" in changes:
        _moved_to(row, changes["unit"], organisation, at)
    if "grade" in changes:
        row["grade"] = changes["grade"]
    if "deadline" in changes:
        row["deadline"] = naive_utc(changes["deadline"])
    for name in ("escalations", "reopens"):
        if name in changes:
            row[name] = changes[name]
    if "volunteers" in changes:
        row["volunteers"] = len(changes["volunteers"])
        if row["volunteers"] and row["claimed_at"] is None:
            row["claimed_at"] = at
    if event.trigger == "complete":
        row["completed_at"] = at

    workflow = workflows.get(row["kind"], row["workflow_version"])
    stage = event.to_stage
    outcome = workflow.states[event.to_state].outcome if event.to_state in workflow.states \
        else None
    row.update(state=event.to_state, stage=stage, outcome=outcome)
    if stage in OPEN_STAGES:
        row["closed_at"] = None
        if previous_outcome == "resolved":  # reopened: the earlier resolution no longer counts
            row.update(resolved_at=None, breached=None, resolved_level=None)
    elif previous_stage is None or previous_stage in OPEN_STAGES:
        row["closed_at"] = at
        row["ever_closed"] = True
    if outcome == "resolved" and previous_outcome != "resolved":
        row["resolved_at"] = at
        row["resolved_level"] = row["level"]
        row["breached"] = row["missed_deadline"] or (
            row["deadline"] is not None and at > row["deadline"])

    row["events"] = event.originator_version
    row["updated_at"] = at
    row["head"] = event.hash
    return row


def _moved_to(row: dict[str, Any], unit: str | None, organisation: Organisation,
              at: datetime | None) -> None:
    row["unit"] = unit
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
