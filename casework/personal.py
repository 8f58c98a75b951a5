"""Personal data: stored encrypted under a key per person, so that a person can be forgotten.

A workflow marks the fields that identify a resident ``personal = true`` (a petitioner's name,
phone and address). The application encrypts their values at command time, before the event
is created, so the events and the snapshots only ever hold ciphertext, and the hash chain
covers the ciphertext (the read models hold no personal field at all). Each value is AES-GCM
encrypted (the ``cryptography`` library) under the key of the case's *person*: a pseudonym (a
UUID) recorded in clear on the case, shared by every case of the same resident when the office
says so.

The keys live in the ``person_keys`` table beside the events, not in them. Forgetting a
person deletes their key (crypto-shredding): the events stay as they were, so histories,
reports, exports and the audit go on working, and the person's values read as ``ERASED``.

eventsourcing has its own cipher (``CIPHER_TOPIC``), but it encrypts every stored event under
one key per application: it protects a stolen database, and cannot forget one person.

The table row that says a person was forgotten (when, by whom) is kept instead of the key,
and carries nothing personal: it is written in the same transaction that deletes the key, so
neither can happen without the other; and a person is not a case, so it is not an event of
one (appending to each of a person's cases would change their histories and the audit digest
as though the cases had changed).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event, insert, inspect, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from .errors import InvalidField, UnknownPerson
from .person_lines import Restored, Restoring, rows_of
from .person_table import KEY_BYTES, metadata, person_keys
from .storage import Storage
from .timestamps import aware_utc, naive_utc

ERASED = "[erased]"
"""What a personal value reads as once its person's key is gone from this database."""
UNREADABLE = "[unreadable]"
"""What a personal value reads as when its key exists but does not decrypt it (tampering)."""
PLAIN_CACHE = 4096
CIPHER_CACHE = 1024
"""Persons whose cipher a process keeps, the most recently used (about 2.5 KB each): a batch
goes back to the same few persons again and again, a sweep or an import meets each person
once, so a small cache is as fast as an unbounded one and memory stays flat (measured in
``python -m benchmarks``: see the README)."""
NONCE_BYTES = 12  # AES-GCM's standard nonce; random, so never reused under one key in practice


@dataclass(frozen=True)
class Forgotten:
    """The record of forgetting a person: who, when, and nothing personal."""

    person: str
    at: datetime
    actor: str
    role: str
    already: bool = False
    """True when the person had been forgotten before: nothing changed this time."""


def is_encrypted(value: Any) -> bool:
    """Whether a stored field value is a personal value (never true of what a field's type
    accepts from a user: those are text, numbers, booleans and times, not objects)."""
    return isinstance(value, dict) and value.keys() == {"person", "ciphertext"}


def person_id(value: Any) -> str:
    """A person id as given by a caller: a UUID, so that it cannot itself be a name or phone."""
    try:
        return str(UUID(str(value).strip()))
    except ValueError:
        raise InvalidField("person", f"{value!r} is not a person id (a UUID)") from None


class KeyReader(Protocol):
    """Where a person's key is read quickly: the event store's recorder
    (``casework.recorders``), on the connections the events use."""

    def select_person_key(self, person: str) -> Any:
        """None when the person has no row; else a row whose ``key`` is None once forgotten."""


NewKey = tuple[str, bytes, datetime]
"""A new person's row as the event store writes it: person, key, created_at (naive UTC)."""


