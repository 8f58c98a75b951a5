"""Case lists and queues for the API: a page of the read model's rows, within the caller's
reach, by cursor.

The order is newest first by (opened_at, id), which the command line's lists
(``projections.case_list``) do not offer; the cursor is the last row given, so a page never
repeats or skips a case however many are opened meanwhile. "Overdue" is the report's and the
command line's (``projections.filters.open_overdue``): a case that missed a deadline stays
overdue after an escalation gave it a new one.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, or_, select, true

from casework import Actor, PermissionDenied
from casework.timestamps import naive_utc, utc_now
from casework.workflow import OPEN_STAGES
from projections.filters import CaseFilter, open_overdue, unit_within
from projections.tables import case_summary

from .engines import Engine
from .problems import Problem

QUEUES = ("overdue", "mine")
"""overdue: open past its deadline; mine: what the caller may act on now."""
SCAN_PAGES = 10
"""How many pages' worth of rows one request looks at, at most, to fill a page whose rows
the caller cannot reach (then the page is short, with a cursor to go on)."""


@dataclass(frozen=True)
class CaseQuery:
    where: CaseFilter
    channel: str | None = None
    category: str | None = None
    overdue: bool = False
    mine: bool = False


def case_page(engine: Engine, actor: Actor, query: CaseQuery, limit: int,
              cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` rows after ``cursor``, and the cursor of the next page (None: last)."""
    engine.read_model.catch_up()
    query.where.check(engine.app)
    after = _decode(cursor) if cursor else None
    c = case_summary.c
    conditions = [query.where.clause(), _reach(actor)]
    for name in ("channel", "category"):
        if getattr(query, name) is not None:
            conditions.append(c[name] == getattr(query, name))
    if query.overdue:
        conditions.append(open_overdue(utc_now()))
    items: list[dict[str, Any]] = []
    scanned, exhausted = 0, False
    with engine.read_model.engine.connect() as conn:
        while not exhausted and len(items) < limit and scanned < limit * SCAN_PAGES:
            page = conn.execute(select(case_summary).where(and_(*conditions, _after(after)))
                                .order_by(c.opened_at.desc(), c.id.desc()).limit(limit)).all()
            exhausted = len(page) < limit
            for index, row in enumerate(page):
                scanned += 1
                after = (row.opened_at, row.id)
                if _shown(engine, actor, row, query.mine):
                    items.append(_item(row))
                    if len(items) == limit:
                        exhausted = exhausted and index == len(page) - 1
                        break
    return items, None if exhausted or after is None else _encode(after)


def _reach(actor: Actor) -> ColumnElement[bool]:
    """Rows possibly within the actor's unit: dispatched at or below it, or not dispatched
    (then where the case is, is its location, which the row lacks: checked case by case)."""
    if actor.unit is None:
        return true()
    return or_(unit_within(actor.unit), case_summary.c.unit.is_(None))


def _shown(engine: Engine, actor: Actor, row: Any, mine: bool) -> bool:
    if row.unit is None and actor.unit is not None:
        try:
            engine.app.get_case(row.id, actor=actor)
        except PermissionDenied:
            return False
    return not mine or bool(engine.app.allowed_triggers(row.id, actor))


def _after(after: tuple[datetime, str] | None) -> ColumnElement[bool]:
    if after is None:
        return true()
    c = case_summary.c
    opened, case_id = after
    return or_(c.opened_at < opened, and_(c.opened_at == opened, c.id < case_id))


def _item(row: Any) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "state": row.state, "stage": row.stage,
            "unit": row.unit, "grade": row.grade, "category": row.category,
            "channel": row.channel, "deadline": _utc(row.deadline),
            "opened_at": _utc(row.opened_at), "updated_at": _utc(row.updated_at),
            "events": row.events}


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"


def _encode(after: tuple[datetime, str]) -> str:
    text = json.dumps([after[0].isoformat(), after[1]])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        opened, case_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(opened), str(UUID(case_id))
    except (ValueError, TypeError, AttributeError, binascii.Error, UnicodeError):
        raise Problem("bad-input", "not a cursor this service gave", {"field": "cursor"}
                      ) from None


@dataclass(frozen=True)
class RequestQuery:
    """GET requests of Open311: which kinds, open or closed, opened between two times."""

    kinds: tuple[str, ...]
    status: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 1000


def request_ids(engine: Engine, query: RequestQuery) -> list[str]:
    """The ids of the cases an Open311 listing shows, newest first (reach is checked by the
    caller, case by case, as it reads them)."""
    engine.read_model.catch_up()
    c = case_summary.c
    conditions = [c.kind.in_(query.kinds)]
    if set(query.status) == {"open"}:
        conditions.append(c.stage.in_(OPEN_STAGES))
    elif set(query.status) == {"closed"}:
        conditions.append(c.stage.not_in(OPEN_STAGES))
    if query.start is not None:
        conditions.append(c.opened_at >= naive_utc(query.start))
    if query.end is not None:
        conditions.append(c.opened_at <= naive_utc(query.end))
    with engine.read_model.engine.connect() as conn:
        return list(conn.execute(select(c.id).where(and_(*conditions))
                                 .order_by(c.opened_at.desc(), c.id.desc())
                                 .limit(query.limit)).scalars())
