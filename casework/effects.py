"""Named effects: what a trigger changes on a case besides its state and fields.

An effect computes the changes when the command is checked; the event records them, so
replaying a case never runs an effect again and a later change here cannot rewrite the past.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .clocks import contact_clock, resolution_clock
from .context import CommandContext

Effect = Callable[[CommandContext], dict[str, Any]]


def dispatch(ctx: CommandContext) -> dict[str, Any]:
    """The case goes to the unit named by the trigger's unit field, when it is given."""
    unit = ctx.fields.get(ctx.trigger.field_of_type("unit") or "unit")
    return {} if unit is None else {"unit": unit}


def escalate(ctx: CommandContext) -> dict[str, Any]:
    """The case goes to the parent of its unit, which gets the grade's time to resolve it
    (a missed deadline stays missed: the old one is in the history)."""
    assert ctx.case.unit is not None
    changes: dict[str, Any] = {"unit": ctx.organisation.parent(ctx.case.unit),
                               "escalations": ctx.case.escalations + 1}
    return {**changes, **_new_resolution_clock(ctx)}


def grade(ctx: CommandContext) -> dict[str, Any]:
    """The grade sets the deadline to resolve, counted from the assessment."""
    chosen = ctx.workflow.grades[ctx.fields["grade"]]
    return {"grade": chosen.name, **resolution_clock(ctx.calendar, chosen, ctx.at)}


def _new_resolution_clock(ctx: CommandContext) -> dict[str, Any]:
    """The case's grade's time again, from now (nothing for a case without a grade)."""
    grade = ctx.workflow.grades.get(ctx.case.grade or "")
    if grade is None:
        return {}
    return resolution_clock(ctx.calendar, grade, ctx.at)


def start_contact_clock(ctx: CommandContext) -> dict[str, Any]:
    """The unit took the case on: it has the grade's contact limit to reach the petitioner
    (once: a case contacted before keeps its contact)."""
    if ctx.case.contacted_at is not None or ctx.case.contact_deadline is not None:
        return {}
    return contact_clock(ctx.calendar, ctx.workflow.grades.get(ctx.case.grade or ""), ctx.at)


def contacted(ctx: CommandContext) -> dict[str, Any]:
    """The first contact whose outcome is ``reached`` stops the contact clock."""
    if ctx.case.contacted_at is not None or ctx.fields.get("outcome") != "reached":
        return {}
    return {"contacted_at": ctx.at}


def deadline(ctx: CommandContext) -> dict[str, Any]:
    """The trigger's datetime field is the case's deadline: a moment a person chose, not a
    limit counted from a start, so no limit is recorded beside it (the grade's would say the
    deadline came from it)."""
    moment = ctx.fields.get(ctx.trigger.field_of_type("datetime") or "deadline")
    return {"deadline": moment, "resolve_limit": None} if moment is not None else {}


def claim(ctx: CommandContext) -> dict[str, Any]:
    return {"volunteers": [*ctx.case.volunteers, ctx.actor.id]}


def release(ctx: CommandContext) -> dict[str, Any]:
    return {"volunteers": [v for v in ctx.case.volunteers if v != ctx.actor.id]}


def reopen(ctx: CommandContext) -> dict[str, Any]:
    """A reopened case gets the grade's time to resolve again, from the reopening (the old
    deadline belonged to the first resolution, which was met or missed then)."""
    return {"reopens": ctx.case.reopens + 1, **_new_resolution_clock(ctx)}


EFFECTS: dict[str, Effect] = {
    "contact_clock": start_contact_clock,
    **{effect.__name__: effect
       for effect in (dispatch, escalate, grade, deadline, claim, release, reopen, contacted)},
}

NEEDS_FIELD_OF_TYPE = {"dispatch": "unit", "deadline": "datetime"}
"""Effects that read the one field of a given type that their trigger must declare."""
