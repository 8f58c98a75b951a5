"""The errors a user of the engine can cause, all under one base class.

Each carries a message meant to be shown as is: the CLI prints ``str(error)`` on one
line and exits with the error's ``exit_code``.
"""

from __future__ import annotations

from collections.abc import Iterable


class CaseworkError(Exception):
    """Base class of every error the engine raises on purpose."""

    exit_code = 1


class UnknownCase(CaseworkError):
    exit_code = 3

    def __init__(self, case_id: object, detail: str = "") -> None:
        self.case_id = case_id
        super().__init__(f"unknown case {case_id}" + (f": {detail}" if detail else ""))


class UnknownWorkflow(CaseworkError):
    exit_code = 3

    def __init__(self, name: str, version: int | None = None, known: Iterable[str] = ()) -> None:
        self.name = name
        self.version = version
        what = f"{name} v{version}" if version is not None else name
        known = sorted(known)
        hint = f" (known: {', '.join(known)})" if known else ""
        super().__init__(f"unknown workflow {what}{hint}")


class WorkflowDefinitionError(CaseworkError):
    """A workflow definition file is malformed; the message names file and entry."""

    exit_code = 2


class OrganisationError(CaseworkError):
    """The organisation file is malformed."""

    exit_code = 2


class IllegalTransition(CaseworkError):
    exit_code = 4

    def __init__(self, case_id: object, state: str, trigger: str, legal: Iterable[str]) -> None:
        self.case_id = case_id
        self.state = state
        self.trigger = trigger
        self.legal = sorted(legal)
        allowed = ", ".join(self.legal) or "none"
        super().__init__(
            f"cannot {trigger} case {case_id}: it is {state}; "
            f"legal triggers from {state}: {allowed}"
        )


class GuardRefused(IllegalTransition):
    """The trigger is legal from the state, but one of its guards says no."""

    def __init__(self, case_id: object, state: str, trigger: str, guard: str, reason: str) -> None:
        self.guard = guard
        self.reason = reason
        CaseworkError.__init__(self, f"cannot {trigger} case {case_id}: {reason} (guard {guard})")
        self.case_id = case_id
        self.state = state
        self.trigger = trigger
        self.legal = []


class UnknownTrigger(IllegalTransition):
    """The workflow has no trigger of that name at all (a typo, most likely)."""

    def __init__(self, case_id: object, state: str, trigger: str, workflow: object,
                 legal: Iterable[str]) -> None:
        super().__init__(case_id, state, trigger, legal)
        key = getattr(workflow, "key", workflow)
        if workflow is None:
            message = f"no workflow has a trigger {trigger!r}"
        elif state == "-":  # no particular case: a batch job's trigger
            names = ", ".join(sorted(getattr(workflow, "triggers", {})))
            message = f"{key} has no trigger {trigger!r} (its triggers: {names})"
        else:
            message = (f"{key} has no trigger {trigger!r}; case {case_id} is {state}; "
                       f"legal triggers from {state}: {', '.join(self.legal) or 'none'}")
        CaseworkError.__init__(self, message)


class InvalidField(CaseworkError):
    exit_code = 2

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"field {field!r}: {message}")


class PermissionDenied(CaseworkError):
    exit_code = 5

    def __init__(self, actor: str, roles: Iterable[str], trigger: str, case: object,
                 allowed: Iterable[str] = (), reason: str = "") -> None:
        self.actor = actor
        self.roles = list(roles)
        self.trigger = trigger
        self.case = case
        why = reason or f"{trigger} needs one of the roles {', '.join(sorted(allowed)) or 'none'}"
        super().__init__(
            f"permission denied: {actor} (roles {', '.join(self.roles) or 'none'}) "
            f"may not {trigger} case {case}: {why}"
        )


class UnknownPerson(CaseworkError):
    """No key was ever made for that person here (see casework.personal)."""

    exit_code = 3

    def __init__(self, person: object, detail: str = "") -> None:
        self.person = person
        super().__init__(f"unknown person {person}" + (f": {detail}" if detail else ""))


class ForgetDenied(PermissionDenied):
    """Only some roles may forget a person: it cannot be undone."""

    def __init__(self, actor: str, roles: Iterable[str], person: object,
                 allowed: Iterable[str]) -> None:
        super().__init__(actor, roles, "forget", person, allowed)
        CaseworkError.__init__(
            self, f"permission denied: {actor} (roles {', '.join(self.roles) or 'none'}) may "
                  f"not forget person {person}: forget needs one of the roles "
                  f"{', '.join(allowed)}")


class ConcurrencyConflict(CaseworkError):
    exit_code = 6

    def __init__(self, case_id: object, attempts: int) -> None:
        self.case_id = case_id
        super().__init__(
            f"case {case_id} kept changing under this command; gave up after {attempts} attempts"
        )


class StaleCase(ConcurrencyConflict):
    """The command was meant for another version of the case than the one it now has: the
    caller acted on a stale view (an HTTP If-Match that no longer matches)."""

    def __init__(self, case_id: object, expected: int, actual: int) -> None:
        self.case_id = case_id
        self.expected = expected
        self.actual = actual
        CaseworkError.__init__(
            self, f"case {case_id} is at version {actual}, not {expected} as expected: it "
                  "changed since it was read; read it again and decide again")


class StorageError(CaseworkError):
    """The database URL is not usable, or the database cannot be reached."""

    exit_code = 7


class DatabaseURLError(StorageError):
    """The database URL is malformed, or names a database casework does not support: bad
    input (exit 2), not a database that cannot be reached."""

    exit_code = 2


class SettingsError(CaseworkError):
    """A settings file, or a setting, is malformed; the message names where it came from."""

    exit_code = 2


class DuplicateCase(CaseworkError):
    """A case with that id exists already."""

    exit_code = 2


class NotMigratable(CaseworkError):
    """The case cannot move to that workflow version: it runs it already, or its state maps
    to nothing there."""

    exit_code = 4

    def __init__(self, case_id: object, reason: str) -> None:
        self.case_id = case_id
        super().__init__(f"cannot migrate case {case_id}: {reason}")


class AmbiguousCase(UnknownCase):
    """A shortened case id that more than one case starts with."""

    def __init__(self, given: object, matches: Iterable[object]) -> None:
        self.case_id = given
        shown = list(matches)
        CaseworkError.__init__(
            self, f"case id {given} is ambiguous: it matches {', '.join(map(str, shown[:2]))}"
                  f"{' and more' if len(shown) > 2 else ''}; give more characters")


class CalendarError(CaseworkError):
    """A calendar or office file that cannot be read or makes no sense."""

    exit_code = 2
