"""Who fires a command: an id, the roles they hold and, optionally, the unit they belong to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    id: str
    roles: tuple[str, ...] = field(default=())
    unit: str | None = None

    def __init__(self, id: str, roles: Iterable[str] = (), unit: str | None = None) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "roles", tuple(roles))
        object.__setattr__(self, "unit", unit)

    def role_for(self, allowed: Iterable[str]) -> str | None:
        """The first of this actor's roles that ``allowed`` admits, or None."""
        allowed = set(allowed)
        return next((role for role in self.roles if role in allowed), None)


SYSTEM = Actor("system", roles=["system"])
"""The actor batch jobs (sweeps, migrations) act as."""
