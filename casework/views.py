"""What readers get back: a case as it stands, and one entry of its audit trail.

Plain frozen values, detached from the aggregate, so that nothing a reader does can change
a case except a command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from .case import Case


@dataclass(frozen=True)
class CaseView:
    id: UUID
    kind: str
    workflow: str
    version: int
    """The version of the workflow the case runs under."""
    state: str
    stage: str
    unit: str | None
    grade: str | None
    deadline: datetime | None
    fields: dict[str, Any]
    volunteers: tuple[str, ...]
    tasks: tuple[str, ...]
    escalations: int
    reopens: int
    opened_at: datetime
    updated_at: datetime
    events: int
    """How many events the case has: the aggregate's version."""
    person: str | None = None
    """The pseudonym of the resident the personal fields belong to (see casework.personal)."""
    contact_deadline: datetime | None = None
    """When the unit must have reached the petitioner (see casework.clocks)."""
    contact_limit: str | None = None
    contacted_at: datetime | None = None
    resolve_limit: str | None = None
    """The limit the (resolution) ``deadline`` was computed from, e.g. ``7wd``."""
    resolve_from: datetime | None = None
    paused_since: datetime | None = None
    """Since when the resolution clock stands still (None: it runs)."""
    paused_seconds: float = 0.0
    """Paused time recorded so far (working time, for a limit in working time)."""

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def of(cls, case: Case, fields: dict[str, Any] | None = None) -> CaseView:
        """The case as it stands; ``fields`` instead of the case's own (decrypted ones)."""
        return cls(
            id=case.id,
            kind=case.kind,
            workflow=case.kind,
            version=case.workflow_version,
            state=case.state,
            stage=case.stage,
            unit=case.unit,
            grade=case.grade,
            deadline=case.deadline,
            fields=dict(case.fields) if fields is None else fields,
            volunteers=tuple(case.volunteers),
            tasks=tuple(case.tasks),
            escalations=case.escalations,
            reopens=case.reopens,
            opened_at=case.opened_at,
            updated_at=case.updated_at,
            events=case.version,
            person=getattr(case, "person", None),  # absent from snapshots older than persons
            contact_deadline=case.contact_deadline,
            contact_limit=case.contact_limit,
            contacted_at=case.contacted_at,
            resolve_limit=case.resolve_limit,
            resolve_from=case.resolve_from,
            paused_since=case.paused_since,
            paused_seconds=case.paused_seconds,
        )


@dataclass(frozen=True)
class HistoryEntry:
    sequence: int
    at: datetime
    """Business time: when it happened, as the caller said."""
    recorded_at: datetime
    """When the engine recorded it."""
    actor: str
    role: str
    trigger: str
    from_state: str | None
    to_state: str
    stage: str
    fields: dict[str, Any]
    changes: dict[str, Any]
    hash: str

    @classmethod
    def of(cls, event: Any, fields: dict[str, Any] | None = None) -> HistoryEntry:
        """The entry of an event; ``fields`` instead of the event's own (decrypted ones)."""
        return cls(
            sequence=event.originator_version,
            at=event.at,
            recorded_at=event.timestamp,
            actor=event.actor_id,
            role=event.role,
            trigger=event.trigger,
            from_state=getattr(event, "from_state", None),
            to_state=event.to_state,
            stage=event.to_stage,
            fields=dict(event.fields) if fields is None else fields,
            changes=dict(event.changes),
            hash=event.hash,
        )
