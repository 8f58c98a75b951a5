"""Issue 13, "What a new user tripped over": one regression test per item, named after it.

Each failed before its fix. Tests that touch storage run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from casework import Actor, Casework, GuardRefused, InvalidField, StorageError, UnknownCase
from casework.audit import audit
from casework.case import GENESIS, Case, chain_hash, event_content
from casework.jobs.runner import run_job
from casework.jobs.sweep import Sweep, sweep_rules
from casework.storage import Storage
from casework.transfer.jsonl import export_jsonl, import_jsonl
from projections import ReadModel
from projections.selection import Candidates

from .conftest import NO_POSTGRES, POSTGRES_URL, T0, database, new_app, postgres_schema
from .support import REPO, assert_one_line_error, invoke, overdue_petitions, summary_rows
from .support import T0 as SUPPORT_T0

INTAKE = Actor("li", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("wang", roles=["handler"])
COMMUNITY = "guanlan/guancheng"
TITLE = "Elderly tenant must move"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    with database(request.param) as found:
        yield found


def a_petition_with_a_spawned_task(app: Casework) -> tuple[Any, Any]:
    case_id = app.open_case("petition", INTAKE, at=T0, channel="hotline", title=TITLE,
                            location=COMMUNITY)
    app.fire(case_id, "assess", INTAKE, at=T0 + timedelta(hours=1), grade="B",
             category="housing")
    app.fire(case_id, "dispatch", INTAKE, at=T0 + timedelta(hours=2), unit=COMMUNITY)
    app.fire(case_id, "accept", HANDLER, at=T0 + timedelta(hours=3))
    view = app.fire(case_id, "spawn_task", HANDLER, at=T0 + timedelta(hours=4),
                    title="Help the elderly petitioner", volunteers_needed=2,
                    claim_by=T0 + timedelta(days=2))
    return case_id, view.tasks[0]


def as_written_before_the_fix(app: Casework, target: Casework, case_id: Any) -> None:
    """Copy the case into ``target`` as the engine wrote it before events named the case
    fields they change: no ``updates``, no class version, the hash over what was there, and a
    snapshot whose fields a later trigger's fields overwrote."""
    transcoder = app.mapper.transcoder
    head, stored, merged = GENESIS, [], {}
    for event in app.events.get(case_id):
        state = dict(vars(event))
        state.pop("updates", None)
        content = {k: v for k, v in event_content(event).items() if k != "updates"}
        head = state["hash"] = chain_hash(head, content)
        merged.update(event.fields)
        state.pop("originator_id"), state.pop("originator_version")
        stored.append(StoredEvent(case_id, event.originator_version, get_topic(type(event)),
                                  transcoder.encode(state)))
    target.recorder.insert_events(stored)
    case = target.load_case(case_id)
    snapshot = Case.Snapshot.take(case)
    snapshot.state.pop("class_version")
    snapshot.state["fields"] = merged  # what the old engine's snapshot held
    target.snapshots.recorder.insert_events([target.mapper.to_stored_event(snapshot)])


def test_1_a_triggers_fields_belong_to_its_event_not_the_case(url: str) -> None:
    app = new_app(url)
    case_id, task_id = a_petition_with_a_spawned_task(app)

    case = app.get_case(case_id)
    assert case.fields["title"] == TITLE  # the petition's own title, not the task's
    assert "volunteers_needed" not in case.fields and "claim_by" not in case.fields
    assert (case.fields["category"], case.grade) == ("housing", "B")  # assess updates them
    spawned = app.history(case_id)[-1]
    assert spawned.fields["title"] == "Help the elderly petitioner"  # the event keeps them
    assert app.get_case(task_id).fields["title"] == "Help the elderly petitioner"
    assert [e.updates for e in list(app.events.get(case_id))[1:]] == [
        ["grade", "category"], [], [], []]
    model = ReadModel(app)
    model.catch_up()
    titles = {row["id"]: row["title"] for row in summary_rows(model)}
    assert titles[str(case_id)] == TITLE


