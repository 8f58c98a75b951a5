"""Bad input loses nothing: the field parser and both importers, fed whatever hypothesis makes.

Whatever arrives, the engine either takes it or refuses it with one of its own errors
(a CaseworkError); an importer sets each bad line aside with its number and reason and keeps
every good one, exactly as an import of the good lines alone would have stored it.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner
from hypothesis import event, given, settings
from hypothesis import strategies as st

from casework import Actor, Casework, CaseworkError, InvalidField, Organisation
from casework.audit import audit
from casework.demo import Simulation
from casework.fields import FIELD_TYPES, MAX_LENGTH, FieldSpec, coerce_fields
from casework.stored_cases import case_ids
from casework.transfer.jsonl import case_line, export_jsonl, import_jsonl
from casework.transfer.nyc311 import case_id_of, import_nyc311
from cli import cli
from projections import ReadModel
from projections.report import report
from workflows import ORGANISATION as ALL_UNITS

from .conftest import ORGANISATION, REGISTRY, new_app
from .support import mutated_lines

pytestmark = pytest.mark.slow  # subprocesses, several processes, or many examples

NYC_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "nyc311" / \
    "311_nyc_sample.csv"
NEW_YORK_AND_GUANLAN = Organisation.load(ALL_UNITS)

# Anything a caller might pass as a field's value.
values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary(),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.uuids(), st.sampled_from(["A", "guanlan/guancheng", "2024-05-01T09:00+08:00", "true",
                                 "9999-12-31T23:59-05:00", "0001-01-01", " 7 ", "x" * 4001,
                                 2**63, -2**63 - 1, 10**5000, "9" * 30]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2),
)
specs = st.builds(
    FieldSpec, name=st.just("f"), type=st.sampled_from(FIELD_TYPES), required=st.booleans(),
    choices=st.just(("A", "B", "C")), min=st.one_of(st.none(), st.integers(-5, 5)),
    max=st.one_of(st.none(), st.integers(5, 10)),
)


# The field parser -----------------------------------------------------------------------

@given(spec=specs, value=values)
def test_a_field_takes_a_value_or_refuses_it_with_invalid_field(spec: FieldSpec,
                                                                value: Any) -> None:
    try:
        stored = spec.coerce(value, ORGANISATION)
    except InvalidField as error:
        assert error.field == "f" and "\n" not in str(error)
        return
    if spec.type in MAX_LENGTH:
        assert isinstance(stored, str) and len(stored) <= MAX_LENGTH[spec.type]
        allowed = "\n\t" if spec.type == "text" else ""
        assert all(unicodedata.category(ch) not in ("Cc", "Cs") or ch in allowed
                   for ch in stored)  # no control characters, no bytes that were not UTF-8
    if spec.type == "datetime":
        assert stored.tzinfo is not None
        stored + timedelta(hours=168 * 10)  # any grade's deadline can be added to it
    if spec.type == "unit":
        assert stored in ORGANISATION
    if spec.type == "case":
        assert UUID(stored)
    if spec.type == "integer":
        assert -2**63 <= stored < 2**63  # a database integer holds it
    json.dumps(stored, default=str)  # it can go into an event


@given(given_fields=st.dictionaries(
    st.sampled_from(["channel", "title", "description", "location", "grade", "nonsense", ""]),
    values, max_size=5))
def test_the_fields_of_a_trigger_are_taken_or_refused_together(given_fields: dict) -> None:
    trigger = REGISTRY.get("petition").opening
    try:
        coerced = coerce_fields(trigger.fields, given_fields, ORGANISATION, "open")
    except InvalidField:
        return
    assert set(coerced) <= set(trigger.fields)
    assert {"channel", "title"} <= set(coerced)


@settings(max_examples=60)
@given(fields=st.dictionaries(st.sampled_from(["channel", "title", "location", "phone", "x"]),
                              values, max_size=4),
       at=st.one_of(st.none(), values), actor=st.one_of(st.text(max_size=5), values))
def test_opening_a_case_with_anything_opens_it_or_records_nothing(fields: dict, at: Any,
                                                                  actor: Any) -> None:
    app = new_app()
    try:
        app.open_case("petition", Actor(actor, roles=["intake"]), at, **fields)
    except CaseworkError as error:
        assert "\n" not in str(error)
        assert app.recorder.max_notification_id() in (None, 0)
    finally:
        app.close()


# JSON Lines -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def export() -> Iterator[list[str]]:
    """A real export: a few days of every kind of case, one line each (without the persons'
    key lines: the lines here are cases, whose personal fields stay encrypted as they are;
    and without the opening and closing lines)."""
    app = new_app()
    Simulation(app, petitions=8, enterprise_requests=3, volunteer_tasks=3).run()
    out = io.StringIO()
    export_jsonl(app, out, with_keys=False)
    app.close()
    yield out.getvalue().splitlines(keepends=True)[1:-1]


def as_read(data: bytes) -> list[str]:
    """Lines as `casework import` reads them: UTF-8, each byte that is not kept as itself, a
    line ending at a line feed (and only there)."""
    return io.StringIO(data.decode("utf-8", errors="surrogateescape"), newline="\n").readlines()


@settings(max_examples=100)
@given(data=st.binary(max_size=2000))
def test_jsonl_import_of_arbitrary_bytes_rejects_them_line_by_line(data: bytes) -> None:
    app = new_app()
    try:
        lines = as_read(data)
        result = import_jsonl(app, lines)
        # blank: JSON's own white space at most
        nonblank = [number for number, line in enumerate(lines, 1) if line.strip(" \t\r\n")]
        assert [line for line, _ in result.rejected] == nonblank
        assert result.imported == 0
    finally:
        app.close()


@settings(max_examples=60)
@given(data=st.data())
def test_jsonl_import_keeps_every_good_line_of_a_file_with_mutated_ones(
        export: list[str], data: Any) -> None:
    good = data.draw(st.lists(st.sampled_from(range(len(export))), unique=True, min_size=1,
                              max_size=len(export) - 2), label="good lines")
    # Mutations of the other cases: two versions of one case are one too many, not a bad line.
    others = [index for index in range(len(export)) if index not in good]
    bad = data.draw(st.lists(st.sampled_from(others), min_size=1, max_size=6), label="bad")
    lines = [export[i] for i in good]
    for index in bad:
        mutated = data.draw(mutated_lines(export[index]), label="mutation")
        lines.insert(data.draw(st.integers(0, len(lines))), mutated)
    app = new_app()
    try:
        result = import_jsonl(app, lines, batch_size=data.draw(st.integers(1, 5)))
        bad_lines = {number for number, _ in result.rejected}
        for number, line in enumerate(lines, 1):
            if line in (export[i] for i in good):
                assert number not in bad_lines, (number, result.rejected)
                case_id = UUID(json.loads(line)["id"])
                # stored exactly as the line says, as an import of the good lines alone would
                assert case_line(case_id, list(app.events.get(case_id))) + "\n" == line
        assert result.imported + result.skipped + len(result.rejected) + result.blank == len(
            lines) == result.lines
        event(f"a mutated line was taken: {result.imported > len(good)}")
        # whatever was taken, the read model takes too, and the audit finds nothing
        read_model = ReadModel(app)
        try:
            report(read_model).as_dict()
        finally:
            read_model.close()
        assert audit(app).clean
    finally:
        app.close()


# NYC 311 --------------------------------------------------------------------------------

nyc_data = pytest.mark.skipif(not NYC_SAMPLE.is_file(), reason=f"no {NYC_SAMPLE}")


@pytest.fixture(scope="module")
def nyc_rows() -> tuple[str, list[str], list[str]]:
    """The header and 30 rows of a real extract that import cleanly, and their keys."""
    with NYC_SAMPLE.open(encoding="utf-8", newline="") as file:
        lines = file.read().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    app = Casework("sqlite:///:memory:", workflows=REGISTRY, organisation=NEW_YORK_AND_GUANLAN)
    rejected = {line for line, _ in import_nyc311(app, [header, *rows]).rejected}
    app.close()
    good = [row for number, row in enumerate(rows, 2) if number not in rejected][:30]
    keys = [next(csv.reader([row]))[0] for row in good]
    return header, good, keys


@st.composite
def bad_rows(draw: Any, header: str, good: list[str]) -> str:
    """A row that is not one of the good ones: a real row with a cell changed, arbitrary
    cells, or arbitrary bytes (never with a quote or line break, which would join lines)."""
    width = len(next(csv.reader([header])))
    how = draw(st.sampled_from(["cell", "cells", "bytes"]))
    if how == "bytes":
        data = draw(st.binary(min_size=1, max_size=300).map(
            lambda b: b.replace(b'"', b"").replace(b"\n", b"").replace(b"\r", b"")))
        return data.decode("utf-8", errors="surrogateescape") + "\n"
    text = st.text(st.characters(codec="utf-8"), max_size=30)
    if how == "cells":
        cells = draw(st.lists(text, min_size=0, max_size=width + 2))
    else:
        cells = next(csv.reader([draw(st.sampled_from(good))]))
        column = draw(st.integers(0, width - 1))
        cells[column] = draw(st.one_of(text, st.sampled_from([
            "12/31/9999 11:59:59 PM", "01/01/0001 12:00:00 AM", "02/30/2024 10:00:00 AM",
            "NOPE", "", "x" * 5000, "\x00", "\udcff"])))
    if cells:
        cells[0] = f"fuzz-{cells[0]}"  # never the key of a good row: that would be a duplicate
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


@nyc_data
@settings(max_examples=60)
@given(data=st.data())
def test_nyc311_import_keeps_every_good_row_of_a_file_with_bad_ones(
        nyc_rows: tuple[str, list[str], list[str]], data: Any) -> None:
    header, good, keys = nyc_rows
    chosen = data.draw(st.lists(st.sampled_from(range(len(good))), unique=True, min_size=1,
                                max_size=10), label="good rows")
    lines = [good[i] for i in chosen]
    for _ in range(data.draw(st.integers(1, 6))):
        lines.insert(data.draw(st.integers(0, len(lines))), data.draw(bad_rows(header, good)))
    chunk = data.draw(st.integers(1, 4))
    fuzzed, alone = (Casework("sqlite:///:memory:", workflows=REGISTRY,
                              organisation=NEW_YORK_AND_GUANLAN) for _ in range(2))
    try:
        result = import_nyc311(fuzzed, [header, *lines], chunk_rows=chunk)
        import_nyc311(alone, [header, *(good[i] for i in chosen)])
        for i in chosen:
            case_id = case_id_of(keys[i])
            assert _business(fuzzed, case_id) == _business(alone, case_id)
        assert result.imported >= len(chosen)
    finally:
        fuzzed.close()
        alone.close()


def _business(app: Casework, case_id: UUID) -> list[tuple]:
    """The case's history without recording times and hashes (which differ between runs)."""
    return [(e.sequence, e.at, e.actor, e.role, e.trigger, e.from_state, e.to_state,
             e.fields, e.changes) for e in app.history(case_id)]


