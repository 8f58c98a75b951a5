"""Scratch read models: the ``case_summary`` rows of a replay that is not the live one (the
report as it stood at a time, a candidate policy), in a temporary SQLite file.

The live read model follows every event; a replay folds a chosen part of them (events up to
a business time, or recorded by a time; the cases of a period) into rows of the same shape,
with the same code (``projections.case_summary.summarise``), page by page from the
notification log. The rows live in a temporary file, not in memory, so memory stays flat
whatever the number of cases, and the store is only read: a replay writes nothing to it.
``projections.report.report`` reads a scratch model as it reads the live one.
"""

from __future__ import annotations

import tempfile
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    MetaData,
    Select,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
)

from casework import Casework
from casework.chunking import SQL_PARAMETERS, chunked
from casework.recorders import NotificationRow

from .read_model import decoded_row
from .tables import case_summary, unit_ledger

CACHED_ROWS = 10_000
"""Rows a scratch model keeps in memory besides its file (about 2 KB each): a replay reads back
the rows of the cases it met last without asking SQLite, and memory stays bounded."""
PAGE = 1000
"""Events read per page of the notification log."""

_metadata = MetaData()
scratch_summary = Table(case_summary.name, _metadata,
                        *(column._copy() for column in case_summary.columns))
"""The read model's table, named alike so that report queries run on it unchanged, without
its secondary indexes (a replay reads its rows once, by id)."""
diverged_summary = Table("diverged_summary", _metadata,
                         *(column._copy() for column in case_summary.columns))
"""The rows a second replay of the same events (under a candidate policy) made different
from those of ``scratch_summary``: only those are kept twice (``projections.whatif``)."""
scratch_ledger = Table(unit_ledger.name, _metadata,
                       *(column._copy() for column in unit_ledger.columns))
"""The units' accounts of the replay (``projections.unit_ledger``): entries are only added."""
diverged_ledger = Table("diverged_ledger", _metadata,
                        *(column._copy() for column in unit_ledger.columns))
"""The entries a second replay (under a candidate policy) gave the cases of
``diverged_accounts``, in place of theirs in ``scratch_ledger`` (``overlaid``)."""
diverged_accounts = Table("diverged_accounts", _metadata,
                          Column("case_id", String(36), primary_key=True))
"""The cases whose entries in the units' accounts the second replay made different: all of
theirs are those of ``diverged_ledger`` (none, when it has none)."""
_attached = {table.name: Table(table.name, MetaData(), *(c._copy() for c in table.columns),
                               schema="scratch") for table in (case_summary, unit_ledger)}
"""A scratch file's tables as the live database's connection sees it attached
(``copy_live``)."""


