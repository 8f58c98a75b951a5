"""eventsourcing's PostgreSQL recorder, with what casework stores beside the events (see
``casework.recorders``): new persons' keys in the events' transaction, and the whole
transaction in one round trip; a case read in one statement. A module of its own, imported
(by its topic) only when PostgreSQL is used: psycopg is an optional extra."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.pq import TransactionStatus
from psycopg.sql import SQL, Identifier
from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from .person_table import person_keys
from .recorders import (
    KEY_COLUMNS,
    DelegatedReads,
    KeyRow,
    NotificationRow,
    Reads,
    StoredCase,
)

BEGIN, COMMIT, ROLLBACK = SQL("BEGIN"), SQL("COMMIT"), SQL("ROLLBACK")


class PostgresCaseRecorder(PostgresApplicationRecorder):
    """The PostgreSQL recorder, with person keys in the events' transaction (and its
    pipeline) and one-statement loads."""

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events"
                 ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        table = person_keys.to_metadata(MetaData(), schema=self.datastore.schema)
        ddl = CreateTable(table, if_not_exists=True).compile(dialect=postgresql.dialect())
        self.sql_create_statements.append(SQL(str(ddl).strip()))  # type: ignore[arg-type]
        self.insert_keys_statement = SQL(
            "INSERT INTO {schema}.person_keys (" + KEY_COLUMNS + ") VALUES (%s, %s, %s)"
        ).format(schema=schema)
        self.select_key_statement = SQL(
            "SELECT key FROM {schema}.person_keys WHERE person = %s").format(schema=schema)
        self.select_case_statements: dict[str | None, Any] = {}
        # The lock only: every connection already has the lock timeout (casework's
        # Storage gives it through PGOPTIONS), so eventsourcing's SET LOCAL is not sent.
        self.lock_table_statements = self.lock_table_statements[-1:]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        """As eventsourcing's, in one round trip: its transaction waits for the server
        four times (after BEGIN, after the insert, after COMMIT, and leaving the
        pipeline); here every statement is sent, then one Sync. An insert that fails
        (a duplicate version: a concurrent command) fails the rest of the pipeline, the
        COMMIT included, and the transaction is rolled back."""
        events = [self.construct_pg_stored_event(e.originator_id, e.originator_version,
                                                 e.topic, e.state) for e in stored_events]
        with self.datastore.get_connection() as conn:
            try:
                with conn.cursor() as curs, conn.cursor() as inserted:
                    with conn.pipeline():  # sent at once; its end is the one Sync
                        curs.execute(BEGIN, prepare=False)
                        for statement in self.lock_table_statements:
                            curs.execute(statement, prepare=True)
                        self._notify_channel(curs)
                        self._insert_events(curs, stored_events, **kwargs)
                        if events:
                            inserted.execute(self.insert_events_statement, (events,),
                                             prepare=True)
                        curs.execute(COMMIT, prepare=False)
                    return [row["notification_id"] for row in inserted.fetchall()] \
                        if events else []
            except BaseException:
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.execute(ROLLBACK)
                raise

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], *,
                       person_keys: Iterable[tuple[str, bytes, datetime]] = (),
                       **kwargs: Any) -> None:
        rows = list(person_keys)
        if rows:
            curs.executemany(self.insert_keys_statement, rows)
        super()._insert_events(curs, stored_events, **kwargs)

    def select_case(self, originator_id: UUID, snapshots_table: str | None) -> StoredCase:
        statement = self._select_case_statement(snapshots_table)
        params = [originator_id] * (2 if snapshots_table else 1)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            rows = curs.fetchall()
        snapshot = None
        if rows and rows[0]["snapshot"]:
            snapshot = self._stored(rows.pop(0))
        return StoredCase(snapshot, [self._stored(row) for row in rows])

    def _select_case_statement(self, snapshots_table: str | None) -> Any:
        statement = self.select_case_statements.get(snapshots_table)
        if statement is not None:
            return statement
        names = {"schema": Identifier(self.datastore.schema),
                 "events": Identifier(self.events_table_name)}
        if snapshots_table is None:
            statement = SQL(
                "SELECT false AS snapshot, originator_id, originator_version, topic, state "
                "FROM {schema}.{events} WHERE originator_id = %s "
                "ORDER BY originator_version").format(**names)
        else:
            statement = SQL(
                "WITH s AS (SELECT originator_id, originator_version, topic, state "
                "FROM {schema}.{snapshots} WHERE originator_id = %s "
                "ORDER BY originator_version DESC LIMIT 1) "
                "SELECT true AS snapshot, * FROM s UNION ALL "
                "SELECT false, originator_id, originator_version, topic, state "
                "FROM {schema}.{events} WHERE originator_id = %s AND originator_version > "
                "COALESCE((SELECT originator_version FROM s), 0) "
                "ORDER BY snapshot DESC, originator_version"
            ).format(snapshots=Identifier(snapshots_table), **names)
        self.select_case_statements[snapshots_table] = statement
        return statement

    @contextmanager
    def reading(self, snapshots: Any) -> Iterator[Reads]:
        yield DelegatedReads(self, snapshots)

    def select_notification_rows(self, start: int, limit: int, stop: int | None = None
                                 ) -> list[NotificationRow]:
        """As ``SQLiteCaseRecorder.select_notification_rows`` (psycopg gives the ids as
        UUIDs already)."""
        return [(n.id, n.originator_id, n.originator_version, n.topic, n.state)
                for n in self.select_notifications(start=start, limit=limit, stop=stop,
                                                   inclusive_of_start=False)]

    def select_person_key(self, person: str) -> KeyRow | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_key_statement, [person], prepare=True)
            row = curs.fetchone()
        return None if row is None else KeyRow(None if row["key"] is None
                                               else bytes(row["key"]))

    @staticmethod
    def _stored(row: Any) -> StoredEvent:
        return StoredEvent(originator_id=row["originator_id"],
                           originator_version=row["originator_version"],
                           topic=row["topic"], state=bytes(row["state"]))