def test_1_a_store_written_before_the_fix_shows_the_right_fields(url: str) -> None:
    before = new_app("sqlite:///:memory:")
    case_id, _ = a_petition_with_a_spawned_task(before)
    app = new_app(url)
    as_written_before_the_fix(before, app, case_id)

    case = app.get_case(case_id)  # from the old snapshot? No: replayed, upcast
    assert case.fields["title"] == TITLE
    assert "volunteers_needed" not in case.fields
    assert case.fields["category"] == "housing"  # as the shipped assess declares
    past = app.get_case(case_id, as_of=T0 + timedelta(hours=5))
    assert past.fields["title"] == TITLE
    assert app.history(case_id)[-1].fields["volunteers_needed"] == 2
    assert audit(app).findings == []  # the old events' hashes still hold
    model = ReadModel(app)
    model.rebuild()
    assert summary_rows(model)[0]["title"] == TITLE
    # A new event on the old case records what it changes, and the chain goes on.
    app.fire(case_id, "note", HANDLER, at=T0 + timedelta(hours=6), note="visited")
    assert app.get_case(case_id).fields["title"] == TITLE
    assert audit(app).findings == []


def test_1_a_workflow_declares_which_fields_a_trigger_updates() -> None:
    from casework.compiler import compile_workflow
    from casework.errors import WorkflowDefinitionError

    definition: dict[str, Any] = {
        "name": "w", "version": 1, "initial": "a",
        "states": {"a": {"stage": "collect"}, "b": {"stage": "close", "terminal": True}},
        "triggers": [
            {"name": "open", "to": "a", "roles": ["r"],
             "fields": {"title": {"type": "string"}}},
            {"name": "go", "from": ["a"], "to": "b", "roles": ["r"],
             "fields": {"title": {"type": "string"}, "note": {"type": "text"}},
             "updates": ["title", "reason"]},
        ],
    }
    with pytest.raises(WorkflowDefinitionError, match="updates 'reason', which is not one"):
        compile_workflow(definition)
    definition["triggers"][1]["updates"] = ["title"]
    assert compile_workflow(definition).triggers["go"].updates == ("title",)


# Item 13: actors ------------------------------------------------------------------------

def opened_by_cli(tmp_path: Path, *extra: str) -> tuple[str, str]:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    result = invoke("open", "petition", "-f", "channel=hotline", "-f", f"title={TITLE}",
                    "--actor", "li", "--role", "intake", "--db", db, *extra)
    assert result.exit_code == 0, result.output
    return db, result.stdout.strip().splitlines()[0]


@pytest.mark.parametrize(("actor", "env", "fragment"), [
    ("wang@", None, "an empty unit after @"),
    ("", None, "no actor id"),
    (None, "li intake", "'li intake' is not an id"),
    ("li@guanlan:in take", None, "role 'in take' has a space"),
    (None, None, "who acts?"),
])
def test_13_actor_parsing_is_strict_and_acting_needs_an_actor(
        tmp_path: Path, actor: str | None, env: str | None, fragment: str) -> None:
    db, case_id = opened_by_cli(tmp_path)
    given = [] if actor is None else ["--actor", actor]
    result = invoke("fire", case_id, "assess", "grade=B", "category=road", "--role",
                    "assessor", *given, "--db", db,
                    env={"CASEWORK_ACTOR": env} if env else None)
    assert_one_line_error(result, 2, fragment)
    assert len(new_app(db).history(case_id)) == 1  # nothing recorded


def test_13_actor_flag_takes_roles_after_a_colon(tmp_path: Path) -> None:
    db, case_id = opened_by_cli(tmp_path)
    result = invoke("fire", case_id, "reject", "reason=test call", "--actor", "li:intake",
                    "--db", db)
    assert result.exit_code == 0, result.output
    last = new_app(db).history(case_id)[-1]
    assert (last.actor, last.role) == ("li", "intake")