class PersonKeys:
    """The key table of one database, with the ciphers this process used lately in memory.

    Keys of new persons are held until the events that first use them are saved: the
    application takes them (``take_new``) and the event store writes them in the same
    transaction as those events. A key cached here outlives a ``forget`` in another process
    while it stays among the ``cache_size`` persons this process used last; commands and the
    command line are short-lived.
    """

    def __init__(self, storage: Storage, cache_size: int = CIPHER_CACHE) -> None:
        self.storage = storage
        self.cache_size = cache_size
        self.reader_of_keys: KeyReader | None = None
        """Set by the application to its recorder; without it keys are read through
        SQLAlchemy."""
        self._engine: Engine | None = None
        self._reader: Engine | None = None
        self._ciphers: OrderedDict[str, AESGCM | None] = OrderedDict()
        """Persons used lately, least recent first: their cipher, or None when their key is
        not in this database."""
        self._new: dict[str, bytes] = {}
        self._plain: dict[tuple[str, str, str], Any] = {}
        """Values decrypted lately, by person, field and ciphertext: a batch reads the same
        case again and again (its view after every command), and decrypting is most of what
        that costs."""

    # Encrypting and decrypting -------------------------------------------------------

    def new_person(self) -> str:
        person = str(uuid4())
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        self._new[person] = key
        self._remember(person, AESGCM(key))
        return person

    def has_key(self, person: str) -> bool:
        return self._cipher(person) is not None

    def ensure(self, person: str) -> None:
        """Make sure a person given by a caller has a key: create it now (not in a batch:
        two processes may name the same new person at once, and must agree on one key)."""
        if self._cipher(person) is not None:
            return
        row = self._row(person)
        if row is not None:  # there, but without a key: forgotten
            raise InvalidField("person", f"person {person} was forgotten on "
                               f"{aware_utc(row.forgotten_at).isoformat()}; "  # type: ignore[union-attr]
                               "open the case without a person, or with a new one")
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(person_keys).values(
                    person=person, key=key, created_at=naive_utc(datetime.now(UTC))))
        except IntegrityError:
            pass  # another process created it first: use theirs
        self._ciphers.pop(person, None)
        if self._cipher(person) is None:
            raise InvalidField("person", f"person {person} was forgotten meanwhile")

    def encrypt(self, person: str, field: str, value: str) -> dict[str, str]:
        cipher = self._cipher(person)
        if cipher is None:
            raise InvalidField(field, f"person {person} has no key: forgotten")
        nonce = os.urandom(NONCE_BYTES)
        sealed = cipher.encrypt(nonce, json.dumps(value).encode(), _associated(person, field))
        return {"person": person, "ciphertext": base64.b64encode(nonce + sealed).decode()}

    def decrypt(self, field: str, value: Mapping[str, str]) -> Any:
        cipher = self._cipher(value["person"])
        if cipher is None:
            return ERASED
        seen = (value["person"], field, value["ciphertext"])
        plain = self._plain.get(seen)
        if plain is None:
            if len(self._plain) >= PLAIN_CACHE:
                self._plain.clear()
            plain = self._plain[seen] = self._decrypted(cipher, field, value)
        return plain

    @staticmethod
    def _decrypted(cipher: AESGCM, field: str, value: Mapping[str, str]) -> Any:
        try:
            raw = base64.b64decode(value["ciphertext"], validate=True)
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                   _associated(value["person"], field))
            return json.loads(plain)
        except (InvalidTag, ValueError, binascii.Error):
            return UNREADABLE

    def reveal(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The fields with each personal value decrypted, or ``ERASED``."""
        if not any(type(value) is dict for value in fields.values()):
            return dict(fields)
        return {name: self.decrypt(name, value) if type(value) is dict and is_encrypted(value)
                else value for name, value in fields.items()}

    def drop_cache(self) -> None:
        """Forget the keys and values read so far (not the new ones still to be saved): a
        long-running process (the HTTP service) calls it before each request, so that a
        person another process forgot reads as erased at once, not after a restart."""
        self._ciphers.clear()  # a new person's cipher is made again from their key
        self._plain.clear()

    # The table -----------------------------------------------------------------------

    def take_new(self) -> list[NewKey]:
        """The keys of the persons made since the last call, as rows to store in the
        transaction of the events that first use them (``casework.recorders``)."""
        if not self._new:
            return []
        now = naive_utc(datetime.now(UTC))
        rows = [(person, key, now) for person, key in self._new.items()]
        self._new.clear()
        return rows

    def drop_new(self, rows: Iterable[NewKey] = ()) -> None:
        """Forget keys that were never stored: the events that needed them were not saved
        (``rows``, from ``take_new``) or were discarded before saving."""
        for person in [*self._new, *(row[0] for row in rows)]:
            self._ciphers.pop(person, None)
        self._new.clear()

    def forget(self, person: str, actor: str, role: str, at: datetime | None = None
               ) -> Forgotten:
        """Delete the person's key, recording who forgot them and when, in one transaction."""
        person = self._known_id(person)
        moment = naive_utc(at or datetime.now(UTC))
        c = person_keys.c
        with self.engine.begin() as conn:
            row = conn.execute(select(person_keys).where(c.person == person)).first()
            if row is None:
                raise UnknownPerson(person, "no key was ever made for them here")
            if row.key is None:
                return Forgotten(person, aware_utc(row.forgotten_at), row.forgotten_by,  # type: ignore[arg-type]
                                 row.forgotten_role, already=True)
            conn.execute(update(person_keys).where(c.person == person).values(
                key=None, forgotten_at=moment, forgotten_by=actor, forgotten_role=role))
        self._remember(person, None)
        self._plain.clear()
        self._wipe_old_copies()
        return Forgotten(person, moment.replace(tzinfo=UTC), actor, role)

    def records(self, with_keys: bool = True) -> Iterator[dict[str, Any]]:
        """Every person, as export writes them: the key (unless ``with_keys`` is false), or
        the record of forgetting them."""
        with self.reader.connect() as conn:
            for row in conn.execute(select(person_keys).order_by(person_keys.c.person)):
                if row.key is not None:
                    if with_keys:
                        yield {"person": row.person, "key": base64.b64encode(row.key).decode()}
                else:
                    yield {"person": row.person,
                           "forgotten_at": aware_utc(row.forgotten_at).isoformat(),  # type: ignore[union-attr]
                           "forgotten_by": row.forgotten_by,
                           "forgotten_role": row.forgotten_role}

    def restore(self, records: Iterable[dict[str, Any]], *, dry_run: bool = False
                ) -> Restored:
        """Store records read by ``read_record``: keys this database does not have, and
        forgetting. A person forgotten here stays forgotten. Says, record by record, what
        changed something, what was here already, and what was refused (a person with another
        key here). ``dry_run`` says the same and stores nothing.

        One SELECT reads the rows of every person the records name, and the new rows go in
        with one executemany: an import restores a batch of keys in three statements, not
        two per person."""
        records = list(records)
        restored, forgot = Restored(), False
        with self.engine.connect() as conn, conn.begin() as transaction:
            plan = Restoring(rows_of(conn, {record["person"] for record in records}))
            for record in records:
                outcome = plan.take(record)
                if isinstance(outcome, str):
                    restored.refused.append((record, outcome))
                elif outcome:
                    restored.stored += 1
                    forgot = forgot or "key" not in record
                else:
                    restored.present += 1
            if dry_run:
                transaction.rollback()
                return restored
            plan.write(conn)
        self._ciphers.clear()
        self._plain.clear()
        if forgot:
            self._wipe_old_copies()
        return restored

    def close(self) -> None:
        for engine in (self._engine, self._reader):
            if engine is not None:
                engine.dispose()

    @property
    def reader(self) -> Engine:
        """For reading keys: on SQLite a reader never takes the write lock (nor waits for it,
        unless the table is still to be made)."""
        if self._reader is None:
            reader = self.storage.sqlalchemy_engine(writer=False)
            if not inspect(reader).has_table(person_keys.name):
                self.engine  # noqa: B018 (creates the table)
            self._reader = reader
        return self._reader

    @property
    def engine(self) -> Engine:
        """Created at first use, with the table: a command touching no personal data pays
        nothing for it."""
        if self._engine is None:
            engine = self.storage.sqlalchemy_engine(writer=True)
            if self.storage.backend == "sqlite":
                @event.listens_for(engine, "connect")
                def _secure_delete(dbapi_connection: Any, _: Any) -> None:
                    # Overwrite deleted content with zeros, so a deleted key is not left
                    # behind in a free part of a page.
                    dbapi_connection.execute("PRAGMA secure_delete = ON")

            self.storage.change_tables(engine, metadata.create_all)
            self._engine = engine
        return self._engine

    def _cipher(self, person: str) -> AESGCM | None:
        ciphers = self._ciphers
        if person in ciphers:
            ciphers.move_to_end(person)
            return ciphers[person]
        key = self._new.get(person)
        if key is None:
            row = (self._row(person) if self.reader_of_keys is None
                   else self.reader_of_keys.select_person_key(person))
            key = None if row is None else row.key
        cipher = None if key is None else AESGCM(key)
        self._remember(person, cipher)
        return cipher

    def _remember(self, person: str, cipher: AESGCM | None) -> None:
        self._ciphers[person] = cipher
        self._ciphers.move_to_end(person)
        if len(self._ciphers) > self.cache_size:
            self._ciphers.popitem(last=False)

    def _row(self, person: str) -> Any:
        with self.reader.connect() as conn:
            return conn.execute(
                select(person_keys).where(person_keys.c.person == person)).first()

    def _known_id(self, person: str) -> str:
        try:
            return person_id(person)
        except InvalidField:
            raise UnknownPerson(person, "not a person id (a UUID)") from None

    def _wipe_old_copies(self) -> None:
        """Leave no copy of a deleted key in the database's files, as far as the database
        can: SQLite's write-ahead log still holds the page as it was, so checkpoint it and
        empty the log; PostgreSQL keeps the old row version until the table is vacuumed, and
        VACUUM FULL rewrites the table without it."""
        if self.storage.backend == "sqlite":
            # On the driver's connection: a checkpoint cannot run inside a transaction, and
            # this engine's begins one (BEGIN IMMEDIATE) for every statement.
            with self.engine.connect() as conn:
                conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"VACUUM FULL {person_keys.name}"))


def _associated(person: str, field: str) -> bytes:
    """Authenticated with the ciphertext: a value moved to another field or person fails."""
    return f"{person}/{field}".encode()
