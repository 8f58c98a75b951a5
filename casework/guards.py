"""Named guards and conditions that workflow definitions refer to.

A guard returns None to let a command pass, or the reason it refuses. A condition picks a
trigger's branch. Both see the case as it is before the command, plus the command's fields.
"""

from __future__ import annotations

from collections.abc import Callable

from .context import CommandContext
from .questionnaire import reached, sends_back

Guard = Callable[[CommandContext], str | None]
Condition = Callable[[CommandContext], bool]

MEDIATION_TRACKS = ("people", "administrative", "judicial")


def _unit_field(ctx: CommandContext) -> str | None:
    name = ctx.trigger.field_of_type("unit")
    return None if name is None else ctx.fields.get(name)


def unit_fits_grade(ctx: CommandContext) -> str | None:
    """A graded case goes at least as high as its grade asks (A/B: community, C: block...)."""
    unit = _unit_field(ctx)
    grade = ctx.workflow.grades.get(ctx.case.grade or "")
    if unit is None or grade is None:
        return None
    organisation = ctx.organisation
    needed = organisation.rank_of_level(grade.min_level)
    if organisation.rank(unit) > needed:
        return (
            f"a grade {grade.name} case goes at least to a {grade.min_level}; "
            f"{unit} is a {organisation[unit].level}"
        )
    return None


def unit_is_department(ctx: CommandContext) -> str | None:
    unit = _unit_field(ctx)
    if unit is not None and ctx.organisation[unit].level != "department":
        return f"{unit} is a {ctx.organisation[unit].level}, not a functional department"
    return None


def has_parent_unit(ctx: CommandContext) -> str | None:
    unit = ctx.case.unit
    if unit is None:
        return "the case has not been dispatched to a unit"
    if ctx.organisation.parent(unit) is None:
        return f"{unit} is the top of the organisation; there is no one to escalate to"
    return None


def other_existing_case(ctx: CommandContext) -> str | None:
    other = ctx.fields.get("duplicate_of")
    if other is None:
        return None
    if other == str(ctx.case.id):
        return "a case cannot duplicate itself"
    found = ctx.load_case(other)
    if found is None:
        return f"there is no case {other}"
    if found.kind != ctx.case.kind:
        return f"case {other} is a {found.kind}, not a {ctx.case.kind}: a case duplicates one " \
               "of its own kind"
    return None


def times_ahead(ctx: CommandContext) -> str | None:
    """Every time the command gives (a deadline to claim a task by, a due time) lies after
    the command's own time: a deadline already past when it is set is a mistake."""
    for name, spec in ctx.trigger.fields.items():
        moment = ctx.fields.get(name)
        if spec.type == "datetime" and moment is not None and moment <= ctx.at:
            return f"{name} {moment.isoformat()} is not after the command's time " \
                   f"{ctx.at.isoformat()}"
    return None


def by_the_assignee(ctx: CommandContext) -> str | None:
    """Once a trigger named whom the case is assigned to (its ``assignee`` field, set on the
    case by ``updates``: an enterprise request's commissioner), only they may fire this."""
    for trigger in ctx.workflow.triggers.values():
        name = trigger.assignee
        if name and name in trigger.updates:
            assigned = ctx.case.fields.get(name)
            if assigned is not None and assigned != ctx.actor.id:
                return f"the case is assigned to {name} {assigned}, not {ctx.actor.id}"
    return None


def mediation_track_advances(ctx: CommandContext) -> str | None:
    """After a failed mediation, the next one goes on a later track (people → administrative →
    judicial, 三调合一)."""
    previous = ctx.case.fields.get("track")
    track = ctx.fields.get("track")
    if previous is None or track is None:
        return None
    if MEDIATION_TRACKS.index(track) <= MEDIATION_TRACKS.index(previous):
        return f"mediation on the {previous} track failed; the next track comes after it"
    return None


def no_open_tasks(ctx: CommandContext) -> str | None:
    """A spawned task is open until it reaches an outcome (verified, cancelled, expired...):
    a completed task still waits for verification and may be sent back."""
    for task_id in ctx.case.tasks:
        task = ctx.load_case(task_id)
        if task is None:
            continue
        if ctx.outcome_of(task) is None:
            return f"its volunteer task {task_id} is still {task.state}"
    return None


def not_yet_claimed_by_actor(ctx: CommandContext) -> str | None:
    if ctx.actor.id in ctx.case.volunteers:
        return f"{ctx.actor.id} has already claimed this task"
    return None


def claimed_by_actor(ctx: CommandContext) -> str | None:
    if ctx.actor.id not in ctx.case.volunteers:
        return f"{ctx.actor.id} has not claimed this task"
    return None


def unsatisfied(ctx: CommandContext) -> bool:
    """A revisit that reached the petitioner reopens the case when the problem is not solved
    or the petitioner is unsatisfied (by default a score of 1 or 2 out of 5 is)."""
    return sends_back(ctx.fields, ctx.workflow.settings)


def not_reached(ctx: CommandContext) -> bool:
    """A revisit that did not reach the petitioner (``valid = false``): the case stays due
    its revisit."""
    return not reached(ctx.fields)


def fully_claimed(ctx: CommandContext) -> bool:
    needed = int(ctx.case.fields.get("volunteers_needed", 1))
    return len(ctx.case.volunteers) + 1 >= needed


GUARDS: dict[str, Guard] = {
    guard.__name__: guard
    for guard in (
        unit_fits_grade,
        unit_is_department,
        has_parent_unit,
        other_existing_case,
        times_ahead,
        by_the_assignee,
        mediation_track_advances,
        no_open_tasks,
        not_yet_claimed_by_actor,
        claimed_by_actor,
    )
}
CONDITIONS: dict[str, Condition] = {
    condition.__name__: condition for condition in (unsatisfied, not_reached, fully_claimed)
}
