"""Bad input at every entry point: refused in one line with the documented exit code (the
CLI) or a CaseworkError (the library), with nothing recorded; a bad row in a file is set
aside and the good ones are kept. Report filters are parameters, never SQL.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from casework import Actor, Casework, CaseworkError, InvalidField
from casework.transfer.jsonl import export_jsonl, import_jsonl
from cli import cli
from projections import ReadModel
from projections.filters import CaseFilter, Filters
from projections.report import report
from projections.selection import Candidates

from .conftest import new_app
from .support import assert_one_line_error, rehashed, summary_rows

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
CLERK = Actor("li.na", roles=["intake", "assessor", "dispatcher"])
FAR_OUT = ["9999-12-31T23:59-05:00", "0001-01-01T00:00+05:00", "9999-12-31", "0001-01-01",
           "1899-12-31T23:59+00:00", "2200-01-01T00:00+00:00"]
"""Times out of range, some beyond what a datetime can hold once turned into UTC."""


Run = Callable[..., Result]


@pytest.fixture
def run() -> Run:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), env={"CASEWORK_DB": None, "CASEWORK_ACTOR": None,
                                                       "COLUMNS": None},
                             prog_name="casework")

    return invoke


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A database with one petition, graded A and dispatched to a community at T0."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    app = Casework(url)
    case_id = app.open_case("petition", CLERK, T0, channel="hotline", title="Broken cover")
    app.fire(case_id, "assess", CLERK, T0, grade="A", category="road")
    app.fire(case_id, "dispatch", CLERK, T0, unit="guanlan/guancheng")
    app.close()
    return url


def case_line_of(export: io.StringIO) -> str:
    """The first case line of an export."""
    return next(line for line in export.getvalue().splitlines() if line.startswith('{"id"'))


def events_in(url: str) -> int:
    app = Casework(url)
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def case_of(url: str) -> str:
    app = Casework(url)
    try:
        read_model = ReadModel(app)
        try:
            read_model.catch_up()
            return summary_rows(read_model)[0]["id"]
        finally:
            read_model.close()
    finally:
        app.close()


# Times -------------------------------------------------------------------------------------

@pytest.mark.parametrize("when", FAR_OUT[:2] + FAR_OUT[-1:])
@pytest.mark.parametrize("option", [["report", "--now"], ["report", "--since"],
                                    ["sweep", "--now"], ["history", "CASE", "--as-of"],
                                    ["show", "CASE", "--as-of"], ["fire", "CASE", "note",
                                                                 "note=x", "--at"]])
def test_a_time_out_of_range_is_one_line_and_exit_2(run: Run, db: str, option: list[str],
                                                    when: str) -> None:
    before = events_in(db)
    args = [case_of(db) if arg == "CASE" else arg for arg in option]
    assert_one_line_error(run(*args, when, "--db", db, "--actor", "boss", "--role",
                              "supervisor") if option[0] == "fire"
                          else run(*args, when, "--db", db), 2, "outside 1900..2199")
    assert events_in(db) == before


@pytest.mark.parametrize("when", [datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
                                  datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
                                  datetime.max, datetime.min, *FAR_OUT])
def test_the_library_refuses_a_time_out_of_range_as_an_invalid_field(when: Any) -> None:
    app = new_app()
    with pytest.raises(InvalidField, match=r"outside 1900\.\.2199"):
        app.open_case("petition", CLERK, when, channel="hotline", title="x")
    case_id = app.open_case("petition", CLERK, T0, channel="hotline", title="x")
    with pytest.raises(InvalidField, match=r"outside 1900\.\.2199"):
        app.get_case(case_id, as_of=when)
    assert app.recorder.max_notification_id() == 1


def test_a_deadline_past_the_range_is_refused_not_recorded() -> None:
    """Graded A (two hours) an hour before the end of the range: the deadline would be out."""
    app = new_app()
    late = datetime(2199, 12, 31, 23, tzinfo=UTC)
    case_id = app.open_case("petition", CLERK, late, channel="hotline", title="x")
    with pytest.raises(InvalidField, match="past 2199"):
        app.fire(case_id, "assess", CLERK, late, grade="A", category="road")
    assert app.get_case(case_id).state == "collected"


def test_a_sweep_whose_escalation_would_set_a_deadline_past_the_range_refuses_it(
        run: Run, db: str) -> None:
    before = events_in(db)
    result = run("sweep", "--now", "2199-12-31T23:59+00:00", "--db", db)
    assert result.exit_code == 1, result.output
    assert "refused 1" in result.stdout and "past 2199" in result.stdout
    assert events_in(db) == before


# Names and text ------------------------------------------------------------------------

@pytest.mark.parametrize("actor", ["", " ", "li\x00", "li\udcff", "x" * 201, 7])
def test_an_actor_id_is_checked_like_a_string_field(actor: Any) -> None:
    with pytest.raises(InvalidField):
        Actor(actor, roles=["intake"])


@pytest.mark.slow
def test_arguments_that_are_not_utf8_are_one_line_and_record_nothing(db: str) -> None:
    """What a terminal in another encoding sends: the bytes reach Python surrogate-escaped."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), "CASEWORK_DB": db}
    environment.pop("CASEWORK_ACTOR", None)
    base = [sys.executable, str(REPO / "cli.py")]
    for args, code in [
        ([b"open", b"petition", b"--actor", b"l\xffi", b"--role", b"intake",
          b"-f", b"channel=hotline", b"-f", b"title=x"], 2),
        ([b"open", b"petition", b"--actor", b"li", b"--role", b"intake",
          b"-f", b"channel=hotline", b"-f", b"title=\xe7\xa0"], 2),
        ([b"open", b"petition", b"--actor", b"li", b"--role", b"intake",
          b"-f", b"channel=hotline", b"-f", b"title=x", b"--at", b"2024-05-01\xff"], 2),
        ([b"report", b"--unit", b"guanlan\xff"], 2),
        ([b"report", b"--kind", b"petition\xff"], 3),
        ([b"sweep", b"--now", b"2024-05-07", b"--job", b"nightly\xff"], 2),
        ([b"show", b"\xff\xfe\xfd\xfc"], 3),
    ]:
        before = events_in(db)
        result = subprocess.run([*base, *args], env=environment, capture_output=True,
                                timeout=60)
        stderr = result.stderr.decode("utf-8", errors="replace")
        assert result.returncode == code, (args, stderr)
        assert len(stderr.splitlines()) == 1 and stderr.startswith("casework: "), stderr
        assert events_in(db) == before


