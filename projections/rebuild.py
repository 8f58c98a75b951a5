"""``casework rebuild``: the read model dropped and folded again from every event, by one
process (``ReadModel.rebuild``) or, with ``--workers N``, by several.

The rest of this describes the rebuild by several processes.

A case's row is folded from that case's events alone (projections.case_summary), so workers
can each fold the cases of their partitions (by case id, claimed with leases as batch jobs
claim theirs: casework.jobs). They fold into a staging table beside the live read model, up to
the last event recorded when the rebuild started; each partition keeps its own tracking
position, written in the same transaction as its rows, so a rebuild killed half-way resumes
where each partition got to when it is run again (with the partitioning it started with).
When every partition has reached that event, one transaction puts the staging rows in place
of the live ones and sets the tracking position to that event; events recorded meanwhile are
applied by the next catch-up as usual. Until then the live read model is untouched and reports
go on using it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Connection, MetaData, Table, delete, insert, inspect, select, update

from casework import Casework, CaseworkError
from casework.chunking import SQL_PARAMETERS, chunked
from casework.jobs.runner import run_in_partitions

from .read_model import ReadModel, decoded_row, fold
from .tables import case_summary, projection_tracking, unit_ledger

staging_metadata = MetaData()
staging = Table("case_summary_rebuild", staging_metadata,
                *(column._copy() for column in case_summary.columns))
"""The rows being rebuilt; no secondary indexes (they are the live table's business)."""
staging_ledger = Table("unit_ledger_rebuild", staging_metadata,
                       *(column._copy() for column in unit_ledger.columns))
"""The units' accounts being rebuilt (entries of the events folded so far)."""

PAGE = 5000
"""Events read per transaction of a worker: few transactions, since on SQLite each waits for
the one write lock (and SQLite's wait backs off in steps of up to 100 ms)."""

PREFIX = "case_summary rebuild "
"""Tracking rows of the partitions: ``case_summary rebuild 3/8``."""


def _tracking_name(part: int, parts: int) -> str:
    return f"{PREFIX}{part}/{parts}"


@dataclass
class RebuildSummary:
    events: int = 0
    """Events folded by this run (not counting those folded before a crash)."""
    interrupted: bool = False

    def merge(self, other: RebuildSummary) -> None:
        self.events += other.events


@dataclass(frozen=True)
class _RebuildWork:
    stop: int
    """The last event to fold: the last one recorded when the rebuild started."""
    page_size: int = PAGE
    name: str = "rebuild"

    def summary(self) -> RebuildSummary:
        return RebuildSummary()

    def prepare(self, app: Casework) -> None:
        """Nothing to prepare: each partition reads what it needs."""

    def __call__(self, app: Casework, partition: tuple[int, int],
                 progress: Callable[[int], None] | None,
                 heartbeat: Callable[[], bool]) -> RebuildSummary:
        summary = RebuildSummary()
        engine = app.storage.sqlalchemy_engine(writer=True)
        try:
            while (folded := self._fold_next_page(app, engine, partition)) is not None:
                summary.events += folded
                if progress is not None and folded:
                    progress(folded)
                if not heartbeat():
                    summary.interrupted = True  # the lease was lost: its new owner goes on
                    break
        finally:
            engine.dispose()
        return summary

    def _fold_next_page(self, app: Casework, engine: Any, partition: tuple[int, int]
                        ) -> int | None:
        """Fold the partition's events of the next page into the staging rows, in one
        transaction with the partition's tracking position; None when it is done.

        The events are read and folded before the transaction, which on SQLite holds the one
        write lock: the workers write one after the other, but fold side by side."""
        part, parts = partition
        name = _tracking_name(part, parts)
        tracking = projection_tracking.c
        with engine.connect() as conn:
            position = conn.execute(select(tracking.notification_id)
                                    .where(tracking.projection == name)).scalar()
        if position is None or position >= self.stop:
            return None
        notifications = app.recorder.select_notification_rows(position, self.page_size,
                                                              self.stop)
        if not notifications:
            return None
        events = [decoded_row(app, row) for row in notifications
                  if _case_number(row[1]) % parts == part]
        ids = list({str(e.originator_id) for e in events})
        with engine.connect() as conn:
            rows = _staged_rows(conn, ids)
        entries = fold(app, rows, events)
        with engine.begin() as conn:
            now = conn.execute(select(tracking.notification_id)
                               .where(tracking.projection == name).with_for_update()).scalar()
            if now != position:
                return 0  # another worker folded this page meanwhile (it took the lease over)
            for chunk in chunked(ids, SQL_PARAMETERS):
                conn.execute(delete(staging).where(staging.c.id.in_(chunk)))
            if rows:
                conn.execute(insert(staging), list(rows.values()))
            if entries:
                conn.execute(insert(staging_ledger), entries)
            conn.execute(update(projection_tracking).where(tracking.projection == name)
                         .values(notification_id=notifications[-1][0]))
        return len(events)


def _case_number(case_id: UUID | str) -> int:
    """A case id as a number (its partition is the remainder): hex text on SQLite."""
    return (case_id if isinstance(case_id, UUID) else UUID(case_id)).int


def _staged_rows(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for chunk in chunked(ids, SQL_PARAMETERS):
        for row in conn.execute(select(staging).where(staging.c.id.in_(chunk))):
            rows[row.id] = dict(row._mapping)
    return rows


def rebuild(app: Casework, workers: int = 1,
            progress: Callable[[int], None] | None = None) -> int:
    """Drop the read model and fold every event again; returns the events applied.

    ``progress`` is called with the number of events folded, up to ``app.recorded_events()``
    when it started."""
    if workers > 1:
        return rebuild_in_parallel(app, workers, progress)
    with ReadModel(app) as read_model:
        return read_model.rebuild(progress)


def rebuild_in_parallel(app: Casework, workers: int,
                        progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the read model with ``workers`` processes; returns the events applied (those
    folded by the workers, then those recorded meanwhile)."""
    writer = app.storage.sqlalchemy_engine(writer=True)
    try:
        with ReadModel(app) as read_model:  # the live tables, in the current layout
            stop = app.recorded_events()
            parts = _start_or_resume(app, writer, workers)
            summary = run_in_partitions(app, _RebuildWork(stop),
                                        job=f"rebuild-{uuid4().hex[:12]}", parts=parts,
                                        workers=workers, progress=progress)
            app.storage.change_tables(writer, lambda conn: _put_in_place(conn, stop))
            return summary.events + read_model.catch_up()
    finally:
        writer.dispose()


def _start_or_resume(app: Casework, writer: Any, workers: int) -> int:
    """The partitioning of the rebuild: that of one killed half-way, else a new one."""
    chosen: list[int] = []

    def start_or_resume(conn: Connection) -> None:
        existing = inspect(conn)
        left = existing.has_table(staging.name)
        if left and not all(_same_columns(existing, t) for t in (staging, staging_ledger)):
            staging_metadata.drop_all(conn)  # left by an older version
            conn.execute(delete(projection_tracking).where(
                projection_tracking.c.projection.startswith(PREFIX)))
        staging_metadata.create_all(conn)
        names = list(conn.execute(select(projection_tracking.c.projection).where(
            projection_tracking.c.projection.startswith(PREFIX))).scalars())
        if names:
            chosen.append(int(names[0].rsplit("/", 1)[1]))
            return
        conn.execute(delete(staging))
        conn.execute(delete(staging_ledger))
        conn.execute(insert(projection_tracking), [
            {"projection": _tracking_name(part, workers), "notification_id": 0}
            for part in range(workers)])
        chosen.append(workers)

    app.storage.change_tables(writer, start_or_resume)
    return chosen[0]


def _same_columns(existing: Any, table: Table) -> bool:
    return existing.has_table(table.name) and {
        column["name"] for column in existing.get_columns(table.name)} == set(table.columns.keys())


def _put_in_place(conn: Connection, stop: int) -> None:
    """The staging rows become the read model, in one transaction."""
    c = projection_tracking.c
    conn.execute(select(c.notification_id).where(c.projection == ReadModel.name)
                 .with_for_update())  # no catch-up applies a page meanwhile
    positions = set(conn.execute(select(c.notification_id).where(
        c.projection.startswith(PREFIX))).scalars())
    if not positions:
        return  # another rebuild put the same rows in place already
    if len(positions) > 1 or min(positions) < stop:
        raise CaseworkError("rebuild: some partitions were left unfinished (run it again: "
                            "finished work is kept)")
    conn.execute(delete(case_summary))
    columns = list(case_summary.columns.keys())
    conn.execute(insert(case_summary).from_select(
        columns, select(*(staging.c[name] for name in columns))))
    conn.execute(update(projection_tracking).where(c.projection == ReadModel.name)
                 .values(notification_id=positions.pop()))
    conn.execute(delete(unit_ledger))
    conn.execute(insert(unit_ledger).from_select(
        list(unit_ledger.columns.keys()), select(*staging_ledger.columns)))
    conn.execute(delete(projection_tracking).where(c.projection.startswith(PREFIX)))
    conn.execute(delete(staging))
    conn.execute(delete(staging_ledger))
