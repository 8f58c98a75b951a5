"""NYC 311 service requests become petitions: one per row, replaying what the city recorded.

The real extracts in shared/data/nyc311 (999, 2,000 and 199 rows, two schemas) are imported
once per module; small hand-written files pin down how bad rows are treated.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from casework import Casework, UnknownCase
from casework.transfer.importing import ImportResult
from casework.transfer.nyc311 import NotNyc311, case_id_of, grade_for, import_nyc311

from .support import DATA, real_data

FILES = ["311_nyc_sample.csv", "311_subset.micro.csv", "311-service-requests.sample.csv"]
NEW_YORK = ZoneInfo("America/New_York")

# What a user reads off the rows, written out rather than imported from the code under test.
CHANNEL = {"PHONE": "hotline", "ONLINE": "online", "MOBILE": "mini_program",
           "UNKNOWN": "other", "OTHER": "other", "": "other"}
BOROUGH = {"MANHATTAN": "nyc/manhattan", "BROOKLYN": "nyc/brooklyn", "QUEENS": "nyc/queens",
           "BRONX": "nyc/bronx", "STATEN ISLAND": "nyc/staten-island"}
CLOSED_BEFORE_CREATED = (
    1604, "closed (01/01/1900 12:00:00 AM) before it was created (03/02/2011 10:40:12 AM)")


def new_york_time(text: str) -> datetime:
    return datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=NEW_YORK)


def rows_of(name: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of each data row; none of these files has a line break in a field."""
    with (DATA / name).open(encoding="utf-8", newline="") as file:
        return list(enumerate(csv.DictReader(file), start=2))


def import_file(app: Casework, path: Path, **options) -> ImportResult:
    with path.open(encoding="utf-8", newline="") as file:
        return import_nyc311(app, file, **options)


# The real extracts --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def imported() -> Iterator[dict[str, tuple[Casework, ImportResult]]]:
    """Each file imported into a fresh database of its own."""
    apps = {name: Casework("sqlite:///:memory:") for name in FILES}
    yield {name: (app, import_file(app, DATA / name)) for name, app in apps.items()}
    for app in apps.values():
        app.close()


@pytest.mark.slow
@real_data
@pytest.mark.parametrize("name", FILES)
def test_every_row_is_imported_or_rejected(imported, name: str) -> None:
    _, result = imported[name]
    assert result.imported + len(result.rejected) == len(rows_of(name))
    assert result.skipped == 0


@pytest.mark.slow
@real_data
def test_the_only_bad_row_closes_in_1900_before_it_was_created(imported) -> None:
    assert imported["311_subset.micro.csv"][1].rejected == [CLOSED_BEFORE_CREATED]
    assert imported["311_nyc_sample.csv"][1].rejected == []
    assert imported["311-service-requests.sample.csv"][1].rejected == []
    app = imported["311_subset.micro.csv"][0]
    with pytest.raises(UnknownCase):
        app.get_case(case_id_of("19944912"))  # the request on line 1604: nothing recorded


@pytest.mark.slow
@real_data
@pytest.mark.parametrize("name", FILES)
def test_each_petition_says_what_its_row_says(imported, name: str) -> None:
    app, result = imported[name]
    rejected = {line for line, _ in result.rejected}
    for line, row in rows_of(name):
        if line in rejected:
            continue
        case = app.get_case(case_id_of(row["Unique Key"]))
        assert case.kind == "petition"
        assert case.fields["external_id"] == row["Unique Key"]
        assert case.fields["channel"] == CHANNEL[row.get("Open Data Channel Type") or ""]
        assert case.fields["category"] == row["Complaint Type"]
        assert case.fields["title"] == (row["Descriptor"] or row["Complaint Type"])
        assert case.fields.get("location") == BOROUGH.get(row["Borough"])
        # Where the problem is, public in the city's data: not a person's, so not personal.
        assert case.fields.get("place") == (" ".join(row["Incident Address"].split()) or None)
        assert case.person is None
        assert case.unit == f"nyc/{row['Agency'].lower()}"
        assert case.opened_at == new_york_time(row["Created Date"])
        if row["Due Date"]:
            assert case.deadline == new_york_time(row["Due Date"])
        if row["Status"] == "Closed" and row["Closed Date"]:
            assert (case.state, case.stage) == ("closed", "close"), line
            assert case.updated_at == new_york_time(row["Closed Date"])
            resolve = app.history(case.id)[-2]  # the resolution is the event's, not the case's
            assert resolve.fields["resolution"] == (row.get("Resolution Description")
                                                    or "closed")
        else:
            assert (case.state, case.stage) == ("in_progress", "follow_up"), line


