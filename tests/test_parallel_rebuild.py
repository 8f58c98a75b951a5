"""`casework rebuild --workers N`: the read model folded again by several processes gives the
rows one process gives; reports go on using the old rows until the new ones are in place; a
rebuild that died half-way resumes, with the events recorded meanwhile — on a SQLite file and
on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from casework import Actor, Casework
from casework.audit import audit_digest
from casework.demo import Simulation
from cli import cli
from projections import ReadModel
from projections.rebuild import _RebuildWork, _start_or_resume
from projections.report import report
from projections.tables import unit_ledger

from .conftest import database
from .support import REPO, casework_command, summary_rows

pytestmark = pytest.mark.slow  # subprocesses, several processes, or many examples

HANDLER = Actor("wang", roles=["handler", "supervisor"])


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A small demo month in a database several processes can open."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'demo.db'}"
        _demo(url)
        yield url
        return
    with database("postgresql") as url:
        _demo(url)
        yield url


def _demo(url: str) -> None:
    result = CliRunner().invoke(cli, ["demo", "--db", url, "--petitions", "150",
                                      "--enterprise-requests", "30", "--volunteer-tasks", "20"])
    assert result.exit_code == 0, result.output


def rebuild(url: str, workers: int) -> int:
    result = CliRunner().invoke(cli, ["rebuild", "--db", url, "--workers", str(workers),
                                      "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["events"]


def rows(url: str) -> list[dict]:
    read_model = ReadModel(Casework(url))
    read_model.catch_up()
    found = summary_rows(read_model)
    read_model.close()
    return found


def ledger(url: str) -> list[tuple]:
    """The units' accounts, entry by entry."""
    read_model = ReadModel(Casework(url))
    with read_model.engine.connect() as conn:
        found = [tuple(row) for row in conn.execute(select(unit_ledger).order_by(
            unit_ledger.c.case_id, unit_ledger.c.version, unit_ledger.c.unit))]
    read_model.close()
    return found


def test_a_rebuild_by_two_workers_equals_one(demo_url: str) -> None:
    app = Casework(demo_url)
    events = app.recorder.max_notification_id()
    digest = audit_digest(app)
    caught_up, caught_up_ledger = rows(demo_url), ledger(demo_url)

    assert rebuild(demo_url, 1) == events
    by_one, by_one_ledger = rows(demo_url), ledger(demo_url)
    assert rebuild(demo_url, 2) == events
    by_two = rows(demo_url)

    assert by_two == by_one == caught_up
    assert ledger(demo_url) == by_one_ledger == caught_up_ledger != []
    assert audit_digest(app) == digest
    assert ReadModel(app).position() == events


def test_a_rebuild_that_died_half_way_resumes_with_the_events_recorded_meanwhile(
        demo_url: str) -> None:
    app = Casework(demo_url)
    before = rows(demo_url)
    # A rebuild by two workers dies after folding one page of one partition.
    writer = app.storage.sqlalchemy_engine(writer=True)
    parts = _start_or_resume(app, writer, 2)
    stop = app.recorder.max_notification_id()
    folded_before = _RebuildWork(stop, page_size=100)._fold_next_page(app, writer, (0, parts))
    assert folded_before > 0
    writer.dispose()

    # Meanwhile reports use the read model as it was, and cases go on changing.
    assert rows(demo_url) == before
    assert report(ReadModel(app)).as_dict()["total"] == len(before)
    in_progress = [row["id"] for row in before
                   if (row["kind"], row["state"]) == ("petition", "in_progress")][:5]
    assert in_progress
    for case_id in in_progress:
        last = app.history(case_id)[-1].at
        app.fire(case_id, "note", HANDLER, last + timedelta(minutes=5), note="still on it")
    caught_up = rows(demo_url)
    assert caught_up != before

    # Run again, it finishes what was left, and the new events are applied.
    assert rebuild(demo_url, 2) == app.recorder.max_notification_id() - folded_before
    assert rows(demo_url) == caught_up
    assert ReadModel(app).position() == app.recorder.max_notification_id()


def test_a_rebuild_by_two_workers_killed_part_way_resumes_on_the_rerun(tmp_path: Path) -> None:
    database = tmp_path / "month.db"
    url = f"sqlite:///{database}"
    app = Casework(url)
    Simulation(app, petitions=2000, enterprise_requests=400, volunteer_tasks=200).run()
    events = app.recorder.max_notification_id()
    expected = rows(url)  # caught up from the events: what a rebuild must give
    command = [*casework_command(), "rebuild", "--db", url, "--workers", "2", "--json"]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}

    # In a session of its own, so that the kill takes the workers down with the command.
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if _count(database, "SELECT COUNT(*) FROM case_summary_rebuild") > 0:
            break
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    partitions = "FROM projection_tracking WHERE projection LIKE 'case_summary rebuild %'"
    assert _count(database, f"SELECT COUNT(*) {partitions}") == 2
    assert _count(database, f"SELECT MIN(notification_id) {partitions}") < events, \
        "the kill should land part-way"
    assert rows(url) == expected  # reports go on with the rows as they were

    rerun = subprocess.run(command, env=environment, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert 0 < json.loads(rerun.stdout)["events"] < events  # it went on, not from scratch
    assert rows(url) == expected
    assert _count(database, "SELECT COUNT(*) FROM case_summary_rebuild") == 0


def _count(database: Path, query: str) -> int:
    try:
        with sqlite3.connect(database, timeout=30) as conn:
            return conn.execute(query).fetchone()[0] or 0
    except sqlite3.OperationalError:  # the table is not there yet
        return 0
