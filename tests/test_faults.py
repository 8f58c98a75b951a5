"""Faults: a database another process holds locked, and a process killed part-way.

A lock held past $CASEWORK_LOCK_TIMEOUT gives one line and exit 7, not a hang, and records
nothing; `casework import` and `casework rebuild` killed with SIGKILL part-way and run again
end exactly where an uninterrupted run ends: no case lost, none doubled.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from casework import Actor, Casework
from casework.audit import audit_digest
from casework.demo import Simulation
from casework.stored_cases import case_ids
from casework.transfer.jsonl import export_jsonl
from projections import ReadModel

from .conftest import NO_POSTGRES, POSTGRES_URL, postgres_schema
from .support import REPO, casework_command, summary_rows

pytestmark = pytest.mark.slow  # subprocesses, several processes, or many examples

NYC_SAMPLE = REPO.parent / "shared" / "data" / "nyc311" / "311_subset.micro.csv"
CLERK = Actor("li", roles=["intake"])
LOCK_TIMEOUT = "1"
"""Seconds: how long the commands below wait for the lock before they give up."""


def casework(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The casework command in a process of its own, with a short lock timeout."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), "CASEWORK_LOCK_TIMEOUT": LOCK_TIMEOUT,
                   "CASEWORK_ACTOR": "li:intake,assessor,dispatcher"}
    return subprocess.run([*casework_command(), *args], env=environment, capture_output=True,
                          text=True, timeout=timeout)


def assert_locked_out(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 7, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("casework: "), result.stderr
    assert "lock" in lines[0], lines[0]
    assert "Traceback" not in result.stderr


# A locked database ---------------------------------------------------------------------------

def two_petitions(url: str) -> str:
    """One petition, projected; a second one the read model has not seen yet."""
    app = Casework(url)
    try:
        app.open_case("petition", CLERK, channel="hotline", title="a")
        ReadModel(app).catch_up()
        app.open_case("petition", CLERK, channel="hotline", title="b")
    finally:
        app.close()
    return url


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return two_petitions(f"sqlite:///{tmp_path / 'cases.db'}")


COMMANDS: list[Callable[[str], list[str]]] = [
    lambda case: ["open", "petition", "-f", "channel=hotline", "-f", "title=c"],  # events
    lambda case: ["fire", case, "assess", "grade=B", "category=road"],  # events
    lambda case: ["project"],  # the read model, which is one event behind
    lambda case: ["report", "--json"],  # catches the read model up first
]


def first_case(url: str) -> str:
    app = Casework(url)
    try:
        return str(next(iter(case_ids(app))))
    finally:
        app.close()


def state_of(url: str) -> tuple[int, int]:
    """(events, read-model position)."""
    app = Casework(url)
    read_model = ReadModel(app)
    try:
        return app.recorder.max_notification_id() or 0, read_model.position()
    finally:
        read_model.close()
        app.close()


@pytest.mark.parametrize("command", COMMANDS, ids=["open", "fire", "project", "report"])
def test_a_sqlite_database_locked_by_another_process_is_one_line_exit_7_after_the_timeout(
        sqlite_db: str, command: Callable[[str], list[str]]) -> None:
    args = command(first_case(sqlite_db))
    before = state_of(sqlite_db)
    holder = sqlite3.connect(sqlite_db.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert_locked_out(casework(*args, "--db", sqlite_db, timeout=60))  # not a hang
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert state_of(sqlite_db) == before  # nothing recorded, nothing half-applied
    assert casework(*args, "--db", sqlite_db).returncode == 0  # and it works once free


@pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)
@pytest.mark.parametrize("command", [COMMANDS[0], COMMANDS[3]], ids=["open", "report"])
def test_a_postgresql_table_locked_by_another_session_is_one_line_exit_7_after_the_timeout(
        command: Callable[[str], list[str]]) -> None:
    import psycopg

    with postgres_schema() as url:
        schema = url.rsplit("schema=", 1)[1]
        args = command(first_case(two_petitions(url)))
        before = state_of(url)
        plain = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain) as holder:
            for table in ["casework_events", "case_summary"]:
                holder.execute(f'LOCK TABLE "{schema}".{table} IN ACCESS EXCLUSIVE MODE')
            assert_locked_out(casework(*args, "--db", url, timeout=60))
            holder.rollback()
        assert state_of(url) == before
        assert casework(*args, "--db", url).returncode == 0


def test_a_lock_timeout_that_is_not_whole_seconds_is_refused(sqlite_db: str) -> None:
    environment = {**os.environ, "PYTHONPATH": str(REPO), "CASEWORK_LOCK_TIMEOUT": "soon"}
    result = subprocess.run([*casework_command(), "report", "--db", sqlite_db],
                            env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2  # a malformed setting is bad input (issue 13, item 16)
    assert result.stderr.strip() == ("casework: CASEWORK_LOCK_TIMEOUT='soon': give whole "
                                     "seconds from 1 to 86400")


# Killed part-way -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A simulated month (about 2,600 cases, 17,000 events) and its export."""
    folder = tmp_path_factory.mktemp("source")
    database, export = folder / "source.db", folder / "cases.jsonl"
    app = Casework(f"sqlite:///{database}")
    Simulation(app, petitions=2000, enterprise_requests=400, volunteer_tasks=200).run()
    with export.open("w", encoding="utf-8") as out:
        export_jsonl(app, out)
    app.close()
    yield database, export


