"""Personal data that can be forgotten: what an office's data protection officer would check.

A petitioner's name, phone and address are never in the database as plain text: not in the
events, the snapshots, the read models or the job tables. They are encrypted under a key per
person, kept in a table of its own. ``casework forget`` deletes the key; afterwards the
values are nowhere readable, they read as "[erased]", and everything else (history, reports,
the audit, export and import) works as before.
"""

from __future__ import annotations

import base64
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect, select, table, text

from casework import (
    Actor,
    Casework,
    InvalidField,
    PermissionDenied,
    WorkflowDefinitionError,
    WorkflowRegistry,
)
from casework.audit import audit, audit_digest
from casework.compiler import load_workflow
from casework.personal import ERASED, UnknownPerson, person_keys
from casework.transfer.jsonl import export_jsonl, import_jsonl
from cli import cli
from projections import ReadModel

from .conftest import REGISTRY, Clock, new_app
from .support import rehashed

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
CLERK = Actor("li.na", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("chen.jie", roles=["handler"])
SUPERVISOR = Actor("boss", roles=["supervisor"])
GRID = "guanlan/guancheng/b1/g1"

NAME, PHONE, ADDRESS = "刘秀英", "13912345678", "观澜大道12号301室"
OTHER_NAME, OTHER_PHONE = "Zhao Wei", "13700009999"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"CASEWORK_DB": None}, prog_name="casework")


def closed_petition(app: Casework, person: str | None = None, **fields: str) -> str:
    """A petition from a resident, resolved and closed at T0: due a revisit three days on."""
    case_id = app.open_case("petition", CLERK, T0, person=person, channel="hotline",
                            title="Water leaking from the flat above", location=GRID, **fields)
    app.fire(case_id, "assess", CLERK, T0, grade="D", category="housing")
    app.fire(case_id, "dispatch", CLERK, T0, unit=GRID)
    app.fire(case_id, "accept", HANDLER, T0)
    app.fire(case_id, "resolve", HANDLER, T0 + timedelta(hours=2), resolution="pipe fixed")
    app.fire(case_id, "close", CLERK, T0 + timedelta(hours=3), confirmed_by="petitioner")
    return str(case_id)


def stored_bytes(db: Path) -> bytes:
    """Everything SQLite keeps of the database on disk: the file, its WAL and shared memory."""
    return b"".join(path.read_bytes() for path in sorted(db.parent.glob(db.name + "*")))


def readable(data: bytes, *values: str) -> list[str]:
    """The values found in ``data`` as UTF-8, or as JSON writes them with ASCII escapes."""
    return [value for value in values
            if value.encode() in data or json.dumps(value)[1:-1].encode() in data]


