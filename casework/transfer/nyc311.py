"""New York City 311 service requests, imported as petitions.

Each row of the NYC Open Data CSV becomes one petition that replays what the city recorded:

========  ==========  ==============================================================
trigger   at          with
========  ==========  ==============================================================
open      Created     channel from ``Open Data Channel Type``, title from ``Descriptor``
                      (else ``Complaint Type``), ``external_id`` = ``Unique Key``,
                      location = the borough, place = ``Incident Address`` (where the
                      problem is: not personal, unlike a petitioner's ``address``)
assess    Created     category = ``Complaint Type``, grade by ``grade_for``
dispatch  Created     unit = the ``Agency``'s department under ``nyc/``, due = ``Due Date``
accept    Created     (the agency took it on)
resolve   Closed      resolution = ``Resolution Description`` (or "closed"), when the
close     Closed      ``Status`` is Closed and there is a ``Closed Date``; otherwise the
                      petition stays in follow-up
========  ==========  ==============================================================

The case id is a UUID derived from the Unique Key, so importing a file twice adds nothing. A
row that cannot be imported (no key, a date that does not parse, closed before it was created,
an agency the organisation does not have, or any command the engine refuses) is rejected with
its line number and the reason, and nothing of it is recorded; the other rows are imported.
The file is read as a stream; one transaction saves a chunk of rows.

Dates are New York wall-clock time (``03/01/2011 02:27:57 PM``) and are recorded as such,
with their UTC offset (-05:00 or -04:00); a time that occurs twice when clocks go back is
taken as the first, a time skipped when they go forward with the offset before the change.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..actor import Actor
from ..application import Casework
from ..case import Case
from ..chunking import chunked
from ..concurrency import retried
from ..errors import CaseworkError
from ..organisation import DEPARTMENT
from ..workflow import Grade
from .csv_records import Record, Records
from .importing import OTHERS, ImportResult, Owner, Sink, invalid_utf8

NAMESPACE = UUID("8620e08f-b9dd-487e-9d8f-f3508956c9d7")
"""Fixed for good: a request's case id is ``uuid5(NAMESPACE, Unique Key)``."""

IMPORTER = Actor("nyc311-import", roles=["system", "dispatcher", "assessor", "handler"])
"""Who records the imported history: opens and closes as the system, assesses, dispatches,
accepts and resolves in the roles the petition workflow asks for."""

ROOT = "nyc"
"""The organisation's tree for New York (workflows/organisation/nyc.csv)."""

KIND = "petition"
DATE_FORMAT = "%m/%d/%Y %I:%M:%S %p"
REQUIRED_COLUMNS = ("Unique Key", "Created Date", "Agency", "Complaint Type", "Status")
CHUNK_ROWS = 500
"""Rows per transaction."""
"""How often a chunk is tried again when another writer took one of its cases meanwhile."""

CHANNELS = {"PHONE": "hotline", "ONLINE": "online", "MOBILE": "mini_program"}
OTHER_CHANNEL = "other"
"""UNKNOWN, OTHER, empty, or a file without the column (the 52-column schema of 2013): the
petition says "other" rather than guessing a channel."""

BOROUGHS = {
    "MANHATTAN": "nyc/manhattan",
    "BROOKLYN": "nyc/brooklyn",
    "QUEENS": "nyc/queens",
    "BRONX": "nyc/bronx",
    "STATEN ISLAND": "nyc/staten-island",
}


class NotNyc311(CaseworkError):
    """The file is not an NYC 311 export at all: nothing is imported."""

    exit_code = 2


def case_id_of(unique_key: str) -> UUID:
    """The id of the petition imported from the request with this Unique Key."""
    return uuid5(NAMESPACE, f"nyc311:{unique_key.strip()}")


