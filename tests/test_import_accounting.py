"""An import accounts for every line of its file, keeps every rejected record as it was read,
and refuses an export that is not whole: cut short, joined, reordered or edited.

The summary's counts add up to the file's lines; the export's closing line gives the digest
`casework audit --digest` gives, and the import checks the file against it before it stores
anything.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from casework import Casework
from casework.audit import audit_digest
from casework.demo import Simulation
from casework.digest import digest_of
from casework.stored_cases import case_ids, case_ids_in_order
from casework.transfer.jsonl import export_jsonl, import_jsonl
from casework.transfer.nyc311 import case_id_of, import_nyc311
from cli import cli

from .conftest import new_app
from .support import CLERK, T0, assert_one_line_error

COUNTS = ("imported", "skipped", "keys", "keys_skipped", "blank", "header", "continued",
          "closing")


def accounted(summary: dict[str, Any]) -> int:
    return sum(summary[name] for name in COUNTS) + len(summary["rejected"])


def invoke(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin,
                              env={"CASEWORK_DB": None, "CASEWORK_ACTOR": None},
                              prog_name="casework")


def import_json(source: Path | str, url: str, *options: str,
                stdin: bytes | None = None) -> tuple[Result, dict[str, Any] | None]:
    result = invoke("import", str(source), "--db", url, "--json", *options, stdin=stdin)
    return result, (json.loads(result.stdout) if result.stdout.startswith("{") else None)


def stored_events(url: str) -> int:
    app = Casework(url)
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


@pytest.fixture(scope="module")
def source() -> Iterator[Casework]:
    """A simulated fortnight, with residents' personal fields (so the export has keys)."""
    app = new_app()
    Simulation(app, petitions=16, enterprise_requests=4, volunteer_tasks=3).run()
    yield app
    app.close()


@pytest.fixture(scope="module")
def export(source: Casework) -> list[str]:
    out = io.StringIO()
    export_jsonl(source, out)
    return out.getvalue().splitlines(keepends=True)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


def case_indexes(lines: list[str]) -> list[int]:
    return [index for index, line in enumerate(lines) if line.startswith('{"id"')]


# The closing line ----------------------------------------------------------------------

def test_an_export_lists_its_cases_by_id_and_closes_with_the_audit_digest(
        source: Casework, export: list[str]) -> None:
    closing = json.loads(export[-1])
    persons = [line for line in export if line.startswith('{"person"')]
    cases = [json.loads(export[i]) for i in case_indexes(export)]

    assert closing == {"persons": len(persons), "cases": len(cases),
                       "events": sum(len(case["events"]) for case in cases),
                       "digest": audit_digest(source)}
    assert export[0] == '{"casework_export":1}\n'  # a closing line will come
    assert persons and 1 + len(persons) + len(cases) + 1 == len(export)
    assert [case["id"] for case in cases] == sorted(case["id"] for case in cases)


def test_importing_an_export_twice_accounts_for_every_line(export: list[str],
                                                          tmp_path: Path) -> None:
    """The second import used to say: imported 0, skipped N, keys 0, for a file of N + K + 1
    lines."""
    given = write(tmp_path / "cases.jsonl", export)
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    persons = sum(line.startswith('{"person"') for line in export)
    cases = len(case_indexes(export))

    _, first = import_json(given, url)
    again, second = import_json(given, url)
    text = invoke("import", str(given), "--db", url)

    assert first is not None and second is not None
    assert (first["imported"], first["keys"], first["header"], first["closing"]) == (
        cases, persons, 1, 1)
    assert (second["imported"], second["skipped"], second["keys"], second["keys_skipped"]) == (
        0, cases, 0, persons)
    for summary in (first, second):
        assert summary["lines"] == len(export) == accounted(summary)
        assert summary["checked"] and summary["digest"] == json.loads(export[-1])["digest"]
    assert again.exit_code == text.exit_code == 0
    assert text.stdout == (f"imported 0 cases, skipped {cases} already present (and {persons} "
                           f"persons' keys); {len(export)} lines (1 header, 1 closing), "
                           "checked whole\n")


