"""One URL picks the storage: the same database holds events, snapshots and read models.

``sqlite:///path.db`` (the embedded default), ``sqlite:///:memory:`` (tests) or
``postgresql://user@host:port/dbname``. The events are kept by eventsourcing's own SQLite or
PostgreSQL recorder; the read models reach the same database through SQLAlchemy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from uuid import uuid4

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import StorageError

DEFAULT_URL = "sqlite:///casework.db"
ENV_VAR = "CASEWORK_DB"
LOCK_TIMEOUT_SECONDS = 10
"""How long a command waits for a database another process has locked, before it fails."""


def default_url() -> str:
    return os.environ.get(ENV_VAR) or DEFAULT_URL


@dataclass(frozen=True)
class Storage:
    url: str
    """The URL as the user gave it (shown in messages, with any password hidden)."""
    backend: str
    event_store_env: dict[str, str]
    sqlalchemy_url: URL

    @classmethod
    def from_url(cls, url: str | None = None) -> Storage:
        text = url or default_url()
        if "://" not in text:
            text = f"sqlite:///{text}"  # a bare path is a SQLite file
        try:
            parsed = make_url(text)
        except ArgumentError:
            raise StorageError(f"not a database URL: {text!r}") from None
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            return cls._sqlite(text, parsed)
        if backend == "postgresql":
            return cls._postgres(text, parsed)
        raise StorageError(
            f"unsupported database {backend!r} in {parsed.render_as_string()}: "
            "use sqlite:///FILE or postgresql://USER@HOST/DBNAME"
        )

    @classmethod
    def _sqlite(cls, text: str, parsed: URL) -> Storage:
        database = parsed.database or ":memory:"
        if database == ":memory:":
            # A private shared-cache in-memory database, so that the event recorder's
            # connections and the read models' engine all see the same one.
            database = f"file:casework-{uuid4().hex}?mode=memory&cache=shared"
            alchemy = make_url(f"sqlite:///{database}&uri=true")
        else:
            alchemy = parsed.set(drivername="sqlite")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": database,
            "SQLITE_LOCK_TIMEOUT": str(LOCK_TIMEOUT_SECONDS),
        }
        return cls(text, "sqlite", env, alchemy)

    @classmethod
    def _postgres(cls, text: str, parsed: URL) -> Storage:
        if not parsed.database:
            raise StorageError(f"no database name in {parsed.render_as_string()}")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parsed.database,
            "POSTGRES_HOST": parsed.host or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": parsed.username or os.environ.get("USER", "postgres"),
            "POSTGRES_PASSWORD": parsed.password or "",
            "POSTGRES_LOCK_TIMEOUT": str(LOCK_TIMEOUT_SECONDS),
            "POSTGRES_CONNECT_TIMEOUT": "10",
        }
        schema = parsed.query.get("schema")
        if isinstance(schema, str) and schema:
            env["POSTGRES_SCHEMA"] = schema
        alchemy = parsed.set(drivername="postgresql+psycopg").difference_update_query(["schema"])
        return cls(text, "postgresql", env, alchemy)

    @property
    def display_url(self) -> str:
        return self.sqlalchemy_url.render_as_string(hide_password=True)
