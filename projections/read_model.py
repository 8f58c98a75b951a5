"""Keep the read models up to date with the events: pull, fold, write with tracking.

The read model is eventsourcing's "materialised view": a ``TrackingRecorder`` whose tracking
position is stored in the same transaction as the rows it describes, so each event is
applied exactly once even if the process dies half-way. On SQLite the events are pulled
from the notification log (eventsourcing's SQLite recorder has no subscriptions); a page of
events costs one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent, Tracking, TrackingRecorder
from sqlalchemy import Connection, delete, insert, inspect, select, update

from casework import Casework, CaseworkError
from casework.chunking import SQL_PARAMETERS, chunked
from casework.recorders import NotificationRow

from .case_summary import summarise
from .tables import case_summary, metadata, projection_tracking, unit_ledger
from .unit_ledger import ledger_entries

PAGE_SIZE = 1000
TABLES = (case_summary, unit_ledger)
"""The read model's tables (beside the tracking): one layout, made and dropped together."""


class ProjectionError(CaseworkError):
    """The read models cannot be brought up to date: a stored event is corrupt."""


class ReadModel(TrackingRecorder):
    """The ``case_summary`` read model of one Casework application's events.

    >>> with ReadModel(app) as read_model:   # doctest: +SKIP
    ...     read_model.catch_up()
    """

    name = "case_summary"

    def __init__(self, app: Casework, page_size: int = PAGE_SIZE) -> None:
        self.app = app
        self.page_size = page_size
        self.engine = app.storage.sqlalchemy_engine(writer=False)
        """For reading: on SQLite a reader never holds up writers (WAL)."""
        self._writer = app.storage.sqlalchemy_engine(writer=True)
        self.create()

    # Life cycle --------------------------------------------------------------------------

    def create(self) -> None:
        """Create the tables; tables of an older layout are dropped first, and so rebuilt
        from the events by the next catch-up (read models are disposable)."""
        existing = inspect(self.engine)
        if existing.has_table(case_summary.name):
            same = all(_same_columns(existing, table) for table in TABLES)
            if same and all(_indexed(existing, table) for table in TABLES) and self._tracked():
                return  # nothing to write: a report must not wait for the write lock
            if not same:
                self.drop()  # rows of an older layout: folded again by the next catch-up
        self.app.storage.change_tables(self._writer, self._create_tracked)

    def _create_tracked(self, conn: Connection) -> None:
        # Under the setup lock: processes starting at once create the tables and the
        # tracking row once.
        metadata.create_all(conn)
        _create_indexes(conn)  # an index added since the table was made, or left unmade
        known = conn.execute(select(projection_tracking.c.projection).where(
            projection_tracking.c.projection == self.name)).first()
        if known is None:
            conn.execute(insert(projection_tracking).values(projection=self.name,
                                                           notification_id=0))

    def _tracked(self) -> bool:
        if not inspect(self.engine).has_table(projection_tracking.name):
            return False
        with self.engine.connect() as conn:
            return conn.execute(select(projection_tracking.c.projection).where(
                projection_tracking.c.projection == self.name)).first() is not None

    def drop(self) -> None:
        self.app.storage.change_tables(self._writer, metadata.drop_all)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Drop the tables and fold every event again; returns how many events it applied.

        The rows are written into a table without its secondary indexes, which are made at
        the end, each in one pass over the finished rows, rather than kept up to date row by
        row (a fifth of the rebuild's time). Should the rebuild stop half-way, the next
        ``ReadModel`` makes the missing indexes as it finds them missing."""
        self.drop()
        self.create()
        self.app.storage.change_tables(self._writer, _drop_indexes)
        applied = self.catch_up(progress)
        self.app.storage.change_tables(self._writer, _create_indexes)
        return applied

    def close(self) -> None:
        self.engine.dispose()
        self._writer.dispose()

    def __enter__(self) -> ReadModel:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # Catching up -------------------------------------------------------------------------

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply every event not applied yet; cheap when there is none."""
        applied = 0
        if self.position() >= self.app.recorded_events():
            return applied
        while True:
            count = self.apply_next_page()
            if not count:
                return applied
            applied += count
            if progress is not None:
                progress(count)

    def apply_next_page(self) -> int:
        """Fold the next page of events into the rows, in one transaction with the tracking."""
        with self._writer.begin() as conn:
            position = self._locked_position(conn)
            notifications = self.app.recorder.select_notification_rows(position,
                                                                       self.page_size)
            if not notifications:
                return 0
            events = [decoded_row(self.app, row) for row in notifications]
            ids = list({str(e.originator_id) for e in events})
            rows: dict[str, dict[str, Any]] = {}
            for chunk in chunked(ids, SQL_PARAMETERS):
                for row in conn.execute(select(case_summary).where(case_summary.c.id.in_(chunk))):
                    rows[row.id] = dict(row._mapping)
            entries = fold(self.app, rows, events)
            for chunk in chunked(ids, SQL_PARAMETERS):
                conn.execute(delete(case_summary).where(case_summary.c.id.in_(chunk)))
            conn.execute(insert(case_summary), list(rows.values()))
            if entries:
                conn.execute(insert(unit_ledger), entries)
            conn.execute(
                update(projection_tracking)
                .where(projection_tracking.c.projection == self.name)
                .values(notification_id=notifications[-1][0])
            )
        return len(notifications)

    def position(self) -> int:
        with self.engine.connect() as conn:
            return self._position(conn)

    def _locked_position(self, conn: Connection) -> int:
        """The tracking position, locked until the transaction ends, so that two processes
        catching up at once cannot both apply the same page."""
        value = conn.execute(
            select(projection_tracking.c.notification_id)
            .where(projection_tracking.c.projection == self.name)
            .with_for_update()
        ).scalar()
        return int(value or 0)

    def _position(self, conn: Connection) -> int:
        value = conn.execute(select(projection_tracking.c.notification_id).where(
            projection_tracking.c.projection == self.name)).scalar()
        return int(value or 0)

    # eventsourcing's TrackingRecorder interface ------------------------------------------

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.position() or None

    def insert_tracking(self, tracking: Tracking) -> None:
        with self._writer.begin() as conn:
            conn.execute(
                update(projection_tracking)
                .where(projection_tracking.c.projection == self.name)
                .values(notification_id=tracking.notification_id)
            )


def _same_columns(existing: Any, table: Any) -> bool:
    return existing.has_table(table.name) and {
        column["name"] for column in existing.get_columns(table.name)} == set(table.columns.keys())


def _indexed(existing: Any, table: Any) -> bool:
    return {index.name for index in table.indexes} <= {
        index["name"] for index in existing.get_indexes(table.name)}


def _drop_indexes(conn: Connection) -> None:
    for index in (*case_summary.indexes, *unit_ledger.indexes):
        index.drop(conn, checkfirst=True)


def _create_indexes(conn: Connection) -> None:
    for index in (*case_summary.indexes, *unit_ledger.indexes):
        index.create(conn, checkfirst=True)


def decoded(app: Casework, notification: Any) -> Any:
    """The domain event a stored notification holds; ``ProjectionError`` naming it when it
    cannot be read (tampered or corrupt: say where, not a traceback)."""
    try:
        return app.mapper.to_domain_event(notification)
    except Exception as error:
        case = UUID(str(notification.originator_id))  # a row's id may be 32 hex digits
        raise ProjectionError(
            f"cannot read event {notification.originator_version} of case "
            f"{case} ({type(error).__name__}); run `casework audit` on it") from None


def decoded_row(app: Casework, row: NotificationRow) -> Any:
    """``decoded``, of a row of ``select_notification_rows``."""
    _, case_id, version, topic, state = row
    return decoded(app, StoredEvent(case_id, version, topic, state))


def fold(app: Casework, rows: dict[str, dict[str, Any]], events: list[Any], *,
         ledger: bool = True) -> list[dict[str, Any]]:
    """Fold the events into the rows of their cases (by case id), as the read model keeps
    them; returns the events' entries in the units' accounts (``unit_ledger``; none without
    ``ledger``, for a fold whose accounts are not kept). An event the read model cannot take
    is a ``ProjectionError`` naming it."""
    entries: list[dict[str, Any]] = []
    for event in events:
        case_id = str(event.originator_id)
        try:
            before = rows.get(case_id)
            rows[case_id] = after = summarise(before, event, app.workflows, app.organisation)
            if ledger:
                entries += ledger_entries(
                    before, after, event,
                    app.workflows.get(after["kind"], after["workflow_version"]),
                    app.organisation)
        except CaseworkError:
            raise
        except Exception as error:  # a stored history the engine could not have made
            raise ProjectionError(
                f"cannot apply event {event.originator_version} of case {case_id} to the "
                f"read model ({type(error).__name__}: {error}); run `casework audit` on it"
            ) from None
    return entries
