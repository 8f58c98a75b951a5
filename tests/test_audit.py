"""The audit: a store nobody touched is clean; one edited behind the engine's back is not.

The tampering is done the way an intruder or a careless administrator would do it: straight
in the SQLite file, with the sqlite3 module, on a copy of a simulated month.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from uuid import UUID

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, insert, select, text

from casework import Actor, Casework
from casework.audit import audit, audit_digest, check_history
from casework.case import Case, chain_hash, event_content
from casework.demo import Simulation
from casework.timestamps import utc_now
from cli import cli
from projections import ReadModel
from projections.audit import ReadModelCheck, rows_a_rebuild_would_change
from projections.tables import unit_ledger

from .conftest import REGISTRY, database, new_app


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated month in a SQLite file, read model included: made once, copied per test."""
    path = tmp_path_factory.mktemp("simulated") / "month.db"
    app = new_app(f"sqlite:///{path}")
    Simulation(app, petitions=60, enterprise_requests=15, volunteer_tasks=10).run()
    read_model = ReadModel(app)
    read_model.catch_up()
    read_model.close()
    app.close()
    return path


@pytest.fixture
def db(simulated: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "cases.db"
    with closing(sqlite3.connect(simulated)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    return copy


@pytest.fixture
def app(db: Path) -> Iterator[Casework]:
    engine = new_app(f"sqlite:///{db}")
    yield engine
    engine.close()


def run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["audit", "--db", f"sqlite:///{db}", *args],
                              env={"CASEWORK_DB": None}, prog_name="casework")


def a_case_with_events(db: Path, at_least: int) -> UUID:
    with closing(sqlite3.connect(db)) as conn:
        (hex_id,) = conn.execute(
            "SELECT originator_id FROM stored_events GROUP BY originator_id "
            "HAVING max(originator_version) >= ? ORDER BY originator_id LIMIT 1", (at_least,)
        ).fetchone()
    return UUID(hex_id)


def edit_event(db: Path, case_id: UUID, version: int, change: dict) -> None:
    """Change a stored event's JSON in place, as someone with the database file could."""
    with closing(sqlite3.connect(db)) as conn, conn:
        # eventsourcing's SQLite recorder keeps a case id as 32 hex digits, the event as JSON.
        (state,) = conn.execute(
            "SELECT state FROM stored_events WHERE originator_id = ? AND originator_version = ?",
            (case_id.hex, version)).fetchone()
        event = json.loads(state)
        for path, value in change.items():
            *parents, name = path.split(".")
            target = event
            for parent in parents:
                target = target[parent]
            target[name] = value
        conn.execute(
            "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
            (json.dumps(event).encode(), case_id.hex, version))


def findings_of(result: Result) -> list[str]:
    return result.stdout.splitlines()


# A clean store ---------------------------------------------------------------------------

def test_a_store_only_the_engine_wrote_has_no_findings(app: Casework, db: Path) -> None:
    read_model = ReadModel(app)
    report = audit(app, also=[ReadModelCheck(read_model)])
    read_model.close()
    assert report.clean, report.findings
    assert report.cases >= 85  # the simulated arrivals, and the tasks they spawned
    assert report.events == app.recorder.max_notification_id()

    result = run(db)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"audited {report.cases} cases, {report.events} events: no findings\n"


def test_the_audit_of_some_cases_covers_only_those(app: Casework, db: Path) -> None:
    case_id = a_case_with_events(db, 4)
    assert audit(app, [case_id]).cases == 1
    result = run(db, str(case_id)[:8], "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cases"] == 1

    volunteer_tasks = audit(app, kind="volunteer_task")
    assert 0 < volunteer_tasks.cases < audit(app).cases


# Tampering -------------------------------------------------------------------------------

def test_an_event_edited_in_the_database_is_found_by_case_and_version(db: Path) -> None:
    case_id = a_case_with_events(db, 3)
    edit_event(db, case_id, 2, {"actor_id": "somebody-else"})

    result = run(db)

    assert result.exit_code == 1
    assert findings_of(result) == [
        f"{case_id}  event 2: hash does not match the event's content and the previous "
        "event's hash: edited or inserted after it was recorded"
    ]
    assert result.stderr.endswith(": 1 finding\n")


def test_an_edited_field_shows_in_the_chain_and_in_the_read_model(db: Path) -> None:
    case_id = a_case_with_events(db, 3)
    edit_event(db, case_id, 1, {"fields.channel": "tampered"})

    lines = findings_of(run(db))

    assert lines[0].startswith(f"{case_id}  event 1: hash does not match")
    assert lines[1].startswith(f"{case_id}: the read-model row disagrees with the events: "
                               "channel ")
    assert "(events say 'tampered')" in lines[1]


def test_an_event_that_cannot_be_decoded_is_a_finding_not_a_crash(db: Path) -> None:
    case_id = a_case_with_events(db, 3)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE stored_events SET state = ? WHERE originator_id = ? "
                     "AND originator_version = 2", (b"{not json", case_id.hex))

    result = run(db)

    assert result.exit_code == 1
    assert findings_of(result) == [f"{case_id}  event 2: cannot be decoded: JSONDecodeError: "
                                   "Expecting property name enclosed in double quotes: "
                                   "line 1 column 2 (char 1)"]


