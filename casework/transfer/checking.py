"""Checking an export whole, before anything of it is stored: against its closing line
(``casework.transfer.envelope``), and against a digest the user has from elsewhere.

Each case's hash chain shows an event edited or inserted, but not one taken off the end: the
shorter history still chains. The closing line shows that, and more: a file with one is
exactly the export it describes, or it is refused whole, naming the first line that is not
as the export wrote it (a line that cannot be read, a case out of the order of the ids or
repeated, a line after the closing line), else saying which count or the digest differs.
A file whose opening line promises a closing line and that ends without one was cut short,
and is refused too. A file with neither (exported before casework wrote them) is imported as
before, and the import says that nothing checked it; ``expect_digest`` checks it all the
same.

The check reads the file once more than the import does, one line at a time; with
``expect_digest`` and no closing line it holds one short entry per case (an old export's
cases are not in the order of their ids).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ..digest import OutOfOrder, digest_of, same_digest
from ..errors import CaseworkError
from .envelope import (
    KEYS,
    Closing,
    Tally,
    is_closing_line,
    is_opening_line,
    read_closing,
    read_opening,
)
from .importing import BadLine, is_blank
from .jsonl import is_person_line, read_line


class ExportMismatch(CaseworkError):
    """The file is not the export its closing line describes, or not the one the user
    expected: nothing of it is imported."""

    exit_code = 1


@dataclass(frozen=True)
class ExportCheck:
    digest: str | None
    """The digest of the file's cases; None when there was nothing to check them against."""
    closing_line: int | None
    """Where the file's closing line is; None when it has none."""

    @property
    def checked(self) -> bool:
        return self.digest is not None


def check_export(lines: Iterable[str], expect_digest: str | None = None) -> ExportCheck:
    """Check the lines of an export; ``ExportMismatch`` when they are not what its closing
    line says, or their cases' digest is not ``expect_digest``."""
    reading = _Reading(keep_heads=expect_digest is not None)
    for number, text in enumerate(lines, start=1):
        if not is_blank(text):
            reading.take(number, text)
    if reading.closing is not None:
        digest = reading.against_closing(reading.closing)
    elif reading.opening_line is not None:
        raise ExportMismatch(f"the file ends at line {reading.last_line} without the closing "
                             f"line its opening line (line {reading.opening_line}) promises: "
                             "it was cut short; nothing was imported")
    elif expect_digest is not None:
        digest = reading.unordered_digest()
    else:
        return ExportCheck(None, None)
    if expect_digest is not None and not same_digest(expect_digest, digest):
        raise ExportMismatch(f"the file's cases give digest {digest}, not the digest "
                             f"{expect_digest.strip()} expected; nothing was imported")
    return ExportCheck(digest, reading.closing_line)


class _Reading:
    """What the lines read so far hold, and the first thing found wrong with them."""

    def __init__(self, keep_heads: bool) -> None:
        self.tally = Tally()
        self.heads: list[tuple[UUID, str]] | None = [] if keep_heads else None
        self.opening_line: int | None = None
        self.closing: Closing | None = None
        self.closing_line: int | None = None
        self.last_line = 0
        self.unreadable: str | None = None
        """The first line that is not an export's line: no check can pass with it."""
        self.misplaced: str | None = None
        """The first line out of the order an export writes."""
        self.last_case_line = 0

    def take(self, number: int, text: str) -> None:
        first, self.last_line = self.last_line == 0, number
        try:
            record = read_line(text)
        except BadLine as error:
            self._unreadable(f"line {number} cannot be read ({error})")
            return
        if self.closing_line is not None:
            what = f"case {record['id']}" if "id" in record else "a line"
            self._misplaced(f"line {number} ({what}) comes after the closing line")
        if is_opening_line(record):
            self._opening(number, record, first)
        elif is_person_line(record):
            self.tally.persons += 1
        elif is_closing_line(record):
            self._closing(number, record)
        else:
            self._case(number, record)

    def _opening(self, number: int, record: dict[str, Any], first: bool) -> None:
        try:
            read_opening(record)
        except BadLine as error:
            self._unreadable(f"line {number}: {error}")
            return
        if not first:
            self._misplaced(f"line {number} is an export's opening line, after other lines")
        self.opening_line = self.opening_line or number

    def _closing(self, number: int, record: dict[str, Any]) -> None:
        try:
            closing = read_closing(record)
        except BadLine as error:
            self._unreadable(f"line {number}: {error}")
            return
        if self.closing is None:
            self.closing, self.closing_line = closing, number

    def _case(self, number: int, record: dict[str, Any]) -> None:
        head = _head(record)
        if head is None:
            self._unreadable(f"line {number} is not a case, a person's line or a closing "
                             "line as an export writes them")
            return
        case_id, events, last_hash = head
        if self.heads is not None:
            self.heads.append((case_id, last_hash))
        try:
            self.tally.case(case_id, events, last_hash)
        except OutOfOrder as error:
            self.tally.events += events
            if case_id == error.after:
                self._misplaced(f"line {number}: case {case_id} again (also on line "
                                f"{self.last_case_line})")
            else:
                self._misplaced(f"line {number}: case {case_id} comes after case "
                                f"{error.after} (line {self.last_case_line}), out of the "
                                "order of their ids")
        self.last_case_line = number

    def _unreadable(self, problem: str) -> None:
        self.unreadable = self.unreadable or problem

    def _misplaced(self, problem: str) -> None:
        self.misplaced = self.misplaced or problem

    def against_closing(self, closing: Closing) -> str:
        """The digest of the file's cases, when the file is the export ``closing``
        describes; ``ExportMismatch`` naming what differs first, when it is not."""
        where = f"its closing line (line {self.closing_line})"
        first = self.unreadable or self.misplaced
        if first is not None:
            raise ExportMismatch(f"{first}: this is not the export {where} describes (cut "
                                 "short, joined or edited?); nothing was imported")
        found = self.tally.closing()
        if found != closing:
            differ = [name for name in KEYS if getattr(found, name) != getattr(closing, name)]
            raise ExportMismatch(
                f"the file has {_listed(found, differ)}, but {where} says "
                f"{_listed(closing, differ)}: a case was cut short, left out or changed "
                "after the export; nothing was imported")
        return found.digest

    def unordered_digest(self) -> str:
        if self.unreadable is not None:
            raise ExportMismatch(f"{self.unreadable}: the file cannot be checked against the "
                                 "digest expected; nothing was imported")
        assert self.heads is not None
        return digest_of(self.heads)


def _listed(closing: Closing, names: list[str]) -> str:
    said = {"persons": f"{closing.persons} persons' lines", "cases": f"{closing.cases} cases",
            "events": f"{closing.events} events", "digest": f"digest {closing.digest}"}
    return ", ".join(said[name] for name in names)


def _head(record: dict[str, Any]) -> tuple[UUID, int, str] | None:
    """A case line's id, number of events, and the hash of its last event; None when the
    line does not give them."""
    events = record.get("events")
    if not isinstance(events, list) or not events or not isinstance(events[-1], dict):
        return None
    last_hash = events[-1].get("hash")
    try:
        case_id = UUID(str(record.get("id")))
    except ValueError:
        return None
    return (case_id, len(events), last_hash) if isinstance(last_hash, str) else None