def test_a_right_to_left_override_is_stored_as_given_and_shown_escaped(
        run: Run, tmp_path: Path) -> None:
    """U+202E is printable text to the field check, and turns a terminal line around: show,
    history and JSON print it escaped (as error messages do), never raw, never stripped."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    title = "Invoice \u202egpj.exe"
    app = Casework(url)
    case_id = str(app.open_case("petition", CLERK, T0, channel="hotline", title=title,
                                description="first line\nsecond\u2066line"))
    app.close()

    shown = run("show", case_id, "--db", url, "--actor", "li", "--role", "intake")
    history = run("history", case_id, "--db", url)
    as_json = run("show", case_id, "--db", url, "--json")

    assert Casework(url).get_case(case_id).fields["title"] == title  # stored as given
    for result in (shown, history, as_json):
        assert result.exit_code == 0, result.output
        assert "\u202e" not in result.stdout and "\u2066" not in result.stdout
    assert "title        Invoice \\u202egpj.exe" in shown.stdout
    assert "description  first line\\nsecond\\u2066line" in shown.stdout
    assert "title=Invoice \\u202egpj.exe" in history.stdout
    assert json.loads(as_json.stdout)["fields"]["title"] == title  # the same value to a reader


def test_a_job_name_with_control_characters_is_refused(run: Run, db: str) -> None:
    assert_one_line_error(run("sweep", "--now", "2024-05-07T00:00+00:00", "--job", "a\tb",
                              "--db", db), 2, "'job'")


def test_an_unwritable_output_file_is_one_line(run: Run, db: str, tmp_path: Path) -> None:
    path = str(tmp_path / "no" / "such" / "folder.jsonl")
    assert_one_line_error(run("export", "-o", path, "--db", db), 2, path, "no folder")



@pytest.mark.parametrize("option", [["report", "--since"], ["cases", "--now"], ["sweep", "--now"],
                                    ["history", "abcd", "--as-of"],
                                    ["fire", "abcd", "note", "--actor", "boss", "--at"]])
def test_a_malformed_time_is_told_before_a_missing_database(run: Run, tmp_path: Path,
                                                            option: list[str]) -> None:
    missing = f"sqlite:///{tmp_path / 'typo.db'}"
    assert_one_line_error(run(*option, "yesterday", "--db", missing), 2, option[-1],
                          "not an ISO 8601 time")
    assert not (tmp_path / "typo.db").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc, which nobody can write")
def test_an_output_file_in_a_folder_nobody_can_write_is_one_line_and_exit_2(
        run: Run, db: str) -> None:
    assert_one_line_error(run("report", "--html", "/proc/report.html", "--db", db), 2,
                          "/proc/report.html", "cannot write")

# Files that are not UTF-8 -------------------------------------------------------------------

def test_a_jsonl_line_that_is_not_utf8_is_rejected_and_kept_byte_for_byte(
        run: Run, db: str, tmp_path: Path) -> None:
    app = Casework(db)
    out = io.StringIO()
    export_jsonl(app, out)
    app.close()
    # The case lines alone, as an export made before exports had a closing line (with one,
    # the file would be refused whole: see test_transfer_checks.py).
    good = b"".join(line for line in out.getvalue().encode().splitlines(keepends=True)
                    if line.startswith(b'{"id"'))
    bad = good.replace(b"Broken cover", b"Broken \xff\xfe cover")
    source = tmp_path / "mixed.jsonl"
    source.write_bytes(bad + b"\n" + good)
    target = f"sqlite:///{tmp_path / 'copy.db'}"

    result = run("import", str(source), "--db", target, "--rejects", str(tmp_path / "bad.jsonl"))

    assert result.exit_code == 8, result.output
    assert "line 1: not valid UTF-8 (byte 0xff" in result.stderr
    assert (tmp_path / "bad.jsonl").read_bytes() == bad  # as it was, to fix and import again
    assert events_in(target) == events_in(db)  # the good line's case, complete


def test_an_escaped_lone_surrogate_in_a_jsonl_line_is_rejected() -> None:
    source = new_app()
    source.open_case("petition", CLERK, T0, channel="hotline", title="ok")
    out = io.StringIO()
    export_jsonl(source, out)
    line = case_line_of(out).replace('"title":"ok"', '"title":"\\ud800"')

    result = import_jsonl(new_app(), [line])

    assert result.imported == 0
    assert result.rejected == [(1, "contains an escaped lone surrogate (\\ud800-\\udfff): "
                                   "not text")]


@pytest.mark.parametrize("at", ["9999-12-31T23:59:00-05:00", "0001-01-01T00:00:00+05:00"])
def test_an_imported_event_with_a_time_out_of_range_is_rejected_even_when_rehashed(
        at: str) -> None:
    """Someone who computes the hash chain could write any time: the import still checks."""
    source = new_app()
    source.open_case("petition", CLERK, T0, channel="hotline", title="ok")
    out = io.StringIO()
    export_jsonl(source, out)
    record = json.loads(case_line_of(out))
    record["events"][0]["at"] = at

    result = import_jsonl(new_app(), [json.dumps(rehashed(record))])

    assert result.imported == 0
    assert result.rejected == [(1, f"event 1: has {at}, out of range, in at")]


def test_an_nyc311_row_that_is_not_utf8_is_rejected_and_the_others_imported(
        run: Run, tmp_path: Path) -> None:
    header = (b"Unique Key,Created Date,Closed Date,Agency,Complaint Type,Descriptor,Status,"
              b"Due Date,Borough\n")
    row = "{key},03/01/2011 02:27:57 PM,,NYPD,Noise,{what},Open,,BROOKLYN\n"
    good = row.format(key="1", what="Loud Music").encode()
    bad = row.format(key="2", what="Loud").encode().replace(b"Loud", b"Lo\xffud")
    late = row.format(key="3", what="x").encode().replace(b"03/01/2011",
                                                           b"12/31/9999").replace(
        b"02:27:57 PM", b"11:59:59 PM")
    source = tmp_path / "311.csv"
    source.write_bytes(header + bad + good + late)
    target = f"sqlite:///{tmp_path / 'nyc.db'}"

    result = run("import", str(source), "--format", "nyc311", "--db", target, "--json")

    assert result.exit_code == 8, result.output
    summary = json.loads(result.stdout)
    assert summary["imported"] == 1
    assert [(r["line"], r["reason"].split(" (")[0]) for r in summary["rejected"]] == [
        (2, "not valid UTF-8"), (4, "Created Date '12/31/9999 11:59:59 PM' is out of range")]


# Report filters are parameters ---------------------------------------------------------------

INJECTIONS = ["'", "''", "\"", "%", "_", "%%", "guanla_", "guanlan%", "guanlan/%",
              "'; DROP TABLE case_summary; --", "' OR '1'='1", "\\", "guanlan\\%",
              "\x00", "guanlan/guancheng' --", "*", "[a-z]%"]


@pytest.fixture
def reported(database_url: str) -> Any:
    """A few cases in two communities, and a function giving report totals."""
    app = new_app(database_url)
    for unit in ["guanlan/guancheng", "guanlan/guancheng", "guanlan/xinlan"]:
        case_id = app.open_case("petition", CLERK, T0, channel="hotline", title="x")
        app.fire(case_id, "assess", CLERK, T0, grade="B", category="road")
        app.fire(case_id, "dispatch", CLERK, T0, unit=unit)
    read_model = ReadModel(app)

    def total(**filters: Any) -> int:
        return report(read_model, Filters(**filters)).as_dict()["total"]

    yield total, app
    read_model.close()
    app.close()


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_as_unit_prefix_or_kind_match_nothing_and_drop_nothing(
        reported: Any, text: str) -> None:
    total, app = reported
    assert total() == 3
    try:
        assert total(unit=text) == 0  # wildcards match themselves: no unit is "guanla_"
        assert total(kind=text) == 0
        assert Candidates(CaseFilter(unit=text, state=text, grade=text)).count(app) == 0
    except InvalidField:
        assert not text.isprintable()  # NUL, which PostgreSQL cannot take as a parameter
    assert total() == 3 and total(unit="guanlan") == 3  # the table is all there
    assert total(unit="guanlan/guancheng") == 2 and total(kind="petition") == 3


@pytest.mark.parametrize("text", ["gu%", "guanla_", "'; DROP TABLE case_summary; --"])
def test_injection_strings_on_the_command_line_are_unknown_units(run: Run, db: str,
                                                                 text: str) -> None:
    assert_one_line_error(run("report", "--unit", text, "--db", db), 2, "no unit")
    assert_one_line_error(run("report", "--kind", text, "--db", db), 3, "unknown workflow")
    assert json.loads(run("report", "--db", db, "--json").stdout)["total"] == 1


@pytest.mark.parametrize(("where", "value"), [("actor_id", "li\x00"), ("role", "intake\x1b"),
                                              ("fields/title", "a\x07b")])
def test_an_imported_event_with_control_characters_is_rejected_even_when_rehashed(
        where: str, value: str) -> None:
    source = new_app()
    source.open_case("petition", CLERK, T0, channel="hotline", title="ok")
    out = io.StringIO()
    export_jsonl(source, out)
    record = json.loads(case_line_of(out))
    event = record["events"][0]
    if where.startswith("fields/"):
        event["fields"]["title"] = value
    else:
        event[where] = value

    result = import_jsonl(new_app(), [json.dumps(rehashed(record))])

    assert result.rejected == [(1, f"event 1: has a control or invalid character in {where}")]


@pytest.mark.parametrize("line", ["[" * 100_000 + "]" * 100_000, '{"id": 1' + "0" * 5000 + "}"])
def test_json_the_decoder_cannot_take_is_a_rejected_line(line: str) -> None:
    result = import_jsonl(new_app(), [line])
    assert [number for number, _ in result.rejected] == [1]
    assert result.rejected[0][1].startswith("not valid JSON")


@pytest.mark.parametrize(("call", "error"), [
    (lambda app, case: app.open_case(["petition"], CLERK, title="x"), "UnknownWorkflow"),
    (lambda app, case: app.open_case("petition", "li", channel="hotline", title="x"),
     "InvalidField"),
    (lambda app, case: app.open_case("petition", CLERK, case_id="abc", channel="hotline",
                                     title="x"), "InvalidField"),
    (lambda app, case: app.fire(case, ["assess"], CLERK), "UnknownTrigger"),
    (lambda app, case: app.fire(case, "assess", CLERK, grade={"A": 1}, category="x"),
     "InvalidField"),
    (lambda app, case: app.allowed_triggers(case, "li"), "InvalidField"),
    (lambda app, case: app.get_case({}), "UnknownCase"),
    (lambda app, case: app.workflows.get("petition", "one"), "UnknownWorkflow"),
    (lambda app, case: Casework(5), "DatabaseURLError"),
    (lambda app, case: Casework("sqlite:///a\x00b.db"), "DatabaseURLError"),
])
def test_the_library_refuses_values_of_the_wrong_type_with_its_own_errors(
        call: Callable[[Casework, Any], Any], error: str) -> None:
    app = new_app()
    case_id = app.open_case("petition", CLERK, T0, channel="hotline", title="x")
    with pytest.raises(CaseworkError) as raised:
        call(app, case_id)
    assert type(raised.value).__name__ == error
    assert app.recorder.max_notification_id() == 1


@pytest.mark.parametrize("kind", ["a\rb", "a\nb", "\x1b[31mred", "a\u2028b", "\u202eevil"])
def test_an_error_that_quotes_the_input_stays_one_line_and_escapes_it(run: Run, db: str,
                                                                      kind: str) -> None:
    line = assert_one_line_error(run("report", "--kind", kind, "--db", db), 3)
    assert line.isprintable()


@pytest.mark.parametrize("version", ["99999999999999999999999", "-99999999999999999999999"])
def test_a_version_no_database_integer_holds_is_refused(run: Run, db: str, version: str) -> None:
    assert_one_line_error(run("reprocess", "--where", f"version_below={version}", "--trigger",
                              "note", "note=x", "--dry-run", "--actor", "boss", "--role",
                              "supervisor", "--db", db), 2, "version_below")
