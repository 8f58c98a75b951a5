"""Lists of cases: what ``casework cases`` shows, a typed and paged query over the read model.

A ``CaseQuery`` is plain data: filters (``CaseFilter``), a named queue, an order, a page.
``list_cases`` answers it with a ``CasePage`` of ``CaseRow``s. Every order is a range of one
index (the sort column, then the id), so the first page costs the same for a thousand cases
or a million; a deeper page is best fetched with the previous page's ``next_cursor``
(keyset: ``WHERE (column, id) > (last seen)``), which costs the same at any depth, while
``page`` (``OFFSET``) reads and skips every row before it.

Queues: ``mine`` (what the actor may act on now: ``Casework.allowed_triggers``, in SQL by
state per workflow version and by reach, then confirmed case by case), ``overdue``,
``due-today`` (in the office's time zone) and ``to-revisit`` (the sweep's revisit rule).
An actor bound to a unit only ever sees the cases in their reach, whatever the query.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, false, func, literal, or_, select, true, tuple_

from casework import Actor, Casework, InvalidField
from casework.jobs.sweep import REVISIT, sweep_rules
from casework.timestamps import aware_utc, utc_now

from .case_summary import CLOSED, OPEN
from .filters import CaseFilter, due_between, open_overdue, within_reach
from .read_model import ReadModel
from .selection import due_clause
from .tables import case_summary

QUEUES = ("mine", "overdue", "due-today", "to-revisit")
SORTS = ("deadline", "age", "last-change")
"""deadline: soonest first, cases without one last (oldest first); age: oldest first;
last-change: most recently changed first. In every order, open cases come before closed."""
QUEUE_STATUSES = {"overdue": (OPEN,), "due-today": (OPEN,), "to-revisit": (CLOSED,)}
MAX_LIMIT = 1000

_c = case_summary.c


@dataclass(frozen=True)
class CaseQuery:
    where: CaseFilter = field(default_factory=CaseFilter)
    queue: str | None = None
    """One of ``QUEUES``, or None."""
    sort: str = "deadline"
    limit: int = 20
    page: int = 1
    """1 is the first page; a later one skips ``(page - 1) * limit`` rows (see ``after``)."""
    after: str | None = None
    """The ``next_cursor`` of the page before: that page's successor, read by keyset."""
    now: datetime | None = None
    """When deadlines are judged (default: the clock)."""
    zone: tzinfo = UTC
    """The office's time zone: where its day begins and ends (for ``due-today``)."""
    count: bool = True
    """Also count every case the query selects (``CasePage.total``)."""

    def __post_init__(self) -> None:
        if self.queue is not None and self.queue not in QUEUES:
            raise InvalidField("queue", f"no queue {self.queue!r} (queues: {', '.join(QUEUES)})")
        if self.sort not in SORTS:
            raise InvalidField("sort", f"cannot sort by {self.sort!r} (sorts: {', '.join(SORTS)})")
        if not (isinstance(self.limit, int) and 1 <= self.limit <= MAX_LIMIT):
            raise InvalidField("limit", f"{self.limit!r} is not a number from 1 to {MAX_LIMIT}")
        if not (isinstance(self.page, int) and 1 <= self.page < 2**31):
            raise InvalidField("page", f"{self.page!r} is not a page number (1, 2, ...)")
        if self.after is not None and self.page != 1:
            raise InvalidField("after", "give a page number or a cursor, not both")


@dataclass(frozen=True)
class CaseRow:
    """One case as a list shows it. Times are UTC."""

    id: UUID
    kind: str
    version: int
    state: str
    stage: str
    unit: str | None
    grade: str | None
    category: str | None
    channel: str | None
    title: str | None
    place: str | None
    assignee: str | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    deadline: datetime | None
    overdue: bool
    """Open past its deadline at the page's ``as_of`` (as the report counts it)."""
    escalations: int
    reopens: int
    actions: tuple[str, ...] = ()
    """In the ``mine`` queue: the triggers the actor may fire on it now."""

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class CasePage:
    rows: list[CaseRow]
    total: int | None
    """How many cases the query selects on all pages (None unless counted)."""
    offset: int | None
    """How many selected cases come before this page (None after a cursor: unknown)."""
    next_cursor: str | None
    """Give it as ``after`` for the next page; None on the last page."""
    as_of: datetime
    query: CaseQuery

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "total": self.total, "offset": self.offset,
                "limit": self.query.limit, "page": self.query.page,
                "next_cursor": self.next_cursor, "sort": self.query.sort,
                "queue": self.query.queue, "filters": self.query.where.as_dict(),
                "cases": [row.as_dict() for row in self.rows]}


