"""The case aggregate: its history is the truth, and each event says who, when and why.

Commands are checked by the application against the case's workflow; the aggregate only
records outcomes. Applying an event never consults a workflow, so replay is fast and a
later version of a workflow cannot change what happened.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from .jsonable import canonical_json

GENESIS = "0" * 64
"""The hash a case's chain starts from."""

CLOCKS = {"resolve_limit": None, "resolve_from": None, "contact_deadline": None,
          "contact_limit": None, "contact_from": None, "contacted_at": None,
          "paused_since": None, "paused_seconds": 0.0}
"""The clocks' attributes (``casework.clocks``) and what they are on a case whose events
never set them: cases recorded before the clocks existed, and their snapshots."""

CHANGEABLE = frozenset(
    {"unit", "grade", "deadline", "volunteers", "tasks", "escalations", "reopens", "jobs",
     "person", *CLOCKS}
)
"""Attributes an event's ``changes`` may set; anything else in a stored event is ignored."""

LEGACY_UPDATES: dict[str, frozenset[str]] = {
    "assess": frozenset({"grade", "category", "dispute"}),
    "mediate": frozenset({"track"}),
    "merge": frozenset({"duplicate_of"}),
    "assign": frozenset({"leader", "department", "commissioner"}),
    "revisit": frozenset({"satisfaction"}),
    "feedback": frozenset({"satisfaction"}),
}
"""Which fields of an event recorded before events named the case fields they change
(``updates`` is None) changed the case: those the shipped workflows' triggers of that name
declared as ``updates`` when the rule was written down. Every other field of such an event
(a spawned task's title, a note, a reason) was the event's own. A fixed table, so that
replaying an old case never consults a workflow."""


def chain_hash(previous: str, content: dict[str, Any]) -> str:
    """The hash linking an event to the one before it, over the event's canonical content."""
    return hashlib.sha256((previous + canonical_json(content)).encode()).hexdigest()


