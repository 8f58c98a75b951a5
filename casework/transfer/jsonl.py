"""Cases with their full histories as JSON Lines: export, and an import that recreates the
exact events (same case ids, versions, recorded times and hashes).

One line per case::

    {"id": "7931a699-...", "kind": "petition", "events": [
      {"type": "Opened", "version": 1, "timestamp": "2024-05-01T05:21:00.049636+00:00",
       "kind": "petition", "workflow_version": 1, "trigger": "open", "to_state": "collected",
       "to_stage": "collect", "actor_id": "li", "role": "intake",
       "at": "2024-05-01T13:21:00+08:00", "fields": {...}, "changes": {...}, "hash": "b636...",
       "datetimes": ["/timestamp", "/at"]}, ...]}

``type`` is Opened, Transitioned or Migrated; ``version`` the event's place in the case;
``timestamp`` when it was recorded. Every other key is the event's attribute of that name.
Times are ISO 8601 text, and ``datetimes`` lists each one's JSON pointer (RFC 6901) within
the event, so that a time inside ``fields`` or ``changes`` comes back a time, not text.

Personal fields are in the events encrypted (see ``casework.personal``); the keys travel as
lines of their own before the cases, one per person: ``{"person": ID, "key": BASE64}``, or for a
person forgotten, ``{"person": ID, "forgotten_at": TIME, "forgotten_by": ACTOR,
"forgotten_role": ROLE}``. ``with_keys=False`` leaves the keys out (the personal fields then
read as erased where the file is imported); who was forgotten is always written, so that a
forgotten person stays forgotten. An import stores the keys the database does not have.

The export begins with an opening line, and ends with a closing line that counts the lines
before it and gives the digest of the cases, which come in the order of their ids
(``casework.transfer.envelope``): a file cut short, joined or edited can be told from the
export as written (``casework.transfer.checking``).

An import checks each case as ``casework audit`` would (hash chain, versions, transitions,
known workflow) before it stores anything of it, and stores a case's events all or nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from ..application import Casework
from ..audit import check_history
from ..case import Case
from ..errors import CaseworkError
from ..person_lines import read_record
from ..stored_cases import case_ids_in_order
from .envelope import (
    Tally,
    is_closing_line,
    is_opening_line,
    opening_line,
    read_closing,
    read_opening,
)
from .importing import OTHERS, BadLine, ImportResult, Owner, Sink, invalid_utf8, is_blank

EVENT_TYPES: dict[str, type[Any]] = {
    "Opened": Case.Opened,
    "Transitioned": Case.Transitioned,
    "Migrated": Case.Migrated,
}
IMPLIED = frozenset({"originator_id", "originator_version", "originator_topic"})
"""Attributes the line gives once for the case, or that follow from the event's type."""
CASE_KEYS = frozenset({"id", "kind", "events"})
BATCH_CASES = 500
"""Cases saved per transaction."""
SHOWN_FINDINGS = 3


class ExportError(CaseworkError):
    """A stored event cannot be read back: ``casework audit`` says what is wrong."""


# Export ------------------------------------------------------------------------------

def export_jsonl(app: Casework, out: Sink, progress: Callable[[int], None] | None = None,
                 *, with_keys: bool = True) -> int:
    """Write the opening line, the persons' keys (unless ``with_keys`` is false) and who was
    forgotten, then every case, one line each, in the order of the case ids, then the closing
    line; returns how many cases.

    ``progress`` is called with the number of events of each case written."""
    out.write(opening_line() + "\n")
    tally = Tally()
    for record in app.personal.records(with_keys):
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
        tally.persons += 1
    for case_id in case_ids_in_order(app):
        try:
            events = list(app.events.get(case_id))
        except Exception as error:  # any undecodable event: say which case, not a traceback
            raise ExportError(f"cannot export case {case_id}: a stored event cannot be read "
                              f"({error}); casework audit {case_id} says more") from None
        out.write(case_line(case_id, events) + "\n")
        tally.case(case_id, len(events), str(events[-1].hash))
        if progress is not None:
            progress(len(events))
    closing = tally.closing()
    out.write(closing.line() + "\n")
    return closing.cases


