"""eventsourcing's SQLite and PostgreSQL recorders, with what casework stores beside the events.

Two things need the events' own connection:

- **A new person's key is written in the transaction of their first event.** Both recorders
  call ``_insert_events(cursor, stored_events, **kwargs)`` inside the transaction that inserts
  the events (it is how eventsourcing's process recorders write their tracking row); the keys
  come in as ``person_keys=[...]``. A crash or a failed insert leaves neither the key nor the
  event, one sync stores both, and on PostgreSQL the key rows travel in the same pipeline.
- **A case is read in one go:** its latest snapshot and the events after it in one read
  transaction on SQLite, one statement (one round trip) on PostgreSQL, where the repository
  takes two. Reading a person's key goes the same way, rather than through another pool.
  ``reading()`` gives the many small reads of a search (``casework.snapshots``) one read
  transaction on SQLite, where each of eventsourcing's reads begins and ends its own.

The key table is created with the event tables, from the same definition as
``casework.person_table.person_keys`` (SQLAlchemy's DDL for the dialect), so that it is always
there to write into. The recorders are chosen by ``APPLICATION_RECORDER_TOPIC`` (see
``recorder_topic``); the PostgreSQL one is in ``casework.postgres_recorder``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import get_topic
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateTable

from .person_table import person_keys

KEY_COLUMNS = "person, key, created_at"


@dataclass(frozen=True)
class KeyRow:
    """A person's row as the event store reads it: the key, or None once forgotten."""

    key: bytes | None


@dataclass(frozen=True)
class StoredCase:
    """What loading a case reads: its latest snapshot (if any) and every event after it."""

    snapshot: StoredEvent | None
    events: list[StoredEvent]


NotificationRow = tuple[int, Any, int, str, bytes]
"""A stored event as a page of notifications reads it, without eventsourcing's
``Notification`` object: position, case id (as the database gives it: hex text on SQLite, a
UUID on PostgreSQL), version, topic and state."""


class Reads(Protocol):
    """Reads of one case's stored events and snapshots, in one read transaction."""

    def events(self, case_id: UUID, *, gt: int = 0, lte: int | None = None,
               desc: bool = False, limit: int | None = None) -> Sequence[StoredEvent]: ...

    def snapshot(self, case_id: UUID, lte: int | None = None) -> StoredEvent | None:
        """The latest snapshot at or before version ``lte``."""


class SQLiteCaseRecorder(SQLiteApplicationRecorder):
    """The SQLite recorder, with person keys in the events' transaction and one-read loads."""

    def construct_create_table_statements(self) -> list[str]:
        ddl = CreateTable(person_keys, if_not_exists=True).compile(dialect=sqlite.dialect())
        return [*super().construct_create_table_statements(), str(ddl).strip()]

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], *,
                       person_keys: Iterable[tuple[str, bytes, datetime]] = (),
                       **kwargs: Any) -> Sequence[int] | None:
        rows = [(person, key, _sqlite_time(created_at))
                for person, key, created_at in person_keys]
        if rows:
            c.executemany(f"INSERT INTO person_keys ({KEY_COLUMNS}) VALUES (?, ?, ?)", rows)
        return super()._insert_events(c, stored_events, **kwargs)

    def select_case(self, originator_id: UUID, snapshots_table: str | None) -> StoredCase:
        """One statement, so one implicit read transaction: no BEGIN and ROLLBACK around
        two reads (events are only ever appended, so nothing can come between them)."""
        if snapshots_table is None:
            statement, params = (self.select_events_statement + "ORDER BY originator_version",
                                 [originator_id.hex])
        else:
            statement = (
                f"SELECT 1 AS snapshot, * FROM (SELECT * FROM {snapshots_table} "
                "WHERE originator_id=? ORDER BY originator_version DESC LIMIT 1) UNION ALL "
                f"SELECT 0, * FROM {self.events_table_name} WHERE originator_id=? AND "
                "originator_version > COALESCE((SELECT MAX(originator_version) FROM "
                f"{snapshots_table} WHERE originator_id=?), 0) "
                "ORDER BY snapshot DESC, originator_version")
            params = [originator_id.hex] * 3
        with self.datastore.get_connection(commit=False) as connection:
            cursor = connection.cursor()
            cursor.execute(statement, params)
            rows = cursor.fetchall()
        snapshot = None
        if rows and snapshots_table is not None and rows[0]["snapshot"]:
            snapshot = self._stored(rows.pop(0))
        return StoredCase(snapshot, [self._stored(row) for row in rows])

    @contextmanager
    def reading(self, snapshots: Any) -> Iterator[Reads]:
        """Reads in one read transaction (``snapshots``: the snapshot recorder, or None)."""
        with self.datastore.transaction(commit=False) as c:
            yield _SQLiteReads(self, c, None if snapshots is None
                               else snapshots.events_table_name)

    def select_notification_rows(self, start: int, limit: int, stop: int | None = None
                                 ) -> list[NotificationRow]:
        """The events after position ``start`` (up to ``stop``), as plain rows: what a
        rebuild reads, a page at a time (a ``Notification`` and a ``UUID`` per event cost
        more than reading it)."""
        statement = (f"SELECT rowid, originator_id, originator_version, topic, state "
                     f"FROM {self.events_table_name} WHERE rowid>? ")
        params = [start]
        if stop is not None:
            statement += "AND rowid<=? "
            params.append(stop)
        statement += "ORDER BY rowid LIMIT ?"
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:  # as select_notifications
            c.execute(statement, params)
            return [tuple(row) for row in c.fetchall()]  # type: ignore[misc]

    def select_person_key(self, person: str) -> KeyRow | None:
        with self.datastore.get_connection(commit=False) as connection:  # one statement
            cursor = connection.cursor()
            cursor.execute("SELECT key FROM person_keys WHERE person=?", [person])
            row = cursor.fetchone()
        return None if row is None else KeyRow(row["key"])

    def _stored(self, row: Any) -> StoredEvent:
        return StoredEvent(originator_id=self.convert_originator_id(row["originator_id"]),
                           originator_version=row["originator_version"],
                           topic=row["topic"], state=row["state"])


