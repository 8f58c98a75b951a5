"""Which cases the event store holds: every one, in flat memory, or which of some ids.

``case_ids`` reads the notification log a page at a time. A case is yielded while the page
holding its earliest stored event goes by, so that each case comes exactly once, in the order
cases were first recorded, without a set of every id seen so far, and even when a case's
first events were deleted or renumbered behind the engine's back. ``case_ids_in_order`` gives
them in the order of their ids instead (the order of a digest, casework.digest), a page at a
time from the events table's primary key.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.sqlite import SQLiteAggregateRecorder

from .chunking import SQL_PARAMETERS, chunked

PAGE_SIZE = 1000


class HasRecorder(Protocol):
    recorder: Any


def case_ids(app: HasRecorder, page_size: int = PAGE_SIZE) -> Iterator[UUID]:
    """The id of every case that has at least one stored event."""
    position = 0
    while True:
        notifications = app.recorder.select_notifications(
            start=position, limit=page_size, inclusive_of_start=False
        )
        if not notifications:
            return
        earliest_in_page: dict[UUID, int] = {}
        for notification in notifications:
            known = earliest_in_page.get(notification.originator_id)
            if known is None or notification.originator_version < known:
                earliest_in_page[notification.originator_id] = notification.originator_version
        for case_id, version in earliest_in_page.items():
            first = app.recorder.select_events(case_id, limit=1)
            if first and first[0].originator_version == version:
                yield case_id
        position = notifications[-1].id


def case_ids_in_order(app: HasRecorder, page_size: int = PAGE_SIZE) -> Iterator[UUID]:
    """The id of every case that has at least one stored event, in the order of the ids."""
    recorder = app.recorder
    if isinstance(recorder, SQLiteAggregateRecorder):
        page = _sqlite_page
    elif _is_postgres(recorder) and recorder.datastore.originator_id_type == "uuid":
        page = _postgres_page
    else:  # any other store: sorted in memory
        yield from sorted(case_ids(app, page_size))
        return
    after: UUID | None = None
    while ids := page(recorder, after, page_size):
        yield from ids
        after = ids[-1]


def _sqlite_page(recorder: Any, after: UUID | None, limit: int) -> list[UUID]:
    # Stored as 32 lowercase hex digits: their text order is the order of the ids.
    statement = (f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "
                 "WHERE originator_id > ? ORDER BY originator_id LIMIT ?")
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, ["" if after is None else after.hex, limit])
        return [UUID(row["originator_id"]) for row in cursor.fetchall()]


def _postgres_page(recorder: Any, after: UUID | None, limit: int) -> list[UUID]:
    from psycopg.sql import SQL, Identifier  # the optional extra's: only when it is in use

    statement = SQL(
        "SELECT DISTINCT originator_id FROM {schema}.{table} {where} "
        "ORDER BY originator_id LIMIT %s"
    ).format(schema=Identifier(recorder.datastore.schema),
             table=Identifier(recorder.events_table_name),
             where=SQL("" if after is None else "WHERE originator_id > %s"))
    with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
        cursor.execute(statement, [limit] if after is None else [after, limit])
        return [UUID(str(row["originator_id"])) for row in cursor.fetchall()]


def recorded_ids(recorder: Any, ids: Collection[UUID]) -> set[UUID]:
    """Which of ``ids`` have events in ``recorder``: one query per few hundred ids.

    Asking the recorder id by id is correct everywhere but costs a round trip each; an importer
    that checks thousands of external keys asks the events table directly instead.
    """
    lookup = (
        _sqlite_ids if isinstance(recorder, SQLiteAggregateRecorder)
        else _postgres_ids if _is_postgres(recorder)
        else _ids_one_by_one
    )
    found: set[UUID] = set()
    for chunk in chunked(ids, SQL_PARAMETERS):
        found |= lookup(recorder, chunk)
    return found


def _sqlite_ids(recorder: Any, ids: list[UUID]) -> set[UUID]:
    # The SQLite recorder stores a UUID as its 32 hex digits (see its insert_events).
    statement = (f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "
                 f"WHERE originator_id IN ({','.join('?' * len(ids))})")
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, [case_id.hex for case_id in ids])
        return {UUID(row["originator_id"]) for row in cursor.fetchall()}


def _postgres_ids(recorder: Any, ids: list[UUID]) -> set[UUID]:
    from psycopg.sql import SQL, Identifier  # the optional extra's: only when it is in use

    statement = SQL(
        "SELECT DISTINCT originator_id FROM {schema}.{table} WHERE originator_id = ANY(%s)"
    ).format(schema=Identifier(recorder.datastore.schema),
             table=Identifier(recorder.events_table_name))
    with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
        cursor.execute(statement, [ids])
        return {UUID(str(row["originator_id"])) for row in cursor.fetchall()}


def _ids_one_by_one(recorder: Any, ids: list[UUID]) -> set[UUID]:
    return {case_id for case_id in ids if recorder.select_events(case_id, limit=1)}


def _is_postgres(recorder: Any) -> bool:
    try:
        from eventsourcing.postgres import PostgresAggregateRecorder
    except ImportError:  # PostgreSQL support is an optional extra: then it is not in use
        return False
    return isinstance(recorder, PostgresAggregateRecorder)
