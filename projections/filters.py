"""Which cases a report counts, a list shows or a batch job selects: conditions over the read
model, as parameterised SQL. The report's filters, a list's filters and a job's ``--where``
are the same conditions, and what "overdue" means is said once, here (``open_overdue``), for
the report's figures and the lists alike.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, and_, not_, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal

from casework import Casework, InvalidField
from casework.timestamps import naive_utc, parse_time
from casework.workflow import STAGES

from .case_summary import CLOSED, OPEN
from .tables import case_summary

TEXT_KEYS = ("kind", "state", "stage", "unit", "grade", "channel", "category", "assignee",
             "text", "status")
TIME_KEYS = ("opened_before", "opened_after", "closed_before", "closed_after", "overdue_at",
             "due_after", "due_before")
FILTER_KEYS = (*TEXT_KEYS, *TIME_KEYS, "reopened", "version_below")
STATUSES = (OPEN, CLOSED)
"""open: stage collect, assess, dispatch or follow_up; closed: close or revisit."""

_c = case_summary.c


class UnitWithin(ColumnElement[bool]):
    """``column`` is the unit or below it: ``= unit OR LIKE 'unit/%'``. On SQLite, whose LIKE
    never uses an index for a bound pattern, the second part is the same range of its
    binary order instead (``> 'unit/' AND < 'unit0'``: '0' follows '/'), so an index on the
    column finds the cases of a community among a million. PostgreSQL keeps the LIKE: under a
    language's collation, ranges of text do not follow the bytes."""

    # Not Boolean: SQLAlchemy would compare a Boolean element to 1 on SQLite.
    type = NullType()
    inherit_cache = True
    _traverse_internals: ClassVar[Any] = [("column", InternalTraversal.dp_clauseelement),
                                          ("unit", InternalTraversal.dp_string)]

    def __init__(self, column: Any, unit: str) -> None:
        self.column = column
        self.unit = unit

    @property
    def _from_objects(self) -> Any:
        return self.column._from_objects


@compiles(UnitWithin)
def _unit_within_like(element: UnitWithin, compiler: Any, **kw: Any) -> str:
    column, unit = element.column, element.unit
    return "(" + compiler.process(
        or_(column == unit, column.startswith(unit + "/", autoescape=True)), **kw) + ")"


@compiles(UnitWithin, "sqlite")
def _unit_within_range(element: UnitWithin, compiler: Any, **kw: Any) -> str:
    column, unit = element.column, element.unit
    return "(" + compiler.process(
        or_(column == unit, and_(column > unit + "/", column < unit + "0")), **kw) + ")"


def unit_within(prefix: str, column: Any = _c.unit) -> ColumnElement[bool]:
    """Cases at the unit ``prefix`` or below it (never a sibling that merely starts alike)."""
    return UnitWithin(column, prefix.strip("/"))


def within_reach(unit: str | None) -> ColumnElement[bool]:
    """The cases an actor bound to ``unit`` reaches (``Actor.reaches``): where a case
    belongs is at that unit or below it, or nowhere yet."""
    if unit is None:
        return true()
    return or_(_c.jurisdiction.is_(None), unit_within(unit, _c.jurisdiction))


def is_open() -> ColumnElement[bool]:
    """In stage collect, assess, dispatch or follow_up (the read model's ``status``)."""
    return _c.status == OPEN


def judged(deadline: Any = _c.deadline) -> ColumnElement[bool]:
    """Cases whose deadline counts against their unit: open, graded, with a deadline."""
    return and_(is_open(), _c.resolved_at.is_(None), _c.grade.is_not(None),
                deadline.is_not(None))


def open_overdue(now: datetime, deadline: Any = _c.deadline,
                 missed: Any = _c.missed_deadline) -> ColumnElement[bool]:
    """Open past its deadline at ``now``, or having missed one already (an escalation gave it
    a fresh one): what the report counts as ``open_overdue`` and ``cases --overdue`` lists.
    ``deadline`` and ``missed`` name the clock (the read model's columns of one deadline)."""
    return and_(judged(deadline), or_(missed.is_(True), and_(
        _c.paused_since.is_(None), deadline < naive_utc(now))))  # a paused clock stands still