@pytest.mark.slow
@real_data
def test_a_closed_request_has_the_whole_history_at_the_citys_times(imported) -> None:
    app = imported["311_nyc_sample.csv"][0]
    history = app.history(case_id_of("19937896"))
    assert [(entry.trigger, entry.to_state) for entry in history] == [
        ("open", "collected"), ("assess", "assessed"), ("dispatch", "dispatched"),
        ("accept", "in_progress"), ("resolve", "resolved"), ("close", "closed")]
    assert {entry.actor for entry in history} == {"nyc311-import"}
    assert [entry.at for entry in history] == 4 * [new_york_time("03/01/2011 02:27:57 PM")] \
        + 2 * [new_york_time("03/14/2011 03:59:20 PM")]
    assert history[4].fields == {"resolution": "The Department of Finance resolved this issue."}


@pytest.mark.slow
@real_data
def test_the_older_schema_without_channel_or_resolution_imports(imported) -> None:
    app = imported["311-service-requests.sample.csv"][0]
    case = app.get_case(case_id_of("26589651"))
    assert (case.state, case.unit, case.fields["channel"]) == ("in_progress", "nyc/nypd", "other")
    assert case.deadline == new_york_time("10/31/2013 10:08:41 AM")


@pytest.mark.slow
@real_data
@pytest.mark.parametrize("name", FILES)
def test_importing_a_file_again_adds_nothing(imported, name: str) -> None:
    app, first = imported[name]
    events = app.recorder.max_notification_id()
    again = import_file(app, DATA / name)
    assert (again.imported, again.skipped) == (0, first.imported)
    assert again.rejected == first.rejected
    assert app.recorder.max_notification_id() == events


@pytest.mark.slow
@real_data
def test_requests_already_imported_from_another_file_are_skipped(imported) -> None:
    # The 999-row sample is the first half of the 2,000-row subset, minus the bad row.
    app, _ = imported["311_subset.micro.csv"]
    result = import_file(app, DATA / "311_nyc_sample.csv")
    assert (result.imported, result.skipped, result.rejected) == (0, 999, [])


# Hand-written files -------------------------------------------------------------------------

HEADER = ("Unique Key,Created Date,Closed Date,Agency,Complaint Type,Descriptor,Status,"
          "Due Date,Resolution Description,Borough,Open Data Channel Type\n")
GOOD_CLOSED = ("1,03/01/2011 02:27:57 PM,03/14/2011 03:59:20 PM,DOF,Payment Issue,Misapplied,"
               "Closed,03/22/2011 02:27:57 PM,Refunded.,MANHATTAN,ONLINE\n")
GOOD_OPEN = "2,03/01/2011 09:00:00 AM,,NYPD,Noise,Loud Music,Open,,,BROOKLYN,MOBILE\n"
BAD_DATE = "3,2011-03-01 09:00,,NYPD,Noise,Loud Music,Open,,,QUEENS,PHONE\n"
NO_KEY = ",03/01/2011 09:00:00 AM,,NYPD,Noise,Loud Music,Open,,,QUEENS,PHONE\n"
CLOSED_EARLY = ("5,03/02/2011 10:40:12 AM,01/01/1900 12:00:00 AM,DOT,Pothole,,Closed,,,"
                "BRONX,PHONE\n")
NO_SUCH_AGENCY = "6,03/01/2011 09:00:00 AM,,XYZ,Noise,,Open,,,QUEENS,PHONE\n"
TOO_LONG = (f"7,03/01/2011 09:00:00 AM,03/01/2011 10:00:00 AM,DOT,Pothole,,Closed,,"
            f"{'x' * 5000},BRONX,PHONE\n")
GOOD_LAST = "8,03/01/2011 09:00:00 AM,,DOT,Pothole,,Pending,03/02/2011 09:00:00 AM,,,\n"
SHORT_ROW = "9,03/01/2011 09:00:00 AM,,DOT\n"

