"""The figures of issues 7 and 20 measured in this process, each against its baseline.

| figure | baseline | target |
|---|---|---|
| petition lifecycle, CPU time (synchronous=NORMAL) | bare eventsourcing app | ≤ 1.0 × |
| petition lifecycle, wall time (synchronous=FULL) | bare eventsourcing app | (shown) |
| NYC 311 import | raw sqlite3 executemany of the same rows | ≥ 0.3 × the rows/s |
| JSONL import of residents' petitions, keys first | raw executemany of the same rows | ≥ 0.3 × |
| read-model rebuild (in a process of its own) | raw SELECT + JSON decoding | ≥ 0.35 × |

A long case's figures are in ``benchmarks.long_case``; the jobs' (sweep, memory) in
``benchmarks.jobs``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.sqlite import SQLiteConnectionPool

from casework import Actor, Casework
from casework.storage import Storage
from casework.transfer.nyc311 import import_nyc311

from .fixtures import Fixtures, remove, url_of
from .harness import Result, Sample, Scale, alternate, compare, median, timed
from .residents import resident

Log = Callable[[str], None]
CHECKOUT = Path(__file__).resolve().parent.parent


# 1. A petition's whole life, one command per transaction ----------------------------------

CLERK = Actor("li", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("wang", roles=["handler"])
VISITOR = Actor("zhao", roles=["visitor"])
LIFECYCLE: list[tuple[str, Actor, dict[str, Any]]] = [
    ("assess", CLERK, {"grade": "B", "category": "road_facilities"}),
    ("dispatch", CLERK, {"unit": "guanlan/guancheng"}),
    ("accept", HANDLER, {}),
    ("note", HANDLER, {"note": "called the road team"}),
    ("resolve", HANDLER, {"resolution": "cover replaced"}),
    ("close", CLERK, {"confirmed_by": "petitioner"}),
    ("revisit", VISITOR, {"satisfaction": 5}),
]
OPENING = {"channel": "hotline", "title": "Broken manhole cover",
           "location": "guanlan/guancheng", **resident(7)}
"""A resident's petition: with the petitioner's name, phone and address (which the engine
encrypts under a new key of theirs, and the bare application stores as they are)."""


class Ticket(Aggregate):
    """The bare application's aggregate: the same events, none of the engine's checks."""

    class Opened(Aggregate.Created):
        actor_id: str
        at: datetime
        fields: dict[str, Any]

        def apply(self, ticket: Ticket) -> None:
            ticket.state = "collected"
            ticket.fields = dict(self.fields)

    class Moved(Aggregate.Event):
        trigger: str
        actor_id: str
        at: datetime
        fields: dict[str, Any]

        def apply(self, ticket: Ticket) -> None:
            ticket.state = self.trigger
            ticket.fields.update(self.fields)

    if TYPE_CHECKING:  # set by the events
        state: str
        fields: dict[str, Any]


class BareApplication(Application[UUID]):
    name = "bare"
    snapshotting_intervals = {Ticket: 50}  # noqa: RUF012 (eventsourcing's own class variable)


def _bare_app(path: Path) -> BareApplication:
    """Persistence exactly as Casework's: the same recorder module, WAL, lock timeout and
    snapshotting."""
    env = dict(Storage.from_url(url_of(path)).event_store_env)
    env["IS_SNAPSHOTTING_ENABLED"] = "y"
    return BareApplication(env)


def lifecycle(scale: Scale, fixtures: Fixtures, log: Log) -> list[Result]:
    """Two rows: CPU time with synchronous=NORMAL (commits that do not wait for the disk, so
    that what is measured is the work of the engine and of the bare application), and wall
    time with synchronous=FULL, SQLite's default (what a user waits for, mostly the disk's
    sync on the day)."""
    commands = scale.lifecycle_cases * (1 + len(LIFECYCLE))
    with synchronous("NORMAL"):
        engine_runs, bare_runs = _lifecycle_runs(scale, fixtures, "normal")
    cpu = compare(
        f"petition lifecycle, CPU time, synchronous=NORMAL ({scale.lifecycle_cases} × 8 "
        "commands, 1 txn each)", "bare eventsourcing app",
        [Sample(s.cpu or 0.0, s.cpu) for s in engine_runs],
        [Sample(s.cpu or 0.0, s.cpu) for s in bare_runs], "s", "CPU time", "≤ 1.0",
        lambda ratio: ratio <= 1.0,
        f"{commands / cpu_median(engine_runs):,.0f} commands per CPU second (bare "
        f"{commands / cpu_median(bare_runs):,.0f})")
    engine_runs, bare_runs = _lifecycle_runs(scale, fixtures, "full")
    wall = compare(
        f"petition lifecycle, wall time, synchronous=FULL ({scale.lifecycle_cases} × 8 "
        "commands)", "bare eventsourcing app", engine_runs, bare_runs, "s", "time",
        notes=f"{commands / median([s.value for s in engine_runs]):,.0f} commands/s (bare "
              f"{commands / median([s.value for s in bare_runs]):,.0f}); most of it is "
              "waiting for the disk's sync")
    log(f"lifecycle: CPU {cpu.value:.3f} s vs {cpu.baseline_value:.3f} s; wall "
        f"{wall.value:.3f} s vs {wall.baseline_value:.3f} s")
    return [cpu, wall]


def cpu_median(samples: list[Sample]) -> float:
    return median([s.cpu or 0.0 for s in samples])


def _lifecycle_runs(scale: Scale, fixtures: Fixtures, name: str
                    ) -> tuple[list[Sample], list[Sample]]:
    engine = Casework(url_of(fixtures.fresh(f"lifecycle-engine-{name}")))
    bare = _bare_app(fixtures.fresh(f"lifecycle-bare-{name}"))

    def run_engine() -> Sample:
        def work() -> None:
            for _ in range(scale.lifecycle_cases):
                case_id = engine.open_case("petition", CLERK, **OPENING)
                for trigger, actor, fields in LIFECYCLE:
                    engine.fire(case_id, trigger, actor, **fields)
        return timed(work)

    def run_bare() -> Sample:
        def work() -> None:
            for _ in range(scale.lifecycle_cases):
                ticket = Ticket._create(Ticket.Opened, id=uuid4(), actor_id=CLERK.id,
                                        at=engine.clock(), fields=OPENING)
                bare.save(ticket)
                for trigger, actor, fields in LIFECYCLE:
                    ticket = bare.repository.get(ticket.id)
                    ticket.trigger_event(Ticket.Moved, trigger=trigger, actor_id=actor.id,
                                         at=engine.clock(), fields=fields)
                    bare.save(ticket)
        return timed(work)

    run_engine(), run_bare()  # warm up: imports, statements, the workflow cache
    runs = alternate(scale.reps, run_engine, run_bare)
    engine.close()
    bare.close()
    return runs


@contextlib.contextmanager
def synchronous(mode: str) -> Iterator[None]:
    """Every SQLite connection eventsourcing opens meanwhile syncs as ``mode`` says."""
    create = SQLiteConnectionPool._create_connection

    def created(pool: SQLiteConnectionPool) -> Any:
        connection = create(pool)
        connection._sqlite_conn.execute(f"PRAGMA synchronous={mode}")
        return connection

    SQLiteConnectionPool._create_connection = created  # type: ignore[method-assign]
    try:
        yield
    finally:
        SQLiteConnectionPool._create_connection = create  # type: ignore[method-assign]


# 2. Bulk import of the NYC 311 sample --------------------------------------------------------


def bulk_import(scale: Scale, fixtures: Fixtures, log: Log) -> Result:
    sample = fixtures.sample
    cases = scale.import_cases
    rows = sum(sample.events[n % len(sample.rows)] for n in range(cases))
    ids = sample.replica_keys(cases)
    with contextlib.closing(sqlite3.connect(fixtures.imported(1))) as db:
        schema = [sql for (sql,) in db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'stored_events' AND sql NOT NULL")]

    def run_engine() -> Sample:
        path = fixtures.fresh("import-engine")
        app = Casework(url_of(path))
        lines = list(sample.lines(cases))  # the file's text, as reading it would give
        took = timed(lambda: import_nyc311(app, lines))
        stored = app.recorded_events()
        app.close()
        remove(path)
        assert stored == rows, (stored, rows)
        return Sample(rows / took.value, took.cpu)

    def run_raw() -> Sample:
        path = fixtures.fresh("import-raw")
        db = sqlite3.connect(path, isolation_level=None)  # as eventsourcing's recorder does
        db.execute("PRAGMA journal_mode=WAL")
        for statement in schema:
            db.execute(statement)
        insert = ("INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                  "VALUES (?, ?, ?, ?)")
        per_transaction = 500  # the importer's rows per transaction

        def work() -> None:
            for start in range(0, cases, per_transaction):
                db.execute("BEGIN")
                db.executemany(insert, (
                    (ids[n], version, topic, state)
                    for n in range(start, min(cases, start + per_transaction))
                    for version, topic, state in sample.stored[n % len(sample.rows)]))
                db.execute("COMMIT")
        took = timed(work)
        db.close()
        remove(path)
        return Sample(rows / took.value, took.cpu)

    engine_rates, raw_rates = alternate(scale.big_reps, run_engine, run_raw)
    result = compare(f"NYC 311 import, {cases:,} cases ({rows:,} events)",
                     "raw sqlite3 executemany", engine_rates, raw_rates, "events/s", "rate",
                     "≥ 0.3", lambda ratio: ratio >= 0.3)
    result.notes = f"{rows / result.value:.1f} s for the engine"
    log(f"import: {result.value:,.0f} vs {result.baseline_value:,.0f} events/s")
    return result


def jsonl_import(scale: Scale, fixtures: Fixtures, log: Log) -> Result:
    """``casework import`` of an export of residents' petitions (each person's key line
    first, then the cases, every history checked), in a process of its own, against the same
    stored rows and key rows inserted with executemany, 500 cases a transaction."""
    source = fixtures.petitions(scale.rebuild_events)
    export = fixtures.exported(scale.rebuild_events)
    with contextlib.closing(sqlite3.connect(source)) as db:
        schema = [sql for (sql,) in db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN ('stored_events', 'person_keys') "
            "AND sql NOT NULL")]
        by_case: dict[str, list[tuple[Any, ...]]] = {}
        for row in db.execute("SELECT originator_id, originator_version, topic, state "
                              "FROM stored_events ORDER BY originator_id, originator_version"):
            by_case.setdefault(row[0], []).append(row)
        keys = db.execute("SELECT person, key, created_at FROM person_keys").fetchall()
    cases = list(by_case.values())
    events = sum(len(case) for case in cases)

    def run_engine() -> Sample:
        path = fixtures.fresh("jsonl-engine")
        report = child("import", url_of(path), str(export))
        remove(path)
        assert report["rejected"] == 0 and report["events"] == events, (report, events)
        return Sample(events / report["seconds"], report["cpu_seconds"])

    def run_raw() -> Sample:
        path = fixtures.fresh("jsonl-raw")
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        for statement in schema:
            db.execute(statement)

        def work() -> None:
            db.execute("BEGIN")
            db.executemany("INSERT INTO person_keys (person, key, created_at) "
                           "VALUES (?, ?, ?)", keys)
            db.execute("COMMIT")
            for start in range(0, len(cases), 500):
                db.execute("BEGIN")
                db.executemany("INSERT INTO stored_events (originator_id, originator_version, "
                               "topic, state) VALUES (?, ?, ?, ?)",
                               (row for case in cases[start:start + 500] for row in case))
                db.execute("COMMIT")
        took = timed(work)
        db.close()
        remove(path)
        return Sample(events / took.value, took.cpu)

    engine_rates, raw_rates = alternate(scale.big_reps, run_engine, run_raw)
    result = compare(f"JSONL import, {len(cases):,} cases ({events:,} events, {len(keys):,} "
                     "persons' keys)", "raw sqlite3 executemany", engine_rates, raw_rates,
                     "events/s", "rate", "≥ 0.3", lambda ratio: ratio >= 0.3)
    result.notes = f"{events / result.value:.1f} s for the engine, in a process of its own"
    log(f"JSONL import: {result.value:,.0f} vs {result.baseline_value:,.0f} events/s")
    return result


# 3. Rebuilding the read model -----------------------------------------------------------------


def rebuild(scale: Scale, fixtures: Fixtures, log: Log) -> tuple[Result, list[Sample]]:
    """The engine's rebuild in a process of its own (its peak memory is the memory figure's
    rebuild at full size), against a raw scan here. Returns the row, and the peaks."""
    path = fixtures.petitions(scale.rebuild_events)
    with contextlib.closing(sqlite3.connect(path)) as db:
        (events,) = db.execute("SELECT count(*) FROM stored_events").fetchone()
    peaks: list[Sample] = []

    def run_engine() -> Sample:
        report = child("rebuild", url_of(path))
        assert report["events"] == events, (report, events)
        peaks.append(Sample(report["peak_mb"], report["cpu_seconds"]))
        return Sample(events / report["seconds"], report["cpu_seconds"])

    def run_raw() -> Sample:
        def work() -> None:
            # The same pages the catch-up reads, decoded as JSON: the least a rebuild must do.
            with contextlib.closing(sqlite3.connect(path)) as db:
                position = 0
                while True:
                    page = db.execute(
                        "SELECT rowid, originator_id, originator_version, topic, state "
                        "FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT 1000",
                        (position,)).fetchall()
                    if not page:
                        return
                    for row in page:
                        json.loads(row[4])
                    position = page[-1][0]
        took = timed(work)
        return Sample(events / took.value, took.cpu)

    engine_rates, raw_rates = alternate(scale.big_reps, run_engine, run_raw)
    result = compare(f"read-model rebuild, {events:,} events (personal fields)",
                     "raw SELECT + json.loads", engine_rates, raw_rates, "events/s", "rate",
                     "≥ 0.35", lambda ratio: ratio >= 0.35)
    result.notes = f"{events / result.value:.1f} s for the engine"
    log(f"rebuild: {result.value:,.0f} vs {result.baseline_value:,.0f} events/s")
    return result, peaks


def child(*args: str) -> dict[str, Any]:
    """Run ``python -m benchmarks.child ARGS`` and return what it reports (time, peak RSS)."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.child", *args], cwd=CHECKOUT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.child {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])