def kill_part_way(args: list[str], done_so_far: Callable[[], int], total: int) -> int:
    """Start ``casework ARGS``, SIGKILL it once ``done_so_far`` moves, return where it was."""
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([*casework_command(), *args], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if done_so_far() > 0:  # the first transaction has been committed
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    reached = done_so_far()
    assert 0 < reached < total, f"the kill should land part-way ({reached} of {total})"
    return reached


def count(database: Path, query: str) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(database, timeout=30) as conn:
            return conn.execute(query).fetchone()[0] or 0
    except sqlite3.OperationalError:  # the table is not there yet
        return 0


def events_per_case(url: str) -> Counter[str]:
    app = Casework(url)
    try:
        return Counter({str(case_id): len(list(app.events.get(case_id)))
                        for case_id in case_ids(app)})
    finally:
        app.close()


def digest(url: str) -> str:
    app = Casework(url)
    try:
        return audit_digest(app)
    finally:
        app.close()


def test_an_import_killed_part_way_and_run_again_loses_nothing_and_doubles_nothing(
        source: tuple[Path, Path], tmp_path: Path) -> None:
    database, export = source
    target = tmp_path / "copy.db"
    url = f"sqlite:///{target}"
    cases = sum(1 for _ in export.open(encoding="utf-8"))
    command = ["import", str(export), "--db", url]

    kill_part_way(command, lambda: count(target, "SELECT COUNT(DISTINCT originator_id) "
                                                 "FROM stored_events"), cases)
    rerun = casework(*command)

    assert rerun.returncode == 0, rerun.stderr
    # An uninterrupted import recreates the source exactly (tests/test_transfer.py): same
    # cases, same events per case, same digest.
    assert events_per_case(url) == events_per_case(f"sqlite:///{database}")
    assert digest(url) == digest(f"sqlite:///{database}")


@pytest.fixture(scope="module")
def nyc_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 real NYC 311 rows: four transactions of 500."""
    if not NYC_SAMPLE.is_file():
        pytest.skip(f"no {NYC_SAMPLE}")
    return NYC_SAMPLE


def business_histories(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every case's history without recording times and hashes (which differ between runs)."""
    app = Casework(url)
    try:
        return {str(case_id): [(e.sequence, e.at, e.actor, e.role, e.trigger, e.from_state,
                                e.to_state, e.fields, e.changes) for e in app.history(case_id)]
                for case_id in case_ids(app)}
    finally:
        app.close()


def test_an_nyc311_import_killed_part_way_and_run_again_equals_an_uninterrupted_one(
        nyc_file: Path, tmp_path: Path) -> None:
    killed, whole = tmp_path / "killed.db", tmp_path / "whole.db"
    rows = sum(1 for _ in csv.reader(nyc_file.open(encoding="utf-8", newline=""))) - 1
    command = ["import", str(nyc_file), "--format", "nyc311"]

    kill_part_way([*command, "--db", f"sqlite:///{killed}"],
                  lambda: count(killed, "SELECT COUNT(DISTINCT originator_id) "
                                        "FROM stored_events"), rows)
    rerun = casework(*command, "--db", f"sqlite:///{killed}", "--json")
    uninterrupted = casework(*command, "--db", f"sqlite:///{whole}", "--json")

    assert rerun.returncode == uninterrupted.returncode == 8  # the sample's one bad row
    histories = business_histories(f"sqlite:///{killed}")
    assert histories == business_histories(f"sqlite:///{whole}")  # same cases, same events
    assert len(histories) == rows - 1


def read_model_rows(url: str) -> list[dict[str, Any]]:
    app = Casework(url)
    read_model = ReadModel(app)
    try:
        read_model.catch_up()
        return summary_rows(read_model)
    finally:
        read_model.close()
        app.close()


def test_a_rebuild_killed_part_way_and_run_again_gives_the_same_read_model(
        source: tuple[Path, Path], tmp_path: Path) -> None:
    database = tmp_path / "rebuild.db"
    database.write_bytes(source[0].read_bytes())
    url = f"sqlite:///{database}"
    expected = read_model_rows(url)  # caught up from the events: what a rebuild must give
    events = count(database, "SELECT MAX(rowid) FROM stored_events")

    # The rebuild drops the tables first: progress is the tracking position of the new ones.
    position = "SELECT notification_id FROM projection_tracking"
    reached = kill_part_way(["rebuild", "--db", url], lambda: count(database, position) % events,
                            events)
    assert 0 < reached < events
    # A report straight after the kill carries on from where the rebuild was killed ...
    assert read_model_rows(url) == expected
    # ... and so does running the rebuild again, from scratch.
    rerun = casework("rebuild", "--db", url)
    assert rerun.returncode == 0, rerun.stderr
    assert read_model_rows(url) == expected
    audit = casework("audit", "--db", url)
    assert audit.returncode == 0, audit.stdout[-500:]