def test_a_dry_run_counts_the_keys_it_would_store(export: list[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    _, summary = import_json(write(tmp_path / "cases.jsonl", export), url, "--dry-run")
    assert summary is not None
    assert summary["keys"] == sum(line.startswith('{"person"') for line in export)
    assert summary["lines"] == accounted(summary)
    assert stored_events(url) == 0


def test_an_export_of_either_back_end_closes_with_its_audit_digest(app: Casework) -> None:
    """The cases come a page at a time in the order of their ids, as the digest takes them."""
    for number in range(7):
        app.open_case("petition", CLERK, T0, channel="hotline", title=f"case {number}")
    out = io.StringIO()
    export_jsonl(app, out)

    ids = [json.loads(line)["id"] for line in out.getvalue().splitlines()[1:-1]]
    assert ids == sorted(str(case_id) for case_id in case_ids(app))
    assert [str(i) for i in case_ids_in_order(app, page_size=3)] == ids
    assert json.loads(out.getvalue().splitlines()[-1])["digest"] == audit_digest(app) == (
        digest_of((case_id, app.history(case_id)[-1].hash) for case_id in case_ids(app)))


# What the closing line catches -----------------------------------------------------------

def refused(tmp_path: Path, lines: list[str], *fragments: str) -> str:
    """The import of these lines is refused in one line (exit 1) and stores nothing."""
    url = f"sqlite:///{tmp_path / 'target.db'}"
    given = write(tmp_path / "given.jsonl", lines)
    message = assert_one_line_error(invoke("import", str(given), "--db", url), 1,
                                    "nothing was imported", *fragments)
    assert stored_events(url) == 0
    assert not Path("given.rejects.jsonl").exists()
    return message


def test_an_export_with_a_history_cut_short_is_refused(export: list[str], tmp_path: Path) -> None:
    """The chain of a prefix still verifies: only the closing line shows the event gone."""
    lines = list(export)
    index = next(i for i in case_indexes(lines) if len(json.loads(lines[i])["events"]) > 2)
    record = json.loads(lines[index])
    record["events"] = record["events"][:-1]
    lines[index] = json.dumps(record) + "\n"
    closing = json.loads(export[-1])

    refused(tmp_path, lines, f"the file has {closing['events'] - 1} events",
            f"says {closing['events']} events", "cut short")
    assert import_jsonl(new_app(), lines).imported == len(case_indexes(lines))  # unchecked


def test_an_export_with_its_cases_reordered_is_refused_naming_the_first(
        export: list[str], tmp_path: Path) -> None:
    lines = list(export)
    first, second = case_indexes(lines)[3:5]
    lines[first], lines[second] = lines[second], lines[first]
    moved = json.loads(lines[second])["id"]
    refused(tmp_path, lines, f"line {second + 1}: case {moved} comes after case")


def test_two_exports_joined_are_refused_at_the_first_line_after_the_closing_line(
        export: list[str], tmp_path: Path) -> None:
    refused(tmp_path, export + export, f"line {len(export) + 1} (a line) comes after the "
            "closing line")


def test_an_export_with_a_line_that_cannot_be_read_is_refused_naming_it(
        export: list[str], tmp_path: Path) -> None:
    lines = list(export)
    index = case_indexes(lines)[2]
    lines[index] = lines[index][:100] + "\n"  # cut in the middle of a transfer
    refused(tmp_path, lines, f"line {index + 1} cannot be read (not valid JSON")


def test_an_export_cut_short_at_the_end_of_a_line_is_refused(
        export: list[str], tmp_path: Path) -> None:
    refused(tmp_path, export[:-3], f"the file ends at line {len(export) - 3} without the "
            "closing line its opening line (line 1) promises: it was cut short")


def test_an_export_without_opening_and_closing_lines_is_imported_as_before_and_says_so(
        source: Casework, export: list[str], tmp_path: Path) -> None:
    """As casework exported before it wrote them."""
    older = write(tmp_path / "older.jsonl", export[1:-1])
    url = f"sqlite:///{tmp_path / 'copy.db'}"

    plain, summary = import_json(older, url)
    checked, again = import_json(older, url, "--expect-digest", audit_digest(source).upper())
    wrong = invoke("import", str(older), "--db", url, "--expect-digest", "0" * 64)

    assert plain.exit_code == 0 and summary is not None
    assert "has no closing line, so nothing checked that it is whole" in plain.stderr
    assert (summary["checked"], summary["lines"], accounted(summary)) == (
        False, len(export) - 2, len(export) - 2)
    assert checked.exit_code == 0 and again is not None
    assert (again["checked"], again["digest"]) == (True, audit_digest(source))
    assert_one_line_error(wrong, 1, f"the file's cases give digest {audit_digest(source)}, "
                                    f"not the digest {'0' * 64} expected")


def test_an_export_checks_against_its_own_cases_in_a_store_holding_others(
        export: list[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    busy = Casework(url)
    busy.open_case("petition", CLERK, T0, channel="hotline", title="already here")
    busy.close()

    result, summary = import_json(write(tmp_path / "cases.jsonl", export), url)

    assert result.exit_code == 0 and summary is not None and summary["checked"]
    assert summary["digest"] == json.loads(export[-1])["digest"] != audit_digest(Casework(url))


def test_an_export_on_standard_input_is_checked_too(export: list[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    lines = list(export)
    lines[case_indexes(lines)[0]] = ""  # a case left out
    whole, summary = import_json("-", url, stdin="".join(export).encode())
    short = invoke("import", "-", "--db", f"sqlite:///{tmp_path / 'short.db'}",
                   stdin="".join(lines).encode())

    assert whole.exit_code == 0 and summary is not None and summary["checked"]
    assert_one_line_error(short, 1, "but its closing line", "cases")


def test_a_digest_is_refused_for_a_format_that_has_none(tmp_path: Path) -> None:
    given = write(tmp_path / "311.csv", ["Unique Key\n"])
    assert_one_line_error(invoke("import", str(given), "--format", "nyc311", "--expect-digest",
                                 "0" * 64, "--db", f"sqlite:///{tmp_path / 'x.db'}"),
                          2, "--expect-digest")


# Reject files -----------------------------------------------------------------------------

NYC_HEADER = ("Unique Key,Created Date,Closed Date,Agency,Complaint Type,Descriptor,Status,"
              "Due Date,Resolution Description,Borough,Open Data Channel Type\r\n")
NYC_ROW = "{key},03/01/2011 09:00:00 AM,,NYPD,{complaint},Loud Music,Open,,,BROOKLYN,MOBILE\r\n"


def test_an_oversized_csv_field_keeps_its_record_in_the_reject_file_to_fix_and_import(
        tmp_path: Path) -> None:
    oversized = NYC_ROW.format(key="big", complaint="N" * 131_073)
    given = NYC_HEADER + NYC_ROW.format(key="1", complaint="Noise") + oversized
    rejects = io.StringIO()
    app = Casework("sqlite:///:memory:")

    result = import_nyc311(app, io.StringIO(given, newline="\n"), rejects)

    assert (result.imported, result.rejected) == (
        1, [(3, "unreadable CSV: field larger than field limit (131072)")])
    header, row = rejects.getvalue().split("\r\n", 1)
    assert header == "line,reason," + NYC_HEADER.rstrip()
    assert row == "3,unreadable CSV: field larger than field limit (131072)," + oversized
    fixed = rejects.getvalue().replace("N" * 131_073, "Noise")  # as the operator fixes it
    again = import_nyc311(app, io.StringIO(fixed, newline="\n"))  # the two columns ignored
    assert (again.imported, again.rejected) == (1, [])
    assert app.get_case(case_id_of("big")).fields["external_id"] == "big"


def test_the_reject_file_is_in_the_order_of_the_file(tmp_path: Path) -> None:
    """A person's line is refused when its batch is stored, after the lines below it were
    read: its reject comes first all the same."""
    target = new_app()
    person = target.open_case("petition", CLERK, T0, channel="hotline", title="leak",
                              petitioner="Liu", phone="13900000000")
    other_key = {"person": target.get_case(person).person,
                 "key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
    lines = [json.dumps(other_key) + "\n", "oops\n", "[]\n"]
    rejects = io.StringIO()

    result = import_jsonl(target, lines, rejects)

    assert [line for line, _ in result.rejected] == [1, 2, 3]
    assert rejects.getvalue() == "".join(lines)
    assert result.lines == 3 == len(result.rejected)


def test_csv_lines_are_counted_whatever_they_hold(tmp_path: Path) -> None:
    lines = [NYC_HEADER, "\n", NYC_ROW.format(key="1", complaint='"Noise\nat night"'),
             "\r\n", NYC_ROW.format(key="1", complaint="Noise"), "2,oops\n"]
    result = import_nyc311(Casework("sqlite:///:memory:"),
                           io.StringIO("".join(lines), newline="\n"))  # as a file is read
    assert (result.lines, result.header, result.blank, result.continued) == (7, 1, 2, 1)
    assert (result.imported, result.skipped, len(result.rejected)) == (1, 1, 1)
    assert result.accounted() == result.lines


# One worker and two -------------------------------------------------------------------------

@pytest.mark.slow  # worker processes
def test_a_deeply_nested_json_line_is_rejected_by_two_workers_as_by_one(
        export: list[str], tmp_path: Path) -> None:
    """It used to stop the import with a RecursionError in a worker, on every rerun."""
    lines = ["[" * 2000 + "]" * 2000 + "\n", *export[1:-1]]
    given = write(tmp_path / "deep.jsonl", lines)
    said = []
    for workers in (1, 2):
        result, summary = import_json(given, f"sqlite:///{tmp_path / f'{workers}.db'}",
                                      "--workers", str(workers),
                                      "--rejects", str(tmp_path / f"{workers}.rejects"))
        assert result.exit_code == 8, result.output
        assert summary is not None
        said.append({**summary, "rejects_file": None})
        assert (tmp_path / f"{workers}.rejects").read_text(encoding="utf-8") == lines[0]
    assert said[0] == said[1]
    assert said[0]["imported"] == len(case_indexes(export))
    assert [r["line"] for r in said[0]["rejected"]] == [1]


def test_csv_reader_quirks_are_what_the_import_relies_on() -> None:
    """A record the reader gives up on ends at the line where it gave up: the next starts on
    the next line (the reject file keeps exactly the lines the record took)."""
    reader = csv.reader(["a,b\n", '"' + "x" * 131_073 + '",c\n', "d,e\n"])
    assert next(reader) == ["a", "b"]
    with pytest.raises(csv.Error):
        next(reader)
    assert (next(reader), reader.line_num) == (["d", "e"], 3)