@settings(max_examples=60)
@given(data=st.binary(max_size=2000))
def test_nyc311_import_of_arbitrary_bytes_after_a_header_rejects_or_imports(
        nyc_rows: tuple[str, list[str], list[str]], data: bytes) -> None:
    header, _, _ = nyc_rows
    app = Casework("sqlite:///:memory:", workflows=REGISTRY, organisation=NEW_YORK_AND_GUANLAN)
    try:
        import_nyc311(app, [header, *as_read(data)])
    finally:
        app.close()


def test_times_far_out_of_range_are_refused_not_overflowed() -> None:
    spec = FieldSpec("due", "datetime")
    for value in ["9999-12-31T23:59-05:00", "0001-01-01T00:00+05:00", datetime.max,
                  datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
                  datetime(1, 1, 1, tzinfo=UTC), "2024-05-01T09:00\x00"]:
        with pytest.raises(InvalidField):
            spec.coerce(value)



# The command line ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with one petition, assessed: what the fuzzed commands act on."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'cases.db'}"
    app = Casework(url)
    case_id = app.open_case("petition", Actor("li", ["intake"]), datetime(2024, 5, 1, tzinfo=UTC),
                            channel="hotline", title="x")
    app.fire(case_id, "assess", Actor("li", ["assessor"]), datetime(2024, 5, 1, tzinfo=UTC),
             grade="B", category="road")
    app.close()
    return url


