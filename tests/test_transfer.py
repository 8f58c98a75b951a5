"""Export and import as JSON Lines: a copy of the store that is the same store.

An export imported into an empty database gives every case the same events (ids, versions,
recorded times, hashes), hence the same histories, reports and audit digest. A bad line is
set aside with its line number and why; the good ones are kept; nothing is half-imported.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from casework import Casework
from casework.audit import audit_digest
from casework.demo import Simulation
from casework.stored_cases import case_ids
from casework.transfer.jsonl import export_jsonl, import_jsonl
from cli import cli
from projections import ReadModel
from projections.report import report

from .conftest import new_app
from .support import rehashed

NOW = datetime.fromisoformat("2024-06-01T00:00:00+08:00")


@pytest.fixture(scope="module")
def simulated() -> Iterator[Casework]:
    """A simulated month, as the engine recorded it."""
    app = new_app()
    Simulation(app, petitions=60, enterprise_requests=15, volunteer_tasks=10).run()
    yield app
    app.close()


@pytest.fixture(scope="module")
def exported(simulated: Casework) -> str:
    out = io.StringIO()
    export_jsonl(simulated, out)
    return out.getvalue()


@pytest.fixture
def empty() -> Iterator[Casework]:
    app = new_app()
    yield app
    app.close()


def lines_of(text: str) -> list[str]:
    """The export's case lines (the opening line and the persons' keys come first, one line
    each, and the closing line last)."""
    return [line for line in text.splitlines(keepends=True) if line.startswith('{"id"')]


def person_lines(text: str) -> list[str]:
    return [line for line in text.splitlines(keepends=True) if line.startswith('{"person"')]


def figures(app: Casework) -> dict[str, Any]:
    read_model = ReadModel(app)
    try:
        return report(read_model, by="community", now=NOW).as_dict()
    finally:
        read_model.close()


# A copy that is the same store ---------------------------------------------------------

def test_an_export_imported_into_an_empty_database_is_the_same_store(
        simulated: Casework, exported: str, empty: Casework) -> None:
    cases = list(case_ids(simulated))
    assert len(lines_of(exported)) == len(cases)

    result = import_jsonl(empty, io.StringIO(exported))

    assert (result.imported, result.skipped, result.rejected) == (len(cases), 0, [])
    for case_id in cases:
        assert empty.history(case_id) == simulated.history(case_id)
        assert empty.get_case(case_id) == simulated.get_case(case_id)
    assert figures(empty) == figures(simulated)
    assert audit_digest(empty) == audit_digest(simulated)
    again = io.StringIO()
    export_jsonl(empty, again)
    assert again.getvalue() == exported


def test_every_line_is_one_case_with_its_events_and_times_in_iso_8601(exported: str) -> None:
    record = json.loads(lines_of(exported)[0])
    assert set(record) == {"id", "kind", "events"}
    opened = record["events"][0]
    assert (opened["type"], opened["version"], opened["trigger"]) == ("Opened", 1, "open")
    assert {"timestamp", "at", "actor_id", "role", "to_state", "fields", "changes",
            "hash"} <= set(opened)
    assert datetime.fromisoformat(opened["at"]).tzinfo is not None
    deadlines = [event for line in lines_of(exported)
                 for event in json.loads(line)["events"] if "deadline" in event["changes"]]
    assert deadlines and all("/changes/deadline" in event["datetimes"] for event in deadlines)


def test_importing_again_adds_nothing(exported: str, empty: Casework) -> None:
    import_jsonl(empty, io.StringIO(exported))
    events = empty.recorder.max_notification_id()

    result = import_jsonl(empty, io.StringIO(exported))

    assert (result.imported, result.skipped, result.rejected) == (0, len(lines_of(exported)), [])
    assert empty.recorder.max_notification_id() == events


# Bad lines -----------------------------------------------------------------------------

def test_bad_lines_are_set_aside_with_their_numbers_and_the_good_ones_kept(
        exported: str, empty: Casework) -> None:
    good = lines_of(exported)
    broken_chain = json.loads(good[3])
    broken_chain["events"][1]["actor_id"] = "somebody-else"
    unknown_workflow = rehashed(json.loads(good[4]))
    unknown_workflow["events"][0]["workflow_version"] = 99
    unknown_workflow = rehashed(unknown_workflow)
    lines = [good[0], good[1], "{not json\n", json.dumps(broken_chain) + "\n", good[2],
             json.dumps(unknown_workflow) + "\n", "\n", good[5]]
    rejects = io.StringIO()

    result = import_jsonl(empty, iter(lines), rejects=rejects)

    assert result.imported == 4
    assert [line for line, _ in result.rejected] == [3, 4, 6]
    reasons = dict(result.rejected)
    assert reasons[3].startswith("not valid JSON")
    assert reasons[4] == ("event 2: hash does not match the event's content and the previous "
                          "event's hash: edited or inserted after it was recorded")
    assert reasons[6] == (f"event 1: runs under {unknown_workflow['kind']} v99, a workflow "
                          "not installed here")
    assert rejects.getvalue() == lines[2] + lines[3] + lines[5]
    for line in (broken_chain, unknown_workflow):  # nothing of a rejected case is stored
        assert not empty.recorder.select_events(empty.parse_case_id(line["id"]))
    assert len(list(case_ids(empty))) == 4


def test_a_case_stored_with_other_events_is_rejected(exported: str, empty: Casework) -> None:
    first = json.loads(lines_of(exported)[0])
    shorter = rehashed({**first, "events": first["events"][:1]})
    import_jsonl(empty, [json.dumps(shorter)])

    result = import_jsonl(empty, [lines_of(exported)[0]])

    assert result.rejected == [(1, f"case {first['id']} already exists with other events")]
    assert len(empty.history(first["id"])) == 1


def test_a_line_missing_an_attribute_or_a_time_is_rejected(exported: str,
                                                           empty: Casework) -> None:
    no_role = json.loads(lines_of(exported)[0])
    del no_role["events"][0]["role"]
    no_times = json.loads(lines_of(exported)[0])
    no_times["events"][0]["datetimes"] = []

    result = import_jsonl(empty, [json.dumps(no_role), json.dumps(no_times)])

    assert result.rejected == [
        (1, "event #1 in the line: Opened: missing 1 required positional argument: 'role'"),
        (2, "event 1: has timestamp, at of the wrong type"),
    ]


# The command line ----------------------------------------------------------------------

def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"CASEWORK_DB": None}, prog_name="casework")


def test_export_then_import_on_the_command_line(tmp_path: Path, exported: str) -> None:
    original, copy = f"sqlite:///{tmp_path / 'original.db'}", f"sqlite:///{tmp_path / 'copy.db'}"
    (tmp_path / "given.jsonl").write_text(exported, encoding="utf-8")
    assert invoke("import", str(tmp_path / "given.jsonl"), "--db", original).exit_code == 0
    cases = tmp_path / "cases.jsonl"

    exported_now = invoke("export", "--db", original, "--output", str(cases))
    imported = invoke("import", str(cases), "--format", "jsonl", "--db", copy)
    again = invoke("import", str(cases), "--db", copy)

    assert exported_now.exit_code == 0, exported_now.output
    assert cases.read_text(encoding="utf-8") == exported
    total, keys = len(lines_of(exported)), len(person_lines(exported))
    assert keys > 0
    lines = total + keys + 2
    assert (imported.exit_code, imported.stdout) == (
        0, f"imported {total} cases (and {keys} persons' keys), skipped 0 already present; "
           f"{lines} lines (1 header, 1 closing), checked whole\n")
    assert (again.exit_code, again.stdout) == (  # the keys are there already: counted too
        0, f"imported 0 cases, skipped {total} already present (and {keys} persons' keys); "
           f"{lines} lines (1 header, 1 closing), checked whole\n")
    assert not (tmp_path / "cases.rejects.jsonl").exists()
    assert invoke("export", "--db", copy).stdout == exported


def test_import_with_bad_rows_lists_them_writes_them_aside_and_exits_8(
        tmp_path: Path, exported: str, monkeypatch: pytest.MonkeyPatch) -> None:
    good = lines_of(exported)[:3]
    (tmp_path / "data").mkdir()
    given = tmp_path / "data" / "cases.jsonl"  # the input's folder may be read-only
    monkeypatch.chdir(tmp_path)
    given.write_text("".join([good[0], "oops\n", good[1], *["[]\n"] * 11, good[2]]),
                     encoding="utf-8")

    result = invoke("import", str(given), "--db", f"sqlite:///{tmp_path / 'cases.db'}")

    assert result.exit_code == 8
    rejects = Path("cases.rejects.jsonl")  # in the working directory
    assert result.stdout == (f"imported 3 cases, skipped 0 already present, rejected 12 "
                             f"(written to {rejects}); 15 lines\n")
    assert not (tmp_path / "data" / "cases.rejects.jsonl").exists()
    shown = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert shown[:2] == ["line 2: not valid JSON (Expecting value: line 1 column 1 (char 0))",
                         "line 4: not a JSON object"]
    assert len(shown) == 10
    assert f"... and 2 more (all in {rejects})" in result.stderr.splitlines()
    assert rejects.read_text(encoding="utf-8") == "oops\n" + "[]\n" * 11


def test_import_can_write_its_rejects_elsewhere_and_report_as_json(tmp_path: Path) -> None:
    given, rejects = tmp_path / "cases.jsonl", tmp_path / "bad" / "rows.jsonl"
    given.write_text('{"id": 1}\n', encoding="utf-8")
    rejects.parent.mkdir()

    result = invoke("import", str(given), "--rejects", str(rejects), "--json",
                    "--db", f"sqlite:///{tmp_path / 'cases.db'}")

    assert result.exit_code == 8
    assert json.loads(result.stdout) == {
        "lines": 1, "imported": 0, "skipped": 0, "keys": 0, "keys_skipped": 0, "blank": 0,
        "header": 0, "continued": 0, "closing": 0, "checked": False, "digest": None,
        "rejects_file": str(rejects), "dry_run": False,
        "rejected": [{"line": 1, "reason": "a case has exactly the keys events, id, kind "
                                           "(this line has id)"}]}
    assert rejects.read_text(encoding="utf-8") == '{"id": 1}\n'


def test_import_of_a_file_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    result = invoke("import", str(tmp_path / "nowhere.jsonl"),
                    "--db", f"sqlite:///{tmp_path / 'cases.db'}")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("casework: ")