def test_a_deleted_event_is_a_gap(db: Path) -> None:
    case_id = a_case_with_events(db, 4)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DELETE FROM stored_events WHERE originator_id = ? "
                     "AND originator_version = 3", (case_id.hex,))

    result = run(db)

    assert result.exit_code == 1
    assert f"{case_id}  event 4: event 3 is missing before it" in findings_of(result)


def test_a_read_model_row_edited_by_hand_is_found(db: Path) -> None:
    case_id = a_case_with_events(db, 2)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE case_summary SET reopens = 7 WHERE id = ?", (str(case_id),))

    result = run(db)

    assert result.exit_code == 1
    assert findings_of(result) == [f"{case_id}: the read-model row disagrees with the events: "
                                   "reopens 7 (events say 0)"]


def test_a_read_model_row_without_events_is_found(db: Path) -> None:
    stray = "00000000-0000-4000-8000-000000000000"
    with closing(sqlite3.connect(db)) as conn, conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(case_summary)")][1:]
        conn.execute(f"INSERT INTO case_summary SELECT ?, {', '.join(columns)} "
                     "FROM case_summary LIMIT 1", (stray,))

    assert findings_of(run(db)) == [
        f"{stray}: the read model has a row for a case that has no events"]


def test_an_illegal_transition_recorded_around_the_engine_is_found(app: Casework) -> None:
    # A perfectly chained event that the engine's checks would have refused: a petition
    # closed straight after it was opened.
    case_id = app.open_case("petition", Actor("li", ["intake"]), channel="hotline",
                            title="Broken cover", location="guanlan/guancheng/b1/g1/bg1")
    case = app.repository.get(case_id)
    case.record(Case.Transitioned, recorded_at=utc_now(), trigger="close",
                from_state=case.state, to_state="closed", to_stage="close", actor_id="x",
                role="system", at=case.updated_at, fields={}, changes={}, updates=[])
    app.save(case)

    findings = audit(app, [case_id]).findings

    assert [(f.version, f.description) for f in findings] == [
        (2, "illegal transition: 'close' from 'collected' in petition v2 "
            "(legal from 'collected': assess, reject, merge)")]


# The digest ------------------------------------------------------------------------------

def test_the_digest_is_the_same_run_after_run(app: Casework, db: Path) -> None:
    first, second = run(db, "--digest"), run(db, "--digest")
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout == audit_digest(app) + "\n"
    assert run(db, "--expect-digest", audit_digest(app)).exit_code == 0


def test_a_recomputed_chain_passes_the_chain_check_but_not_the_digest(db: Path) -> None:
    kept = run(db, "--digest").stdout.strip()
    case_id = a_case_with_events(db, 3)
    rechain(db, case_id, {"actor_id": "somebody-else"})
    app = new_app(f"sqlite:///{db}")
    try:
        assert audit(app).clean  # every link holds: the chain alone cannot tell
    finally:
        app.close()

    result = run(db, "--expect-digest", kept)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"casework: the store no longer matches digest {kept}: it is now "
        f"{run(db, '--digest').stdout.strip()}")


def test_expect_digest_fails_after_an_edit(db: Path) -> None:
    kept = run(db, "--digest").stdout.strip()
    case_id = a_case_with_events(db, 3)
    edit_event(db, case_id, 2, {"role": "nobody"})
    assert run(db, "--expect-digest", kept).exit_code == 1


def rechain(db: Path, case_id: UUID, change: dict) -> None:
    """Edit a case's second event and recompute every hash after it, as a careful forger
    would; the read model is rebuilt too, so that only the digest can tell."""
    edit_event(db, case_id, 2, change)
    app = new_app(f"sqlite:///{db}")
    try:
        events = list(app.events.get(case_id))
        head = events[0].hash
        for event in events[1:]:
            head = chain_hash(head, event_content(event))
            edit_event(db, case_id, event.originator_version, {"hash": head})
        read_model = ReadModel(app)
        read_model.rebuild()
        read_model.close()
    finally:
        app.close()


# The checks themselves -------------------------------------------------------------------

def test_a_trigger_that_stays_may_record_the_state_it_left(app: Casework, db: Path) -> None:
    stays = [event for case_id in _some_cases(db) for event in app.events.get(case_id)
             if getattr(event, "from_state", None) == event.to_state]
    assert stays, "the simulated month has no trigger that stays in its state"
    for event in stays:
        history = list(app.events.get(event.originator_id))
        assert check_history(str(event.originator_id), history, REGISTRY) == []


def _some_cases(db: Path) -> list[UUID]:
    with closing(sqlite3.connect(db)) as conn:
        return [UUID(row[0]) for row in conn.execute(
            "SELECT DISTINCT originator_id FROM stored_events")]


