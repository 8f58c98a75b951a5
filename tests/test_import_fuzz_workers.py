"""Mutated exports and NYC 311 files, imported by one worker and by two: the same result.

For every file hypothesis makes: the summary's counts add up to the file's lines; every
rejected record is in the reject file as it was read; every accepted line is in the store,
and nothing else is; an export cut short, reordered, joined or edited is refused whole, with
one line naming what differs, and nothing is stored.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from casework import Casework, Organisation
from casework.demo import Simulation
from casework.stored_cases import case_ids
from casework.transfer.jsonl import case_line, export_jsonl
from casework.transfer.nyc311 import case_id_of, import_nyc311
from cli import cli
from workflows import ORGANISATION as ALL_UNITS

from .conftest import REGISTRY, new_app
from .support import DATA, mutated_lines, rehashed

pytestmark = pytest.mark.slow  # worker processes, and many examples

FEW = settings(max_examples=12, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
               # Each example starts worker processes: shrinking a failure would take many
               # minutes, so hypothesis reports the example as it found it.
               phases=[Phase.explicit, Phase.reuse, Phase.generate])
COUNTS = ("imported", "skipped", "keys", "keys_skipped", "blank", "header", "continued",
          "closing")
NYC_SAMPLE = DATA / "311_nyc_sample.csv"


@dataclass
class Imported:
    exit_code: int
    stderr: str
    summary: dict[str, Any] | None
    rejects: bytes | None
    url: str


def import_by(workers: int, data: bytes, folder: Path, *options: str) -> Imported:
    """``casework import`` of ``data`` into a fresh SQLite file, with ``workers``."""
    source, rejects = folder / f"given.{workers}", folder / f"rejects.{workers}"
    source.write_bytes(data)
    url = f"sqlite:///{folder / f'{workers}.db'}"
    result = CliRunner().invoke(cli, ["import", str(source), "--db", url, "--json", "--workers",
                                      str(workers), "--rejects", str(rejects), *options],
                                env={"CASEWORK_DB": None})
    summary = json.loads(result.stdout) if result.stdout.startswith("{") else None
    if summary is not None:
        summary.pop("rejects_file")
    return Imported(result.exit_code, result.stderr, summary,
                    rejects.read_bytes() if rejects.exists() else None, url)


def one_and_two(data: bytes, *options: str) -> Iterator[Imported]:
    """The import by one worker and by two, checked alike; yields the first."""
    with tempfile.TemporaryDirectory() as folder:
        one, two = (import_by(workers, data, Path(folder), *options) for workers in (1, 2))
        assert one.summary == two.summary, (one.stderr, two.stderr)
        assert (one.exit_code, one.rejects) == (two.exit_code, two.rejects), two.stderr
        yield one


def lines_of(data: bytes) -> list[bytes]:
    """The file's lines as an editor numbers them: each ends at a line feed."""
    return re.findall(rb"[^\n]*\n|[^\n]+\Z", data)


def accounts_for_every_line(summary: dict[str, Any], data: bytes) -> None:
    assert summary["lines"] == len(lines_of(data))
    assert sum(summary[name] for name in COUNTS) + len(summary["rejected"]) == summary["lines"]


def as_kept(line: bytes) -> bytes:
    return line if line.endswith(b"\n") else line + b"\n"


def stored(url: str) -> Casework:
    return Casework(url, workflows=REGISTRY, organisation=Organisation.load(ALL_UNITS))


# Exports --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def export() -> list[str]:
    """A real export with persons' keys: opening line, keys, cases, closing line."""
    app = new_app()
    Simulation(app, petitions=6, enterprise_requests=2, volunteer_tasks=2).run()
    out = io.StringIO()
    export_jsonl(app, out)
    app.close()
    return out.getvalue().splitlines(keepends=True)


@st.composite
def older_export_mutated(draw: Any, export: list[str]) -> bytes:
    """An export as older casework wrote them (no opening or closing line), with lines left
    out, mutated, repeated, blank, too deep, not UTF-8, with carriage returns, and perhaps
    without the last line break."""
    body = export[1:-1]
    lines = [body[i] for i in draw(st.lists(st.sampled_from(range(len(body))), unique=True,
                                            min_size=1))]
    for _ in range(draw(st.integers(0, 6))):
        original = draw(st.sampled_from(body))
        line = draw(st.sampled_from([
            "mutated", "\n", " \t\r\n", "[" * 3000 + "]" * 3000 + "\n", original,
            original.replace("\n", "\r\n"), '{"id": "caf\udce9"}\n',
            re.sub(r'"key":"[^"]*"', '"key":"' + "A" * 43 + '="', original)]))
        if line == "mutated":
            line = draw(mutated_lines(original))
        lines.insert(draw(st.integers(0, len(lines))), line)
    data = "".join(lines).encode("utf-8", errors="surrogateescape")
    return data.rstrip(b"\n") if draw(st.booleans()) else data