class ScratchReadModel:
    """A ``case_summary`` table in a temporary SQLite file, dropped on ``close``; has what
    ``projections.report.report`` reads of a ``ReadModel`` (``app``, ``engine``,
    ``catch_up``)."""

    def __init__(self, app: Casework) -> None:
        self.app = app
        self._folder = tempfile.TemporaryDirectory(prefix="casework-replay-")
        self.path = path = Path(self._folder.name) / "replay.db"
        self.engine = create_engine(f"sqlite:///{path}")
        event.listen(self.engine, "connect", _unjournaled)
        _metadata.create_all(self.engine)
        self._tables = {table.name: _CachedTable(table)
                        for table in (scratch_summary, diverged_summary)}

    def catch_up(self, progress: Any = None) -> int:
        """Nothing to catch up with (a replay is folded once, to its end), but the rows
        still only in memory are written, for the report to read them."""
        self.flush()
        return 0

    def rows(self, ids: list[str], table: Table = scratch_summary
             ) -> dict[str, dict[str, Any]]:
        """The rows of the cases ``ids`` that ``table`` has (the caller must not change
        them: they are the cache's)."""
        return self._tables[table.name].rows(ids, self.engine)

    def replace(self, rows: dict[str, dict[str, Any]], table: Table = scratch_summary,
                dropped: Collection[str] = ()) -> None:
        """Put ``rows`` in place of the rows of the same cases, and drop those of
        ``dropped``: in memory first, in the file when they leave the cache or on
        ``flush``."""
        self._tables[table.name].replace(rows, dropped, self.engine)

    def add_entries(self, entries: list[dict[str, Any]]) -> None:
        """Entries of the units' accounts, written at once (nothing reads them back while
        replaying)."""
        if entries:
            with self.engine.begin() as conn:
                _insert(conn, scratch_ledger, entries)

    def replace_entries(self, accounts: dict[str, list[dict[str, Any]]]) -> None:
        """The entries a second replay gave these cases, each case's whole, to take the
        place of theirs in the model ``overlaid`` makes (this model's own stay)."""
        if accounts:
            with self.engine.begin() as conn:
                _insert(conn, diverged_accounts, ({"case_id": case_id} for case_id in accounts))
                _insert(conn, diverged_ledger,
                        (entry for entries in accounts.values() for entry in entries))

    def flush(self) -> None:
        """Write what the cache holds that the file does not: before reading the file."""
        for cached in self._tables.values():
            cached.flush(self.engine)

    def overlaid(self) -> ScratchReadModel:
        """A new scratch model: these rows, with the diverged ones in place of their cases'
        (and the diverged ones again, in its own diverged table), and these units' accounts,
        with the diverged entries in place of their cases' (``replace_entries``). Copied by
        SQLite."""
        self.flush()
        model = ScratchReadModel(self.app)
        for cached in model._tables.values():
            cached.complete = False  # its rows come by SQL
        with model.engine.connect() as conn:
            conn.exec_driver_sql("ATTACH DATABASE ? AS source", (str(self.path),))
            conn.exec_driver_sql(
                "INSERT INTO case_summary SELECT * FROM source.case_summary WHERE id NOT IN "
                "(SELECT id FROM source.diverged_summary)")
            conn.exec_driver_sql("INSERT INTO case_summary SELECT * FROM "
                                 "source.diverged_summary")
            conn.exec_driver_sql("INSERT INTO diverged_summary SELECT * FROM "
                                 "source.diverged_summary")
            # The accounts of the first replay, with the diverged cases' entries in place of
            # theirs.
            conn.exec_driver_sql(
                "INSERT INTO unit_ledger SELECT * FROM source.unit_ledger WHERE case_id NOT IN "
                "(SELECT case_id FROM source.diverged_accounts)")
            conn.exec_driver_sql("INSERT INTO unit_ledger SELECT * FROM "
                                 "source.diverged_ledger")
            conn.commit()
            conn.exec_driver_sql("DETACH DATABASE source")
        return model

    def copy_live(self, engine: Engine, where: ColumnElement[bool], tracking: Select[Any]
                  ) -> int:
        """Copy the live read model's rows that ``where`` selects, and their units' accounts,
        from the SQLite database of ``engine`` (whose connection attaches this file, so SQLite
        copies them: no row passes through Python); returns ``tracking``'s answer, the
        position in the log those rows are at, read in the same read transaction."""
        self.flush()
        self._tables[scratch_summary.name].complete = False  # its rows come by SQL
        rows = select(*case_summary.c).where(where)
        entries = (select(*unit_ledger.c).where(where).select_from(unit_ledger.join(
            case_summary, case_summary.c.id == unit_ledger.c.case_id)))
        with engine.connect() as conn:
            conn.exec_driver_sql("ATTACH DATABASE ? AS scratch", (str(self.path),))
            try:  # a file thrown away after use, as _unjournaled says
                conn.exec_driver_sql("PRAGMA scratch.journal_mode=OFF")
                conn.exec_driver_sql("PRAGMA scratch.synchronous=OFF")
                conn.exec_driver_sql("BEGIN")  # one snapshot of the live rows and position
                position = int(conn.execute(tracking).scalar() or 0)
                for table, query in ((case_summary, rows), (unit_ledger, entries)):
                    conn.execute(insert(_attached[table.name]).from_select(
                        list(table.columns.keys()), query))
                conn.commit()
            finally:
                conn.rollback()
                conn.exec_driver_sql("DETACH DATABASE scratch")
        return position

    def all_rows(self) -> Iterator[Any]:
        """Every row, in the order of the case ids."""
        with self.engine.connect() as conn:
            query = select(scratch_summary).order_by(scratch_summary.c.id)
            yield from conn.execution_options(yield_per=2000).execute(query)

    def close(self) -> None:
        self.engine.dispose()
        self._folder.cleanup()

    def __enter__(self) -> ScratchReadModel:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _CachedTable:
    """One scratch table's rows written last, in memory, written back to the file when
    they leave the cache (the oldest first) or on ``flush``: a replay meets the same busy
    cases page after page."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.dirty: set[str] = set()
        """Ids whose row in the cache is not in the file yet."""
        self.dropped: set[str] = set()
        """Ids whose row is to leave the file."""
        self.complete = True
        """Whether the cache holds every row of the table (none left it yet)."""

    def rows(self, ids: list[str], engine: Engine) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        missing = []
        for case_id in ids:
            row = self.cache.get(case_id)
            if row is None:
                missing.append(case_id)
            else:
                rows[case_id] = row
        if not missing or self.complete:
            return rows
        self.flush(engine)
        with engine.connect() as conn:
            for chunk in chunked(missing, SQL_PARAMETERS):
                for row in conn.execute(select(self.table).where(self.table.c.id.in_(chunk))):
                    rows[row.id] = dict(row._mapping)
        return rows

    def replace(self, rows: dict[str, dict[str, Any]], dropped: Collection[str],
                engine: Engine) -> None:
        for case_id in dropped:
            self.cache.pop(case_id, None)
            self.dirty.discard(case_id)
            self.dropped.add(case_id)
        for case_id, row in rows.items():
            self.cache[case_id] = row
            self.cache.move_to_end(case_id)
            self.dirty.add(case_id)
            self.dropped.discard(case_id)
        leaving = {}
        while len(self.cache) > CACHED_ROWS:
            case_id, row = self.cache.popitem(last=False)
            self.complete = False
            if case_id in self.dirty:
                self.dirty.discard(case_id)
                leaving[case_id] = row
        if leaving:
            self._write(engine, leaving)

    def flush(self, engine: Engine) -> None:
        self._write(engine, {case_id: self.cache[case_id] for case_id in self.dirty})
        self.dirty.clear()

    def _write(self, engine: Engine, rows: dict[str, dict[str, Any]]) -> None:
        if not rows and not self.dropped:
            return
        with engine.begin() as conn:
            for chunk in chunked(list(self.dropped - rows.keys()), SQL_PARAMETERS):
                conn.exec_driver_sql(f"DELETE FROM {self.table.name} WHERE id IN "
                                     f"({', '.join('?' * len(chunk))})", tuple(chunk))
            if rows:  # in place of the file's row of the same case, if it has one
                _insert(conn, self.table, rows.values(), replace=True)
        self.dropped.clear()


def _unjournaled(connection: Any, _: Any) -> None:
    """A scratch file is thrown away after use: no journal, no waiting for the disk."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=OFF")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def notification_pages(app: Casework, page_size: int = PAGE, stop: int | None = None
                       ) -> Iterator[list[NotificationRow]]:
    """The stored events, not decoded, page by page from the notification log, as plain rows
    (``select_notification_rows``: position, case id, version, topic, state), up to ``stop``
    (by default the last one recorded when it started)."""
    stop = app.recorded_events() if stop is None else stop
    position = 0
    while position < stop:
        rows = app.recorder.select_notification_rows(position, page_size, stop)
        if not rows:
            return
        position = rows[-1][0]
        yield rows