# Item 5: the recorded role --------------------------------------------------------------

def test_5_the_recorded_role_is_the_one_the_trigger_is_for_or_the_callers(url: str) -> None:
    app = new_app(url)
    clerk = Actor("li", roles=["intake", "assessor", "dispatcher"])
    case_id = app.open_case("petition", clerk, at=T0, channel="hotline", title=TITLE)
    app.fire(case_id, "assess", clerk, at=T0, grade="B", category="road")
    app.fire(case_id, "dispatch", clerk, at=T0, unit=COMMUNITY)
    roles = [(e.trigger, e.role) for e in app.history(case_id)]
    assert roles == [("open", "intake"), ("assess", "assessor"), ("dispatch", "dispatcher")]
    other = app.open_case("petition", clerk, at=T0, channel="hotline", title=TITLE)
    app.fire(other, "assess", clerk, at=T0, role="intake", grade="B", category="road")
    assert app.history(other)[-1].role == "intake"
    with pytest.raises(InvalidField, match="does not hold the role 'handler'"):
        app.fire(other, "dispatch", clerk, at=T0, role="handler", unit=COMMUNITY)
    assert len(app.history(other)) == 2


# Item 16: exit codes and messages -------------------------------------------------------

def test_16_exit_codes_follow_the_table_and_no_python_messages(tmp_path: Path) -> None:
    db, case_id = opened_by_cli(tmp_path)
    app = new_app(db)
    for n in (1, 2):
        app.open_case("petition", INTAKE, at=T0, channel="hotline", title=TITLE,
                      case_id=UUID(f"abcd0000-0000-4000-8000-00000000000{n}"))
    app.close()
    assert_one_line_error(invoke("show", "abcd", "--db", db), 3, "ambiguous",
                          "abcd0000-0000-4000-8000-000000000001",
                          "abcd0000-0000-4000-8000-000000000002")
    assert_one_line_error(invoke("report", "--db", "mysql://host/db"), 2,
                          "unsupported database 'mysql'")
    assert_one_line_error(invoke("report", "--db", db, env={"CASEWORK_LOCK_TIMEOUT": "abc"}),
                          2, "CASEWORK_LOCK_TIMEOUT='abc'")
    acting = ["--actor", "li:intake,assessor", "--db", db]
    line = assert_one_line_error(
        invoke("open", "petition", "-f", "channel=hotline", "-f", "title=x", "-f", "lat=two",
               *acting), 2, "'two' is not a number")
    assert "convert" not in line
    line = assert_one_line_error(invoke("fire", case_id, "merge", "duplicate_of=nothex",
                                        *acting), 2, "'nothex' is not a case id")
    assert "hexadecimal" not in line
    line = assert_one_line_error(
        invoke("report", "--db", "postgresql://nobody@127.0.0.1:1/nothing"), 7,
        "Is the server running")
    assert "\\t" not in line and "\t" not in line


def test_16_an_integer_field_says_whole_number() -> None:
    app = new_app()
    case_id, _ = a_petition_with_a_spawned_task(app)
    with pytest.raises(InvalidField, match="'two' is not a whole number"):
        app.fire(case_id, "spawn_task", HANDLER, at=T0 + timedelta(hours=5), title="x",
                 volunteers_needed="two")


# Items 7, 11, 17: storage URLs ----------------------------------------------------------

def test_7_postgresql_without_psycopg_is_a_storage_error_with_the_install_hint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/test"
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as after the Quickstart's install
    with pytest.raises(StorageError, match=r"pip install 'casework\[postgres\]'"):
        Casework(url)
    assert_one_line_error(invoke("report", "--db", url), 7, "casework[postgres]")


@pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)
def test_11_a_mistyped_schema_is_no_database_and_is_not_created() -> None:
    with postgres_schema() as url:
        assert_one_line_error(invoke("report", "--db", url), 7, "no database at", "?schema=")
        assert_one_line_error(invoke("history", "abcd", "--db", url), 7, "no database at")
        schema = url.rsplit("schema=", 1)[1]
        import psycopg  # the PostgreSQL extra's, as conftest imports it

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                                 (schema,)).fetchone()
        assert found is None  # nothing created
        opened = invoke("open", "petition", "-f", "channel=hotline", "-f", "title=x",
                        "--actor", "li:intake", "--db", url)
        assert opened.exit_code == 0, opened.output  # open creates it
        assert invoke("report", "--db", url).exit_code == 0


def test_17_urls_are_shown_as_given_without_the_password() -> None:
    given = "postgresql://li:secret@db.example:5433/office?schema=guanlan"
    assert Storage.from_url(given).display_url == "postgresql://li@db.example:5433/office?schema=guanlan"
    assert Storage.from_url("cases.db").display_url == "sqlite:///cases.db"


@pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)
def test_17_the_demo_header_shows_the_url_as_given() -> None:
    with postgres_schema() as url:
        result = invoke("demo", "--db", url, "--petitions", "3", "--enterprise-requests",
                        "1", "--volunteer-tasks", "1", "--html", os.devnull)
        assert result.exit_code == 0, result.output
        assert f"in {url}\n" in result.stdout
        assert "+psycopg" not in result.stdout


# Items 9, 10, 12: files -----------------------------------------------------------------

def an_export(tmp_path: Path) -> tuple[str, Path]:
    db, _ = opened_by_cli(tmp_path)
    exported = tmp_path / "cases.jsonl"
    assert invoke("export", "-o", str(exported), "--db", db).exit_code == 0
    return db, exported


def test_9_import_checks_the_reject_file_before_storing_anything(tmp_path: Path) -> None:
    _, exported = an_export(tmp_path)
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    missing = tmp_path / "missing" / "bad.jsonl"
    assert_one_line_error(invoke("import", str(exported), "--rejects", str(missing), "--db",
                                 target), 2, str(missing), "no folder")
    assert not (tmp_path / "copy.db").exists()  # nothing stored, no store made


def test_10_export_names_the_users_path(tmp_path: Path) -> None:
    db, _ = opened_by_cli(tmp_path)
    missing = tmp_path / "missing" / "x.jsonl"
    line = assert_one_line_error(invoke("export", "-o", str(missing), "--db", db), 2,
                                 str(missing))
    assert ".__atomic-write" not in line


def test_12_a_csv_imported_without_its_format_is_refused_with_a_hint(tmp_path: Path) -> None:
    csv_file = tmp_path / "311.csv"
    csv_file.write_text("Unique Key,Created Date,Closed Date,Agency,Complaint Type,Status\n"
                        "1,05/01/2024 09:00:00 AM,,NYPD,Noise,Open\n", encoding="utf-8")
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    assert_one_line_error(invoke("import", str(csv_file), "--db", target), 2,
                          "did you mean --format nyc311?")
    assert not (tmp_path / "copy.db").exists()
    assert not list(tmp_path.glob("*.rejects.*")) and not list(Path.cwd().glob("311.rejects.*"))
    _, exported = an_export(tmp_path)
    assert_one_line_error(invoke("import", str(exported), "--format", "nyc311", "--db",
                                 target), 2, "did you mean --format jsonl?")


# Item 14 ------------------------------------------------------------------------------

def test_14_history_as_of_before_the_case_opened_is_unknown_as_show_says(
        tmp_path: Path) -> None:
    db, case_id = opened_by_cli(tmp_path, "--at", "2024-05-06T09:00+08:00")
    before = "2024-05-01T00:00+08:00"
    shown = assert_one_line_error(invoke("show", case_id, "--as-of", before, "--db", db), 3)
    told = assert_one_line_error(invoke("history", case_id, "--as-of", before, "--db", db), 3,
                                 "not opened yet")
    assert told == shown
    app = new_app(db)
    with pytest.raises(UnknownCase, match="not opened yet"):
        app.history(case_id, as_of=before)