@dataclass(frozen=True)
class _Phase:
    """A stretch of one order: the rows ``condition`` selects, by ``key`` (the last column is
    the id), ascending or not. The deadline order has two: with a deadline, then without."""

    condition: ColumnElement[bool]
    key: tuple[Any, ...]
    descending: bool = False


def _phases(sort: str, statuses: tuple[str, ...]) -> list[_Phase]:
    """The stretches of an order: open cases before closed ones, each a range of an index
    that starts with the status."""
    phases = []
    for status in statuses:
        current = _c.status == status
        if sort == "deadline":
            phases += [_Phase(and_(current, _c.deadline.is_not(None)), (_c.deadline, _c.id)),
                       _Phase(and_(current, _c.deadline.is_(None)), (_c.opened_at, _c.id))]
        elif sort == "age":
            phases.append(_Phase(current, (_c.opened_at, _c.id)))
        else:
            phases.append(_Phase(current, (_c.updated_at, _c.id), descending=True))
    return phases


def list_cases(read_model: ReadModel, query: CaseQuery, actor: Actor | None = None
               ) -> CasePage:
    """The page of cases ``query`` asks for, as ``actor`` may see them (all cases without
    one), after catching up with the events. ``InvalidField`` when the query names a kind,
    unit, state or stage that does not exist, or asks for ``mine`` without an actor."""
    app = read_model.app
    query.where.check(app)
    if actor is not None:
        app.authorisation.reaches(actor, None)  # an actor bound to no real unit: say so
    read_model.catch_up()
    moment = query.now or utc_now()
    clause = and_(query.where.clause(), queue_clause(app, query, moment, actor),
                  within_reach(actor.unit if actor else None))
    overdue = open_overdue(moment).label("overdue")
    with read_model.engine.connect() as conn:
        found, cursor = _read_page(conn, clause, query, overdue)
        total = None
        if query.count:
            total = int(conn.execute(select(func.count()).select_from(case_summary)
                                     .where(clause)).scalar_one())
    rows = [_row(found_row) for found_row in found]
    if query.queue == "mine":
        assert actor is not None
        rows = _confirmed(app, rows, actor)
    offset = (query.page - 1) * query.limit if query.after is None else None
    return CasePage(rows, total, offset, cursor, moment, query)


def queue_clause(app: Casework, query: CaseQuery, now: datetime, actor: Actor | None
                 ) -> ColumnElement[bool]:
    """The cases of the query's named queue (all cases without one)."""
    if query.queue is None:
        return true()
    if query.queue == "overdue":
        return open_overdue(now)
    if query.queue == "due-today":
        return due_between(now, end_of_day(now, query.zone))
    if query.queue == "to-revisit":
        rules = tuple(rule for rule in sweep_rules(app.workflows, now) if rule.trigger == REVISIT)
        return due_clause(rules)
    if actor is None:
        raise InvalidField("actor", "the queue mine is what an actor may do: say who acts")
    return may_act(app, actor)


def may_act(app: Casework, actor: Actor) -> ColumnElement[bool]:
    """The cases in a state where some trigger admits one of the actor's roles, per workflow
    version: ``allowed_triggers`` in SQL, but for reach (``within_reach``)."""
    parts = []
    for workflow in app.workflows:
        states = sorted({source for (source, _), trigger in workflow.transitions.items()
                         if app.authorisation.may_fire(actor, trigger)})
        if states:
            parts.append(and_(_c.kind == workflow.name, _c.workflow_version == workflow.version,
                              _c.state.in_(states)))
    return or_(false(), *parts)