@FEW
@given(data=st.data())
def test_an_older_export_mutated_is_imported_line_by_line_by_one_worker_as_by_two(
        export: list[str], data: Any) -> None:
    given_bytes = data.draw(older_export_mutated(export), label="file")
    for one in one_and_two(given_bytes):
        assert one.exit_code in (0, 8), one.stderr
        assert one.summary is not None and not one.summary["checked"]
        accounts_for_every_line(one.summary, given_bytes)
        lines = lines_of(given_bytes)
        rejected = {r["line"] for r in one.summary["rejected"]}
        assert (one.rejects or b"") == b"".join(as_kept(lines[n - 1]) for n in sorted(rejected))
        in_store(one.url, [line for n, line in enumerate(lines, 1) if n not in rejected])


def in_store(url: str, accepted: list[bytes]) -> None:
    """Every accepted case and key is in the store as its line says, and nothing else is."""
    app = stored(url)
    try:
        cases, persons = {}, set()
        for line in accepted:
            if not line.strip(b" \t\r\n"):
                continue  # blank
            record = json.loads(line)
            if isinstance(record, dict) and "id" in record:
                cases[UUID(str(record["id"]))] = record
            elif isinstance(record, dict) and "person" in record:
                persons.add(str(record["person"]))
        assert set(case_ids(app)) == set(cases)
        for case_id, record in cases.items():
            assert json.loads(case_line(case_id, list(app.events.get(case_id)))) == record
        assert persons <= {row["person"] for row in app.personal.records()}
    finally:
        app.close()


@st.composite
def export_not_whole(draw: Any, export: list[str]) -> tuple[str, bytes]:
    """The export cut short, reordered, joined or edited: what was done, and the file."""
    lines = list(export)
    cases = [i for i, line in enumerate(lines) if line.startswith('{"id"')]
    persons = [i for i, line in enumerate(lines) if line.startswith('{"person"')]
    how = draw(st.sampled_from(["cut events", "cut file", "swap cases", "case after closing",
                                "drop case", "drop person", "case twice", "events rehashed",
                                "joined"]))
    if how in ("cut events", "events rehashed"):  # a case with events to cut or swap
        cases = [i for i in cases if len(json.loads(lines[i])["events"]) > 2]
    chosen = draw(st.sampled_from(cases))
    record = json.loads(lines[chosen])
    if how == "cut events":
        record["events"] = record["events"][:draw(st.integers(1, len(record["events"]) - 1))]
        lines[chosen] = json.dumps(record) + "\n"
    elif how == "cut file":
        data = "".join(lines).encode()
        return how, data[:draw(st.integers(len(lines[0]), len(data) - 1))]
    elif how == "swap cases":
        other = draw(st.sampled_from([i for i in cases if i != chosen]))
        lines[chosen], lines[other] = lines[other], lines[chosen]
    elif how == "case after closing":
        lines.append(lines.pop(chosen))
    elif how in ("drop case", "drop person"):
        del lines[chosen if how == "drop case" else draw(st.sampled_from(persons))]
    elif how == "case twice":
        lines.insert(chosen, lines[chosen])
    elif how == "events rehashed":  # the last two events the other way round, chain recomputed
        record["events"][-2:] = [dict(e, version=v) for e, v in zip(
            record["events"][:-3:-1], (len(record["events"]) - 1, len(record["events"])),
            strict=True)]
        lines[chosen] = json.dumps(rehashed(record)) + "\n"
    else:
        lines += export
    return how, "".join(lines).encode()


@settings(FEW, max_examples=40)  # refused before any worker starts: quick
@given(data=st.data())
def test_an_export_cut_short_or_reordered_is_refused_by_one_worker_as_by_two(
        export: list[str], data: Any) -> None:
    how, given_bytes = data.draw(export_not_whole(export), label="file")
    for one in one_and_two(given_bytes):
        assert one.exit_code == 1, (how, one.stderr)
        said = one.stderr.splitlines()
        assert len(said) == 1 and said[0].startswith("casework: "), said
        assert "nothing was imported" in said[0] and "line" in said[0], said
        assert one.rejects is None
        app = stored(one.url)
        assert not app.recorder.max_notification_id(), how
        app.close()


def test_the_export_itself_is_imported_whole_by_one_worker_as_by_two(
        export: list[str]) -> None:
    given_bytes = "".join(export).encode()
    for one in one_and_two(given_bytes):
        assert one.exit_code == 0 and one.summary is not None, one.stderr
        assert one.summary["checked"] and one.summary["closing"] == one.summary["header"] == 1
        accounts_for_every_line(one.summary, given_bytes)
        in_store(one.url, lines_of(given_bytes)[1:-1])


# NYC 311 ----------------------------------------------------------------------------------

nyc_data = pytest.mark.skipif(not NYC_SAMPLE.is_file(), reason=f"no {NYC_SAMPLE}")