# Item 15: what the help and the demo suggest works ---------------------------------------

SMALL_DEMO = ["--petitions", "20", "--enterprise-requests", "3", "--volunteer-tasks", "3"]


def suggested_commands(text: str) -> list[list[str]]:
    """Every ``casework ...`` command a text suggests, as arguments after ``casework``."""
    found = []
    for line in text.splitlines():
        for part in re.split(r"\s{3,}|: (?=casework )", line.strip()):
            if part.startswith("casework ") and "--help" not in part:
                found.append(shlex.split(part)[1:])
    return found


def test_15_the_help_and_the_demo_suggest_commands_that_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    start_with = invoke("--help").stdout.split("Start with:", 1)[1].split("\n\n", 1)[0]
    commands = suggested_commands(start_with)
    assert commands[0] == ["demo"] and len(commands) >= 5
    demo = invoke("demo", *SMALL_DEMO)
    assert demo.exit_code == 0, demo.output
    suggested = commands[1:] + suggested_commands(demo.stdout.split("Next:", 1)[1])
    assert any(c[0] == "report" for c in suggested) and any(c[0] == "show" for c in suggested)
    for args in suggested:
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)


# Item 18: forget asks --------------------------------------------------------------------

def forget_on_a_terminal(db: str, case_id: str, *extra: str, answer: bytes) -> tuple[int, str]:
    """``casework forget --case`` run on a pseudo-terminal, answering ``answer``."""
    import pty

    pid, terminal = pty.fork()
    if pid == 0:  # the child: the terminal is its standard input and output
        os.execv(sys.executable, [sys.executable, str(REPO / "cli.py"), "forget", "--case",
                                  case_id, "--actor", "boss:supervisor", "--db", db, *extra])
    output = b""
    try:
        while b"[y/N]" not in output and b"forgot" not in output:
            output += os.read(terminal, 1024)
        if answer:
            os.write(terminal, answer)
        while True:
            output += os.read(terminal, 1024)
    except OSError:  # the child closed the terminal: it has finished
        pass
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode()


@pytest.mark.slow
def test_18_forget_asks_on_a_terminal_unless_yes(tmp_path: Path) -> None:
    db, case_id = opened_by_cli(tmp_path, "-f", "petitioner=Chen Li")
    code, output = forget_on_a_terminal(db, case_id, answer=b"n\n")
    assert (code, "Forget person" in output) == (1, True), output
    assert "nothing forgotten" in output
    assert new_app(db).get_case(case_id).fields["petitioner"] == "Chen Li"
    code, output = forget_on_a_terminal(db, case_id, "--yes", answer=b"")
    assert code == 0 and "Forget person" not in output, output
    assert new_app(db).get_case(case_id).fields["petitioner"] == "[erased]"


def test_18_forget_in_a_script_does_not_ask(tmp_path: Path) -> None:
    db, case_id = opened_by_cli(tmp_path, "-f", "petitioner=Chen Li")
    result = invoke("forget", "--case", case_id, "--actor", "boss:supervisor", "--db", db)
    assert result.exit_code == 0 and "Forget person" not in result.output


# Item 19: the demo's file appears whole -----------------------------------------------------