class _SQLiteReads:
    def __init__(self, recorder: SQLiteCaseRecorder, cursor: SQLiteCursor,
                 snapshots_table: str | None) -> None:
        self.recorder = recorder
        self.cursor = cursor
        self.snapshots_table = snapshots_table

    def events(self, case_id: UUID, *, gt: int = 0, lte: int | None = None,
               desc: bool = False, limit: int | None = None) -> list[StoredEvent]:
        return self._select(self.recorder.events_table_name, case_id, gt, lte, desc, limit)

    def snapshot(self, case_id: UUID, lte: int | None = None) -> StoredEvent | None:
        if self.snapshots_table is None:
            return None
        found = self._select(self.snapshots_table, case_id, 0, lte, True, 1)
        return found[0] if found else None

    def _select(self, table: str, case_id: UUID, gt: int, lte: int | None, desc: bool,
                limit: int | None) -> list[StoredEvent]:
        statement = f"SELECT * FROM {table} WHERE originator_id=? AND originator_version>? "
        params: list[Any] = [case_id.hex, gt]
        if lte is not None:
            statement += "AND originator_version<=? "
            params.append(lte)
        statement += f"ORDER BY originator_version {'DESC' if desc else 'ASC'}"
        if limit is not None:
            statement += " LIMIT ?"
            params.append(limit)
        self.cursor.execute(statement, params)
        return [self.recorder._stored(row) for row in self.cursor.fetchall()]


class DelegatedReads:
    """Each read by the recorders' own methods (on PostgreSQL, a round trip each anyway)."""

    def __init__(self, events: Any, snapshots: Any) -> None:
        self.recorder = events
        self.snapshots = snapshots

    def events(self, case_id: UUID, *, gt: int = 0, lte: int | None = None,
               desc: bool = False, limit: int | None = None) -> Sequence[StoredEvent]:
        return self.recorder.select_events(case_id, gt=gt, lte=lte, desc=desc, limit=limit)

    def snapshot(self, case_id: UUID, lte: int | None = None) -> StoredEvent | None:
        if self.snapshots is None:
            return None
        found = self.snapshots.select_events(case_id, lte=lte, desc=True, limit=1)
        return found[0] if found else None


def _sqlite_time(moment: datetime) -> str:
    """A naive UTC time as SQLAlchemy's SQLite DateTime stores it (and reads it back)."""
    return moment.isoformat(sep=" ", timespec="microseconds")


def recorder_topic(backend: str) -> str:
    """The topic of the recorder for ``backend``, for eventsourcing's
    ``APPLICATION_RECORDER_TOPIC`` (the PostgreSQL one's module is imported only then)."""
    if backend == "sqlite":
        return get_topic(SQLiteCaseRecorder)
    return "casework.postgres_recorder:PostgresCaseRecorder"
