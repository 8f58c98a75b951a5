"""Named effects: what a trigger changes on a case besides its state and fields.

An effect computes the changes when the command is checked; the event records them, so
replaying a case never runs an effect again and a later change here cannot rewrite the past.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .context import CommandContext
from .errors import InvalidField
from .timestamps import deadline_after

Effect = Callable[[CommandContext], dict[str, Any]]


def dispatch(ctx: CommandContext) -> dict[str, Any]:
    """The case goes to the unit named by the trigger's unit field, when it is given."""
    unit = ctx.fields.get(ctx.trigger.field_of_type("unit") or "unit")
    return {} if unit is None else {"unit": unit}


def escalate(ctx: CommandContext) -> dict[str, Any]:
    """The case goes to the parent of its unit, which gets the grade's time to resolve it."""
    assert ctx.case.unit is not None
    changes: dict[str, Any] = {"unit": ctx.organisation.parent(ctx.case.unit),
                               "escalations": ctx.case.escalations + 1}
    grade = ctx.workflow.grades.get(ctx.case.grade or "")
    if grade is not None:
        changes["deadline"] = _deadline(ctx, grade.deadline_hours)
    return changes


def grade(ctx: CommandContext) -> dict[str, Any]:
    """The grade sets the deadline to resolve, counted from the assessment."""
    chosen = ctx.workflow.grades[ctx.fields["grade"]]
    return {"grade": chosen.name, "deadline": _deadline(ctx, chosen.deadline_hours)}


def _deadline(ctx: CommandContext, hours: float) -> Any:
    try:
        return deadline_after(ctx.at, hours)
    except ValueError as error:
        raise InvalidField("at", str(error)) from None


def deadline(ctx: CommandContext) -> dict[str, Any]:
    """The trigger's datetime field is the case's deadline."""
    moment = ctx.fields.get(ctx.trigger.field_of_type("datetime") or "deadline")
    return {"deadline": moment} if moment is not None else {}


def claim(ctx: CommandContext) -> dict[str, Any]:
    return {"volunteers": [*ctx.case.volunteers, ctx.actor.id]}


def release(ctx: CommandContext) -> dict[str, Any]:
    return {"volunteers": [v for v in ctx.case.volunteers if v != ctx.actor.id]}


def reopen(ctx: CommandContext) -> dict[str, Any]:
    return {"reopens": ctx.case.reopens + 1}


EFFECTS: dict[str, Effect] = {
    effect.__name__: effect
    for effect in (dispatch, escalate, grade, deadline, claim, release, reopen)
}

NEEDS_FIELD_OF_TYPE = {"dispatch": "unit", "deadline": "datetime"}
"""Effects that read the one field of a given type that their trigger must declare."""
