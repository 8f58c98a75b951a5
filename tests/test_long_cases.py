"""A case with a long history: loading it, seeing it as it was at any time, and reading its
history a page at a time give what replaying every event gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result

from casework import Actor, Casework, InvalidField, UnknownCase
from casework.case import replay
from cli import cli

from .conftest import new_app
from .support import assert_one_line_error

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
CLERK = Actor("li.na", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("chen.jie", roles=["handler"])
NOTES = 130
"""Events after accepting: snapshots at 50, 100 (every 50), and 34 events after the last."""


def long_case(app: Casework) -> str:
    """A petition with 134 events, one every ten minutes from T0 (some at the same time)."""
    case_id = app.open_case("petition", CLERK, T0, channel="hotline", title="A long story",
                            location="guanlan/guancheng", petitioner="刘秀英")
    app.fire(case_id, "assess", CLERK, T0, grade="C", category="housing")
    app.fire(case_id, "dispatch", CLERK, T0 + timedelta(minutes=10), unit="guanlan/guancheng")
    app.fire(case_id, "accept", HANDLER, T0 + timedelta(minutes=20))
    batch = app.batch()
    for n in range(NOTES):
        batch.fire(case_id, "note", HANDLER, T0 + timedelta(minutes=30 + 10 * (n // 2)),
                   note=f"call {n}")
    batch.commit()
    return str(case_id)


def replayed_at(app: Casework, case_id: str, moment: datetime) -> Casework:
    """The case as every event up to ``moment`` makes it, with no snapshot."""
    events = [e for e in app.events.get(app.parse_case_id(case_id)) if e.at <= moment]
    return app.view_of(replay(None, events))


def test_loading_a_long_case_gives_what_replaying_every_event_gives(app: Casework) -> None:
    case_id = long_case(app)
    plain = app.view_of(replay(None, app.events.get(app.parse_case_id(case_id))))

    assert app.get_case(case_id) == plain
    assert plain.events == NOTES + 4


def test_a_long_case_as_it_was_at_any_time_is_what_its_events_up_to_then_make(
        app: Casework) -> None:
    case_id = long_case(app)
    last = T0 + timedelta(minutes=30 + 10 * (NOTES // 2 - 1))
    moments = [T0 + timedelta(minutes=minutes) for minutes in range(0, 700, 5)]
    for moment in [*moments, last, last + timedelta(days=1)]:
        assert app.get_case(case_id, as_of=moment) == replayed_at(app, case_id, moment), moment

    with pytest.raises(UnknownCase, match="not opened yet"):
        app.get_case(case_id, as_of=T0 - timedelta(seconds=1))


def test_the_history_read_page_by_page_is_the_whole_history(app: Casework) -> None:
    case_id = long_case(app)
    whole = app.history(case_id)
    pages, after = [], 0
    while page := app.history(case_id, after=after, limit=25):
        pages.append(page)
        after = page[-1].sequence

    assert [entry for page in pages for entry in page] == whole
    assert [len(page) for page in pages] == [25] * 5 + [9]
    assert whole[0].fields["petitioner"] == "刘秀英"  # decrypted, page or not
    assert app.history_length(case_id) == len(whole) == NOTES + 4
    moment = T0 + timedelta(minutes=30)
    assert app.history(case_id, as_of=moment, after=3, limit=10) == [
        entry for entry in whole[3:13] if entry.at <= moment]
    with pytest.raises(InvalidField):
        app.history(case_id, limit=0)
    with pytest.raises(InvalidField):
        app.history(case_id, after=-1)


def test_history_pages_on_the_command_line(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    app = new_app(url)
    case_id = long_case(app)
    app.close()

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, ["history", case_id[:8], "--db", url, *args],
                                  env={"CASEWORK_DB": None}, prog_name="casework")

    second = run("--page", "2", "--limit", "40")
    assert second.exit_code == 0, second.output
    rows = [line.split()[0] for line in second.stdout.splitlines()[2:-1]]
    assert rows == [str(n) for n in range(41, 81)]
    assert second.stdout.splitlines()[-1] == "page 2 of 4 (134 entries); --page 3 for more"
    last = run("--page", "3")  # 50 a page without --limit
    assert last.stdout.splitlines()[-1] == "page 3 of 3 (134 entries)"
    assert len(run("--limit", "5", "--json").stdout.split('"sequence"')) == 6
    assert_one_line_error(run("--page", "4"), 2, "--page 4: the history has 3 pages of 50")


def test_a_snapshot_taken_as_a_case_is_saved_is_the_case_its_events_make(app: Casework) -> None:
    case_id = app.parse_case_id(long_case(app))
    for _ in range(16):  # one command at a time to version 150: snapshotted from memory
        app.fire(case_id, "note", HANDLER, T0 + timedelta(days=1), note="one more")

    snapshots = {s.originator_version: s for s in app.snapshots.get(case_id)}
    assert sorted(snapshots) == [50, 100, 150]
    for version, snapshot in snapshots.items():
        events = app.events.get(case_id, lte=version)
        assert app.view_of(snapshot.mutate(None)) == app.view_of(replay(None, events))
