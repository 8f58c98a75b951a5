"""`casework rebuild --workers N`: the read model folded again by several processes gives the
rows one process gives; reports go on using the old rows until the new ones are in place; a
rebuild that died half-way resumes, with the events recorded meanwhile — on a SQLite file and
on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from casework import Actor, Casework
from casework.audit import audit_digest
from cli import cli
from projections import ReadModel
from projections.parallel_rebuild import _RebuildWork, _start_or_resume
from projections.report import report

from .conftest import database

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
    found = read_model.rows()
    read_model.close()
    return found


def test_a_rebuild_by_two_workers_equals_one(demo_url: str) -> None:
    app = Casework(demo_url)
    events = app.recorder.max_notification_id()
    digest = audit_digest(app)
    caught_up = rows(demo_url)

    assert rebuild(demo_url, 1) == events
    by_one = rows(demo_url)
    assert rebuild(demo_url, 2) == events
    by_two = rows(demo_url)

    assert by_two == by_one == caught_up
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
    assert report(ReadModel(app))["total"] == len(before)
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
