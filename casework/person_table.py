"""The table of persons' keys (``casework.personal``), beside the events in the same
database: a definition of its own, which the event store's recorders create with their
tables (``casework.recorders``) and the persons' lines of an export are restored into
(``casework.person_lines``)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, LargeBinary, MetaData, String, Table

from .fields import MAX_LENGTH

KEY_BYTES = 32  # AES-256
ACTOR_LENGTH = MAX_LENGTH["string"]
"""The longest actor id or role the record of forgetting holds: what ``Actor`` accepts."""

# Its own MetaData: rebuilding the read models drops theirs, and must never drop the keys.
metadata = MetaData()
person_keys = Table(
    "person_keys",
    metadata,
    Column("person", String(36), primary_key=True),
    Column("key", LargeBinary(KEY_BYTES)),  # NULL once the person is forgotten
    Column("created_at", DateTime, nullable=False),
    Column("forgotten_at", DateTime),
    Column("forgotten_by", String(ACTOR_LENGTH)),
    Column("forgotten_role", String(ACTOR_LENGTH)),
)
