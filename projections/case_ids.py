"""Case ids as people type them: whole, or a unique prefix of at least four characters (as
git does with commits).

A prefix is looked up in the read model as it stands, and in the events recorded since it was
last brought up to date; nothing is written, so a lookup never waits for the read model's
write lock (which an import or a rebuild may hold for a while).
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select

from casework import Casework
from casework.errors import AmbiguousCase, UnknownCase

from .read_model import PAGE_SIZE, ReadModel
from .tables import case_summary

SHORTEST = 4
HEX = frozenset("0123456789abcdef-")


def expand_case_id(app: Casework, given: str) -> UUID:
    """The case id ``given`` names; ``UnknownCase`` when none, ``AmbiguousCase`` when several."""
    text = given.strip().lower()
    try:
        return UUID(text)
    except ValueError:
        pass
    if len(text) < SHORTEST or not set(text) <= HEX:
        raise UnknownCase(given, f"give a case id or at least {SHORTEST} characters of one")
    matches = ids_starting_with(app, text, limit=3)
    if not matches:
        raise UnknownCase(given)
    if len(matches) > 1:
        raise AmbiguousCase(given, matches)
    return UUID(matches[0])


def ids_starting_with(app: Casework, prefix: str, limit: int) -> list[str]:
    """Up to ``limit`` case ids that start with ``prefix``, in order."""
    pattern = prefix.replace("%", "").replace("_", "") + "%"
    with ReadModel(app) as read_model:
        with read_model.engine.connect() as conn:
            found = set(conn.execute(
                select(case_summary.c.id).where(case_summary.c.id.like(pattern))
                .order_by(case_summary.c.id).limit(limit)).scalars())
        position = read_model.position()
    while len(found) < limit:  # the cases the read model has not taken in yet
        notifications = app.recorder.select_notifications(
            start=position, limit=PAGE_SIZE, inclusive_of_start=False)
        if not notifications:
            break
        found |= {str(n.originator_id) for n in notifications
                  if str(n.originator_id).startswith(prefix)}
        position = notifications[-1].id
    return sorted(found)[:limit]
