"""The figures of issue 7, each measured against its baseline in the same run.

| figure | baseline | target |
|---|---|---|
| petition lifecycle, one transaction per command | bare eventsourcing app | ≤ 1.3 × the time |
| NYC 311 import | raw sqlite3 executemany of the same rows | ≥ 0.4 × the rows/s |
| read-model rebuild | raw SELECT of the events plus JSON decoding | ≥ 0.5 × the events/s |
| loading a case of 10,000 events | the same without snapshots | ≤ 5 ms |
| peak memory of rebuild and sweep | the same job at a tenth of the size | < 20% more |
| sweep of open cases, 2 workers | 1 worker | ≥ 1.6 × faster |
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from casework import Actor, Casework
from casework.storage import Storage
from casework.transfer.nyc311 import import_nyc311
from projections.read_model import ReadModel

from .fixtures import Fixtures, remove, url_of
from .harness import Result, Scale, alternate, median, timed

Log = Callable[[str], None]
SWEEP_NOW = "2025-01-01T00:00+00:00"
"""Long after every imported request was due: each open case is overdue."""
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
           "location": "guanlan/guancheng"}


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


def lifecycle(scale: Scale, fixtures: Fixtures, log: Log) -> Result:
    commands = scale.lifecycle_cases * (1 + len(LIFECYCLE))
    engine = Casework(url_of(fixtures.fresh("lifecycle-engine")))
    bare = _bare_app(fixtures.fresh("lifecycle-bare"))

    def run_engine() -> float:
        def work() -> None:
            for _ in range(scale.lifecycle_cases):
                case_id = engine.open_case("petition", CLERK, **OPENING)
                for trigger, actor, fields in LIFECYCLE:
                    engine.fire(case_id, trigger, actor, **fields)
        return timed(work)

    def run_bare() -> float:
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
    engine_times, bare_times = alternate(scale.reps, run_engine, run_bare)
    engine.close()
    bare.close()
    ours, theirs = median(engine_times), median(bare_times)
    ratio = ours / theirs
    log(f"lifecycle: {ours:.3f} s vs {theirs:.3f} s")
    return Result(
        f"petition lifecycle ({scale.lifecycle_cases} × 8 commands, 1 txn each)",
        "bare eventsourcing app", ours, theirs, "s", ratio, "time", "≤ 1.3", ratio <= 1.3,
        {"engine": engine_times, "bare": bare_times},
        f"{commands / ours:,.0f} commands/s (bare {commands / theirs:,.0f})")


# 2. Bulk import of the NYC 311 sample --------------------------------------------------------


def bulk_import(scale: Scale, fixtures: Fixtures, log: Log) -> Result:
    sample = fixtures.sample
    cases = scale.import_cases
    rows = sum(sample.events[n % len(sample.rows)] for n in range(cases))
    ids = sample.replica_keys(cases)
    with contextlib.closing(sqlite3.connect(fixtures.imported(1))) as db:
        schema = [sql for (sql,) in db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'stored_events' AND sql NOT NULL")]

    def run_engine() -> float:
        path = fixtures.fresh("import-engine")
        app = Casework(url_of(path))
        lines = list(sample.lines(cases))  # the file's text, as reading it would give
        seconds = timed(lambda: import_nyc311(app, lines))
        stored = app.recorded_events()
        app.close()
        remove(path)
        assert stored == rows, (stored, rows)
        return rows / seconds

    def run_raw() -> float:
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
        seconds = timed(work)
        db.close()
        remove(path)
        return rows / seconds

    engine_rates, raw_rates = alternate(scale.big_reps, run_engine, run_raw)
    ours, theirs = median(engine_rates), median(raw_rates)
    ratio = ours / theirs
    log(f"import: {ours:,.0f} vs {theirs:,.0f} events/s")
    return Result(
        f"NYC 311 import, {cases:,} cases ({rows:,} events)",
        "raw sqlite3 executemany", ours, theirs, "events/s", ratio, "rate", "≥ 0.4",
        ratio >= 0.4, {"engine": engine_rates, "raw": raw_rates},
        f"{rows / ours:.1f} s for the engine")


# 3. Rebuilding the read model -----------------------------------------------------------------


def rebuild(scale: Scale, fixtures: Fixtures, log: Log) -> Result:
    path = fixtures.imported(scale.rebuild_events)
    app = Casework(url_of(path))
    events = app.recorded_events()

    def run_engine() -> float:
        with ReadModel(app) as read_model:
            return events / timed(read_model.rebuild)

    def run_raw() -> float:
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
        return events / timed(work)

    engine_rates, raw_rates = alternate(scale.big_reps, run_engine, run_raw)
    app.close()
    ours, theirs = median(engine_rates), median(raw_rates)
    ratio = ours / theirs
    log(f"rebuild: {ours:,.0f} vs {theirs:,.0f} events/s")
    return Result(
        f"read-model rebuild, {events:,} events", "raw SELECT + json.loads", ours, theirs,
        "events/s", ratio, "rate", "≥ 0.5", ratio >= 0.5,
        {"engine": engine_rates, "raw": raw_rates}, f"{events / ours:.1f} s for the engine")


# 4. Loading a long case -------------------------------------------------------------------------


def long_case(scale: Scale, fixtures: Fixtures, log: Log) -> Result:
    path = fixtures.fresh("long-case")
    app = Casework(url_of(path))
    case_id = app.open_case("petition", CLERK, **OPENING)
    for trigger, actor, fields in LIFECYCLE[:3]:
        app.fire(case_id, trigger, actor, **fields)
    batch = app.batch()
    # 49 events after the last snapshot: the most a load with snapshots replays.
    events = scale.load_events + 49
    for n in range(events - 4):
        batch.fire(case_id, "note", HANDLER, note=f"call {n}")
    batch.commit()
    plain = Casework(url_of(path), snapshot_interval=None)
    assert app.repository.get(case_id).version == events

    def with_snapshots() -> float:
        return median([timed(lambda: app.get_case(case_id)) for _ in range(scale.loads)]) * 1e3

    def without() -> float:
        return timed(lambda: plain.get_case(case_id)) * 1e3

    snap_times, plain_times = alternate(scale.reps, with_snapshots, without)
    app.close()
    plain.close()
    ours, theirs = median(snap_times), median(plain_times)
    log(f"long case: {ours:.2f} ms vs {theirs:.2f} ms")
    return Result(
        f"load a case of {events:,} events (snapshots every 50; 49 after the last)",
        "the same without snapshots", ours, theirs, "ms", ours / theirs, "time", "≤ 5 ms",
        ours <= 5.0, {"snapshots": snap_times, "no snapshots": plain_times})


# 5 and 6. Jobs in child processes: peak memory, and the sweep's workers ---------------------


def child(*args: str) -> dict[str, Any]:
    """Run ``python -m benchmarks.child ARGS`` and return what it reports (time, peak RSS)."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.child", *args], cwd=CHECKOUT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.child {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def sweep(scale: Scale, fixtures: Fixtures, log: Log) -> tuple[Result, dict[str, Any]]:
    """Workers 2 against workers 1; each run on a fresh copy of the store, in a child process
    (a sweep's own process, as from the command line). The one-worker run's peak memory is
    the memory figure's sweep at full size."""
    source = fixtures.open_cases(scale.sweep_cases)
    peaks: list[float] = []
    cpu: dict[int, list[float]] = {1: [], 2: []}

    def run(workers: int) -> float:
        path = fixtures.copy(source, "sweep-run")
        report = child("sweep", url_of(path), SWEEP_NOW, str(workers))
        remove(path)
        assert report["changed"] == scale.sweep_cases, report
        if workers == 1:
            peaks.append(report["peak_mb"])
        cpu[workers].append(report["cpu_seconds"])
        return report["seconds"]

    two, one = alternate(scale.big_reps, lambda: run(2), lambda: run(1))
    ours, theirs = median(two), median(one)
    speedup = theirs / ours
    log(f"sweep: workers 2 {ours:.1f} s vs workers 1 {theirs:.1f} s")
    result = Result(
        f"sweep of {scale.sweep_cases:,} open cases, --workers 2", "--workers 1", ours, theirs,
        "s", speedup, "speed-up", "≥ 1.6", speedup >= 1.6,
        {"workers 2": two, "workers 1": one, "workers 2 cpu": cpu[2], "workers 1 cpu": cpu[1]},
        # Two workers can only halve the time when two cores are free: the CPU seconds
        # (process and workers, start-up included) tell the work apart from the waiting.
        f"CPU seconds: workers 2 {median(cpu[2]):.1f}, workers 1 {median(cpu[1]):.1f}; "
        f"load average at the end {os.getloadavg()[0]:.1f}")
    return result, {"peak_mb": max(peaks), "cases": scale.sweep_cases}


def memory(scale: Scale, fixtures: Fixtures, log: Log, sweep_peak: dict[str, Any] | None
           ) -> list[Result]:
    results = []
    small, large = scale.memory_events // 10, scale.memory_events
    peaks = {events: child("rebuild", url_of(fixtures.imported(events)))["peak_mb"]
             for events in (small, large)}
    growth = peaks[large] / peaks[small]
    log(f"rebuild peak memory: {peaks[large]:.0f} MB vs {peaks[small]:.0f} MB")
    results.append(Result(
        f"peak memory of rebuild, {large:,} events", f"{small:,} events", peaks[large],
        peaks[small], "MB", growth, "growth", "< 1.2", growth < 1.2))

    small, large = scale.memory_cases // 10, scale.memory_cases
    if sweep_peak is None or sweep_peak["cases"] != large:
        path = fixtures.copy(fixtures.open_cases(large), "sweep-memory")
        sweep_peak = {"peak_mb": child("sweep", url_of(path), SWEEP_NOW, "1")["peak_mb"]}
        remove(path)
    path = fixtures.copy(fixtures.open_cases(small), "sweep-memory")
    small_peak = child("sweep", url_of(path), SWEEP_NOW, "1")["peak_mb"]
    remove(path)
    growth = sweep_peak["peak_mb"] / small_peak
    log(f"sweep peak memory: {sweep_peak['peak_mb']:.0f} MB vs {small_peak:.0f} MB")
    results.append(Result(
        f"peak memory of sweep, {large:,} open cases", f"{small:,} cases",
        sweep_peak["peak_mb"], small_peak, "MB", growth, "growth", "< 1.2", growth < 1.2))
    return results
