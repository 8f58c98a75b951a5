"""`casework import --workers N`: the cases split by id across processes, with the same result
as one process — the same events per case, the same read model, the same rejects listed once
— on a SQLite file and on PostgreSQL, and a rerun after SIGKILL loses and doubles nothing."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from casework import Casework
from casework.audit import audit_digest
from casework.transfer.nyc311 import case_id_of
from cli import cli
from projections import ReadModel

from .conftest import database
from .support import (
    CLERK,
    COMMUNITIES,
    DATA,
    REPO,
    T0,
    business_history,
    casework_command,
    overdue_petitions,
    real_data,
    summary_rows,
)

pytestmark = pytest.mark.slow  # subprocesses, several processes, or many examples

NYC = DATA / "311_subset.micro.csv"


@pytest.fixture(params=["sqlite", "postgresql"])
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty databases that several processes can open: SQLite files, or PostgreSQL
    schemas."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'one.db'}", f"sqlite:///{tmp_path / 'two.db'}"
        return
    with database("postgresql") as one, database("postgresql") as two:
        yield one, two


def import_with(url: str, source: Path, workers: int, rejects: Path, *options: str
                ) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["import", str(source), "--db", url, "--workers",
                                      str(workers), "--rejects", str(rejects), "--json",
                                      *options])
    assert result.stdout.startswith("{"), result.output
    return result.exit_code, json.loads(result.stdout)


def read_model_rows(url: str, *without: str) -> list[dict[str, Any]]:
    app = Casework(url)
    read_model = ReadModel(app)
    read_model.catch_up()
    rows = [{k: v for k, v in row.items() if k not in without} for row in summary_rows(read_model)]
    read_model.close()
    app.close()
    return rows


def nyc_sample(folder: Path, rows: int) -> Path:
    """The first ``rows`` requests of the real extract, then bad rows of every kind: one that
    closes before it was created, one without a Unique Key, one the CSV reader cannot read
    (a field over its size limit), one of the wrong width, a request repeated with other
    text, and a Unique Key that is not UTF-8."""
    with NYC.open(encoding="utf-8", newline="") as file:
        header, *body = list(csv.reader(file))
    good = body[:rows]
    closes_early = next(row for row in body if row[2] == "01/01/1900 12:00:00 AM")
    no_key = ["", *good[0][1:]]
    repeated = list(good[1])
    repeated[header.index("Descriptor")] = "something else"
    path = folder / "requests.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(good[: rows // 2])
        writer.writerows([closes_early, no_key, good[2][:5]])
        file.write('"' + "x" * 200_000 + '",row\n')
        writer.writerows([*good[rows // 2:], repeated])
    row = io.StringIO()
    csv.writer(row).writerow(["12-34", *good[3][1:]])
    with path.open("ab") as file:  # a Unique Key with a byte that is not UTF-8
        file.write(row.getvalue().encode().replace(b"12-34", b"12\xff34"))
    return path


@real_data
def test_an_nyc311_import_with_two_workers_equals_one(two_databases: tuple[str, str],
                                                      tmp_path: Path) -> None:
    source = nyc_sample(tmp_path, 120)
    one, two = two_databases
    status_one, by_one = import_with(one, source, 1, tmp_path / "one.rejects.csv",
                                     "--format", "nyc311")
    status_two, by_two = import_with(two, source, 2, tmp_path / "two.rejects.csv",
                                     "--format", "nyc311")

    assert status_one == status_two == 8
    assert by_one["imported"] == by_two["imported"] == 120
    assert by_one["skipped"] == by_two["skipped"] == 1  # the repeated request
    assert by_two["rejected"] == by_one["rejected"]
    assert len(by_one["rejected"]) == 5  # each bad row once, whichever worker read it
    assert by_two == {**by_one, "rejects_file": by_two["rejects_file"]}
    # 1 header, 120 good, 5 bad, 1 repeated
    assert (by_one["lines"], by_one["header"], by_one["blank"]) == (127, 1, 0)
    assert ((tmp_path / "two.rejects.csv").read_bytes()
            == (tmp_path / "one.rejects.csv").read_bytes())
    assert b"12\xff34" in (tmp_path / "one.rejects.csv").read_bytes()
    # The same events per case (the hashes cover the time of recording, which differs).
    with NYC.open(encoding="utf-8", newline="") as file:
        keys = [row["Unique Key"] for row in csv.DictReader(file)][:120]
    app_one, app_two = Casework(one), Casework(two)
    for key in keys:
        case_id = str(case_id_of(key))
        assert business_history(app_two, case_id) == business_history(app_one, case_id)
    assert read_model_rows(two, "head") == read_model_rows(one, "head")


def test_a_jsonl_import_with_two_workers_equals_one(two_databases: tuple[str, str],
                                                    tmp_path: Path) -> None:
    source_db = f"sqlite:///{tmp_path / 'source.db'}"
    source_app = Casework(source_db)
    overdue_petitions(source_app, 58)
    for n in range(2):  # with personal fields: the export starts with their keys
        case_id = source_app.open_case("petition", CLERK, T0, channel="hotline",
                                       title=f"call {n}", petitioner=f"resident {n}",
                                       phone="13800000000")
        # Dispatched like the others: export orders cases by random id, and the lines tampered
        # below need at least three events whichever case they turn out to be.
        source_app.fire(case_id, "assess", CLERK, T0, grade="A", category="road")
        source_app.fire(case_id, "dispatch", CLERK, T0, unit=COMMUNITIES[n])
    # Without its opening and closing lines (as exported by an older casework): imported line
    # by line.
    exported = CliRunner().invoke(cli, ["export", "--db", source_db]).stdout.splitlines()[1:-1]
    assert [json.loads(line).get("person") is not None for line in exported[:3]] == [
        True, True, False]
    tampered = json.loads(exported[3])
    tampered["events"][1]["fields"]["unit"] = "guanlan"
    other_events = json.loads(exported[4])
    other_events["events"] = other_events["events"][:2]
    lines = [*exported[:30], "not json", json.dumps(tampered), "",
             *exported[30:], json.dumps(other_events), exported[7]]
    source = tmp_path / "cases.jsonl"
    source.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "caf\xe9"}\n')
    one, two = two_databases

    status_one, by_one = import_with(one, source, 1, tmp_path / "one.rejects.jsonl")
    status_two, by_two = import_with(two, source, 2, tmp_path / "two.rejects.jsonl")

    assert status_one == status_two == 8
    counts = ("imported", "skipped", "keys")
    assert [by_two[c] for c in counts] == [by_one[c] for c in counts] == [60, 1, 2]
    assert by_two["rejected"] == by_one["rejected"]
    assert [r["line"] for r in by_one["rejected"]] == [31, 32, 66, 68]
    for summary in (by_one, by_two):  # every line accounted for, once
        assert (summary["lines"], summary["blank"], summary["keys_skipped"]) == (68, 1, 0)
    written = [sorted((tmp_path / f"{n}.rejects.jsonl").read_bytes().splitlines())
               for n in ("one", "two")]
    assert written[1] == written[0]
    assert b'{"id": "caf\xe9"}' in written[0]  # written back byte for byte
    assert audit_digest(Casework(two)) == audit_digest(Casework(one))
    assert read_model_rows(two) == read_model_rows(one)


def test_a_dry_run_with_workers_checks_every_row_and_stores_nothing(tmp_path: Path) -> None:
    source = tmp_path / "cases.jsonl"
    source_db = f"sqlite:///{tmp_path / 'source.db'}"
    overdue_petitions(Casework(source_db), 5)
    exported = CliRunner().invoke(cli, ["export", "--db", source_db]).stdout
    as_older = "".join(exported.splitlines(keepends=True)[1:-1])  # no opening, no closing
    source.write_text(as_older + "not json\n", encoding="utf-8")
    target = f"sqlite:///{tmp_path / 'target.db'}"
    status, summary = import_with(target, source, 2, tmp_path / "bad.jsonl", "--dry-run")
    assert (status, summary["imported"], summary["dry_run"]) == (8, 5, True)
    assert Casework(target).recorder.max_notification_id() in (None, 0)
    assert not (tmp_path / "bad.jsonl").exists()


@real_data
def test_an_import_by_two_workers_killed_part_way_finishes_on_the_rerun(
        tmp_path: Path) -> None:
    with NYC.open(encoding="utf-8", newline="") as file:
        header, *body = list(csv.reader(file))
    key = header.index("Unique Key")
    source = tmp_path / "requests.csv"
    with source.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for copy in range(3):  # 6,000 requests: a few seconds, so the kill lands part-way
            writer.writerows([*row[:key], f"{row[key]}-{copy}", *row[key + 1:]]
                             for row in body)
    database_file = tmp_path / "kill.db"
    command = [*casework_command(), "import", str(source), "--format", "nyc311",
               "--db", f"sqlite:///{database_file}", "--workers", "2", "--json",
               "--rejects", str(tmp_path / "rejects.csv")]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}

    # In a session of its own: the kill takes the workers down with the command, as when a
    # machine or its service manager stops it.
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if database_file.exists() and _stored_cases(database_file) > 0:
            break
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    stored_when_killed = _stored_cases(database_file)
    assert 0 < stored_when_killed < 6000 - 3, "the kill should land part-way"

    rerun = subprocess.run(command, env=environment, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 8, rerun.stderr  # the request that closes before it opens
    summary = json.loads(rerun.stdout)
    assert summary["imported"] + summary["skipped"] == 6000 - 3
    assert summary["skipped"] == stored_when_killed
    assert [r["line"] for r in summary["rejected"]] == [1604, 3604, 5604]
    app = Casework(f"sqlite:///{database_file}")
    events = 0
    for copy in range(3):
        for row in body:
            if row[2] == "01/01/1900 12:00:00 AM":
                continue
            history = app.history(str(case_id_of(f"{row[key]}-{copy}")))
            closed = row[header.index("Status")].strip().lower() == "closed" and row[2]
            assert [e.trigger for e in history][:4] == ["open", "assess", "dispatch", "accept"]
            assert len(history) == (6 if closed else 4)
            events += len(history)
    assert app.recorder.max_notification_id() == events  # nothing doubled


def _stored_cases(database_file: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(database_file, timeout=30) as conn:
            return conn.execute("SELECT COUNT(DISTINCT originator_id) FROM stored_events"
                                ).fetchone()[0]
    except sqlite3.OperationalError:  # no table yet
        return 0


def test_a_file_that_is_not_nyc311_is_refused_by_workers_as_by_one(tmp_path: Path) -> None:
    """A worker's refusal reaches the user as one process says it: its message and exit."""
    notes = tmp_path / "notes.csv"
    notes.write_text("name,phone\nLiu,139\n", encoding="utf-8")
    said = []
    for workers in (1, 2):
        result = CliRunner().invoke(cli, ["import", str(notes), "--format", "nyc311",
                                          "--workers", str(workers),
                                          "--db", f"sqlite:///{tmp_path / 'cases.db'}"])
        said.append((result.exit_code, result.stderr))

    assert said[0] == said[1]
    assert said[0][0] == 2 and said[0][1].count("\n") == 1
    assert "not an NYC 311 file" in said[0][1]
