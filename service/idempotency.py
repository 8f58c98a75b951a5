"""``Idempotency-Key`` on POST: a retried request gets the answer the first one got.

The first request with a key (per token) inserts a row marked in progress; its answer is
stored in the row when it is done. A request with the same key then gets that answer again
(``Idempotent-Replayed: true``), whichever process of the service handles it, since the row
is in the shared database and its primary key lets exactly one insert win. The same key with
another request (method, path or body) is a 422; while the first is still running, a 409.

An answer of the server's own failure (5xx) is not kept: the retry runs again. A row left in
progress by a process that died is taken over after ``ABANDONED``; a case opened under a key
has an id derived from the key (``case_id_for``), so running the open again finds the case
instead of opening a second one. Rows are kept for ``KEPT`` and then deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from casework import CaseworkError
from casework.storage import Storage

from .problems import Problem, from_error

KEPT = timedelta(hours=24)
ABANDONED = timedelta(seconds=60)
MAX_KEY = 200
NAMESPACE = UUID("4f3c2a51-6f0e-4d55-9a57-7c1c58b0b5e2")
"""Fixed for good: the case opened under a key has id ``uuid5(NAMESPACE, token:key)``."""

metadata = MetaData()
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("token", String(24), primary_key=True),
    Column("key", String(MAX_KEY), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status", Integer),  # NULL while the first request is in progress
    Column("body", Text),
    Column("headers", Text),
    Column("created_at", DateTime, nullable=False, index=True),
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def case_id_for(token: str, key: str) -> UUID:
    return uuid5(NAMESPACE, f"{token}:{key}")


def check_key(key: str) -> str:
    if not 0 < len(key) <= MAX_KEY or not key.isprintable() or not key.isascii():
        raise Problem("bad-input", f"Idempotency-Key must be 1 to {MAX_KEY} printable ASCII "
                                   "characters", {"field": "Idempotency-Key"})
    return key


class IdempotencyStore:
    def __init__(self, storage: Storage) -> None:
        self._engine = storage.sqlalchemy_engine(writer=True)
        storage.change_tables(self._engine, metadata.create_all)

    def close(self) -> None:
        self._engine.dispose()

    def run(self, token: str, key: str, print_: str, handle: Callable[[], Answer]) -> Answer:
        """``handle()``'s answer, or the stored answer of the first request with ``key``."""
        check_key(key)
        earlier = self._claim(token, key, print_)
        if earlier is not None:
            return earlier
        try:
            answer = handle()
        except (Problem, CaseworkError) as error:  # a refusal: the retry gets it again
            problem = from_error(error)
            if problem.status >= 500:
                self._release(token, key)
                raise
            answer = Answer(problem.status, problem.body(), problem.headers)
        except BaseException:
            self._release(token, key)
            raise
        self._store(token, key, answer)
        return answer

    def _claim(self, token: str, key: str, print_: str) -> Answer | None:
        """Insert the row in progress (None: go ahead), or the answer already given."""
        c = idempotency_keys.c
        now = _now()
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(idempotency_keys).where(c.created_at < now - KEPT))
                conn.execute(insert(idempotency_keys).values(
                    token=token, key=key, fingerprint=print_, created_at=now))
            return None
        except IntegrityError:
            pass
        with self._engine.begin() as conn:
            row = conn.execute(select(idempotency_keys).where(
                c.token == token, c.key == key)).first()
            if row is None:  # deleted meanwhile (expired or released): try once more
                conn.execute(insert(idempotency_keys).values(
                    token=token, key=key, fingerprint=print_, created_at=now))
                return None
            if row.fingerprint != print_:
                raise Problem("idempotency-key-reused",
                              f"Idempotency-Key {key!r} was used with another request")
            if row.status is not None:
                headers = json.loads(row.headers or "{}") | {"Idempotent-Replayed": "true"}
                return Answer(row.status, json.loads(row.body), headers)
            if row.created_at > now - ABANDONED:
                raise Problem("idempotency-in-progress",
                              f"a request with Idempotency-Key {key!r} is still in progress",
                              headers={"Retry-After": "1"})
            # Its process died: take it over (one taker wins the compare-and-set).
            taken = conn.execute(update(idempotency_keys).where(
                c.token == token, c.key == key, c.created_at == row.created_at,
                c.status.is_(None)).values(created_at=now))
            if taken.rowcount != 1:
                raise Problem("idempotency-in-progress",
                              f"a request with Idempotency-Key {key!r} is still in progress",
                              headers={"Retry-After": "1"})
        return None

    def _store(self, token: str, key: str, answer: Answer) -> None:
        c = idempotency_keys.c
        with self._engine.begin() as conn:
            conn.execute(update(idempotency_keys).where(c.token == token, c.key == key).values(
                status=answer.status, body=json.dumps(answer.body, default=str),
                headers=json.dumps(answer.headers)))

    def _release(self, token: str, key: str) -> None:
        c = idempotency_keys.c
        with self._engine.begin() as conn:
            conn.execute(delete(idempotency_keys).where(
                c.token == token, c.key == key, c.status.is_(None)))
