"""Clients firing at once on shared cases in PostgreSQL, against a bare eventsourcing
application with the same clients.

| figure | baseline | target |
|---|---|---|
| 8 clients firing on shared cases | bare eventsourcing, same clients | ≥ 1.0 ×, 0 lost |

Each client is a thread with an application of its own (its own connections), firing a note
on one of a few shared cases in progress, over and over; a command that loses the race for
the case's next version is tried again until it is recorded (the engine retries a few times
by itself, then says ``ConcurrencyConflict``; the bare application raises the
``IntegrityError`` at once), as a client that must not lose a command would. At the end each
case must hold exactly the events its commands recorded: none lost, none twice. The
PostgreSQL server is ``$CASEWORK_BENCH_POSTGRES_URL``, else ``$CASEWORK_TEST_POSTGRES_URL``;
each repetition runs in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError
from sqlalchemy.engine import make_url

from casework import Casework
from casework.errors import ConcurrencyConflict
from casework.storage import Storage
from casework.timestamps import utc_now

from .figures import CLERK, HANDLER, LIFECYCLE, OPENING, BareApplication, Log, Ticket
from .harness import Result, Sample, Scale, alternate, compare, timed

CLIENTS = 8
SHARED_CASES = 4


def postgres_url() -> str | None:
    return (os.environ.get("CASEWORK_BENCH_POSTGRES_URL")
            or os.environ.get("CASEWORK_TEST_POSTGRES_URL") or None)


def clients(scale: Scale, url: str, log: Log) -> Result:
    commands = CLIENTS * scale.pg_commands

    def run_engine() -> Sample:
        with _schema(url) as schema_url:
            apps = [Casework(schema_url) for _ in range(CLIENTS)]
            cases = _engine_cases(apps[0])
            took = timed(lambda: _at_once([_engine_client(app, cases, scale.pg_commands, n)
                                           for n, app in enumerate(apps)]))
            recorded = sum(apps[0].history_length(case) for case in cases)
            for app in apps:
                app.close()
        assert recorded == len(cases) * (1 + 3) + commands, (recorded, commands)  # none lost
        return Sample(commands / took.value, took.cpu)

    def run_bare() -> Sample:
        with _schema(url) as schema_url:
            env = dict(Storage.from_url(schema_url).event_store_env,
                       IS_SNAPSHOTTING_ENABLED="y")
            apps = [BareApplication(env) for _ in range(CLIENTS)]
            cases = _bare_cases(apps[0])
            took = timed(lambda: _at_once([_bare_client(app, cases, scale.pg_commands, n)
                                           for n, app in enumerate(apps)]))
            recorded = sum(apps[0].repository.get(case).version for case in cases)
            for app in apps:
                app.close()
        assert recorded == len(cases) * (1 + 3) + commands, (recorded, commands)
        return Sample(commands / took.value, took.cpu)

    run_engine(), run_bare()  # warm up: imports, connections, the server's caches
    engine_rates, bare_rates = alternate(scale.big_reps, run_engine, run_bare)
    result = compare(
        f"{CLIENTS} clients on PostgreSQL firing notes on {SHARED_CASES} shared cases "
        f"({commands:,} commands)", "bare eventsourcing, same clients", engine_rates,
        bare_rates, "commands/s", "rate", "≥ 1.0, 0 lost", lambda ratio: ratio >= 1.0,
        "threads of one process, an application each; every command recorded once "
        "(checked); CPU s: the process's")
    log(f"PostgreSQL clients: {result.value:,.0f} vs {result.baseline_value:,.0f} "
        "commands/s")
    return result


def _engine_cases(app: Casework) -> list[UUID]:
    cases = []
    for _ in range(SHARED_CASES):
        case_id = app.open_case("petition", CLERK, **OPENING)
        for trigger, actor, fields in LIFECYCLE[:3]:  # assessed, dispatched, in progress
            app.fire(case_id, trigger, actor, **fields)
        cases.append(case_id)
    return cases


def _bare_cases(app: BareApplication) -> list[UUID]:
    cases = []
    for _ in range(SHARED_CASES):
        ticket = Ticket._create(Ticket.Opened, id=uuid4(), actor_id=CLERK.id,
                                at=utc_now(), fields=OPENING)
        for trigger, actor, fields in LIFECYCLE[:3]:
            ticket.trigger_event(Ticket.Moved, trigger=trigger, actor_id=actor.id,
                                 at=utc_now(), fields=fields)
        app.save(ticket)
        cases.append(ticket.id)
    return cases


def _engine_client(app: Casework, cases: list[UUID], count: int, client: int
                   ) -> Callable[[], None]:
    def fire() -> None:
        for n in range(count):
            case_id = cases[(client + n) % len(cases)]
            while True:
                try:
                    app.fire(case_id, "note", HANDLER, note=f"client {client}, call {n}")
                    break
                except ConcurrencyConflict:  # the others won five times over
                    continue
    return fire


def _bare_client(app: BareApplication, cases: list[UUID], count: int, client: int
                 ) -> Callable[[], None]:
    def fire() -> None:
        for n in range(count):
            case_id = cases[(client + n) % len(cases)]
            while True:
                ticket = app.repository.get(case_id)
                ticket.trigger_event(Ticket.Moved, trigger="note", actor_id=HANDLER.id,
                                     at=utc_now(),
                                     fields={"note": f"client {client}, call {n}"})
                try:
                    app.save(ticket)
                    break
                except IntegrityError:
                    continue
    return fire


def _at_once(work: list[Callable[[], None]]) -> None:
    """Run each in a thread of its own, all started together; re-raise the first failure."""
    failures: list[BaseException] = []
    start = threading.Barrier(len(work))

    def run(action: Callable[[], None]) -> None:
        start.wait()
        try:
            action()
        except BaseException as error:  # re-raised in the main thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(action,)) for action in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


@contextmanager
def _schema(url: str) -> Iterator[str]:
    import psycopg  # the postgres extra's

    schema = f"bench_clients_{uuid4().hex[:12]}"
    parsed = make_url(url)
    plain = parsed.set(drivername="postgresql").difference_update_query(["schema"])
    server = plain.render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:  # the bare app makes none
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield parsed.update_query_dict({"schema": schema}).render_as_string(
            hide_password=False)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