def grade_for(grades: Mapping[str, Grade], allowed: timedelta | None) -> str:
    """The most urgent grade whose default deadline is at least the time the city allowed
    (Due Date minus Created Date).

    Limits in working time count as their rough elapsed length (``Limit.nominal_hours``: a
    working day a day). With the petition's grades (A 2 h, D 16 working hours, C 7 working
    days, B 15 working days) a police noise complaint due in 8 hours is D, one due in 3 days
    C, and a request due in 10 days B. Without a due date, or allowed longer than every
    grade's deadline, it is the grade with the longest deadline (B). The grade's own deadline
    is then replaced by the due date itself at dispatch.
    """
    by_deadline = sorted(grades.values(), key=lambda grade: grade.deadline_hours)
    if allowed is not None:
        for grade in by_deadline:
            if allowed <= timedelta(hours=grade.deadline_hours):
                return grade.name
    return by_deadline[-1].name


def import_nyc311(
    app: Casework,
    lines: Iterable[str],
    rejects: Sink | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
    dry_run: bool = False,
) -> ImportResult:
    """Import the requests of an NYC 311 CSV (an open text file, or any iterable of lines).

    ``rejects`` receives a CSV of the rejected records, from the first one on: a header, then
    for each the line it starts on, the reason, and the record as it was read, line breaks
    and all (``reject_row``). A row whose case exists already (imported before, or earlier in
    the file) is skipped. Raises NotNyc311 when the header lacks the columns the import
    needs. ``dry_run`` checks every row and stores nothing.
    """
    records = Records(lines)
    header = read_header(records.read())
    mapper = _RowMapper(app, header)
    result = ImportResult(header=records.lines_read)
    for rows in chunked(_counted(records, result), chunk_rows):
        chunk = _import_chunk(app, mapper, rows, dry_run)
        result.imported += chunk.imported
        result.skipped += chunk.skipped
        for record, reason in chunk.rejected:
            if rejects is not None:
                if not result.rejected:
                    csv.writer(rejects).writerow(["line", "reason", *header])
                rejects.write(reject_row(record.line, reason, record.text))
            result.rejected.append((record.line, reason))
    result.lines = records.lines_read
    return result


def write_rejected_rows(lines: Iterable[str], reasons: Mapping[int, str], rejects: Sink
                        ) -> None:
    """Write the reject file of an import whose rows were checked elsewhere (by worker
    processes, casework.transfer.parallel): the records starting on the lines of
    ``reasons``, exactly as import_nyc311 writes them."""
    records = Records(lines)
    header = read_header(records.read())
    csv.writer(rejects).writerow(["line", "reason", *header])
    for record in records:
        if record.line in reasons:
            rejects.write(reject_row(record.line, reasons[record.line], record.text))


def reject_row(line: int, reason: str, text: str) -> str:
    """A rejected record in the reject file: its line and the reason, as two CSV fields, then
    the record exactly as it was read. Read as CSV, the row gives the record's own cells (or
    fails as the record did); importing the reject file again ignores the two columns."""
    fields = io.StringIO()
    csv.writer(fields, lineterminator="").writerow([line, reason])
    ending = "" if text.endswith("\n") else "\n"
    return f"{fields.getvalue()},{text}{ending}"


# Reading the file -----------------------------------------------------------------------


def read_header(record: Record | None) -> list[str]:
    """The column names of an NYC 311 file, from its first record; ``NotNyc311`` when it is
    not one."""
    if record is not None and record.cells is None:
        raise NotNyc311(f"line 1 is not a CSV header: {record.unreadable}")
    if record is None or not record.cells:
        raise NotNyc311("the file is empty: expected a header with NYC 311 columns")
    header = [name.strip() for name in record.cells]
    header[0] = header[0].removeprefix("\ufeff")  # the byte order mark of spreadsheet exports
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise NotNyc311(f"not an NYC 311 file: no column {', '.join(map(repr, missing))} "
                        f"(it needs {', '.join(REQUIRED_COLUMNS)})")
    return header


def _counted(records: Records, result: ImportResult) -> Iterator[Record]:
    """The records that are requests (or meant to be), counting the lines that are not
    (blank ones) and the lines after the first of each record."""
    for record in records:
        if record.others:
            continue
        if record.blank:
            result.blank += 1
            continue
        result.continued += len(record.lines) - 1
        yield record