class Case(Aggregate):
    """A petition, enterprise request or volunteer task, as its events made it."""

    # The attributes every event of a case records; ``hash`` covers all of them.
    class Opened(Aggregate.Created):
        kind: str
        workflow_version: int
        trigger: str
        to_state: str
        to_stage: str
        actor_id: str
        role: str
        at: datetime
        fields: dict[str, Any]
        changes: dict[str, Any]
        hash: str

        def apply(self, case: Case) -> None:
            case.kind = self.kind
            case.workflow_version = self.workflow_version
            case.state = self.to_state
            case.stage = self.to_stage
            case.unit = None
            case.grade = None
            case.deadline = None
            case.volunteers = []
            case.tasks = []
            case.escalations = 0
            case.reopens = 0
            case.jobs = []
            case.person = None
            case.fields = dict(self.fields)
            case.opened_at = self.at
            case.updated_at = self.at
            case.head = self.hash
            case._apply_changes(self.changes)

    class Transitioned(Aggregate.Event):
        trigger: str
        from_state: str
        to_state: str
        to_stage: str
        actor_id: str
        role: str
        at: datetime
        fields: dict[str, Any]
        changes: dict[str, Any]
        hash: str
        updates: list[str] | None
        """The names of its fields that set the case's fields; None in an event recorded
        before events said so (``LEGACY_UPDATES`` then tells)."""

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["updates"] = None

        def apply(self, case: Case) -> None:
            case.state = self.to_state
            case.stage = self.to_stage
            case.fields.update(case_fields_changed(self))
            case.updated_at = self.at
            case.head = self.hash
            case._apply_changes(self.changes)

    class Migrated(Aggregate.Event):
        """Moved on purpose to another version of its workflow."""

        trigger: str
        from_state: str
        to_state: str
        to_stage: str
        from_version: int
        workflow_version: int
        actor_id: str
        role: str
        at: datetime
        fields: dict[str, Any]
        changes: dict[str, Any]
        hash: str

        def apply(self, case: Case) -> None:
            case.workflow_version = self.workflow_version
            case.state = self.to_state
            case.stage = self.to_stage
            case.updated_at = self.at
            case.head = self.hash
            case._apply_changes(self.changes)

    class_version = 2
    """Version 2: a case's fields are its opening fields and those a trigger ``updates``.
    A snapshot of version 1 may hold a later trigger's fields as the case's: the loaders
    (``casework.snapshots``) skip it and replay the case from its first event."""

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Nothing to convert: the engine's loaders never start from such a snapshot."""

    # Defaults for cases (and snapshots) from before the clocks: plain class attributes (no
    # annotation, which eventsourcing would take for a constructor argument), so that an old
    # snapshot's state, which lacks them, still reads.
    resolve_limit = resolve_from = contact_deadline = contact_limit = contact_from = None
    contacted_at = paused_since = None
    paused_seconds = 0.0

    if TYPE_CHECKING:  # set by the events; annotated here only for readers and type checkers
        kind: str
        workflow_version: int
        state: str
        stage: str
        unit: str | None
        grade: str | None
        deadline: datetime | None
        volunteers: list[str]
        tasks: list[str]
        escalations: int
        reopens: int
        jobs: list[str]
        """The batch jobs that changed this case, so that a rerun skips it."""
        person: str | None
        """The pseudonym of the resident whose key encrypts the case's personal fields."""
        fields: dict[str, Any]
        opened_at: datetime
        updated_at: datetime
        head: str
        resolve_limit: str | None
        """The limit the resolution deadline was computed from (``7wd``)."""
        resolve_from: datetime | None
        contact_deadline: datetime | None
        contact_limit: str | None
        contact_from: datetime | None
        contacted_at: datetime | None
        """The first successful contact with the petitioner: the contact clock stopped."""
        paused_since: datetime | None
        """Since when the resolution clock stands still (the case is in a pausing state)."""
        paused_seconds: float
        """The paused time so far, in seconds (working time for a limit in working time)."""

    @classmethod
    def open(cls, *, case_id: UUID, recorded_at: datetime, **attributes: Any) -> Case:
        content = {"id": str(case_id), "version": 1, "recorded_at": recorded_at, **attributes}
        return cls._create(
            cls.Opened,
            id=case_id,
            timestamp=recorded_at,
            hash=chain_hash(GENESIS, content),
            **attributes,
        )

    def record(self, event_class: type[Aggregate.Event], *, recorded_at: datetime,
               **attributes: Any) -> None:
        """Append a Transitioned or Migrated event, linked to the last one by its hash."""
        content = {"id": str(self.id), "version": self.version + 1, "recorded_at": recorded_at,
                   **attributes}
        self.trigger_event(
            event_class,
            timestamp=recorded_at,
            hash=chain_hash(self.head, content),
            **attributes,
        )

    @property
    def jurisdiction(self) -> str | None:
        """Where the case belongs in the organisation: the unit it was dispatched to, else
        where the problem is (its location), else nowhere yet."""
        return self.unit or self.fields.get("location")

    def _apply_changes(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            if name in CHANGEABLE:
                setattr(self, name, value)


def case_fields_changed(event: Any) -> dict[str, Any]:
    """The case's fields an event sets: all of an opening's, the ``updates`` of a transition
    (as ``LEGACY_UPDATES`` says for one recorded before events named them), none of a
    migration's."""
    fields: dict[str, Any] = event.fields
    if isinstance(event, Case.Opened):
        return fields
    names = getattr(event, "updates", ())
    if names is None:
        names = LEGACY_UPDATES.get(event.trigger, ())
    return {name: fields[name] for name in names if name in fields}


def replay(case: Case | None, events: Iterable[Any]) -> Case | None:
    """Apply ``events`` in order: eventsourcing's ``project_aggregate`` without its
    ``assert isinstance(event, CanMutateProtocol)``, a runtime Protocol check that costs more
    than applying the event (a third of a sweep's time went there)."""
    for event in events:
        case = event.mutate(case)
    return case


HASHED_EXCLUDE = frozenset({"originator_id", "originator_version", "timestamp", "hash",
                            "originator_topic"})


def event_content(event: Any) -> dict[str, Any]:
    """The content an event's hash was computed over, rebuilt from the stored event."""
    content = {k: v for k, v in vars(event).items() if k not in HASHED_EXCLUDE}
    if content.get("updates", ()) is None:  # recorded before events had it: not hashed
        del content["updates"]
    content.update(id=str(event.originator_id), version=event.originator_version,
                   recorded_at=event.timestamp)
    return content
