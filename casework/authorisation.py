"""Who may do what: the roles a trigger admits, and the part of the organisation an actor
reaches. Every command, and every reader given an actor, is checked here.

1. Roles: the workflow names the roles that may fire each trigger; moving a case to another
   workflow version, and forgetting a person, are above any workflow (``MIGRATING_ROLES``,
   ``FORGETTING_ROLES``).
2. Units: an actor bound to a unit sees and acts only on the cases at that unit or below it.
   Where a case is: the unit it was dispatched to, or before dispatch its location; a case
   placed nowhere yet is open to every unit (intake has not said where it belongs).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .actor import Actor
from .case import Case
from .errors import ForgetDenied, InvalidField, PermissionDenied
from .organisation import Organisation
from .workflow import Trigger

MIGRATING_ROLES = ("system", "supervisor")
"""Who may move a case to another workflow version (no workflow defines it: it is above them)."""
FORGETTING_ROLES = ("supervisor", "system")
"""Who may delete a person's key: it cannot be undone."""


def check_actor(actor: Any) -> Actor:
    if not isinstance(actor, Actor):
        raise InvalidField("actor", f"{actor!r} is not an Actor (casework.Actor(id, roles))")
    return actor


class Authorisation:
    """The two rules, over one organisation."""

    def __init__(self, organisation: Organisation) -> None:
        self.organisation = organisation

    def reaches(self, actor: Actor, unit: str | None) -> bool:
        """Whether a case at ``unit`` is within the actor's part of the organisation."""
        check_actor(actor)
        if actor.unit is not None and actor.unit not in self.organisation:
            raise InvalidField("actor", f"{actor.id} is bound to a unit that does not exist: "
                                        f"{self.organisation.unknown(actor.unit)}")
        return actor.reaches(unit)

    def check_reach(self, actor: Actor, case: Case, action: str) -> None:
        """``PermissionDenied`` unless the case is within the actor's unit."""
        self.check_location(actor, case.jurisdiction, action, case.id)

    def check_location(self, actor: Actor, unit: str | None, action: str, case: object) -> None:
        if not self.reaches(actor, unit):
            raise PermissionDenied(actor.id, actor.roles, action, case,
                                   reason=f"the case is at {unit}, outside {actor.id}'s unit "
                                          f"{actor.unit}")

    @staticmethod
    def role_for(actor: Actor, trigger: Trigger, case: object) -> str:
        """The role the actor fires ``trigger`` in; ``PermissionDenied`` when none fits."""
        return _role(actor, trigger.roles, trigger.name, case)

    @staticmethod
    def may_fire(actor: Actor, trigger: Trigger) -> bool:
        return actor.role_for(trigger.roles) is not None

    def role_to_migrate(self, actor: Actor, case: Case) -> str:
        role = _role(actor, MIGRATING_ROLES, "migrate", case.id)
        self.check_reach(actor, case, "migrate")
        return role

    @staticmethod
    def role_to_forget(actor: Actor, person: object) -> str:
        check_actor(actor)
        role = actor.role_for(FORGETTING_ROLES)
        if role is None:
            raise ForgetDenied(actor.id, actor.roles, person, FORGETTING_ROLES)
        return role


def _role(actor: Actor, allowed: Iterable[str], action: str, case: object) -> str:
    check_actor(actor)
    allowed = tuple(allowed)
    role = actor.role_for(allowed)
    if role is None:
        raise PermissionDenied(actor.id, actor.roles, action, case, allowed)
    return role