class Office:
    """A SQLite database on disk with three petitions: two from one resident (who shares one
    person id), one from another; swept (with a job) and projected, and every process closed."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "office.db"
        self.url = f"sqlite:///{self.db}"
        app = new_app(self.url, clock=Clock(T0))
        try:
            self.first = closed_petition(app, petitioner=NAME, phone=PHONE, address=ADDRESS)
            self.person = app.get_case(self.first).person
            self.second = closed_petition(app, person=self.person, phone=PHONE)
            self.other = closed_petition(app, petitioner=OTHER_NAME, phone=OTHER_PHONE)
            app.take_snapshot(app.parse_case_id(self.first))
            with app.personal.reader.connect() as conn:
                self.key = conn.execute(select(person_keys.c.key).where(
                    person_keys.c.person == self.person)).scalar_one()
        finally:
            app.close()
        self.sweep = self.cli("sweep", "--now", (T0 + timedelta(days=5)).isoformat(),
                              "--job", "nightly", "--json")
        assert self.cli("project").exit_code == 0

    def cli(self, *args: str) -> Result:
        return invoke(*args, "--db", self.url)

    def show(self, case: str) -> dict:
        result = self.cli("show", case, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def revisits(self, sweep: Result) -> dict[str, dict]:
        assert sweep.exit_code == 0, sweep.output
        return {entry["case"]: entry for entry in json.loads(sweep.stdout)["listed"]}


@pytest.fixture
def office(tmp_path: Path) -> Office:
    return Office(tmp_path)


# Stored encrypted -----------------------------------------------------------------------

def test_the_petitioners_name_phone_and_address_are_nowhere_in_the_database_as_plain_text(
        office: Office) -> None:
    assert readable(stored_bytes(office.db), NAME, PHONE, ADDRESS, OTHER_NAME, OTHER_PHONE) == []


def test_the_office_sees_them_decrypted_in_the_case_its_history_and_the_revisit_list(
        office: Office) -> None:
    case = office.show(office.first)
    assert {name: case["fields"][name] for name in ("petitioner", "phone", "address")} == {
        "petitioner": NAME, "phone": PHONE, "address": ADDRESS}
    assert case["person"] == office.person
    assert office.show(office.second)["fields"]["phone"] == PHONE
    history = json.loads(office.cli("history", office.first, "--json").stdout)
    assert history[0]["fields"]["petitioner"] == NAME
    listed = office.revisits(office.sweep)
    assert (listed[office.first]["petitioner"], listed[office.first]["phone"]) == (NAME, PHONE)
    assert listed[office.other]["phone"] == OTHER_PHONE


def test_the_stored_value_is_ciphertext_under_the_cases_person_and_the_hash_covers_it(
        office: Office) -> None:
    line = next(line for line in office.cli("export").stdout.splitlines()
                if line.startswith(f'{{"id":"{office.first}"'))
    opened = json.loads(line)["events"][0]
    assert opened["fields"]["phone"].keys() == {"person", "ciphertext"}
    assert opened["fields"]["phone"]["person"] == office.person
    assert opened["changes"]["person"] == office.person
    assert office.cli("audit").exit_code == 0


def test_rebuilding_the_read_models_keeps_the_keys(office: Office) -> None:
    assert office.cli("rebuild").exit_code == 0
    assert office.show(office.first)["fields"]["phone"] == PHONE


# Forgotten ------------------------------------------------------------------------------

def test_after_forget_the_data_is_nowhere_readable_and_reads_as_erased(office: Office) -> None:
    before = stored_bytes(office.db)
    assert office.key in before  # so that its absence below means something

    forgot = office.cli("forget", "--case", office.first[:8],
                        "--actor", "boss", "--role", "supervisor")

    assert (forgot.exit_code, forgot.stdout) == (
        0, f"forgot person {office.person}: their personal fields now read as [erased]\n")
    after = stored_bytes(office.db)
    assert readable(after, NAME, PHONE, ADDRESS) == []
    assert office.key not in after
    for case in (office.first, office.second):
        fields = office.show(case)["fields"]
        assert {fields[name] for name in fields if name in ("petitioner", "phone", "address")} \
            == {ERASED}
        assert fields["title"] == "Water leaking from the flat above"
    opened = json.loads(office.cli("history", office.first, "--json").stdout)[0]
    assert (opened["fields"]["petitioner"], opened["fields"]["phone"]) == (ERASED, ERASED)
    assert re.search(r"^  phone +\[erased\]$", office.cli("show", office.second).stdout, re.M)
    listed = office.revisits(office.cli("sweep", "--now", (T0 + timedelta(days=5)).isoformat(),
                                        "--json"))
    assert (listed[office.first]["petitioner"], listed[office.first]["phone"]) == (ERASED, ERASED)
    assert listed[office.other]["phone"] == OTHER_PHONE  # the other resident is untouched


def test_after_forget_history_report_and_audit_work_and_the_events_are_unchanged(
        office: Office) -> None:
    digest = office.cli("audit", "--digest").stdout.splitlines()[-1]
    report = office.cli("report", "--json", "--now", "2024-06-01T00:00+00:00").stdout

    assert office.cli("forget", office.person, "--actor", "boss", "--role", "supervisor"
                      ).exit_code == 0

    audited = office.cli("audit", "--expect-digest", digest)
    assert audited.exit_code == 0, audited.output
    assert office.cli("report", "--json", "--now", "2024-06-01T00:00+00:00").stdout == report
    history = json.loads(office.cli("history", office.first, "--json").stdout)
    assert [entry["trigger"] for entry in history] == [
        "open", "assess", "dispatch", "accept", "resolve", "close"]


# The command ----------------------------------------------------------------------------

def test_forget_on_the_command_line_its_mistakes_and_its_record(office: Office) -> None:
    as_supervisor = ("--actor", "boss", "--role", "supervisor")
    unknown = office.cli("forget", str(uuid4()), *as_supervisor)
    malformed = office.cli("forget", PHONE, *as_supervisor)
    neither = office.cli("forget", *as_supervisor)
    clerk = office.cli("forget", office.person, "--actor", "li.na", "--role", "intake")

    assert unknown.exit_code == malformed.exit_code == 3
    assert "unknown person" in unknown.stderr and "not a person id" in malformed.stderr
    assert neither.exit_code == 2
    assert (clerk.exit_code, clerk.stderr.count("\n")) == (5, 1)
    assert "may not forget person" in clerk.stderr
    assert office.show(office.first)["fields"]["phone"] == PHONE  # refused: nothing changed

    done = office.cli("forget", office.person, *as_supervisor, "--json",
                      "--at", "2024-06-03T10:00+08:00")
    again = office.cli("forget", "--case", office.second, *as_supervisor)

    assert json.loads(done.stdout) == {"person": office.person, "actor": "boss",
                                       "role": "supervisor", "already": False,
                                       "at": "2024-06-03T02:00:00+00:00"}
    assert again.exit_code == 0
    assert again.stdout.startswith(f"person {office.person} was already forgotten, on 2024-06-03")
    no_personal_data = office.cli("open", "volunteer_task", "-f", "title=help",
                                  "--actor", "o", "--role", "organiser")
    task = no_personal_data.stdout.strip()
    assert office.show(task)["person"] is None
    assert office.cli("forget", "--case", task, *as_supervisor).exit_code == 3


def test_a_new_case_may_name_the_person_of_an_earlier_one_unless_they_were_forgotten(
        office: Office) -> None:
    as_clerk = ("--actor", "li.na", "--role", "intake")
    opened = office.cli("open", "petition", "-f", "channel=walk_in", "-f", "title=again",
                        "-f", f"phone={PHONE}", "--person", office.person, *as_clerk)
    assert office.show(opened.stdout.strip())["fields"]["phone"] == PHONE
    office.cli("forget", office.person, "--actor", "boss", "--role", "supervisor")

    refused = office.cli("open", "petition", "-f", "channel=walk_in", "-f", "title=again",
                         "--person", office.person, *as_clerk)
    not_an_id = office.cli("open", "petition", "-f", "channel=walk_in", "-f", "title=again",
                           "--person", PHONE, *as_clerk)

    assert refused.exit_code == 2 and "was forgotten" in refused.stderr
    assert not_an_id.exit_code == 2 and "not a person id" in not_an_id.stderr


# Both back ends -------------------------------------------------------------------------

def test_forgetting_one_person_erases_their_cases_only(app: Casework) -> None:
    theirs = closed_petition(app, petitioner=NAME, phone=PHONE, address=ADDRESS)
    person = app.get_case(theirs).person
    also_theirs = closed_petition(app, person=person, phone=PHONE)
    someone_elses = closed_petition(app, petitioner=OTHER_NAME, phone=OTHER_PHONE)

    forgotten = app.forget(person, SUPERVISOR, at=T0 + timedelta(days=1))

    assert (forgotten.person, forgotten.actor, forgotten.role) == (person, "boss", "supervisor")
    assert app.get_case(theirs).fields["petitioner"] == ERASED
    assert app.get_case(also_theirs).fields["phone"] == ERASED
    assert app.get_case(theirs, as_of=T0).fields["address"] == ERASED
    assert app.history(theirs)[0].fields["phone"] == ERASED
    assert app.get_case(someone_elses).fields["phone"] == OTHER_PHONE
    assert audit(app).clean
    assert app.forget(person, SUPERVISOR).already


def every_stored_value(app: Casework) -> bytes:
    """Every value of every table of the database (events, snapshots, read models, keys)."""
    engine = app.storage.sqlalchemy_engine(writer=False)
    found = []
    try:
        with engine.connect() as conn:
            for name in inspect(engine).get_table_names():
                for row in conn.execute(select(text("*")).select_from(table(name))):
                    found += [bytes(value) if isinstance(value, bytes | memoryview)
                              else str(value).encode() for value in row]
    finally:
        engine.dispose()
    return b"\n".join(found)


def test_no_table_holds_the_data_in_plain_text_nor_the_key_once_forgotten(app: Casework
                                                                          ) -> None:
    case = closed_petition(app, petitioner=NAME, phone=PHONE, address=ADDRESS)
    app.take_snapshot(app.parse_case_id(case))
    read_model = ReadModel(app)
    read_model.catch_up()
    read_model.close()
    person = app.person_of(case)
    stored = every_stored_value(app)
    key = next(record["key"] for record in app.personal.records() if record["person"] == person)

    assert readable(stored, NAME, PHONE, ADDRESS) == []
    assert key.encode() not in stored and base64.b64decode(key) in stored

    app.forget(person, SUPERVISOR)

    assert base64.b64decode(key) not in every_stored_value(app)


def test_forget_is_refused_for_a_clerk_and_for_an_unknown_person(app: Casework) -> None:
    case = closed_petition(app, phone=PHONE)
    person = app.get_case(case).person

    with pytest.raises(PermissionDenied):
        app.forget(person, CLERK)
    with pytest.raises(UnknownPerson):
        app.forget(uuid4(), SUPERVISOR)
    with pytest.raises(UnknownPerson):
        app.person_of(closed_petition(app))  # no personal fields: no person
    with pytest.raises(InvalidField):
        app.open_case("petition", CLERK, T0, person="Ms Liu", channel="hotline", title="x")
    assert app.get_case(case).fields["phone"] == PHONE


def test_an_export_carries_the_keys_and_who_was_forgotten(app: Casework, tmp_path: Path
                                                         ) -> None:
    kept = closed_petition(app, petitioner=NAME, phone=PHONE)
    erased = closed_petition(app, petitioner=OTHER_NAME, phone=OTHER_PHONE)
    before = io.StringIO()
    export_jsonl(app, before)  # while both were known
    app.forget(app.person_of(erased), SUPERVISOR)
    after = io.StringIO()
    export_jsonl(app, after)

    copy = new_app(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        result = import_jsonl(copy, io.StringIO(after.getvalue()))
        assert (result.imported, result.keys, result.rejected) == (2, 2, [])
        assert copy.get_case(kept).fields["petitioner"] == NAME
        assert copy.get_case(erased).fields["petitioner"] == ERASED
        assert audit_digest(copy) == audit_digest(app)
        for case in (kept, erased):
            assert copy.history(case) == app.history(case)

        # The older export still has the forgotten person's key: they stay forgotten.
        import_jsonl(copy, io.StringIO(before.getvalue()))
        assert copy.get_case(erased).fields["phone"] == ERASED
        assert OTHER_PHONE not in json.dumps([e.fields for e in copy.history(erased)])
    finally:
        copy.close()


def test_an_export_without_keys_holds_no_personal_data_that_can_be_read(
        app: Casework, tmp_path: Path) -> None:
    case = closed_petition(app, petitioner=NAME, phone=PHONE)
    out = io.StringIO()
    export_jsonl(app, out, with_keys=False)
    assert readable(out.getvalue().encode(), NAME, PHONE) == []
    assert '"key"' not in out.getvalue()

    copy = new_app(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        assert import_jsonl(copy, io.StringIO(out.getvalue())).imported == 1
        assert copy.get_case(case).fields["phone"] == ERASED
        assert audit(copy).clean
        with_keys = io.StringIO()
        export_jsonl(app, with_keys)
        import_jsonl(copy, io.StringIO(with_keys.getvalue()))  # the keys arrive later
        assert copy.get_case(case).fields["phone"] == PHONE
    finally:
        copy.close()


def test_a_key_line_that_disagrees_with_this_database_is_rejected(app: Casework) -> None:
    case = closed_petition(app, phone=PHONE)
    person = app.person_of(case)
    lines = [json.dumps({"person": person, "key": "A" * 43 + "="}),
             json.dumps({"person": "not-a-uuid", "key": "A" * 43 + "="})]

    result = import_jsonl(app, lines)

    assert [line for line, _ in result.rejected] == [1, 2]
    assert "another key" in result.rejected[0][1]
    assert app.get_case(case).fields["phone"] == PHONE


def test_a_case_with_personal_data_in_plain_text_is_an_audit_finding_and_not_imported(
        app: Casework) -> None:
    """As an export of casework 0.1 carries them (it did not encrypt), hash chain and all."""
    case = closed_petition(app, phone=PHONE)
    out = io.StringIO()
    export_jsonl(app, out, with_keys=False)
    line = json.loads(next(text for text in out.getvalue().splitlines() if '"id"' in text))
    line["events"][0]["fields"]["phone"] = PHONE
    plain = json.dumps(rehashed(line))
    copy = new_app()
    try:
        result = import_jsonl(copy, [plain])

        assert result.imported == 0
        assert [number for number, _ in result.rejected] == [1]
        assert "personal field 'phone' is stored in plain text" in result.rejected[0][1]
        assert copy.existing_cases([UUID(case)]) == set()
        assert audit(app).clean
    finally:
        copy.close()


@pytest.mark.parametrize(("record", "reason"), [
    ({"person": "x", "key": "A" * 43 + "="}, "badly formed hexadecimal UUID string"),
    ({"person": str(uuid4()), "key": "not base64!"}, "'key' is not base64"),
    ({"person": str(uuid4()), "key": "AAAA"}, "'key' must be 32 bytes"),
    ({"person": str(uuid4()), "forgotten_at": "2024-06-01T10:00", "forgotten_by": "boss",
      "forgotten_role": "supervisor"}, "no UTC offset"),
    ({"person": str(uuid4()), "forgotten_at": "2024-06-01T10:00+08:00",
      "forgotten_by": {"a": 1}, "forgotten_role": "supervisor"}, "must be an actor"),
    ({"person": str(uuid4()), "forgotten_at": "2024-06-01T10:00+08:00",
      "forgotten_by": "x" * 201, "forgotten_role": "supervisor"}, "must be an actor"),
    ({"person": str(uuid4()), "key": "A" * 43 + "=", "extra": 1}, "a person line has"),
])
def test_a_malformed_person_line_is_rejected_and_the_rest_imported(
        app: Casework, record: dict, reason: str) -> None:
    good = {"person": str(uuid4()), "forgotten_at": "2024-06-01T10:00+08:00",
            "forgotten_by": "boss", "forgotten_role": "supervisor"}

    result = import_jsonl(app, [json.dumps(record), json.dumps(good)])

    assert [line for line, _ in result.rejected] == [1]
    assert reason in result.rejected[0][1]
    assert result.keys == 1


def test_a_case_gets_its_person_with_its_first_personal_field(tmp_path: Path) -> None:
    """A site marks a later trigger's field personal: the volunteers' progress notes."""
    source = (Path(__file__).parents[1] / "workflows" / "volunteer_task.toml").read_text()
    marked = 'fields.note = { type = "text", required = true, personal = true }'
    (tmp_path / "volunteer_task.toml").write_text(
        source.replace('fields.note = { type = "text", required = true }', marked, 1))
    app = new_app(workflows=WorkflowRegistry.from_directory(tmp_path))
    organiser, volunteer = Actor("o", ["organiser"]), Actor("v", ["volunteer"])
    try:
        task = app.open_case("volunteer_task", organiser, T0, title="help Ms Liu move")
        app.fire(task, "claim", volunteer, T0)
        app.fire(task, "start", volunteer, T0)
        assert app.get_case(task).person is None
        app.fire(task, "progress", volunteer, T0, note=f"call her on {PHONE}")
        app.fire(task, "progress", volunteer, T0, note="viewed two flats")

        person = app.get_case(task).person
        assert person is not None
        assert [entry.fields.get("note") for entry in app.history(task)[-2:]] == [
            f"call her on {PHONE}", "viewed two flats"]
        stored = [event.fields["note"] for event in app.events.get(task)
                  if event.trigger == "progress"]
        assert all(value["person"] == person for value in stored)

        app.forget(person, SUPERVISOR)
        assert [entry.fields.get("note") for entry in app.history(task)[-2:]] == [ERASED] * 2
        # Free text in a field not marked personal is not erased.
        assert app.get_case(task).fields["title"] == "help Ms Liu move"
    finally:
        app.close()


# Which fields are personal --------------------------------------------------------------

def test_the_shipped_workflows_mark_the_fields_that_identify_a_person() -> None:
    def personal(kind: str) -> set[str]:
        return {name for name, spec in REGISTRY.get(kind).opening.fields.items()
                if spec.personal}

    assert personal("petition") == {"petitioner", "phone", "address"}
    assert personal("enterprise_request") == {"contact", "phone"}
    assert personal("volunteer_task") == set()


@pytest.mark.parametrize("field", [
    '{ type = "integer", personal = true }',
    '{ type = "string", personal = "yes" }',
])
def test_only_text_fields_may_be_personal(tmp_path: Path, field: str) -> None:
    source = (Path(__file__).parents[1] / "workflows" / "volunteer_task.toml").read_text()
    path = tmp_path / "volunteer_task.toml"
    path.write_text(source.replace('fields.title = { type = "string", required = true }',
                                   f"fields.title = {field}", 1))
    with pytest.raises(WorkflowDefinitionError, match="personal"):
        load_workflow(path)