@pytest.fixture(scope="module")
def nyc_rows() -> tuple[list[str], list[list[str]]]:
    """The header and 20 rows of a real extract that import cleanly."""
    with NYC_SAMPLE.open(encoding="utf-8", newline="") as file:
        header, *rows = list(csv.reader(file))
    app = stored("sqlite:///:memory:")
    lines = [",".join(header) + "\n"] + [row_text(row, "\n") for row in rows[:60]]
    rejected = {line for line, _ in import_nyc311(app, lines).rejected}
    app.close()
    return header, [row for n, row in enumerate(rows[:60], 2) if n not in rejected][:20]


def row_text(cells: list[str], ending: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator=ending).writerow(cells)
    return out.getvalue()


@dataclass(frozen=True)
class Chunk:
    text: str
    kind: str
    """good, blank or bad"""
    key: str = ""


@st.composite
def nyc_file(draw: Any, header: list[str], good: list[list[str]]) -> list[Chunk]:
    """Records whose lines are known: real rows (some with line breaks in a field, some
    ending in CRLF, some repeated), blank lines, and bad records of every kind the reader or
    the importer refuses; perhaps a quote never closed at the end."""
    chunks = [Chunk(row_text(header, "\r\n"), "header")]
    key, descriptor, agency = (header.index(name) for name in
                               ("Unique Key", "Descriptor", "Agency"))
    for number in range(draw(st.integers(1, 12))):
        row = list(draw(st.sampled_from(good)))
        ending = draw(st.sampled_from(["\n", "\r\n"]))
        how = draw(st.sampled_from(["good", "good", "broken field", "blank", "wide", "huge",
                                    "carriage return", "not utf-8", "no agency"]))
        if how in ("good", "broken field"):
            if how == "broken field":
                row[descriptor] = "on two\nlines"
            chunks.append(Chunk(row_text(row, ending), "good", row[key]))
            continue
        if how == "blank":
            chunks.append(Chunk(draw(st.sampled_from(["\n", "\r\n"])), "blank"))
            continue
        row[key] = f"fuzz-{number}"
        chunks.append(Chunk(bad_record(how, row, ending, agency), "bad"))
    if draw(st.booleans()):
        chunks.append(Chunk('fuzz-end,"never closed\nat all', "bad"))
    return chunks


def bad_record(how: str, row: list[str], ending: str, agency: int) -> str:
    """A record the CSV reader cannot read, or the importer refuses (its key starts fuzz-)."""
    if how == "wide":
        return row_text([*row, "extra"], ending)
    if how == "no agency":
        return row_text([*row[:agency], "XYZ", *row[agency + 1:]], ending)
    text = row_text(row, ending)
    if how == "huge":  # over the CSV reader's field limit
        return text.replace(",", "," + "x" * 131_073, 1)
    if how == "carriage return":  # in a field without quotes
        return text.replace(",", ",a\rb", 1)
    return text.replace("fuzz", "fu\udcffzz", 1)  # a byte that is not UTF-8


@nyc_data
@FEW
@given(data=st.data())
def test_an_nyc311_file_with_bad_records_is_imported_by_one_worker_as_by_two(
        nyc_rows: tuple[list[str], list[list[str]]], data: Any) -> None:
    header, good = nyc_rows
    chunks = data.draw(nyc_file(header, good), label="records")
    given_bytes = "".join(c.text for c in chunks).encode("utf-8", errors="surrogateescape")
    starts = [1]
    for chunk in chunks:
        starts.append(starts[-1] + len(lines_of(chunk.text.encode("utf-8", "surrogateescape"))))
    for one in one_and_two(given_bytes, "--format", "nyc311"):
        assert one.summary is not None, one.stderr
        accounts_for_every_line(one.summary, given_bytes)
        reasons = {r["line"]: r["reason"] for r in one.summary["rejected"]}
        bad = [start for start, c in zip(starts, chunks, strict=False) if c.kind == "bad"]
        assert sorted(reasons) == bad
        assert one.summary["blank"] == sum(c.kind == "blank" for c in chunks)
        expected = b"".join(reject_row(n, reasons[n], c.text) for n, c in
                            zip(starts, chunks, strict=False) if c.kind == "bad")
        assert one.rejects == ((row_text(["line", "reason", *header], "\r\n").encode()
                                + expected) if bad else None)
        keys = {c.key for c in chunks if c.kind == "good"}
        assert (one.summary["imported"], one.summary["skipped"]) == (
            len(keys), sum(c.kind == "good" for c in chunks) - len(keys))
        app = stored(one.url)
        assert set(case_ids(app)) == {case_id_of(key) for key in keys}
        app.close()


def reject_row(line: int, reason: str, text: str) -> bytes:
    """The record in the reject file: its line and reason, then its bytes as they were."""
    return (row_text([str(line), reason], "") + "," + text
            + ("" if text.endswith("\n") else "\n")).encode("utf-8", "surrogateescape")