def case_line(case_id: UUID, events: list[Any]) -> str:
    record = {"id": str(case_id), "kind": getattr(events[0], "kind", None),
              "events": [event_record(event) for event in events]}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def event_record(event: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"type": type(event).__name__, "version": event.originator_version}
    datetimes: list[str] = []
    for name, value in vars(event).items():
        if name not in IMPLIED:
            record[name] = _plain(value, "/" + _escape(name), datetimes)
    record["datetimes"] = datetimes
    return record


def _plain(value: Any, pointer: str, datetimes: list[str]) -> Any:
    """The value as JSON, noting where each time was."""
    if isinstance(value, datetime):
        datetimes.append(pointer)
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item, f"{pointer}/{_escape(key)}", datetimes)
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, f"{pointer}/{index}", datetimes) for index, item in enumerate(value)]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ExportError(f"cannot export a {type(value).__name__} (at {pointer})")


# Reading a line ----------------------------------------------------------------------

def read_line(text: str) -> dict[str, Any]:
    """The JSON object a line holds (a case, or a person's key); ``BadLine`` says why not."""
    encoding = invalid_utf8(text)
    if encoding is not None:
        raise BadLine(encoding)
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as error:  # also nesting too deep, a number too long
        raise BadLine(f"not valid JSON ({error})") from None
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    if "\\ud" in text.lower():  # an escaped lone surrogate (\udc80) cannot be stored as text
        try:
            json.dumps(record, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise BadLine("contains an escaped lone surrogate (\\ud800-\\udfff): not text"
                          ) from None
    return record


def is_person_line(record: dict[str, Any]) -> bool:
    """A person's key, or the record of forgetting them (see ``casework.personal``)."""
    return "person" in record and "id" not in record


def read_case(record: dict[str, Any]) -> tuple[UUID, str, list[Any]]:
    """The case id, kind and events a line's object holds; ``BadLine`` says why not."""
    if record.keys() != CASE_KEYS:
        raise BadLine(f"a case has exactly the keys {', '.join(sorted(CASE_KEYS))} "
                      f"(this line has {', '.join(sorted(record)) or 'none'})")
    try:
        case_id = UUID(str(record["id"]))
    except ValueError:
        raise BadLine(f"id {record['id']!r} is not a case id (a UUID)") from None
    kind, records = record["kind"], record["events"]
    if not isinstance(records, list) or not records:
        raise BadLine("'events' must be a non-empty list")
    events = []
    for number, event in enumerate(records, start=1):
        try:
            events.append(read_event(case_id, event))
        except BadLine as error:
            raise BadLine(f"event #{number} in the line: {error}") from None
    if getattr(events[0], "kind", kind) != kind:
        raise BadLine(f"kind {kind!r}, but the case was opened as {events[0].kind!r}")
    return case_id, kind, events


def read_event(case_id: UUID, record: Any) -> Any:
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    attributes = dict(record)
    type_name = attributes.pop("type", None)
    event_class = EVENT_TYPES.get(type_name) if isinstance(type_name, str) else None
    if event_class is None:
        raise BadLine(f"'type' must be one of {', '.join(EVENT_TYPES)}")
    version = attributes.pop("version", None)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadLine("'version' must be a whole number from 1")
    for pointer in _pointers(attributes.pop("datetimes", [])):
        _restore_time(attributes, pointer)
    unknown = sorted(set(attributes) & IMPLIED)
    if unknown:
        raise BadLine(f"unexpected {', '.join(unknown)}")
    implied: dict[str, Any] = {"originator_id": case_id, "originator_version": version}
    if event_class is Case.Transitioned:  # an export of before events named them: None
        attributes.setdefault("updates", None)
    if event_class is Case.Opened:
        implied["originator_topic"] = get_topic(Case)
    try:
        return event_class(**implied, **attributes)
    except TypeError as error:  # missing or unexpected attributes
        message = str(error).split("__init__() ", 1)[-1]
        raise BadLine(f"{event_class.__name__}: {message}") from None


def _pointers(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise BadLine("'datetimes' must be a list of JSON pointers")
    return value


def _restore_time(attributes: dict[str, Any], pointer: str) -> None:
    """Turn the ISO 8601 text at ``pointer`` back into an aware datetime."""
    if not pointer.startswith("/"):
        raise BadLine(f"{pointer!r} is not a JSON pointer")
    *path, last = [_unescape(token) for token in pointer[1:].split("/")]
    container: Any = attributes
    try:
        for token in path:
            container = container[int(token) if isinstance(container, list) else token]
        key = int(last) if isinstance(container, list) else last
        text = container[key]
    except (KeyError, IndexError, ValueError, TypeError):
        raise BadLine(f"datetimes: nothing at {pointer}") from None
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise BadLine(f"{pointer}: {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise BadLine(f"{pointer}: {text!r} has no UTC offset")
    container[key] = moment


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


# Import ------------------------------------------------------------------------------

def import_jsonl(app: Casework, lines: Iterable[str], rejects: Sink | None = None,
                 batch_size: int = BATCH_CASES, *, dry_run: bool = False) -> ImportResult:
    """Import cases from JSON Lines; ``rejects`` gets every rejected line as it was read, in
    the order of the file.

    A case whose events fail the audit, or that exists already with other events, is
    rejected; one that exists exactly as given is skipped. Every line is counted (see
    ``ImportResult``; the opening line as the header); the closing line is counted, not
    checked (``casework.transfer.checking`` checks a file against it before the import).
    Streams: at most ``batch_size`` cases are held, and they are saved in one transaction.
    ``dry_run`` checks everything and stores nothing.
    """
    run = _JsonlImport(app, rejects, batch_size, dry_run)
    number = 0
    for number, text in enumerate(lines, start=1):
        if is_blank(text):
            run.result.blank += 1
        elif text != OTHERS:
            run.add(number, text)
    run.flush()
    run.result.lines = number
    return run.result


@dataclass
class _Pending:
    line: int
    text: str
    events: list[Any]


class _JsonlImport:
    def __init__(self, app: Casework, rejects: Sink | None, batch_size: int,
                 dry_run: bool = False) -> None:
        self.app = app
        self.dry_run = dry_run
        self.rejects = rejects
        self.batch_size = batch_size
        self.result = ImportResult()
        self.pending: dict[UUID, _Pending] = {}
        self.persons: list[tuple[int, str, dict[str, Any]]] = []
        self.refused: list[tuple[int, str, str]] = []
        """(line, text, reason) of the lines rejected since the last flush: written to the
        reject file then, in line order, once every line before them is settled."""

    def add(self, number: int, text: str) -> None:
        self._take(number, text)
        if max(len(self.pending), len(self.persons), len(self.refused)) >= self.batch_size:
            self.flush()

    def _take(self, number: int, text: str) -> None:
        try:
            record = read_line(text)
            if is_person_line(record):
                self._person(number, text, record)
                return
            if is_opening_line(record):
                read_opening(record)
                self.result.header += 1
                return
            if is_closing_line(record):
                read_closing(record)
                self.result.closing += 1
                return
            case_id, _, events = read_case(record)
            self._check(case_id, events)
        except BadLine as error:
            self.reject(number, text, str(error))
            return
        earlier = self.pending.get(case_id)
        if earlier is None:
            self.pending[case_id] = _Pending(number, text, events)
        elif _same(earlier.events, events):
            self.result.skipped += 1
        else:
            self.reject(number, text, f"case {case_id} is also on line {earlier.line}, "
                                      "with other events")

    def _person(self, number: int, text: str, record: dict[str, Any]) -> None:
        """Take a person's line: a key, or a record of forgetting."""
        try:
            self.persons.append((number, text, read_record(record)))
        except ValueError as error:
            self.reject(number, text, f"person line: {error}")

    def flush(self) -> None:
        """Store the persons' lines, then save the pending cases not stored yet, in one
        transaction; then write the lines rejected so far, in line order."""
        self._store_persons()
        self._store_cases()
        self.refused.sort(key=lambda refused: refused[0])
        for number, text, reason in self.refused:
            self.result.rejected.append((number, reason))
            if self.rejects is not None:
                self.rejects.write(text if text.endswith("\n") else text + "\n")
        self.refused.clear()

    def _store_persons(self) -> None:
        if not self.persons:
            return
        lines = {id(record): (number, text) for number, text, record in self.persons}
        restored = self.app.personal.restore((r for _, _, r in self.persons),
                                             dry_run=self.dry_run)
        for record, reason in restored.refused:
            self.reject(*lines[id(record)], reason)
        self.result.keys += restored.stored
        self.result.keys_skipped += restored.present
        self.persons.clear()

    def _store_cases(self) -> None:
        stored = self.app.existing_cases(self.pending)
        cases = []
        for case_id, case in self.pending.items():
            if case_id in stored:
                self._settle_stored(case_id, case)
            else:
                cases.append((case_id, case))
        self.pending.clear()
        if not cases:
            return
        if self.dry_run:
            self.result.imported += len(cases)
            return
        try:
            # The event store directly: Application.save would check each event against
            # eventsourcing's runtime protocols, a fifth of the whole import's time.
            self.app.events.put([event for _, case in cases for event in case.events])
            saved = cases
        except IntegrityError:
            # Another writer stored some of these cases meanwhile: save them one by one.
            saved = [(case_id, case) for case_id, case in cases if self._save_alone(case_id, case)]
        self.result.imported += len(saved)
        self._snapshot(saved)

    def _save_alone(self, case_id: UUID, case: _Pending) -> bool:
        try:
            self.app.events.put(case.events)
        except IntegrityError:
            self._settle_stored(case_id, case)
            return False
        return True

    def _settle_stored(self, case_id: UUID, case: _Pending) -> None:
        """Skip a case stored already exactly as given; reject it when stored otherwise."""
        try:
            stored = list(self.app.events.get(case_id))
        except Exception:  # its stored events cannot even be read: certainly not the same
            stored = []
        if _same(stored, case.events):
            self.result.skipped += 1
        else:
            self.reject(case.line, case.text, f"case {case_id} already exists with other events")

    def reject(self, number: int, text: str, reason: str) -> None:
        self.refused.append((number, text, reason))

    def _check(self, case_id: UUID, events: list[Any]) -> None:
        findings = check_history(str(case_id), events, self.app.workflows)
        if findings:
            shown = "; ".join(f"event {f.version}: {f.description}"
                              for f in findings[:SHOWN_FINDINGS])
            more = len(findings) - SHOWN_FINDINGS
            raise BadLine(shown + (f" (and {more} more)" if more > 0 else ""))

    def _snapshot(self, cases: list[tuple[UUID, _Pending]]) -> None:
        """Snapshot long histories as the engine would have, so that loading stays fast."""
        interval = self.app.snapshotting_intervals.get(Case)
        if self.app.snapshots is None or not interval:
            return
        for case_id, case in cases:
            last = case.events[-1].originator_version
            if last >= interval:
                self.app.take_snapshot(case_id, version=last - last % interval)


def _same(stored: list[Any], given: list[Any]) -> bool:
    return len(stored) == len(given) and all(
        type(a) is type(b) and vars(a) == vars(b) for a, b in zip(stored, given, strict=True))


# Which lines are a worker's (casework.transfer.parallel) -----------------------------

EXPORTED_ID = re.compile(r'\{"id":"([0-9a-f-]{36})",')
"""How ``casework export`` starts a line: the id is read without parsing the whole line."""


def jsonl_case_id(text: str) -> UUID | None:
    """The case id a line of an export gives, as the importer reads it; None when none.

    (A line that names its id twice is read by the importer with the last one: should two
    such lines of one case go to two workers, the second to store it finds it stored, and
    skips or rejects it as one process would, with another reason.)"""
    exported = EXPORTED_ID.match(text)
    try:
        if exported:
            return UUID(exported.group(1))
        return UUID(str(json.loads(text)["id"]))
    except (ValueError, TypeError, KeyError, RecursionError):  # the importer rejects it
        return None


def owned_jsonl(lines: Iterable[str], owns: Owner) -> Iterator[str]:
    """The lines of the cases this worker owns (and the lines of no case, when it owns
    those: blank lines, persons' lines, the closing line, lines that cannot be read); every
    other line ``OTHERS``, so that line numbers stay."""
    for text in lines:
        case_id = None if is_blank(text) else jsonl_case_id(text)
        yield text if owns(case_id) else OTHERS


def write_rejected_lines(lines: Iterable[str], reasons: dict[int, str], rejects: Sink) -> None:
    """Write the reject file of an import whose lines were checked elsewhere (by worker
    processes): the lines of ``reasons``, exactly as ``import_jsonl`` writes them."""
    for number, text in enumerate(lines, start=1):
        if number in reasons:
            rejects.write(text if text.endswith("\n") else text + "\n")
