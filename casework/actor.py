"""Who fires a command: an id, the roles they hold and, optionally, the unit they belong to.

An actor bound to a unit works in that unit's part of the organisation: a grid worker on the
cases of the grid, a community supervisor on everything in the community. An actor bound to
no unit (the subdistrict's office, the system) works everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import InvalidField
from .fields import FieldSpec


@dataclass(frozen=True)
class Actor:
    id: str
    roles: tuple[str, ...] = field(default=())
    unit: str | None = None

    def __init__(self, id: str, roles: Iterable[str] = (), unit: str | None = None) -> None:
        # Checked as a string field: the id is recorded in every event and its hash.
        object.__setattr__(self, "id", _NAME.coerce(id))
        if isinstance(roles, str) or roles is None:  # Actor("li", "intake"): one role
            roles = [roles] if roles else []
        object.__setattr__(self, "roles", tuple(_ROLE.coerce(role) for role in roles))
        object.__setattr__(self, "unit", unit)

    def role_for(self, allowed: Iterable[str]) -> str | None:
        """The role this actor acts in where ``allowed`` roles may act: the first of them,
        in their order, that the actor holds, or None. A workflow names the role a trigger
        is for first (``dispatch``: dispatcher, then assessor), so a clerk holding both is
        recorded dispatching as the dispatcher."""
        held = set(self.roles)
        return next((role for role in allowed if role in held), None)

    def acting_as(self, role: str) -> Actor:
        """The same actor acting in ``role`` only (one of theirs): what they do is recorded
        in that role, and refused where it is not admitted."""
        if role not in self.roles:
            raise InvalidField("role", f"{self.id} does not hold the role {role!r} "
                                       f"(roles: {', '.join(self.roles) or 'none'})")
        return Actor(self.id, roles=[role], unit=self.unit)

    def reaches(self, unit: str | None) -> bool:
        """Whether a case at unit path ``unit`` is this actor's to see and act on: their unit
        or below it. A case placed nowhere yet (not dispatched, no location) is everyone's:
        intake has not said where it belongs."""
        if self.unit is None or unit is None:
            return True
        return unit == self.unit or unit.startswith(self.unit + "/")


_NAME = FieldSpec("actor", "string", required=True)
_ROLE = FieldSpec("role", "string", required=True)


SYSTEM = Actor("system", roles=["system"])
"""The actor batch jobs (sweeps, migrations) act as."""