def contact_overdue(now: datetime) -> ColumnElement[bool]:
    """Open, not yet contacted, past the contact deadline at ``now`` (the contact clock's
    open_overdue)."""
    return and_(is_open(), _c.contacted_at.is_(None), _c.contact_deadline.is_not(None),
                _c.contact_deadline < naive_utc(now))


def due_between(start: datetime | None, end: datetime | None, deadline: Any = _c.deadline,
                missed: Any = _c.missed_deadline) -> ColumnElement[bool]:
    """Open, not overdue, with a deadline from ``start`` (inclusive) to ``end`` (exclusive)."""
    conditions = [judged(deadline), not_(missed.is_(True))]
    if start is not None:
        conditions.append(deadline >= naive_utc(start))
    if end is not None:
        conditions.append(deadline < naive_utc(end))
    return and_(*conditions)


def text_in_title_or_place(text: str) -> ColumnElement[bool]:
    """Each word of ``text`` in the title or the place, in any case (a substring match)."""
    words = text.split()
    return and_(true(), *(or_(_c.title.icontains(word, autoescape=True),
                              _c.place.icontains(word, autoescape=True)) for word in words))


@dataclass(frozen=True)
class CaseFilter:
    """Conditions, all of which a case must meet (``None``: no condition)."""

    kind: str | None = None
    state: str | None = None
    stage: str | None = None
    unit: str | None = None
    """A unit path: the cases dispatched to it or below it."""
    grade: str | None = None
    channel: str | None = None
    category: str | None = None
    assignee: str | None = None
    """Who took the case on last (see ``assignee`` in the workflow format)."""
    text: str | None = None
    """Words that must each appear in the title or the place."""
    status: str | None = None
    """open or closed (``STATUSES``)."""
    opened_before: datetime | None = None
    opened_after: datetime | None = None
    closed_before: datetime | None = None
    closed_after: datetime | None = None
    overdue_at: datetime | None = None
    """Open past its deadline at this moment (``open_overdue``)."""
    due_after: datetime | None = None
    """With ``due_before``: open and in time, with a deadline in [due_after, due_before)."""
    due_before: datetime | None = None
    reopened: bool | None = None
    """Reopened at least once (True) or never (False)."""
    version_below: int | None = None

    def __post_init__(self) -> None:
        for name in TEXT_KEYS:
            value = getattr(self, name)
            # Values are bound as parameters; PostgreSQL refuses NUL in one, so refuse first.
            if value is not None and (not isinstance(value, str) or not value.isprintable()):
                raise InvalidField(name, f"{value!r} is not printable text")
        if self.status is not None and self.status not in STATUSES:
            raise InvalidField("status", f"{self.status!r} is not one of {', '.join(STATUSES)}")
        for name in TIME_KEYS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, datetime):
                raise InvalidField(name, f"{value!r} is not a time")
        if self.reopened is not None and not isinstance(self.reopened, bool):
            raise InvalidField("reopened", f"{self.reopened!r} is not true or false")
        version = self.version_below
        if version is not None and not (isinstance(version, int) and 0 <= version < 2**31):
            raise InvalidField("version_below", f"{version!r} is not a workflow version")

    @classmethod
    def parse(cls, pairs: dict[str, str]) -> CaseFilter:
        """From ``name=value`` text; ValueError naming what is wrong."""
        values: dict[str, Any] = {}
        for name, value in pairs.items():
            if name not in FILTER_KEYS:
                raise ValueError(f"cannot filter on {name!r} (use {', '.join(FILTER_KEYS)})")
            if name in TIME_KEYS:
                values[name] = parse_time(value)
            elif name == "version_below":
                values[name] = int(value)
            elif name == "reopened":
                if value.strip().lower() not in ("true", "false"):
                    raise ValueError(f"reopened={value!r}: give true or false")
                values[name] = value.strip().lower() == "true"
            else:
                values[name] = value
        return cls(**values)

    def check(self, app: Casework) -> None:
        """A kind, unit, stage or state that does not exist is a typo: say so, rather than
        select nothing."""
        check_known(app, self.kind, self.unit)
        if self.stage is not None and self.stage not in STAGES:
            raise InvalidField("stage", f"no stage {self.stage!r} (stages: {', '.join(STAGES)})")
        if self.state is not None:
            workflows = [app.workflows.get(self.kind)] if self.kind else list(app.workflows)
            states = sorted({state for workflow in workflows for state in workflow.states})
            if self.state not in states:
                raise InvalidField("state", f"no state {self.state!r} "
                                            f"(states: {', '.join(states)})")

    def statuses(self) -> tuple[str, ...]:
        """The statuses the cases it selects can have: open and closed, or one of them."""
        if self.status is not None:
            return (self.status,)
        if self.closed_before is not None or self.closed_after is not None:
            return (CLOSED,)
        if self.overdue_at is not None or self.due_after is not None \
                or self.due_before is not None:
            return (OPEN,)
        return STATUSES

    def clause(self) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = []
        for name in ("kind", "state", "stage", "grade", "channel", "category", "assignee"):
            value = getattr(self, name)
            if value is not None:
                conditions.append(_c[name] == value)
        if self.unit is not None:
            conditions.append(unit_within(self.unit))
        if self.text is not None:
            conditions.append(text_in_title_or_place(self.text))
        if self.status is not None:
            conditions.append(_c.status == self.status)
        conditions += _moments(self)
        if self.reopened is not None:
            conditions.append(_c.reopens > 0 if self.reopened else _c.reopens == 0)
        if self.version_below is not None:
            conditions.append(_c.workflow_version < self.version_below)
        return and_(true(), *conditions)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: (v.isoformat() if isinstance(v, datetime) else v)
                for f in fields(self) if (v := getattr(self, f.name)) is not None}