# What a shell can pass: any text, with bytes that are not UTF-8 arriving surrogate-escaped.
argv_text = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from(
    ["\udcff", "\udc80", "\x00", "=", "/"]), max_size=12) | st.sampled_from(
    ["guanlan/guancheng", "9999-12-31T23:59-05:00", "2024-05-02T09:00+08:00", "x" * 201])


@settings(max_examples=60)
@given(kind=st.sampled_from(["petition", "volunteer_task"]) | argv_text,
       pairs=st.lists(st.tuples(st.sampled_from(["channel", "title", "location", "phone",
                                                 "volunteers_needed"]) | argv_text,
                                argv_text | st.sampled_from(["hotline", "3"])), max_size=4),
       at=st.none() | argv_text, actor=argv_text, case_trigger=st.booleans(),
       trigger=st.sampled_from(["dispatch", "reject", "merge"]) | argv_text)
def test_any_command_line_is_done_or_refused_in_one_line_with_a_documented_code(
        cli_db: str, kind: str, pairs: list[tuple[str, str]], at: str | None, actor: str,
        case_trigger: bool, trigger: str) -> None:
    app = Casework(cli_db)
    case_id = str(next(iter(case_ids(app))))
    before = app.recorder.max_notification_id()
    app.close()
    fields = [f"{name}={value}" for name, value in pairs]
    if case_trigger:
        args = ["fire", case_id, trigger, *fields]
    else:
        args = ["open", kind, *(arg for field in fields for arg in ("-f", field))]
    args += ["--db", cli_db, "--actor", actor, "--role", "intake,assessor,dispatcher"]
    if at is not None:
        args += ["--at", at]

    result = CliRunner().invoke(cli, args, env={"CASEWORK_DB": None, "CASEWORK_ACTOR": None})

    assert isinstance(result.exception, SystemExit), result.exception  # never a traceback
    assert result.exit_code in (0, 2, 3, 4, 5), (result.exit_code, result.stderr)
    if result.exit_code:
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("casework: ")
        app = Casework(cli_db)
        assert app.recorder.max_notification_id() == before  # a refused command records nothing
        app.close()