# One row: checked and mapped ------------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Request:
    """One row, checked: what the petition's commands will say, and when."""

    case_id: UUID
    created: datetime
    closed: datetime | None
    """Only when the request was closed: the petition is then resolved and closed."""
    opening: dict[str, str]
    assessment: dict[str, str]
    dispatch: dict[str, Any]
    resolution: str


class _RowMapper:
    def __init__(self, app: Casework, header: list[str]) -> None:
        self.columns = {name: index for index, name in enumerate(header)}
        self.width = len(header)
        self.organisation = app.organisation
        self.grades = app.workflows.get(KIND).grades
        self.zone = new_york()

    def request(self, cells: list[str]) -> _Request:
        if len(cells) != self.width:
            raise _Rejected(f"{len(cells)} fields where the header has {self.width}")
        for cell in cells:
            encoding = invalid_utf8(cell)
            if encoding is not None:
                raise _Rejected(encoding)
        key = self._text(cells, "Unique Key")
        if not key:
            raise _Rejected("no Unique Key")
        created = self._moment(cells, "Created Date")
        if created is None:
            raise _Rejected("no Created Date")
        closed = self._moment(cells, "Closed Date")
        if closed is not None and closed < created:
            raise _Rejected(f"closed ({self._text(cells, 'Closed Date')}) before it was "
                            f"created ({self._text(cells, 'Created Date')})")
        due = self._moment(cells, "Due Date")
        agency = self._text(cells, "Agency")
        unit = f"{ROOT}/{agency.lower()}"
        if unit not in self.organisation or self.organisation[unit].level != DEPARTMENT:
            raise _Rejected(f"unknown agency {agency!r}: the organisation has no department "
                            f"{unit}")
        complaint = self._text(cells, "Complaint Type")
        opening = {
            "channel": CHANNELS.get(self._text(cells, "Open Data Channel Type").upper(),
                                    OTHER_CHANNEL),
            "title": self._text(cells, "Descriptor") or complaint,
            "external_id": key,
            "place": self._text(cells, "Incident Address"),
            "location": self._borough(cells),
        }
        allowed = None if due is None else due - created
        return _Request(
            case_id=case_id_of(key),
            created=created,
            closed=closed if self._text(cells, "Status").lower() == "closed" else None,
            opening={name: value for name, value in opening.items() if value},
            assessment={"grade": grade_for(self.grades, allowed), "category": complaint},
            dispatch={"unit": unit, "due": due},
            resolution=self._paragraphs(cells, "Resolution Description") or "closed",
        )

    def _borough(self, cells: list[str]) -> str:
        unit = BOROUGHS.get(self._text(cells, "Borough").upper(), "")
        return unit if unit in self.organisation else ""  # "Unspecified" too: no location

    def _cell(self, cells: list[str], column: str) -> str:
        index = self.columns.get(column)
        return "" if index is None else cells[index]

    def _text(self, cells: list[str], column: str) -> str:
        # One-line fields: runs of spaces, tabs and line breaks become one space.
        return " ".join(self._cell(cells, column).split())

    def _paragraphs(self, cells: list[str], column: str) -> str:
        # Free text keeps its line breaks, written the one way the engine accepts.
        return self._cell(cells, column).replace("\r\n", "\n").replace("\r", "\n").strip()

    def _moment(self, cells: list[str], column: str) -> datetime | None:
        text = self._text(cells, column)
        if not text:
            return None
        try:
            local = datetime.strptime(text, DATE_FORMAT)
        except ValueError:
            raise _Rejected(f"{column} {text!r} is not a date like 03/01/2011 02:27:57 PM"
                            ) from None
        moment = local.replace(tzinfo=self.zone)
        # A fixed offset, so that "deadline in 24 hours" is 24 elapsed hours across a change
        # of clocks (datetime arithmetic within one ZoneInfo counts wall-clock hours).
        try:
            return moment.astimezone(timezone(moment.utcoffset() or timedelta(0)))
        except OverflowError:  # 12/31/9999 11:00:00 PM is in year 10000 in UTC
            raise _Rejected(f"{column} {text!r} is out of range") from None