def _ctrl_c_as_on_a_terminal() -> None:
    """A process started in the background of a shell without job control (as a CI runner
    may start the tests) inherits an ignored Ctrl-C; a terminal's foreground job does not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _bytes_written(database: Path) -> int:
    """The size of a SQLite file with its write-ahead log (which may come and go)."""
    total = 0
    for part in database.parent.glob(database.name + "*"):
        with contextlib.suppress(FileNotFoundError):
            total += part.stat().st_size
    return total


@pytest.mark.slow
def test_19_a_demo_interrupted_leaves_no_half_written_database(tmp_path: Path) -> None:
    demo = subprocess.Popen([sys.executable, str(REPO / "cli.py"), "demo", "--petitions",
                             "3000"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, preexec_fn=_ctrl_c_as_on_a_terminal)
    partial = tmp_path / "casework-demo.db.partial"
    # Waiting for the month to be under way (cases written), not timing it: a Ctrl-C in the
    # moment a process starts up is another matter (test_8).
    while demo.poll() is None and _bytes_written(partial) < 256_000:
        time.sleep(0.05)
    demo.send_signal(signal.SIGINT)
    _, errors = demo.communicate(timeout=120)
    assert demo.returncode == 130 and b"Traceback" not in errors, errors
    assert not (tmp_path / "casework-demo.db").exists()
    assert not list(tmp_path.glob("casework-demo.db*"))
    again = subprocess.run([sys.executable, str(REPO / "cli.py"), "demo", "--db",
                            "casework-demo.db", *SMALL_DEMO], cwd=tmp_path,
                           capture_output=True, check=False)
    assert again.returncode == 0, again.stderr  # not refused as a database with events


def test_19_the_demo_writes_beside_and_moves_into_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("demo", "--db", "mine.db", *SMALL_DEMO)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.db", "mine.html"]
    assert new_app("sqlite:///mine.db").recorded_events() > 0


# Item 6: missing checks -------------------------------------------------------------------

def test_6_spawn_task_refuses_a_claim_by_in_the_past(url: str) -> None:
    app = new_app(url)
    case_id, _ = a_petition_with_a_spawned_task(app)
    with pytest.raises(GuardRefused, match=r"claim_by .* is not after"):
        app.fire(case_id, "spawn_task", HANDLER, at=T0 + timedelta(hours=5), title="Late",
                 claim_by=T0)
    with pytest.raises(GuardRefused, match=r"claim_by .* is not after"):
        app.open_case("volunteer_task", Actor("o", ["organiser"]), at=T0, title="Late",
                      claim_by=T0 - timedelta(days=1))
    assert len(app.history(case_id)) == 5  # nothing recorded


def test_6_merge_refuses_a_case_of_another_kind(url: str) -> None:
    app = new_app(url)
    petition = app.open_case("petition", INTAKE, at=T0, channel="hotline", title=TITLE)
    request = app.open_case("enterprise_request", INTAKE, at=T0, channel="hotline",
                            enterprise="Acme", title="Space")
    with pytest.raises(GuardRefused, match="is a enterprise_request, not a petition"):
        app.fire(petition, "merge", INTAKE, at=T0, duplicate_of=str(request))
    assert app.get_case(petition).state == "collected"


def test_6_only_the_assigned_commissioner_accepts(url: str) -> None:
    app = new_app(url)
    request = app.open_case("enterprise_request", INTAKE, at=T0, channel="hotline",
                            enterprise="Acme", title="Space")
    app.fire(request, "assess", INTAKE, at=T0, category="space", grade="B")
    app.fire(request, "assign", INTAKE, at=T0, leader="li", department="guanlan/housing",
             commissioner="zhou")
    wu, zhou = Actor("wu", ["commissioner"]), Actor("zhou", ["commissioner"])
    with pytest.raises(GuardRefused, match="assigned to commissioner zhou, not wu"):
        app.fire(request, "accept", wu, at=T0)
    assert app.fire(request, "accept", zhou, at=T0).state == "in_progress"


def test_6_since_after_until_is_bad_input(tmp_path: Path) -> None:
    db, _ = opened_by_cli(tmp_path)
    assert_one_line_error(invoke("report", "--since", "2024-06-01", "--until", "2024-05-01",
                                 "--db", db), 2, "is after --until")


# Item 3: the sweep says which deadline was missed --------------------------------------------

def test_3_the_sweeps_overdue_since_is_the_missed_deadline(url: str) -> None:
    app = new_app(url)
    case_id = app.open_case("petition", INTAKE, at=T0, channel="hotline", title=TITLE)
    app.fire(case_id, "assess", INTAKE, at=T0, grade="C", category="road")
    app.fire(case_id, "dispatch", INTAKE, at=T0, unit="guanlan/guancheng/b1")
    missed = app.get_case(case_id).deadline
    now = missed + timedelta(days=1)
    summary = run_job(app, Sweep(now), Candidates(due=tuple(sweep_rules(app.workflows, now))),
                      dry_run=True)  # what `casework sweep --dry-run` lists
    (change,) = summary.changes
    assert change["change"] == f"escalated from guanlan/guancheng/b1 (overdue since " \
                               f"{missed.isoformat()})"
    assert missed < now


# Item 8: Ctrl-C in a job with workers ----------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_8_ctrl_c_stops_workers_quietly_and_the_rerun_resumes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    app = new_app(db)
    ids = overdue_petitions(app, 200)
    app.close()
    command = [sys.executable, str(REPO / "cli.py"), "sweep", "--workers", "2", "--job",
               "nightly", "--now", (SUPPORT_T0 + timedelta(hours=3)).isoformat(), "--db", db]
    for moment in (0.0, 0.2, 1.0):  # as the workers start, and while they work
        sweep = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 start_new_session=True)  # its own group, as on a terminal
        children = Path(f"/proc/{sweep.pid}/task/{sweep.pid}/children")
        while sweep.poll() is None and len(children.read_text().split()) < 2:
            time.sleep(0.01)  # until the parent starts its workers: not a timing assertion
        time.sleep(moment)
        os.killpg(sweep.pid, signal.SIGINT)  # what Ctrl-C sends: to every process of it
        _, errors = sweep.communicate(timeout=120)
        text = errors.decode()
        assert "Traceback" not in text and "Error" not in text, text
        assert sweep.returncode in (0, 130), text
        if sweep.returncode == 130:
            assert text.strip().splitlines()[-1] == "casework: aborted"
    rerun = subprocess.run(command, capture_output=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    after = new_app(db)
    assert all(sum(e.trigger == "escalate" for e in after.history(case_id)) == 1
               for case_id in ids)


# Item 4: overdue at the top of the organisation -------------------------------------------------

def test_4_an_overdue_case_at_the_top_is_listed_and_the_sweep_exits_0(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    app = new_app(db)
    (case_id,) = overdue_petitions(app, 1)
    app.close()
    first = invoke("sweep", "--now", (SUPPORT_T0 + timedelta(hours=3)).isoformat(), "--db", db)
    assert first.exit_code == 0, first.output  # escalated to guanlan, the top
    later = SUPPORT_T0 + timedelta(hours=6)
    for _ in range(2):  # every night the same: listed, not refused
        result = invoke("sweep", "--now", later.isoformat(), "--db", db, "--json")
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["refused"] == 0
        (listed,) = [item for item in summary["listed"] if item["due"] == "overdue_at_top"]
        assert (listed["case"], listed["unit"]) == (case_id, "guanlan")
    assert [e.trigger for e in new_app(db).history(case_id)].count("escalate") == 1


def test_1_an_export_written_before_the_fix_imports_with_the_right_fields(
        tmp_path: Path) -> None:
    before = new_app("sqlite:///:memory:")
    case_id, _ = a_petition_with_a_spawned_task(before)
    old = new_app(f"sqlite:///{tmp_path / 'old.db'}")
    as_written_before_the_fix(before, old, case_id)
    lines = io.StringIO()
    export_jsonl(old, lines)
    text = lines.getvalue()
    assert '"updates":null' in text
    older = text.replace(',"updates":null', "")  # as an export of before the fix has it
    copy = new_app(f"sqlite:///{tmp_path / 'copy.db'}")
    result = import_jsonl(copy, older.splitlines(keepends=True))
    assert (result.imported, result.rejected) == (1, [])
    assert copy.get_case(case_id).fields["title"] == TITLE
    assert audit(copy).findings == []
