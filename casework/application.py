"""The Casework application: the public API, and the one place that touches the event store.

Commands are checked and recorded by ``casework.commands`` and saved through a ``Batch``;
readers get frozen views (``casework.views``) and the audit trail.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import (
    InfrastructureFactoryError,
    IntegrityError,
    PersistenceError,
)

from workflows import ORGANISATION

from .actor import Actor
from .authorisation import Authorisation, check_actor
from .batch import Batch
from .calendar_files import load_calendar, office_calendar, office_zone
from .calendars import Calendar
from .case import Case, replay
from .commands import Commands, business_time
from .concurrency import retried
from .errors import (
    ConcurrencyConflict,
    DuplicateCase,
    InvalidField,
    StorageError,
    UnknownCase,
    UnknownPerson,
)
from .organisation import Organisation
from .personal import Forgotten, PersonKeys
from .recorders import recorder_topic
from .registry import WorkflowRegistry
from .snapshots import case_at, take_snapshots, usable
from .storage import Storage
from .stored_cases import recorded_ids
from .timestamps import utc_now
from .views import CaseView, HistoryEntry
from .workflow import Workflow

ORGANISATION_VAR = "CASEWORK_ORGANISATION"
"""A CSV file (or a folder of them) to use instead of the shipped organisation."""
CALENDAR_VAR = "CASEWORK_CALENDAR"
"""A calendar file to use instead of the one the office file names (same time zone)."""


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
        calendar: Calendar | str | Path | None = None,
    ) -> None:
        self.storage = Storage.from_url(url)
        self.workflows = (
            workflows if isinstance(workflows, WorkflowRegistry)
            else WorkflowRegistry.from_directory(workflows) if workflows
            else WorkflowRegistry.default()
        )
        self.organisation = (
            organisation if isinstance(organisation, Organisation)
            else Organisation.load(organisation or os.environ.get(ORGANISATION_VAR)
                                   or ORGANISATION)
        )
        self.calendar = self._calendar(calendar, organisation)
        self.clock: Callable[[], datetime] = clock or utc_now
        self.personal = PersonKeys(self.storage)
        self.authorisation = Authorisation(self.organisation)
        self.commands = Commands(self.workflows, self.organisation, self.personal,
                                 self.authorisation, self.clock, self.calendar)
        env = dict(self.storage.event_store_env)
        env["APPLICATION_RECORDER_TOPIC"] = recorder_topic(self.storage.backend)
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
        self.personal.reader_of_keys = self.recorder
        self._snapshots_table: str | None = (
            None if self.snapshots is None else self.snapshots.recorder.events_table_name)

    @staticmethod
    def _calendar(given: Calendar | str | Path | None, organisation: object) -> Calendar:
        """The office calendar: the one given, else the office file's (beside the
        organisation's files), with ``$CASEWORK_CALENDAR`` in place of its calendar file."""
        if isinstance(given, Calendar):
            return given
        place = os.environ.get(ORGANISATION_VAR) if not isinstance(organisation, str | Path) \
            else organisation
        path = given or os.environ.get(CALENDAR_VAR)
        return load_calendar(path, office_zone(place)) if path else office_calendar(place)

    # Commands --------------------------------------------------------------------------

    def open_case(
        self,
        kind: str,
        actor: Actor,
        at: datetime | str | None = None,
        *,
        case_id: UUID | None = None,
        person: str | UUID | None = None,
        role: str | None = None,
        **fields: Any,
    ) -> UUID:
        """Open a case of ``kind`` under the latest version of that workflow.

        ``person`` names the resident whose personal fields these are (a UUID: the person of
        another case, to share its key); without it, personal fields get a new person.
        ``role``: the one of the actor's roles to act in (default: the first the opening
        trigger names that the actor holds)."""
        actor = actor if role is None else check_actor(actor).acting_as(role)
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
        *,
        expected_version: int | None = None,
        role: str | None = None,
        **fields: Any,
    ) -> CaseView:
        """Fire ``trigger`` on a case; one event records the outcome, or nothing is recorded.

        ``expected_version``: the version (``CaseView.events``) the caller decided on; when
        the case has another one now, ``StaleCase`` and nothing is recorded. ``role``: the one
        of the actor's roles to act in (default: the first the trigger names that the actor
        holds, as the workflow orders them)."""
        case_id = self.parse_case_id(case_id)
        actor = actor if role is None else check_actor(actor).acting_as(role)

        def attempt() -> CaseView:
            # Checked again on the fresh case when someone else changed it meanwhile (and
            # then, with an expected version, refused as stale).
            batch = self.batch()
            view = batch.fire(case_id, trigger, actor, at, expected_version=expected_version,
                              **fields)
            batch.commit()
            return view

        return retried(attempt, lambda attempts: ConcurrencyConflict(case_id, attempts))

    def forget(self, person: str | UUID, actor: Actor, at: datetime | str | None = None
               ) -> Forgotten:
        """Delete the person's key: their personal fields read as erased from now on, in
        every case, history and export; nothing else changes. Raises ``UnknownPerson``."""
        role = self.authorisation.role_to_forget(actor, person)
        moment = None if at is None else business_time(at, self.calendar.zone)
        return self.personal.forget(str(person), actor.id, role, moment)

    def person_of(self, case_id: UUID | str) -> str:
        """The person whose personal fields the case holds; ``UnknownPerson`` when none."""
        person = self.get_case(case_id).person
        if person is None:
            raise UnknownPerson(f"of case {case_id}", "the case holds no personal data")
        return person

    def save(self, *cases: Any, **kwargs: Any) -> Any:
        """Store the cases' new events, and the keys of the persons they introduce, in one
        transaction (an event is never stored without its key; a key never without its
        event); then snapshot every case that reached a multiple of the interval.

        Not eventsourcing's ``Application.save``: it checks every aggregate and event against
        its runtime ``Protocol``s first (``isinstance`` on a Protocol), 8% of a command."""
        events = [event for case in cases for event in case.collect_events()]
        keys = self.personal.take_new()
        try:
            recordings = self.events.put(events, person_keys=keys, **kwargs)
        except BaseException:
            self.personal.drop_new(keys)
            raise
        take_snapshots(self, cases, events)
        return recordings

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
            case = self.load_case(case_id)
            if actor is not None:
                self.authorisation.check_reach(actor, case, "see")
            return self.view_of(case)
        moment = business_time(as_of, self.calendar.zone)
        case = case_at(self, case_id, moment)
        if case is None:
            if self.exists(case_id):
                raise UnknownCase(case_id, f"it was not opened yet at {moment.isoformat()}")
            raise UnknownCase(case_id)
        if actor is not None:
            self.authorisation.check_reach(actor, case, "see")
        return self.view_of(case)

    def history(self, case_id: UUID | str, as_of: datetime | str | None = None, *,
                actor: Actor | None = None, after: int = 0, limit: int | None = None
                ) -> list[HistoryEntry]:
        """The audit trail: who did what, when, from which state to which, with which fields.

        With ``actor``, only of a case in that actor's part of the organisation. ``after``
        and ``limit`` page it: at most ``limit`` entries, from the one after entry number
        (``sequence``) ``after``; a long case is read a page at a time."""
        case_id = self.parse_case_id(case_id)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise InvalidField("after", f"{after!r} is not an entry number (0 or more)")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise InvalidField("limit", f"{limit!r} is not a number of entries (1 or more)")
        if actor is not None:
            self.authorisation.check_reach(actor, self.load_case(case_id), "see")
        moment = None if as_of is None else business_time(as_of, self.calendar.zone)
        reveal = self.personal.reveal
        entries = [HistoryEntry.of(event, reveal(event.fields))
                   for event in self.events.get(case_id, gt=after or None, limit=limit)
                   if moment is None or event.at <= moment]
        if not entries and not self.exists(case_id):
            raise UnknownCase(case_id)
        if not entries and moment is not None and not after:  # as get_case says it
            raise UnknownCase(case_id, f"it was not opened yet at {moment.isoformat()}")
        return entries

    def history_length(self, case_id: UUID | str) -> int:
        """How many entries the case's history has (its last entry's number); 0 when there
        is no such case."""
        last = next(iter(self.events.get(self.parse_case_id(case_id), desc=True, limit=1)),
                    None)
        return 0 if last is None else last.originator_version

    def existing_cases(self, case_ids: Iterable[UUID]) -> set[UUID]:
        """Which of these case ids are taken: how an importer skips what it imported before."""
        return recorded_ids(self.recorder, list(case_ids))

    def allowed_triggers(self, case_id: UUID | str, actor: Actor) -> list[str]:
        """The triggers this actor may fire on the case in its current state."""
        case = self.load_case(self.parse_case_id(case_id))
        if not self.authorisation.reaches(actor, case.jurisdiction):
            return []
        workflow = self.workflow_of(case)
        return [name for name in workflow.legal_triggers(case.state)
                if self.authorisation.may_fire(actor, workflow.triggers[name])]

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

    # Loading ---------------------------------------------------------------------------

    def load_case(self, case_id: UUID) -> Case:
        """The aggregate itself (for the engine's own batch jobs; readers use ``get_case``):
        its latest snapshot and the events after it, read in one go."""
        stored = self.recorder.select_case(case_id, self._snapshots_table)
        to_event = self.mapper.to_domain_event
        snapshot = None if stored.snapshot is None else to_event(stored.snapshot)
        events = stored.events
        if snapshot is not None and not usable(snapshot):
            snapshot, events = None, self.recorder.select_events(case_id)
        case = None if snapshot is None else snapshot.mutate(None)
        case = replay(case, map(to_event, events))
        if case is None:
            raise UnknownCase(case_id)
        return case

    def exists(self, case_id: UUID) -> bool:
        return bool(list(self.events.get(case_id, limit=1)))

    def recorded_events(self) -> int:
        """How many events the store holds (the position of the last one): the length of a
        job that reads them all, and whether a database is empty."""
        return self.recorder.max_notification_id() or 0