def event_pages(app: Casework, page_size: int = PAGE, stop: int | None = None
                ) -> Iterator[list[tuple[int, Any]]]:
    """The recorded events with their positions in the notification log, page by page."""
    for rows in notification_pages(app, page_size, stop):
        yield [(row[0], decoded_row(app, row)) for row in rows]


def _insert(conn: Connection, table: Table, rows: Iterable[dict[str, Any]],
            replace: bool = False) -> None:
    """Insert ``rows`` (dicts by column name; a missing one takes its column's default) by
    the driver's ``executemany``: SQLAlchemy's per-row work for an ``insert`` of dicts was a
    fifth of a whatif run, and a scratch table needs none of it but the types' conversions
    (on SQLite, of the datetimes to its text). ``replace``: a row takes the place of the
    one with the same primary key (SQLite's ``INSERT OR REPLACE``; a scratch table has no
    other unique key), so rows need not be deleted first."""
    columns = _insert_columns(table, conn.dialect)
    names = [name for name, _, _, _, _ in columns]
    picked = itemgetter(*names)  # of one name, the value itself: made a tuple of one
    every = picked if len(names) > 1 else (lambda row: (picked(row),))
    converted = [(i, process, plain, dated)
                 for i, (_, process, _, plain, dated) in enumerate(columns) if process]
    values: list[list[Any]] = []
    for row in rows:
        try:
            value = list(every(row))
        except KeyError:  # a column left to its default
            value = [row.get(name, default) for name, _, default, _, _ in columns]
        for i, process, plain, dated in converted:
            item = value[i]
            if item is None or type(item) is plain:
                continue  # the driver stores it as the conversion would have made it
            if dated and type(item) is datetime and item.tzinfo is None:
                value[i] = item.isoformat(" ", "microseconds")  # _quicker's, without a call
            else:
                value[i] = process(item)
        values.append(value)
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    cursor = conn.connection.cursor()  # the driver's own: it takes the rows as lists
    try:
        cursor.executemany(f"{verb} INTO {table.name} ({', '.join(names)}) "
                           f"VALUES ({', '.join('?' * len(names))})", values)
    finally:
        cursor.close()


