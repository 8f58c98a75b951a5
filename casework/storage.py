"""One URL picks the storage: the same database holds events, snapshots and read models.

``sqlite:///path.db`` (the embedded default), ``sqlite:///:memory:`` (tests) or
``postgresql://user@host:port/dbname``. The events are kept by eventsourcing's own SQLite or
PostgreSQL recorder; the read models reach the same database through SQLAlchemy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import QueuePool

from .errors import DatabaseURLError, SettingsError, StorageError

DEFAULT_URL = "sqlite:///casework.db"
ENV_VAR = "CASEWORK_DB"
DDL_LOCK = 7_239_001
"""The advisory lock key under which casework changes its own tables on PostgreSQL."""
LOCK_TIMEOUT_SECONDS = 10
"""How long a command waits for a database another process has locked, before it fails."""
LOCK_TIMEOUT_VAR = "CASEWORK_LOCK_TIMEOUT"
"""Whole seconds, to wait longer or shorter than LOCK_TIMEOUT_SECONDS."""


def default_url() -> str:
    return os.environ.get(ENV_VAR) or DEFAULT_URL


EVENTS_TABLE = "casework_events"
"""eventsourcing's table of events, in the URL's schema."""
INSTALL_POSTGRES = ("PostgreSQL support is not installed: pip install 'casework[postgres]' "
                    "(or pip install psycopg[binary] psycopg-pool)")


def postgres_driver() -> Any:
    """psycopg, the optional extra's driver; ``StorageError`` with the install hint when the
    extra is not installed (rather than a ModuleNotFoundError traceback)."""
    try:
        import psycopg  # the optional extra's: only on PostgreSQL
    except ImportError:
        raise StorageError(INSTALL_POSTGRES) from None
    return psycopg


def lock_timeout() -> int:
    """Seconds to wait for a lock: $CASEWORK_LOCK_TIMEOUT, or LOCK_TIMEOUT_SECONDS."""
    text = os.environ.get(LOCK_TIMEOUT_VAR, "").strip()
    if not text:
        return LOCK_TIMEOUT_SECONDS
    seconds = int(text) if text.isdecimal() and text.isascii() else 0
    if not 1 <= seconds <= 86_400:
        raise SettingsError(f"{LOCK_TIMEOUT_VAR}={text!r}: give whole seconds from 1 to 86400")
    return seconds


@dataclass(frozen=True)
class Storage:
    url: str
    """The URL as the user gave it (shown in messages, with any password hidden)."""
    backend: str
    event_store_env: dict[str, str]
    sqlalchemy_url: URL
    schema: str | None = None
    """PostgreSQL only: the schema that holds everything (``?schema=NAME``)."""
    lock_timeout: int = LOCK_TIMEOUT_SECONDS
    """Seconds to wait for a lock another connection holds (``lock_timeout()``)."""

    @classmethod
    def from_url(cls, url: str | None = None) -> Storage:
        text = url or default_url()
        if not isinstance(text, str) or "\x00" in text:
            raise DatabaseURLError(f"not a database URL: {text!r}")
        if "://" not in text:
            text = f"sqlite:///{text}"  # a bare path is a SQLite file
        try:
            parsed = make_url(text)
        except ArgumentError:
            raise DatabaseURLError(f"not a database URL: {text!r}") from None
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            return cls._sqlite(text, parsed, lock_timeout())
        if backend == "postgresql":
            return cls._postgres(text, parsed, lock_timeout())
        raise DatabaseURLError(
            f"unsupported database {backend!r} in {parsed.render_as_string()}: "
            "use sqlite:///FILE or postgresql://USER@HOST/DBNAME"
        )

    @classmethod
    def _sqlite(cls, text: str, parsed: URL, seconds: int) -> Storage:
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
            "SQLITE_LOCK_TIMEOUT": str(seconds),
        }
        return cls(text, "sqlite", env, alchemy, lock_timeout=seconds)

    @classmethod
    def _postgres(cls, text: str, parsed: URL, seconds: int) -> Storage:
        if not parsed.database:
            raise DatabaseURLError(f"no database name in {parsed.render_as_string()}")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parsed.database,
            "POSTGRES_HOST": parsed.host or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": parsed.username or os.environ.get("USER", "postgres"),
            "POSTGRES_PASSWORD": parsed.password or "",
            "POSTGRES_LOCK_TIMEOUT": str(seconds),
            "POSTGRES_CONNECT_TIMEOUT": "10",
        }
        schema = parsed.query.get("schema")
        if not isinstance(schema, str) or not schema:
            schema = None
        elif not schema.replace("_", "").isalnum():
            raise DatabaseURLError(f"schema {schema!r}: use letters, digits and underscores")
        else:
            env["POSTGRES_SCHEMA"] = schema
        alchemy = parsed.set(drivername="postgresql+psycopg").difference_update_query(["schema"])
        return cls(text, "postgresql", env, alchemy, schema, seconds)

    def exists(self) -> bool:
        """Whether the store is there: a SQLite file, or on PostgreSQL the events table in
        the URL's schema (a mistyped ``?schema=`` must not quietly give an empty store)."""
        if self.backend == "sqlite":
            name = self.event_store_env["SQLITE_DBNAME"]
            return "mode=memory" in name or os.path.exists(name)
        with self._connection() as conn:
            found = conn.execute("SELECT to_regclass(%s)",
                                 (f'"{self.schema or "public"}".{EVENTS_TABLE}',)).fetchone()
        return found is not None and found[0] is not None

    def _connection(self) -> Any:
        """A psycopg connection to the PostgreSQL database (autocommit)."""
        psycopg = postgres_driver()
        url = self.sqlalchemy_url.set(drivername="postgresql")
        try:
            return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True,
                                   connect_timeout=10)
        except psycopg.Error as error:
            raise StorageError(f"cannot open {self.display_url}: {error}".strip()) from None

    @contextmanager
    def setting_up(self) -> Iterator[None]:
        """Around creating the event store's tables: on PostgreSQL, create the URL's schema
        and hold the setup lock, because eventsourcing's CREATE ... IF NOT EXISTS and CREATE
        OR REPLACE FUNCTION race with themselves when several processes start at once."""
        if self.backend != "postgresql":
            yield
            return
        # eventsourcing's recorder sets a lock timeout only around its inserts: a read of a
        # table another session has locked would wait for ever. libpq's PGOPTIONS gives every
        # connection of this process (and of the workers it starts) the same timeout.
        options = re.sub(r"-c\s*lock_timeout=\S+", "", os.environ.get("PGOPTIONS", ""))
        os.environ["PGOPTIONS"] = f"{options} -c lock_timeout={self.lock_timeout}s".strip()
        with self._connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK,))
            try:
                if self.schema is not None:
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK,))

    def sqlalchemy_engine(self, writer: bool) -> Engine:
        """An engine on this database for tables beside the events (read models, leases).

        On SQLite a writer takes the write lock at BEGIN (SQLAlchemy's documented recipe for
        real SQLite transactions), so that what it reads and what it writes after are one
        step; readers stay plain, and in WAL mode never hold up writers."""
        if self.backend != "sqlite":
            return create_engine(self.sqlalchemy_url, connect_args=self.sqlalchemy_connect_args)
        # QueuePool also for the shared in-memory database: each connection sees the same one.
        engine = create_engine(self.sqlalchemy_url, poolclass=QueuePool,
                               connect_args=self.sqlalchemy_connect_args)
        if writer:
            @event.listens_for(engine, "connect")
            def _autocommit_driver(dbapi_connection: Any, _: Any) -> None:
                dbapi_connection.isolation_level = None

            @event.listens_for(engine, "begin")
            def _begin_immediate(conn: Connection) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        return engine

    def change_tables(self, engine: Engine, change: Callable[[Connection], None]) -> None:
        """Create or drop tables one process at a time: PostgreSQL's CREATE TABLE IF NOT
        EXISTS races with itself across processes (a duplicate key in pg_type), so take a
        transaction-scoped advisory lock first; SQLite's writer already locks at BEGIN."""
        with engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DDL_LOCK})
            change(conn)

    @property
    def sqlalchemy_connect_args(self) -> dict[str, Any]:
        """How the read models' engine connects: on PostgreSQL, into the URL's schema."""
        if self.backend == "postgresql":
            # lock_timeout: a read-model write waits for a lock no longer than events do.
            options = f"-clock_timeout={self.lock_timeout}s"
            if self.schema:
                options += f" -csearch_path={self.schema}"
            return {"connect_timeout": 10, "options": options}
        return {"timeout": self.lock_timeout, "check_same_thread": False}

    @property
    def display_url(self) -> str:
        """The URL as the user gave it (driver, ``?schema=`` and all), without its password."""
        # URL is a named tuple: _replace is its public copy-with (set() ignores None).
        return make_url(self.url)._replace(password=None).render_as_string(hide_password=False)


def lock_timed_out(error: BaseException) -> str | None:
    """What to tell the user when ``error`` is a lock another process held past the timeout
    (SQLite's "database is locked", PostgreSQL's lock_timeout); None for any other error."""
    text = str(getattr(error, "orig", None) or error)
    if "database is locked" in text or "lock timeout" in text:
        return (f"the database is locked by another process; gave up after {lock_timeout()} s "
                f"(${LOCK_TIMEOUT_VAR} sets how long to wait)")
    return None