def end_of_day(moment: datetime, zone: tzinfo) -> datetime:
    """Midnight after ``moment``, in ``zone``."""
    local = moment.astimezone(zone)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return tomorrow.astimezone(UTC)


def _read_page(conn: Any, clause: ColumnElement[bool], query: CaseQuery, overdue: Any
               ) -> tuple[list[Any], str | None]:
    """Up to ``limit`` rows of the order, and the cursor after them (None: no more)."""
    statuses = QUEUE_STATUSES.get(query.queue or "", query.where.statuses())
    phases = _phases(query.sort, tuple(s for s in query.where.statuses() if s in statuses))
    start, after = _start(query.after, len(phases))
    skip = (query.page - 1) * query.limit
    wanted = query.limit + 1  # one more than shown: is there a next page?
    found: list[tuple[int, Any]] = []
    for number in range(start, len(phases)):
        phase = phases[number]
        statement = select(case_summary, overdue).where(clause, phase.condition)
        if after is not None and number == start:
            statement = statement.where(_beyond(phase, after))
        order = [column.desc() if phase.descending else column for column in phase.key]
        statement = statement.order_by(*order).offset(skip).limit(wanted - len(found))
        rows = list(conn.execute(statement))
        if not rows and skip:  # all skipped here: skip the rest of them in the next phase
            skip -= int(conn.execute(select(func.count()).select_from(case_summary)
                                     .where(clause, phase.condition)).scalar_one())
            skip = max(skip, 0)
        else:
            skip = 0
        found += [(number, row) for row in rows]
        if len(found) >= wanted:
            break
    shown = found[:query.limit]
    cursor = _cursor(phases, *shown[-1]) if len(found) > query.limit else None
    return [row for _, row in shown], cursor


def _beyond(phase: _Phase, after: list[Any]) -> ColumnElement[bool]:
    key = tuple_(*phase.key)
    values = tuple_(*(_value(column, value) for column, value in zip(phase.key, after,
                                                                       strict=True)))
    return key < values if phase.descending else key > values


def _value(column: Any, value: Any) -> Any:
    return literal(value, column.type)


def _cursor(phases: list[_Phase], number: int, row: Any) -> str:
    values = [getattr(row, column.name) for column in phases[number].key]
    data = [number, *(v.isoformat() if isinstance(v, datetime) else v for v in values)]
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()
                                    ).decode().rstrip("=")


def _start(cursor: str | None, phases: int) -> tuple[int, list[Any] | None]:
    """The phase and key a cursor continues after."""
    if cursor is None:
        return 0, None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        number, *values = data
        if not (isinstance(number, int) and 0 <= number < phases and len(values) == 2):
            raise ValueError
        first = datetime.fromisoformat(values[0])
        UUID(values[1])
    except (ValueError, TypeError):
        raise InvalidField("after", f"{cursor!r} is not a cursor of this list "
                                    "(give the next_cursor of the page before)") from None
    return number, [first, values[1]]


def _row(row: Any) -> CaseRow:
    return CaseRow(
        id=UUID(row.id), kind=row.kind, version=row.workflow_version, state=row.state,
        stage=row.stage, unit=row.unit, grade=row.grade, category=row.category,
        channel=row.channel, title=row.title, place=row.place, assignee=row.assignee,
        opened_at=aware_utc(row.opened_at), updated_at=aware_utc(row.updated_at),
        closed_at=aware_utc(row.closed_at), deadline=aware_utc(row.deadline),
        overdue=bool(row.overdue), escalations=row.escalations, reopens=row.reopens)


def _confirmed(app: Casework, rows: list[CaseRow], actor: Actor) -> list[CaseRow]:
    """Each row with what the actor may do on the case as it stands; a case that changed
    since the read model saw it, so that the actor may do nothing now, is left out."""
    kept = []
    for row in rows:
        actions = tuple(app.allowed_triggers(row.id, actor))
        if actions:
            kept.append(CaseRow(**{**row.as_dict(), "actions": actions}))
    return kept