SMALL = [GOOD_CLOSED, GOOD_OPEN, BAD_DATE, NO_KEY, CLOSED_EARLY, NO_SUCH_AGENCY, TOO_LONG,
         GOOD_LAST, SHORT_ROW]


@pytest.fixture
def app() -> Iterator[Casework]:
    engine = Casework("sqlite:///:memory:")
    yield engine
    engine.close()


def test_bad_rows_are_rejected_with_line_and_reason_and_the_rest_is_imported(app) -> None:
    result = import_nyc311(app, io.StringIO(HEADER + "".join(SMALL)))
    assert result.imported == 3
    lines = {line: reason for line, reason in result.rejected}
    assert sorted(lines) == [4, 5, 6, 7, 8, 10]
    assert lines[4] == ("Created Date '2011-03-01 09:00' is not a date like "
                        "03/01/2011 02:27:57 PM")
    assert lines[5] == "no Unique Key"
    assert lines[6] == ("closed (01/01/1900 12:00:00 AM) before it was created "
                        "(03/02/2011 10:40:12 AM)")
    assert lines[7] == "unknown agency 'XYZ': the organisation has no department nyc/xyz"
    assert lines[8].startswith("resolve refused: field 'resolution': 5000 characters")
    assert lines[10] == "4 fields where the header has 11"
    for key in ("1", "2", "8"):
        assert app.get_case(case_id_of(key)).fields["external_id"] == key


def test_a_row_refused_at_its_last_step_leaves_no_trace(app) -> None:
    # The resolution is too long: open, assess, dispatch and accept were fine, resolve is not.
    result = import_nyc311(app, io.StringIO(HEADER + TOO_LONG))
    assert (result.imported, [line for line, _ in result.rejected]) == (0, [2])
    assert app.existing_cases([case_id_of("7")]) == set()
    assert not app.recorder.max_notification_id()


def test_the_reject_file_has_each_bad_row_with_its_line_and_reason(app) -> None:
    rejects = io.StringIO()
    import_nyc311(app, io.StringIO(HEADER + GOOD_OPEN + NO_KEY + CLOSED_EARLY), rejects)
    rows = list(csv.reader(io.StringIO(rejects.getvalue())))
    assert rows[0] == ["line", "reason", *HEADER.strip().split(",")]
    assert [row[:2] for row in rows[1:]] == [
        ["3", "no Unique Key"],
        ["4", "closed (01/01/1900 12:00:00 AM) before it was created (03/02/2011 10:40:12 AM)"],
    ]
    assert rows[2][2:] == CLOSED_EARLY.strip().split(",")


def test_without_bad_rows_nothing_is_written_to_the_reject_file(app) -> None:
    rejects = io.StringIO()
    import_nyc311(app, io.StringIO(HEADER + GOOD_OPEN), rejects)
    assert rejects.getvalue() == ""


def test_an_open_request_is_followed_up_by_its_agency(app) -> None:
    import_nyc311(app, io.StringIO(HEADER + GOOD_OPEN))
    case = app.get_case(case_id_of("2"))
    assert (case.state, case.unit, case.grade) == ("in_progress", "nyc/nypd", "B")
    assert case.fields["channel"] == "mini_program"
    assert case.fields["location"] == "nyc/brooklyn"
    # No due date: the longest grade's deadline (B, 15 working days on the office calendar)
    # from the creation (Tuesday 1 March 2011, 22:00 in Shanghai): 22 March 18:00 there.
    assert case.deadline == datetime(2011, 3, 22, 10, 0, tzinfo=UTC)


def test_a_closed_request_is_resolved_and_closed_with_its_resolution(app) -> None:
    import_nyc311(app, io.StringIO(HEADER + GOOD_CLOSED))
    case = app.get_case(case_id_of("1"))
    assert (case.state, case.unit, case.fields["channel"]) == ("closed", "nyc/dof", "online")
    resolve, close = app.history(case_id_of("1"))[-2:]
    assert (resolve.fields, close.fields) == ({"resolution": "Refunded."},
                                              {"confirmed_by": "default"})
    assert case.deadline == new_york_time("03/22/2011 02:27:57 PM")


