"""Errors as a clerk reads them, in the language of the command.

The engine stays free of gettext: its errors carry what went wrong as attributes (the case,
its state, the trigger, the roles) beside an English message. In English that message is
printed as it is; in another language the line is made again here, at the edge, from the
attributes, with states and triggers as the workflow files call them. What the engine says
in its own words inside a message (a guard's reason, why a field is invalid) stays as it
said it; an error this module does not know keeps its English message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from casework import CaseworkError, WorkflowRegistry
from casework.errors import (
    AmbiguousCase,
    ConcurrencyConflict,
    ForgetDenied,
    GuardRefused,
    IllegalTransition,
    InvalidField,
    NotMigratable,
    PermissionDenied,
    StaleCase,
    UnknownCase,
    UnknownPerson,
    UnknownTrigger,
    UnknownWorkflow,
)
from projections.i18n import ENGLISH, Names, _, language


def error_message(error: CaseworkError) -> str:
    """The one line to print for ``error``."""
    if language() == ENGLISH:
        return str(error)
    for kind, render in MESSAGES:
        if isinstance(error, kind):
            return render(error, _names())
    return str(error)


@cache
def _names() -> Names:
    """The workflows' names, as the commands find them (an error is printed once, at the end
    of a command); none when they cannot be read, which is then the error being printed."""
    try:
        return Names(WorkflowRegistry.default())
    except CaseworkError:
        return Names()


def _either(items: list[str]) -> str:
    return ", ".join(items) or _("none")


def _illegal(error: IllegalTransition, names: Names) -> str:
    return _("cannot {trigger} case {case}: it is {state}; legal triggers from {state}: "
             "{legal}").format(trigger=names.trigger(error.trigger),
                               case=error.case_id, state=names.state(error.state),
                               legal=_either([names.trigger(t) for t in error.legal]))


def _unknown_trigger(error: UnknownTrigger, names: Names) -> str:
    if error.state == "-":
        return str(error)
    return _("there is no trigger {trigger!r}; case {case} is {state}; legal triggers from "
             "{state}: {legal}").format(trigger=error.trigger, case=error.case_id,
                                        state=names.state(error.state),
                                        legal=_either([names.trigger(t) for t in error.legal]))


def _guard(error: GuardRefused, names: Names) -> str:
    return _("cannot {trigger} case {case}: {reason} (guard {guard})").format(
        trigger=names.trigger(error.trigger), case=error.case_id, reason=error.reason,
        guard=error.guard)


def _permission(error: PermissionDenied, names: Names) -> str:
    why = str(error).split(": ", 2)[-1]  # the engine's reason, after "...case X: "
    needs = f"{error.trigger} needs one of the roles "
    if why.startswith(needs):  # the usual reason: the trigger's roles
        why = _("only the roles {roles} may").format(roles=why.removeprefix(needs))
    return _("permission denied: {actor} (roles {roles}) may not {trigger} case {case}: "
             "{why}").format(actor=error.actor, roles=_either(error.roles),
                             trigger=names.trigger(error.trigger), case=error.case, why=why)


MESSAGES: list[tuple[type[CaseworkError], Callable[[Any, Names], str]]] = [
    (AmbiguousCase, lambda error, names: str(error)),
    (UnknownCase, lambda error, names: _("unknown case {case}").format(case=error.case_id)
     + str(error).partition(str(error.case_id))[2]),
    (UnknownPerson, lambda error, names: _("unknown person {person}").format(
        person=error.person) + str(error).partition(str(error.person))[2]),
    (UnknownWorkflow, lambda error, names: _("unknown workflow {workflow}").format(
        workflow=str(error).removeprefix("unknown workflow "))),
    (GuardRefused, _guard),
    (UnknownTrigger, _unknown_trigger),
    (IllegalTransition, _illegal),
    (ForgetDenied, lambda error, names: str(error)),
    (PermissionDenied, _permission),
    (InvalidField, lambda error, names: _("field {field!r}: {problem}").format(
        field=error.field, problem=str(error).split(": ", 1)[-1])),
    (StaleCase, lambda error, names: _(
        "case {case} is at version {actual}, not {expected} as expected: it changed since it "
        "was read; read it again and decide again").format(
        case=error.case_id, actual=error.actual, expected=error.expected)),
    (ConcurrencyConflict, lambda error, names: _(
        "case {case} kept changing under this command; try again").format(case=error.case_id)),
    (NotMigratable, lambda error, names: _("cannot migrate case {case}: {reason}").format(
        case=error.case_id, reason=str(error).split(": ", 1)[-1])),
]
