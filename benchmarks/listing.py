"""Listing cases: the first page of ``casework cases`` over a million cases, against a plain
indexed SELECT of the same rows.

The fixture is a simulated month of the demo (so units, grades, deadlines and states are
spread as an office's are), its read-model rows copied with new ids up to the size wanted:
a list reads only the read model, and folding a million cases' events first would take an
hour without measuring anything more. The copies share the template's tracking position,
so the list's catch-up finds nothing new, as on a store whose read model is current.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import DateTime

from casework import Casework
from casework.demo import Simulation
from projections.case_list import CaseQuery, list_cases
from projections.filters import CaseFilter
from projections.read_model import ReadModel
from projections.tables import case_summary

from .fixtures import Fixtures, checkpointed, url_of
from .harness import Result, Sample, Scale, alternate, compare, median, timed

Log = Callable[[str], None]
UNIT = "guanlan/guancheng"
"""One community of ten: the list a community's office reads."""
NOW = datetime(2024, 6, 1, tzinfo=UTC)
YEAR_DAYS = 365
PAGE = 20
DEEP = 50
"""Pages deep for the note on keyset against OFFSET."""
BASELINE = (
    "SELECT * FROM case_summary "
    "WHERE status = 'open' AND deadline IS NOT NULL AND (unit = ? OR (unit > ? AND unit < ?)) "
    "ORDER BY deadline, id LIMIT ?")
"""What the first page needs, as one would write it by hand: the same index range, without
the engine's part (catching up, checking the filters, building the query, typed rows)."""


def listed_cases(fixtures: Fixtures, cases: int) -> Path:
    """A store whose read model holds ``cases`` rows (copies of a simulated month's)."""
    name = f"listed-{cases}"
    path = fixtures.folder / f"{name}.db"
    if path.exists():
        return path
    path = fixtures.fresh(name)
    app = Casework(url_of(path))
    Simulation(app, seed=7, petitions=600, enterprise_requests=120, volunteer_tasks=60).run()
    with ReadModel(app) as read_model:
        read_model.catch_up()
    app.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        indexes = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'case_summary' "
            "AND sql IS NOT NULL")]
        for index in indexes:  # built again at the end, in one sorted pass each
            db.execute(f'DROP INDEX "{index}"')
        template = db.execute("SELECT * FROM case_summary").fetchall()
        columns = len(template[0])
        times = [n for n, column in enumerate(case_summary.columns)
                 if isinstance(column.type, DateTime)]
        stored = len(template)
        while stored < cases:
            rows = [_copied(row, times) for row in template[:cases - stored]]
            db.executemany(f"INSERT INTO case_summary VALUES ({', '.join('?' * columns)})",
                           rows)
            stored += len(rows)
        db.commit()
    app = Casework(url_of(path))
    with ReadModel(app):  # makes the indexes the table lacks
        pass
    app.close()
    return checkpointed(path)


def _copied(row: tuple[Any, ...], times: list[int]) -> tuple[Any, ...]:
    """The row as a new case, its times moved by the same number of days (up to a year), so
    that the copies interleave as a year's cases do rather than queue up behind each other."""
    shift = timedelta(days=random.randrange(YEAR_DAYS), seconds=random.randrange(86400))
    copy = [str(uuid4()), *row[1:]]
    for n in times:
        if copy[n] is not None:
            copy[n] = str(datetime.fromisoformat(copy[n]) + shift)
    return tuple(copy)


def first_page(scale: Scale, fixtures: Fixtures, log: Log) -> Result:
    path = listed_cases(fixtures, scale.list_cases)
    app = Casework(url_of(path))
    read_model = ReadModel(app)
    query = CaseQuery(CaseFilter(unit=UNIT, status="open"), limit=PAGE, now=NOW, count=False)

    def in_ms(sample: Sample) -> Sample:
        return Sample(sample.value * 1000, None if sample.cpu is None else sample.cpu * 1000)

    def run_engine() -> Sample:
        return in_ms(timed(lambda: list_cases(read_model, query)))

    db = sqlite3.connect(path)  # open, as the read model's engine keeps its connections

    def run_raw() -> Sample:
        return in_ms(timed(lambda: db.execute(
            BASELINE, (UNIT, UNIT + "/", UNIT + "0", PAGE + 1)).fetchall()))

    shown = list_cases(read_model, query)
    expected = _raw_ids(path)
    assert [str(row.id) for row in shown.rows] == expected, "the list is not the SELECT's"
    run_engine(), run_raw()  # warm up: the page cache, statements
    ours, theirs = alternate(scale.reps * 3, run_engine, run_raw)
    deep = _deep_pages(read_model, query)
    db.close()
    read_model.close()
    app.close()
    result = compare(f"first page of open cases in a community, {scale.list_cases:,} cases",
                     "plain indexed SELECT", ours, theirs, "ms", "time", "≤ 50 ms",
                     lambda value: value <= 50, deep, on=lambda value: value)
    log(f"first page: {result.value:.2f} ms vs {result.baseline_value:.2f} ms")
    return result


def _raw_ids(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [row[0] for row in db.execute(BASELINE, (UNIT, UNIT + "/", UNIT + "0", PAGE))]


def _deep_pages(read_model: ReadModel, query: CaseQuery) -> str:
    """Page ``DEEP`` by cursor (keyset) against by number (OFFSET): what the README says."""
    cursor = None
    for _page in range(DEEP - 1):
        cursor = list_cases(read_model, CaseQuery(query.where, limit=PAGE, now=NOW,
                                                  count=False, after=cursor)).next_cursor
    by_cursor = median([timed(lambda: list_cases(read_model, CaseQuery(
        query.where, limit=PAGE, now=NOW, count=False, after=cursor))).value for _ in range(5)])
    by_number = median([timed(lambda: list_cases(read_model, CaseQuery(
        query.where, limit=PAGE, now=NOW, count=False, page=DEEP))).value for _ in range(5)])
    counted = median([timed(lambda: list_cases(read_model, CaseQuery(
        query.where, limit=PAGE, now=NOW, count=True))).value for _ in range(3)])
    return (f"page {DEEP} by cursor {by_cursor * 1000:.2f} ms, by --page {by_number * 1000:.2f}"
            f" ms; the first page with its total counted {counted * 1000:.1f} ms")