def _moments(where: CaseFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.opened_before is not None:
        conditions.append(_c.opened_at < naive_utc(where.opened_before))
    if where.opened_after is not None:
        conditions.append(_c.opened_at >= naive_utc(where.opened_after))
    if where.closed_before is not None:
        conditions.append(_c.closed_at < naive_utc(where.closed_before))
    if where.closed_after is not None:
        conditions.append(_c.closed_at >= naive_utc(where.closed_after))
    if where.overdue_at is not None:
        conditions.append(open_overdue(where.overdue_at))
    if where.due_after is not None or where.due_before is not None:
        conditions.append(due_between(where.due_after, where.due_before))
    return conditions


@dataclass(frozen=True)
class Filters:
    """A report's selection: ``--kind``, ``--unit``, ``--since``, ``--until``."""

    kind: str | None = None
    unit: str | None = None
    """A unit path: the cases dispatched to it or below it."""
    since: datetime | None = None
    """Cases opened at or after this time."""
    until: datetime | None = None
    """Cases opened before this time."""

    def check(self, app: Casework) -> None:
        """A kind or unit that does not exist is a typo: say so, rather than report nothing;
        so is a period that ends before it starts."""
        check_known(app, self.kind, self.unit)
        if self.since is not None and self.until is not None and self.since > self.until:
            raise InvalidField("since", f"{self.since.isoformat()} is after --until "
                                        f"{self.until.isoformat()}: the period is empty")

    def where(self) -> CaseFilter:
        return CaseFilter(kind=self.kind or None, unit=self.unit or None,
                          opened_after=self.since, opened_before=self.until)

    def clause(self) -> ColumnElement[bool]:
        return self.where().clause()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "unit": self.unit,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


def check_known(app: Casework, kind: str | None, unit: str | None) -> None:
    if kind is not None:
        app.workflows.get(kind)
    if unit is not None and unit.strip("/") not in app.organisation:
        raise InvalidField("unit", app.organisation.unknown(unit))

