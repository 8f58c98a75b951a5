"""The persons' lines of an export (``casework.transfer.jsonl``): reading one, and
restoring a batch of them into the key table, the rows of the whole batch read with one
SELECT and the new ones written with one executemany (``PersonKeys.restore``)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, insert, select, update

from .person_table import ACTOR_LENGTH, KEY_BYTES, person_keys
from .timestamps import naive_utc


@dataclass
class Restored:
    """What ``PersonKeys.restore`` did with the persons' lines of an export."""

    stored: int = 0
    """Lines that changed something: a key stored, or a person forgotten."""
    present: int = 0
    """Lines that changed nothing: the same key, a key for someone forgotten here, or a
    forgetting recorded already."""
    refused: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    """(record, reason) of each line refused."""


RESTORE_SELECT = 500
"""Persons read per SELECT when restoring (SQLite allows 32,766 parameters, older ones 999)."""


def rows_of(conn: Connection, persons: set[str]) -> dict[str, bytes | None]:
    """The key (None once forgotten) of each of ``persons`` with a row here."""
    c, wanted, rows = person_keys.c, sorted(persons), {}
    for start in range(0, len(wanted), RESTORE_SELECT):
        chunk = wanted[start:start + RESTORE_SELECT]
        found = conn.execute(select(c.person, c.key).where(c.person.in_(chunk)))
        rows.update((person, key) for person, key in found)
    return rows


class Restoring:
    """Persons' records applied one after the other to the rows read, as one statement per
    record would apply them, with the writes held until ``write``."""

    def __init__(self, rows: dict[str, bytes | None]) -> None:
        self.rows = rows
        self.inserts: dict[str, dict[str, Any]] = {}
        self.updates: dict[str, dict[str, Any]] = {}

    def take(self, record: dict[str, Any]) -> bool | str:
        """True when the record changes something; the reason when it is refused."""
        person = record["person"]
        present, key = person in self.rows, self.rows.get(person)
        if "key" in record:
            if not present:
                self._insert(person, {"key": record["key"],
                                      "created_at": naive_utc(datetime.now(UTC))})
                return True
            if key is not None and key != record["key"]:
                return f"person {person} has another key in this database"
            return False  # the same key, or forgotten here: it stays forgotten
        forgotten = {"key": None, "forgotten_at": naive_utc(record["forgotten_at"]),
                     "forgotten_by": record["forgotten_by"],
                     "forgotten_role": record["forgotten_role"]}
        if not present:
            self._insert(person, {"created_at": forgotten["forgotten_at"], **forgotten})
        elif key is not None:
            if person in self.inserts:  # a key restored earlier in this batch
                self.inserts[person].update(forgotten)
            else:
                self.updates[person] = forgotten
            self.rows[person] = None
        else:
            return False
        return True

    def _insert(self, person: str, values: dict[str, Any]) -> None:
        row = {"key": None, "forgotten_at": None, "forgotten_by": None,
               "forgotten_role": None, **values, "person": person}
        self.inserts[person] = row
        self.rows[person] = row["key"]

    def write(self, conn: Connection) -> None:
        if self.inserts:
            conn.execute(insert(person_keys), list(self.inserts.values()))
        for person, values in self.updates.items():
            conn.execute(update(person_keys).where(person_keys.c.person == person)
                         .values(**values))


def _name(record: Mapping[str, Any], key: str) -> str:
    value = record[key]
    if not isinstance(value, str) or not 0 < len(value) <= ACTOR_LENGTH \
            or not value.isprintable():
        raise ValueError(f"{key!r} must be an actor or role: text of 1 to {ACTOR_LENGTH} "
                         "printable characters")
    return value


def read_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A person line of an export, checked; ``ValueError`` says what is wrong."""
    person = str(UUID(str(record.get("person"))))
    if set(record) == {"person", "key"}:
        try:
            key = base64.b64decode(str(record["key"]), validate=True)
        except binascii.Error:
            raise ValueError("'key' is not base64") from None
        if len(key) != KEY_BYTES:
            raise ValueError(f"'key' must be {KEY_BYTES} bytes")
        return {"person": person, "key": key}
    if set(record) == {"person", "forgotten_at", "forgotten_by", "forgotten_role"}:
        moment = datetime.fromisoformat(str(record["forgotten_at"]))
        if moment.tzinfo is None:
            raise ValueError("'forgotten_at' has no UTC offset")
        try:
            naive_utc(moment)
        except OverflowError:
            raise ValueError("'forgotten_at' is out of range") from None
        return {"person": person, "forgotten_at": moment,
                "forgotten_by": _name(record, "forgotten_by"),
                "forgotten_role": _name(record, "forgotten_role")}
    raise ValueError("a person line has the keys person and key, or person, forgotten_at, "
                     "forgotten_by and forgotten_role")
