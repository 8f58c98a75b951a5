"""The Casework application: the one place that checks commands and touches persistence."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    InfrastructureFactoryError,
    IntegrityError,
    PersistenceError,
)

from workflows import ORGANISATION

from .actor import Actor
from .case import Case, replay
from .effects import EFFECTS
from .errors import (
    CaseworkError,
    ConcurrencyConflict,
    ForgetDenied,
    GuardRefused,
    IllegalTransition,
    InvalidField,
    PermissionDenied,
    StorageError,
    UnknownCase,
    UnknownPerson,
    UnknownTrigger,
)
from .fields import coerce_fields
from .guards import CONDITIONS, GUARDS
from .organisation import Organisation
from .personal import FORGETTING_ROLES, Forgotten, PersonKeys, person_id
from .registry import WorkflowRegistry
from .rules import CommandContext
from .storage import Storage, recorded_ids
from .timestamps import parse_time, utc_now
from .views import CaseView, HistoryEntry
from .workflow import OPEN, STAY, Trigger, Workflow

MAX_ATTEMPTS = 5
"""How often a command is checked again on a case that changed under it."""

Finder = Callable[[str], Case | None]

MIGRATING_ROLES = ("system", "supervisor")
"""Who may move a case to another workflow version (no workflow defines it: it is above them)."""


class DuplicateCase(CaseworkError):
    exit_code = 2


class NotMigratable(CaseworkError):
    exit_code = 4

    def __init__(self, case_id: object, reason: str) -> None:
        self.case_id = case_id
        super().__init__(f"cannot migrate case {case_id}: {reason}")


class Casework(Application[UUID]):
    """Cases that move through declarative workflows, recorded as events.

    >>> app = Casework("sqlite:///:memory:")
    >>> clerk = Actor("li", roles=["intake"])
    >>> case_id = app.open_case("petition", actor=clerk, channel="hotline", title="Broken cover")
    >>> app.get_case(case_id).state
    'collected'
    """

    name = "casework"

    def __init__(
        self,
        url: str | None = None,
        *,
        workflows: WorkflowRegistry | str | Path | None = None,
        organisation: Organisation | str | Path | None = None,
        clock: Callable[[], datetime] | None = None,
        snapshot_interval: int | None = 50,
    ) -> None:
        self.storage = Storage.from_url(url)
        self.workflows = (
            workflows if isinstance(workflows, WorkflowRegistry)
            else WorkflowRegistry.from_directory(workflows) if workflows
            else WorkflowRegistry.default()
        )
        self.organisation = (
            organisation if isinstance(organisation, Organisation)
            else Organisation.load(organisation or ORGANISATION)
        )
        self.clock: Callable[[], datetime] = clock or utc_now
        self.personal = PersonKeys(self.storage)
        env = dict(self.storage.event_store_env)
        if snapshot_interval:
            env["IS_SNAPSHOTTING_ENABLED"] = "y"
            self.snapshotting_intervals = {Case: snapshot_interval}
        try:
            with self.storage.setting_up():
                super().__init__(env)
        except (PersistenceError, sqlite3.Error) as error:
            raise StorageError(f"cannot open {self.storage.display_url}: {error}") from None
        except InfrastructureFactoryError:
            raise StorageError(
                f"{self.storage.backend} support is not installed: "
                "pip install 'casework[postgres]'") from None

    # Commands --------------------------------------------------------------------------

    def open_case(
        self,
        kind: str,
        actor: Actor,
        at: datetime | str | None = None,
        *,
        case_id: UUID | None = None,
        person: str | UUID | None = None,
        **fields: Any,
    ) -> UUID:
        """Open a case of ``kind`` under the latest version of that workflow.

        ``person`` names the resident whose personal fields these are (a UUID: the person of
        another case, to share its key); without it, personal fields get a new person."""
        batch = self.batch()
        new_id = batch.open_case(kind, actor, at, case_id=case_id, person=person, **fields)
        try:
            batch.commit()
        except IntegrityError:
            raise DuplicateCase(f"case {new_id} already exists") from None
        return new_id

    def fire(
        self,
        case_id: UUID | str,
        trigger: str,
        actor: Actor,
        at: datetime | str | None = None,
        **fields: Any,
    ) -> CaseView:
        """Fire ``trigger`` on a case; one event records the outcome, or nothing is recorded."""
        case_id = self.parse_case_id(case_id)
        for _ in range(MAX_ATTEMPTS):
            batch = self.batch()
            view = batch.fire(case_id, trigger, actor, at, **fields)
            try:
                batch.commit()
            except IntegrityError:
                continue  # someone else changed the case: check the command again on it
            return view
        raise ConcurrencyConflict(case_id, MAX_ATTEMPTS)

    def forget(self, person: str | UUID, actor: Actor, at: datetime | str | None = None
               ) -> Forgotten:
        """Delete the person's key: their personal fields read as erased from now on, in
        every case, history and export; nothing else changes. Raises ``UnknownPerson``."""
        role = actor.role_for(FORGETTING_ROLES)
        if role is None:
            raise ForgetDenied(actor.id, actor.roles, person, FORGETTING_ROLES)
        moment = None if at is None else _parse_at(at)
        return self.personal.forget(str(person), actor.id, role, moment)

    def person_of(self, case_id: UUID | str) -> str:
        """The person whose personal fields the case holds; ``UnknownPerson`` when none."""
        person = self.get_case(case_id).person
        if person is None:
            raise UnknownPerson(f"of case {case_id}", "the case holds no personal data")
        return person

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        # The keys of new persons first: an event must never be stored without its key.
        self.personal.save_new()
        return super().save(*objs, **kwargs)

    def close(self) -> None:
        self.personal.close()
        super().close()

    def batch(self, size: int = 1000) -> Batch:
        """Many commands, one transaction per ``size`` changed cases (see ``Batch``)."""
        return Batch(self, size)

    # Queries ---------------------------------------------------------------------------

    def get_case(self, case_id: UUID | str, as_of: datetime | str | None = None, *,
                 actor: Actor | None = None) -> CaseView:
        """The case as it is now, or as it was at business time ``as_of``.

        With ``actor``, only a case in that actor's part of the organisation (PermissionDenied
        otherwise)."""
        case_id = self.parse_case_id(case_id)
        if as_of is None:
            case = self._load(case_id)
            if actor is not None:
                self._check_reach(actor, case, "see")
            return self.view_of(case)
        moment = _parse_at(as_of)
        case: Case | None = None
        for event in self.events.get(case_id):
            if event.at > moment:
                break
            case = event.mutate(case)
        if case is None:
            if self._exists(case_id):
                raise UnknownCase(case_id, f"it was not opened yet at {moment.isoformat()}")
            raise UnknownCase(case_id)
        if actor is not None:
            self._check_reach(actor, case, "see")
        return self.view_of(case)

    def history(self, case_id: UUID | str, as_of: datetime | str | None = None, *,
                actor: Actor | None = None) -> list[HistoryEntry]:
        """The audit trail: who did what, when, from which state to which, with which fields.

        With ``actor``, only of a case in that actor's part of the organisation."""
        case_id = self.parse_case_id(case_id)
        if actor is not None:
            self._check_reach(actor, self._load(case_id), "see")
        moment = None if as_of is None else _parse_at(as_of)
        entries = [
            replace(entry, fields=self.personal.reveal(entry.fields))
            for entry in map(HistoryEntry.of, self.events.get(case_id))
            if moment is None or entry.at <= moment
        ]
        if not entries and not self._exists(case_id):
            raise UnknownCase(case_id)
        return entries

    def existing_cases(self, case_ids: Iterable[UUID]) -> set[UUID]:
        """Which of these case ids are taken: how an importer skips what it imported before."""
        return recorded_ids(self.recorder, list(case_ids))

    def allowed_triggers(self, case_id: UUID | str, actor: Actor) -> list[str]:
        """The triggers this actor may fire on the case in its current state."""
        case = self._load(self.parse_case_id(case_id))
        if not self._actor_reaches(actor, case.jurisdiction):
            return []
        workflow = self.workflow_of(case)
        return [
            name for name in workflow.legal_triggers(case.state)
            if actor.role_for(workflow.triggers[name].roles) is not None
        ]

    def view_of(self, case: Case) -> CaseView:
        """The case for readers: its personal fields decrypted, or reading as erased."""
        return CaseView.of(case, self.personal.reveal(case.fields))

    def workflow_of(self, case: Case | CaseView) -> Workflow:
        version = case.workflow_version if isinstance(case, Case) else case.version
        return self.workflows.get(case.kind, version)

    @staticmethod
    def parse_case_id(case_id: UUID | str) -> UUID:
        if isinstance(case_id, UUID):
            return case_id
        try:
            return UUID(str(case_id).strip())
        except ValueError:
            raise UnknownCase(case_id, "not a case id (a UUID)") from None

    # Checking commands -----------------------------------------------------------------

    def _opened(self, kind: str, actor: Actor, at: datetime | str | None,
                given: Mapping[str, Any], case_id: UUID | None, find: Finder,
                parent: Case | None = None, person: str | UUID | None = None) -> Case:
        workflow = self.workflows.get(kind)
        trigger = workflow.opening
        role = self._role(actor, trigger, "(new case)")
        moment = self._business_time(at, None)
        fields = coerce_fields(trigger.fields, given, self.organisation, OPEN)
        if case_id is not None and not isinstance(case_id, UUID):
            raise InvalidField("case_id", f"{case_id!r} is not a UUID")
        new_id = case_id or uuid4()
        location = fields.get(trigger.field_of_type("unit") or "location")
        if parent is None and not self._actor_reaches(actor, location):
            raise PermissionDenied(actor.id, actor.roles, OPEN, "(new case)",
                                   reason=self._outside(actor, location))
        context = CommandContext(parent, trigger, fields, actor, moment, workflow,
                                 self.organisation, find, self.workflows)
        self._check_guards(context, new_id, "")
        changes = self._changes(context, trigger.effects)
        fields = self._protected(trigger, fields, changes, None, person,
                                 inherited=getattr(parent, "person", None))
        return Case.open(
            case_id=new_id,
            recorded_at=utc_now(),
            kind=workflow.name,
            workflow_version=workflow.version,
            trigger=OPEN,
            to_state=workflow.initial,
            to_stage=workflow.states[workflow.initial].stage,
            actor_id=actor.id,
            role=role,
            at=moment,
            fields=fields,
            changes=changes,
        )

    def _fired(self, case: Case, name: str, actor: Actor, at: datetime | str | None,
               given: Mapping[str, Any], find: Finder, job: str | None = None) -> list[Case]:
        """Check the command against the case's workflow; record it on the case.

        Returns every case the command changed (a spawned task is a second one)."""
        self._check_reach(actor, case, name)
        workflow = self.workflow_of(case)
        trigger = workflow.transitions.get((case.state, name)) if isinstance(name, str) else None
        if trigger is None:
            legal = workflow.legal_triggers(case.state)
            if not isinstance(name, str) or name not in workflow.triggers:
                raise UnknownTrigger(case.id, case.state, name, workflow, legal)
            raise IllegalTransition(case.id, case.state, name, legal)
        role = self._role(actor, trigger, case.id)
        moment = self._business_time(at, case)
        fields = coerce_fields(trigger.fields, given, self.organisation, name)
        context = CommandContext(case, trigger, fields, actor, moment, workflow,
                                 self.organisation, find, self.workflows)
        self._check_guards(context, case.id, case.state)
        destination, effects = trigger.to, trigger.effects
        for branch in trigger.branches:
            if CONDITIONS[branch.when](context):
                destination, effects = branch.to, (*effects, *branch.effects)
                break
        if destination == STAY:
            destination = case.state
        changes = self._changes(context, effects)
        changed = [case]
        if trigger.spawns is not None:
            task = self._spawned(trigger.spawns, case, actor, moment, fields, find)
            changes["tasks"] = [*case.tasks, str(task.id)]
            changed.append(task)
        if job is not None:
            changes["jobs"] = [*case.jobs, job]
        fields = self._protected(trigger, fields, changes, getattr(case, "person", None))
        case.record(
            Case.Transitioned,
            recorded_at=utc_now(),
            trigger=name,
            from_state=case.state,
            to_state=destination,
            to_stage=workflow.states[destination].stage,
            actor_id=actor.id,
            role=role,
            at=moment,
            fields=fields,
            changes=changes,
        )
        return changed

    def _migrated(self, case: Case, to_version: int, actor: Actor,
                  at: datetime | str | None) -> None:
        target = self.workflows.get(case.kind, to_version)
        role = actor.role_for(MIGRATING_ROLES)
        if role is None:
            raise PermissionDenied(actor.id, actor.roles, "migrate", case.id, MIGRATING_ROLES)
        self._check_reach(actor, case, "migrate")
        if to_version <= case.workflow_version:
            raise NotMigratable(case.id, f"it already runs {case.kind} v{case.workflow_version}")
        mapping = target.migrations.get(case.workflow_version, {})
        state = mapping.get(case.state, case.state)
        if state not in target.states:
            raise NotMigratable(
                case.id, f"{target.key} has no state {case.state!r} and maps it to nothing")
        moment = self._business_time(at, case)
        case.record(
            Case.Migrated,
            recorded_at=utc_now(),
            trigger="migrate",
            from_state=case.state,
            to_state=state,
            to_stage=target.states[state].stage,
            from_version=case.workflow_version,
            workflow_version=to_version,
            actor_id=actor.id,
            role=role,
            at=moment,
            fields={},
            changes={},
        )

    def _spawned(self, kind: str, parent: Case, actor: Actor, at: datetime,
                 fields: Mapping[str, Any], find: Finder) -> Case:
        """A case opened by another case's trigger, linked back to it."""
        given = {**fields, "parent": str(parent.id)}
        if parent.unit is not None:
            given.setdefault("location", parent.unit)
        given.setdefault("channel", parent.kind)
        opening = self.workflows.get(kind).opening.fields
        return self._opened(kind, actor, at, {k: v for k, v in given.items() if k in opening},
                            None, find, parent)

    def _check_reach(self, actor: Actor, case: Case, action: str) -> None:
        """An actor bound to a unit sees and acts on the cases at that unit or below it."""
        if not self._actor_reaches(actor, case.jurisdiction):
            raise PermissionDenied(actor.id, actor.roles, action, case.id,
                                   reason=self._outside(actor, case.jurisdiction))

    def _actor_reaches(self, actor: Actor, unit: str | None) -> bool:
        _check_actor(actor)
        if actor.unit is not None and actor.unit not in self.organisation:
            raise InvalidField("actor", f"{actor.id} is bound to {actor.unit!r}, which is not "
                                        "a unit of the organisation")
        return actor.reaches(unit)

    @staticmethod
    def _outside(actor: Actor, unit: str | None) -> str:
        return f"the case is at {unit}, outside {actor.id}'s unit {actor.unit}"

    def _protected(self, trigger: Trigger, fields: dict[str, Any], changes: dict[str, Any],
                   person: str | None, given: str | UUID | None = None,
                   inherited: str | None = None) -> dict[str, Any]:
        """The fields as the event stores them: each personal one encrypted under the key of
        the case's person. A case gets its person (``changes``) when the caller names one,
        or with its first personal field: its parent's person (a spawned case), or a new one."""
        if person is None and given is not None:
            person = person_id(given)
            self.personal.ensure(person)
            changes["person"] = person
        personal = [name for name in fields if trigger.fields[name].personal]
        if not personal:
            return fields
        if person is None:
            person = inherited if inherited and self.personal.has_key(inherited) \
                else self.personal.new_person()
            changes["person"] = person
        return {name: self.personal.encrypt(person, name, value) if name in personal else value
                for name, value in fields.items()}

    @staticmethod
    def _role(actor: Actor, trigger: Trigger, case: object) -> str:
        _check_actor(actor)
        role = actor.role_for(trigger.roles)
        if role is None:
            raise PermissionDenied(actor.id, actor.roles, trigger.name, case, trigger.roles)
        return role

    def _business_time(self, at: datetime | str | None, case: Case | None) -> datetime:
        moment = _parse_at(at) if at is not None else parse_time(self.clock())
        if case is not None and moment < case.updated_at:
            raise InvalidField(
                "at", f"{moment.isoformat()} is before the case's last event "
                      f"({case.updated_at.isoformat()}); a case's history runs forward"
            )
        return moment

    @staticmethod
    def _check_guards(context: CommandContext, case_id: object, state: str) -> None:
        for name in context.trigger.guards:
            reason = GUARDS[name](context)
            if reason is not None:
                raise GuardRefused(case_id, state, context.trigger.name, name, reason)

    @staticmethod
    def _changes(context: CommandContext, effects: Iterable[str]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for effect in effects:
            changes.update(EFFECTS[effect](context))
        return changes

    # Loading ---------------------------------------------------------------------------

    def _load(self, case_id: UUID) -> Case:
        try:
            return self.repository.get(case_id, projector_func=replay)
        except AggregateNotFoundError:
            raise UnknownCase(case_id) from None

    def _exists(self, case_id: UUID) -> bool:
        return bool(list(self.events.get(case_id, limit=1)))


def _check_actor(actor: Any) -> None:
    if not isinstance(actor, Actor):
        raise InvalidField("actor", f"{actor!r} is not an Actor (casework.Actor(id, roles))")


def _parse_at(at: datetime | str) -> datetime:
    try:
        return parse_time(at)
    except ValueError as error:
        raise InvalidField("at", str(error)) from None


class Batch:
    """Commands whose events are saved together: one transaction per ``size`` changed cases.

    A refused command raises as usual and records nothing; the batch goes on. Commands in a
    batch see the cases the batch changed before they are saved. Call ``commit`` at the end.

    >>> app = Casework("sqlite:///:memory:")
    >>> batch = app.batch()
    >>> ids = [batch.open_case("volunteer_task", Actor("o", ["organiser"]), title=str(n))
    ...        for n in range(3)]
    >>> batch.commit()
    3
    """

    def __init__(self, app: Casework, size: int = 1000) -> None:
        self.app = app
        self.size = size
        self.pending: dict[UUID, Case] = {}
        self._unchanged: Case | None = None

    def open_case(self, kind: str, actor: Actor, at: datetime | str | None = None, *,
                  case_id: UUID | None = None, person: str | UUID | None = None,
                  **fields: Any) -> UUID:
        case = self.app._opened(kind, actor, at, fields, case_id, self.find, person=person)
        self._changed([case])
        return case.id

    def fire(self, case_id: UUID | str, trigger: str, actor: Actor,
             at: datetime | str | None = None, *, job: str | None = None,
             **fields: Any) -> CaseView:
        """As ``Casework.fire``; ``job`` names the batch job firing it (recorded on the case)."""
        case = self.load(self.app.parse_case_id(case_id))
        self._changed(self.app._fired(case, trigger, actor, at, fields, self.find, job))
        return self.app.view_of(case)

    def migrate(self, case_id: UUID, to_version: int, actor: Actor,
                at: datetime | str | None = None) -> CaseView:
        """Move a case to another version of its workflow, by the state mapping that version
        declares (a state of the same name maps to itself)."""
        case = self.load(case_id)
        self.app._migrated(case, to_version, actor, at)
        self._changed([case])
        return self.app.view_of(case)

    def load(self, case_id: UUID) -> Case:
        """The case as this batch has it. The last case loaded and not changed is kept, so
        that a job which looks at a case and then fires on it reads it from storage once."""
        case = self.pending.get(case_id)
        if case is not None:
            return case
        if self._unchanged is None or self._unchanged.id != case_id:
            self._unchanged = self.app._load(case_id)
        return self._unchanged

    def find(self, case_id: str) -> Case | None:
        try:
            return self.load(self.app.parse_case_id(case_id))
        except UnknownCase:
            return None

    def commit(self) -> int:
        """Save every pending event in one transaction; returns how many cases it saved."""
        saved = len(self.pending)
        if saved:
            self.app.save(*self.pending.values())
            self.pending.clear()
        return saved

    def _changed(self, cases: list[Case]) -> None:
        self._unchanged = None  # changed: it is pending now
        for case in cases:
            self.pending[case.id] = case
        if len(self.pending) >= self.size:
            self.commit()