@functools.cache
def new_york() -> ZoneInfo:
    try:
        return ZoneInfo("America/New_York")
    except ZoneInfoNotFoundError:
        raise CaseworkError(
            "this machine has no time zone data for America/New_York, which NYC 311 dates "
            "are in: install the system's tzdata, or `pip install tzdata`"
        ) from None


# One chunk: one transaction -------------------------------------------------------------


@dataclass
class _ChunkResult:
    imported: int = 0
    skipped: int = 0
    rejected: list[tuple[Record, str]] = field(default_factory=list)


def _import_chunk(app: Casework, mapper: _RowMapper, rows: list[Record],
                  dry_run: bool = False) -> _ChunkResult:
    # Another writer may import some of these requests meanwhile: then look again.
    return retried(lambda: _try_chunk(app, mapper, rows, dry_run),
                   lambda attempts: CaseworkError(
                       f"the rows from line {rows[0].line} kept being imported by another "
                       f"writer; gave up after {attempts} attempts"))


def _try_chunk(app: Casework, mapper: _RowMapper, rows: list[Record],
               dry_run: bool = False) -> _ChunkResult:
    result = _ChunkResult()
    requests: list[tuple[Record, _Request]] = []
    for record in rows:
        if record.cells is None:
            result.rejected.append((record, record.unreadable))
            continue
        try:
            requests.append((record, mapper.request(record.cells)))
        except _Rejected as rejected:
            result.rejected.append((record, rejected.reason))
    taken = app.existing_cases(request.case_id for _, request in requests)
    cases: list[Case] = []
    for record, request in requests:
        if request.case_id in taken:
            result.skipped += 1
            continue
        try:
            cases += _petition(app, request)
        except _Rejected as rejected:
            result.rejected.append((record, rejected.reason))
            continue
        taken.add(request.case_id)  # the same key again further down the chunk is skipped
        result.imported += 1
    if cases and not dry_run:
        app.save(*cases)
    result.rejected.sort(key=lambda rejected: rejected[0].line)
    return result


def _petition(app: Casework, request: _Request) -> list[Case]:
    """The request's petition, checked command by command and not saved yet.

    Its own batch keeps a refused row from leaving half a history in the chunk."""
    batch = app.batch()
    at = request.created
    try:
        batch.open_case(KIND, IMPORTER, at, case_id=request.case_id, **request.opening)
    except CaseworkError as error:
        raise _Rejected(f"open refused: {error}") from None
    steps: list[tuple[str, datetime, dict[str, Any]]] = [
        ("assess", at, request.assessment),
        ("dispatch", at, request.dispatch),
        ("accept", at, {}),
    ]
    if request.closed is not None:
        steps += [("resolve", request.closed, {"resolution": request.resolution}),
                  ("close", request.closed, {"confirmed_by": "default"})]
    for trigger, moment, fields in steps:
        try:
            batch.fire(request.case_id, trigger, IMPORTER, moment, **fields)
        except CaseworkError as error:
            raise _Rejected(f"{trigger} refused: {error}") from None
    return batch.changed_cases()


# Which records are a worker's (casework.transfer.parallel) ---------------------------

def owned_nyc311(lines: Iterable[str], owns: Owner) -> Iterator[str]:
    """The header, and the records this worker owns (and the blank lines and the records
    that cannot be read, when it owns those); every other record's lines ``OTHERS`` (a CSV
    record may span lines: a quoted field with line breaks)."""
    records = Records(lines)
    first = records.read()
    try:
        header = read_header(first)
    except NotNyc311:  # each worker's importer says so
        yield from first.lines if first is not None else ()
        yield from records.rest()
        return
    key = header.index("Unique Key")
    yield from first.lines
    for record in records:
        if not record.cells:  # a blank line, or a record the CSV reader cannot read
            mine = owns(None)
        else:
            text = " ".join(record.cells[key].split()) if key < len(record.cells) else ""
            mine = owns(_nyc311_case_id(text))
        yield from record.lines if mine else (OTHERS for _ in record.lines)


def _nyc311_case_id(unique_key: str) -> UUID | None:
    try:
        return case_id_of(unique_key) if unique_key else None
    except UnicodeEncodeError:  # a byte that is not UTF-8: the importer rejects the row
        return None
