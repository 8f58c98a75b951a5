"""Errors as RFC 9457 problem details: ``type``, ``title``, ``status``, ``detail``, and the
casework error ``kind`` with the ``exit_code`` the command line gives the same mistake.

Each ``CaseworkError`` maps by its exit code (see ``casework --help``) to one kind and one
HTTP status; a few refine it (a stale version is 412, an existing case 409). Nothing else a
request can cause gets through as anything but a problem: an unexpected exception is logged
with its traceback and answered with a 500 problem that names only a reference to the log.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.persistence import PersistenceError
from sqlalchemy.exc import SQLAlchemyError

from casework import (
    CaseworkError,
    DuplicateCase,
    GuardRefused,
    IllegalTransition,
    InvalidField,
    StaleCase,
)
from casework.storage import lock_timed_out
from casework.timestamps import parse_time

log = logging.getLogger("casework.service")

MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class Kind:
    name: str
    status: int
    title: str
    exit_code: int | None = None
    """The CLI's exit code for the same mistake (None: an HTTP matter the CLI never meets)."""


KINDS = {kind.name: kind for kind in (
    Kind("error", 500, "Casework error", 1),
    Kind("bad-input", 422, "Bad input", 2),
    Kind("not-found", 404, "Not found", 3),
    Kind("illegal-transition", 409, "Illegal transition", 4),
    Kind("permission-denied", 403, "Permission denied", 5),
    Kind("concurrency-conflict", 409, "Concurrency conflict", 6),
    Kind("storage-unavailable", 503, "Storage unavailable", 7),
    Kind("stale-case", 412, "Stale case version", 6),
    Kind("duplicate-case", 409, "Case exists already", 2),
    Kind("unauthorized", 401, "Unauthorized"),
    Kind("no-such-route", 404, "No such route"),
    Kind("method-not-allowed", 405, "Method not allowed"),
    Kind("request-too-large", 413, "Request too large"),
    Kind("unsupported-media-type", 415, "Unsupported media type"),
    Kind("idempotency-key-reused", 422, "Idempotency key reused"),
    Kind("idempotency-in-progress", 409, "Request with this idempotency key in progress"),
    Kind("internal-error", 500, "Internal error"),
)}
BY_EXIT_CODE = {kind.exit_code: kind for kind in reversed(KINDS.values())
                if kind.exit_code is not None}
"""The kind of each exit code (the first listed wins: 2 is bad-input, 6 is a conflict)."""

DESCRIPTIONS = {
    "error": "The engine refused the request for a reason of its own; the detail says which.",
    "bad-input": "A field, parameter or body is malformed, unknown, missing or out of range "
                 "(the library's field limits apply). 'field' names it when there is one.",
    "not-found": "No such case, workflow, person or service.",
    "illegal-transition": "The trigger is not legal from the case's state, or a guard refused "
                          "it; 'legal_triggers' lists those that are.",
    "permission-denied": "The token's actor lacks a role the trigger admits, or the case is "
                         "outside the actor's unit.",
    "concurrency-conflict": "The case kept changing under the command; try again.",
    "storage-unavailable": "The database cannot be reached, or stayed locked; try again.",
    "stale-case": "If-Match named another version of the case than it has now: read it again "
                  "(its ETag) and decide again.",
    "duplicate-case": "A case with that id exists already.",
    "unauthorized": "No token, a malformed, unknown or revoked one: send "
                    "'Authorization: Bearer <token>' (casework tokens create).",
    "no-such-route": "No resource at this path.",
    "method-not-allowed": "The resource does not take this method.",
    "request-too-large": "The body is over the service's size limit (casework serve "
                         "--max-body).",
    "unsupported-media-type": "The body is not of a media type this resource takes.",
    "idempotency-key-reused": "The Idempotency-Key was used before with another request.",
    "idempotency-in-progress": "A request with this Idempotency-Key is still being handled; "
                               "retry shortly.",
    "internal-error": "An unexpected error; it was logged on the server under 'reference'.",
}


@dataclass(eq=False)
class Problem(Exception):
    """A problem to answer with; raise it from a route, or build one from an error."""

    kind: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> int:
        return KINDS[self.kind].status

    def body(self) -> dict[str, Any]:
        kind = KINDS[self.kind]
        body: dict[str, Any] = {"type": f"/problems/{kind.name}", "title": kind.title,
                                "status": kind.status, "detail": self.detail,
                                "kind": kind.name}
        if kind.exit_code is not None:
            body["exit_code"] = kind.exit_code
        return body | self.extra


def from_error(error: BaseException) -> Problem:
    """The problem that answers ``error``: any exception a request can raise."""
    if isinstance(error, Problem):
        return error
    if isinstance(error, CaseworkError):
        return _from_casework_error(error)
    if isinstance(error, PersistenceError | sqlite3.Error | SQLAlchemyError):
        log.warning("database error: %s", error)
        detail = lock_timed_out(error) or "the database could not be reached; try again"
        return Problem("storage-unavailable", detail, headers={"Retry-After": "1"})
    reference = uuid.uuid4().hex[:12]
    log.error("unexpected error (reference %s)", reference, exc_info=error)
    return Problem("internal-error", f"an unexpected error (reference {reference})",
                   {"reference": reference})


def _from_casework_error(error: CaseworkError) -> Problem:
    detail = str(error).replace("\n", "; ")
    if isinstance(error, StaleCase):
        return Problem("stale-case", detail, {"expected_version": error.expected,
                                              "current_version": error.actual})
    if isinstance(error, DuplicateCase):
        return Problem("duplicate-case", detail)
    kind = BY_EXIT_CODE.get(error.exit_code, KINDS["error"])
    extra: dict[str, Any] = {}
    if isinstance(error, InvalidField):
        extra["field"] = error.field
    if isinstance(error, IllegalTransition):
        extra.update(state=error.state, trigger=error.trigger, legal_triggers=error.legal)
    if isinstance(error, GuardRefused):
        extra["guard"] = error.guard
    if kind.name == "storage-unavailable":
        return Problem(kind.name, detail, extra, {"Retry-After": "1"})
    return Problem(kind.name, detail, extra)


def time_parameter(value: str | None, name: str) -> datetime | None:
    """A query's time parameter (ISO 8601; a naive time is the office's), or None when it is
    absent or empty (Open311 clients send ``start_date=``): a malformed one is a bad-input
    problem naming the parameter."""
    if value is None or value == "":
        return None
    try:
        return parse_time(value)
    except ValueError as error:
        raise Problem("bad-input", f"{name}: {error}", {"field": name}) from None