# The units' accounts (unit_ledger) -------------------------------------------------------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ledger_store(request: pytest.FixtureRequest) -> Iterator[tuple[Casework, Engine]]:
    """A small demo store with its read model caught up, on each back end, and an engine to
    edit its tables by hand with; each test undoes what it did."""
    with database(request.param) as url:
        app = new_app(url)
        Simulation(app, petitions=12, enterprise_requests=3, volunteer_tasks=2).run()
        with ReadModel(app) as read_model:
            read_model.catch_up()
        writer = app.storage.sqlalchemy_engine(writer=True)
        yield app, writer
        writer.dispose()
        app.close()


def read_model_findings(app: Casework) -> list[str]:
    with ReadModel(app) as read_model:
        audited = audit(app, also=[ReadModelCheck(read_model)]).findings
        dry_run = rows_a_rebuild_would_change(read_model)
    assert dry_run == audited  # the store's events are untouched: only the read model differs
    return [str(finding) for finding in audited]


def an_entry(writer: Engine) -> dict:
    """The first entry that counts a unit receiving a case, with its columns' types."""
    ledger = unit_ledger.c
    with writer.connect() as conn:
        return dict(conn.execute(select(unit_ledger).where(ledger.received == 1).order_by(
            ledger.case_id, ledger.version, ledger.unit).limit(1)).one()._mapping)


KEY_OF = "case_id = :case_id AND version = :version AND unit = :unit"


def test_a_demo_store_checks_clean_ledger_included(
        ledger_store: tuple[Casework, Engine]) -> None:
    app, writer = ledger_store
    with writer.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM unit_ledger")).scalar_one() > 0
    assert read_model_findings(app) == []


def test_a_ledger_count_edited_by_hand_is_found(ledger_store: tuple[Casework, Engine]) -> None:
    app, writer = ledger_store
    entry = an_entry(writer)
    with writer.begin() as conn:
        conn.execute(text(f"UPDATE unit_ledger SET received = 7 WHERE {KEY_OF}"), entry)
    try:
        assert read_model_findings(app) == [
            f"{entry['case_id']}  event {entry['version']}: the unit ledger's entry for unit "
            f"{entry['unit']} disagrees with the events: received 7 (events say 1)"]
    finally:
        with writer.begin() as conn:
            conn.execute(text(f"UPDATE unit_ledger SET received = 1 WHERE {KEY_OF}"), entry)
    assert read_model_findings(app) == []


def test_a_ledger_entry_deleted_by_hand_is_found(ledger_store: tuple[Casework, Engine]) -> None:
    app, writer = ledger_store
    entry = an_entry(writer)
    with writer.begin() as conn:
        conn.execute(text(f"DELETE FROM unit_ledger WHERE {KEY_OF}"), entry)
    try:
        (finding,) = read_model_findings(app)
        assert finding.startswith(f"{entry['case_id']}  event {entry['version']}: the unit "
                                  f"ledger has no entry for unit {entry['unit']} (")
        assert "received 1" in finding
    finally:
        with writer.begin() as conn:
            conn.execute(insert(unit_ledger), entry)
    assert read_model_findings(app) == []


def test_ledger_entries_added_by_hand_are_found(ledger_store: tuple[Casework, Engine]) -> None:
    app, writer = ledger_store
    entry = an_entry(writer)
    stray = "00000000-0000-4000-8000-000000000000"
    added = [{**entry, "unit": "nowhere"}, {**entry, "case_id": stray}]
    with writer.begin() as conn:
        conn.execute(insert(unit_ledger), added)
    try:
        added_unit, stray_case = read_model_findings(app)
        assert added_unit.startswith(
            f"{entry['case_id']}  event {entry['version']}: the unit ledger has an entry for "
            "unit nowhere that the events do not make (")
        assert "received 1" in added_unit
        assert stray_case == f"{stray}: the unit ledger has 1 entry for a case that has no events"
    finally:
        with writer.begin() as conn:
            for row in added:
                conn.execute(text(f"DELETE FROM unit_ledger WHERE {KEY_OF}"), row)
    assert read_model_findings(app) == []


def test_a_ledger_edit_fails_the_audit_and_shows_in_a_rebuild_dry_run(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        case_id, version, unit = conn.execute(
            "SELECT case_id, version, unit FROM unit_ledger WHERE breaches = 0 "
            "ORDER BY case_id, version, unit LIMIT 1").fetchone()
        conn.execute("UPDATE unit_ledger SET breaches = 3 WHERE case_id = ? AND version = ? "
                     "AND unit = ?", (case_id, version, unit))
    line = (f"{case_id}  event {version}: the unit ledger's entry for unit {unit} disagrees "
            "with the events: breaches 3 (events say 0)")

    result = run(db)
    assert result.exit_code == 1
    assert findings_of(result) == [line]

    dry_run = CliRunner().invoke(cli, ["rebuild", "--dry-run", "--db", f"sqlite:///{db}"],
                                 env={"CASEWORK_DB": None}, prog_name="casework")
    assert dry_run.exit_code == 0, dry_run.output
    assert dry_run.stdout.splitlines() == [line, "a rebuild would change 1 row"]
