"""API tokens: who is calling the service. Each token is bound to one actor (an id, roles
and optionally a unit), and every request made with it acts as that actor.

A token reads ``cw_<id>.<secret>``: the id is public (listed, revoked by it), the secret is
32 random bytes shown once, when the token is made. The table keeps only the SHA-256 of the
secret, so whoever reads the database cannot call the service; a presented secret is hashed
and compared with ``hmac.compare_digest`` (constant time). The table lives in the same
database as the events, beside them (like ``person_keys``): it is infrastructure of the
service, not a case's history, and rebuilding the read models never touches it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, insert, select, update
from sqlalchemy.engine import Engine

from casework import Actor, CaseworkError, InvalidField, Organisation
from casework.storage import Storage
from casework.timestamps import aware_utc, naive_utc

PREFIX = "cw_"
SECRET_BYTES = 32
ID_BYTES = 6

metadata = MetaData()
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("roles", String(2000), nullable=False),  # a JSON list
    Column("unit", String(200)),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
)


class UnknownToken(CaseworkError):
    exit_code = 3

    def __init__(self, token_id: str) -> None:
        super().__init__(f"unknown token {token_id} (casework tokens list shows them)")


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its secret."""

    id: str
    actor: Actor
    name: str
    created_at: datetime
    revoked_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "actor": self.actor.id, "roles": list(self.actor.roles),
                "unit": self.actor.unit, "name": self.name, "created_at": self.created_at,
                "revoked_at": self.revoked_at}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """The ``api_tokens`` table of one database."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._writer: Engine = storage.sqlalchemy_engine(writer=True)
        self._reader: Engine = storage.sqlalchemy_engine(writer=False)
        storage.change_tables(self._writer, metadata.create_all)

    def create(self, actor: Actor, organisation: Organisation, name: str = "") -> str:
        """A new token for ``actor``; returns its text, which is shown this once only."""
        if actor.unit is not None and actor.unit not in organisation:
            raise InvalidField("unit", f"no unit {actor.unit!r} in the organisation")
        if len(name) > 200 or not name.isprintable():
            raise InvalidField("name", "at most 200 printable characters")
        token_id, secret = secrets.token_hex(ID_BYTES), secrets.token_urlsafe(SECRET_BYTES)
        with self._writer.begin() as conn:
            conn.execute(insert(api_tokens).values(
                id=token_id, secret_sha256=_digest(secret), actor=actor.id,
                roles=json.dumps(list(actor.roles)), unit=actor.unit, name=name,
                created_at=naive_utc(datetime.now(UTC))))
        return f"{PREFIX}{token_id}.{secret}"

    def authenticate(self, token: str) -> TokenInfo | None:
        """The token's holder, or None for a malformed, unknown or revoked token."""
        token_id, dot, secret = token.removeprefix(PREFIX).partition(".")
        if not token.startswith(PREFIX) or not dot or not token_id.isalnum() \
                or len(token_id) > 24:
            return None
        with self._reader.connect() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        # Hash whatever was given, found or not, so that timing says nothing either way.
        given = _digest(secret)
        if row is None or not hmac.compare_digest(given, row.secret_sha256):
            return None
        info = self._info(row)
        return None if info.revoked_at is not None else info

    def list(self) -> list[TokenInfo]:
        with self._reader.connect() as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.created_at,
                                                             api_tokens.c.id))
            return [self._info(row) for row in rows]

    def revoke(self, token_id: str) -> TokenInfo:
        """Revoke the token: requests with it are refused from now on (already revoked: no
        change). ``UnknownToken`` when there is none."""
        c = api_tokens.c
        with self._writer.begin() as conn:
            row = conn.execute(select(api_tokens).where(c.id == token_id)).first()
            if row is None:
                raise UnknownToken(token_id)
            if row.revoked_at is None:
                conn.execute(update(api_tokens).where(c.id == token_id).values(
                    revoked_at=naive_utc(datetime.now(UTC))))
            row = conn.execute(select(api_tokens).where(c.id == token_id)).first()
        return self._info(row)

    def close(self) -> None:
        self._writer.dispose()
        self._reader.dispose()

    @staticmethod
    def _info(row: object) -> TokenInfo:
        actor = Actor(row.actor, roles=json.loads(row.roles), unit=row.unit)  # type: ignore[attr-defined]
        return TokenInfo(row.id, actor, row.name, aware_utc(row.created_at),  # type: ignore[attr-defined,arg-type]
                         aware_utc(row.revoked_at))  # type: ignore[attr-defined]