def test_a_key_repeated_in_the_file_is_imported_once(app) -> None:
    result = import_nyc311(app, io.StringIO(HEADER + GOOD_OPEN + GOOD_OPEN + GOOD_OPEN),
                           chunk_rows=2)
    assert (result.imported, result.skipped, result.rejected) == (1, 2, [])


def test_small_chunks_import_the_same_as_one(app) -> None:
    result = import_nyc311(app, io.StringIO(HEADER + "".join(SMALL)), chunk_rows=2)
    assert (result.imported, [line for line, _ in result.rejected]) == (3, [4, 5, 6, 7, 8, 10])


def test_a_file_that_is_not_311_is_refused_whole(app) -> None:
    with pytest.raises(NotNyc311, match="no column 'Created Date', 'Agency'"):
        import_nyc311(app, io.StringIO("Unique Key,Complaint Type,Status\n1,Noise,Open\n"))
    with pytest.raises(NotNyc311, match="empty"):
        import_nyc311(app, io.StringIO(""))


def test_times_are_new_york_wall_clock_with_daylight_saving(app) -> None:
    winter = "11,01/10/2011 09:00:00 AM,,DOT,Pothole,,Open,,,,\n"
    summer = "12,07/10/2011 09:00:00 AM,,DOT,Pothole,,Open,,,,\n"
    import_nyc311(app, io.StringIO(HEADER + winter + summer))
    assert app.get_case(case_id_of("11")).opened_at.isoformat() == "2011-01-10T09:00:00-05:00"
    assert app.get_case(case_id_of("12")).opened_at.isoformat() == "2011-07-10T09:00:00-04:00"


def test_the_command_line_imports_lists_the_rejects_and_says_so_in_its_exit_status(
        tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import cli

    source, rejects = tmp_path / "311.csv", tmp_path / "bad.csv"
    source.write_text(HEADER + "".join(SMALL), encoding="utf-8")
    args = ["import", str(source), "--format", "nyc311", "--rejects", str(rejects),
            "--db", f"sqlite:///{tmp_path / 'cases.db'}"]
    runner = CliRunner()
    first = runner.invoke(cli, args, env={"CASEWORK_DB": None}, prog_name="casework")
    assert first.exit_code == 8, first.output
    assert "line 5: no Unique Key" in first.stderr.splitlines()
    assert first.stdout == (f"imported 3 cases, skipped 0 already present, rejected 6 "
                            f"(written to {rejects}); 10 lines (1 header)\n")
    with rejects.open(encoding="utf-8", newline="") as file:
        assert [row["line"] for row in csv.DictReader(file)] == ["4", "5", "6", "7", "8", "10"]
    again = runner.invoke(cli, [*args, "--json"], env={"CASEWORK_DB": None},
                          prog_name="casework")
    assert again.exit_code == 8
    summary = json.loads(again.stdout)
    assert (summary["imported"], summary["skipped"], len(summary["rejected"])) == (0, 3, 6)


@pytest.mark.skipif(not os.environ.get("CASEWORK_TEST_POSTGRES_URL"),
                    reason="set CASEWORK_TEST_POSTGRES_URL to a PostgreSQL database to run it")
def test_on_postgresql_too_importing_again_adds_nothing() -> None:
    import psycopg

    url = os.environ["CASEWORK_TEST_POSTGRES_URL"]
    schema = f"nyc311_{uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        app = Casework(f"{url}?schema={schema}")
        try:
            first = import_nyc311(app, io.StringIO(HEADER + "".join(SMALL)))
            again = import_nyc311(app, io.StringIO(HEADER + "".join(SMALL)))
            assert (first.imported, again.imported, again.skipped) == (3, 0, 3)
            assert app.existing_cases([case_id_of("1"), case_id_of("3")]) == {case_id_of("1")}
        finally:
            app.close()
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


# The grade rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(("hours", "grade"), [
    (1, "A"), (2, "A"), (8, "D"), (24, "D"), (72, "C"), (120, "C"), (240, "B"), (None, "B")])
def test_the_grade_is_the_most_urgent_that_leaves_the_time_the_city_allowed(
        app, hours: float | None, grade: str) -> None:
    grades = app.workflows.get("petition").grades
    allowed = None if hours is None else timedelta(hours=hours)
    assert grade_for(grades, allowed) == grade