def _insert_columns(table: Table, dialect: Any) -> list[_Column]:
    """Per column: its name, the type's conversion to the driver's value (or None), its
    default, the type of the values the driver takes as they are, and whether a naive
    datetime's conversion is its ``isoformat`` (``_quicker``)."""
    columns = _COLUMNS.get(table.name)
    if columns is None:
        columns = _COLUMNS[table.name] = []
        for column in table.columns:
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            quicker = _quicker(process)
            columns.append((
                column.name, quicker,
                column.default.arg if column.default is not None and column.default.is_scalar
                else None,
                None if process is None else _plain(process), quicker is not process))
    return columns


def _plain(process: Any) -> type | None:
    """The type whose values the driver stores as ``process`` would have converted them:
    a bool (SQLite's driver binds True as 1, as a Boolean's ``int``), a float (a Float's
    ``float``); checked here. None: every value is converted."""
    for sample, stored in ((True, 1), (1.25, 1.25)):
        try:
            converted = process(sample)
        except (TypeError, ValueError):  # a conversion of another type
            continue
        if type(converted) is type(stored) and converted == stored:
            return type(sample)
    return None


def _quicker(process: Any) -> Any:
    """The type's conversion, with a quicker path for a naive datetime where it gives the
    same text as ``datetime.isoformat`` (SQLAlchemy's SQLite format, checked here): a
    third of the time of writing a row."""
    sample = datetime(2024, 5, 1, 8, 30, 5, 1234)
    try:
        if process is None or process(sample) != sample.isoformat(" ", "microseconds"):
            return process
    except (TypeError, ValueError):  # a conversion of another type
        return process

    def quicker(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return process(value)
    return quicker


_Column = tuple[str, Any, Any, type | None, bool]
_COLUMNS: dict[str, list[_Column]] = {}
