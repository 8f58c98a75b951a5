"""The report's figures as SQL ``GROUP BY``s over ``case_summary``: a handful of scans of
the selected cases, each returning a few hundred counted rows, where the report used to fold
every case in Python (5.9× the same ``GROUP BY``s written by hand, at 157,000 cases).

- one count of the cases by stage, state, kind, channel, grade and satisfaction score, with
  what of each group is resolved, met or late or open past its deadline on each clock
  (judged as ``tally._deadline_verdict`` and ``_contact_verdict`` judge one row), closed,
  reopened, escalated;
- the cases by category × community; by the text of their escalations' steps; by the
  values the workflows' sections count by and the milestones reached;
- the cases opened on each of the office's days, by channel: the day of the opening moved
  by the office's offset from UTC, which Python's ``zoneinfo`` gives (``offset_at``: one
  number, or a CASE over the changes of summer time), as time zones are not portable SQL;
- the time to close of each closed case, as whole microseconds computed in SQL (one number
  a row; exact, so the median, the 90th percentile and the histogram's edges are those of
  the Python datetimes).

With ``--by``, each query also groups by that column; the totals are the groups' sums.
The SQL is the same on SQLite and PostgreSQL but for two small expressions (the date of a
time moved by some seconds; the microseconds between two times), compiled per dialect as
``filters.UnitWithin`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar

from sqlalchemy import Connection, and_, case, func, literal_column, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.sqltypes import Integer, String
from sqlalchemy.sql.visitors import InternalTraversal

from casework.workflow import ReportSection

from .filters import Filters, contact_overdue, open_overdue
from .tables import case_summary
from .tally import Tally

_c = case_summary.c
NO_GROUP = "(none)"
SAMPLED = timedelta(hours=6)
"""How often ``offset_at`` samples a zone's offset (it changes a few times a year)."""
ONE_MICROSECOND = timedelta(microseconds=1)


class LocalDay(ColumnElement[str]):
    """The ISO date of a stored UTC time moved by ``offset`` seconds (an SQL integer: the
    office's offset from UTC at that time, ``offset_at``)."""

    type = String()
    inherit_cache = True
    _traverse_internals: ClassVar[Any] = [("column", InternalTraversal.dp_clauseelement),
                                          ("offset", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any, offset: Any) -> None:
        self.column = column
        self.offset = offset

    @property
    def _from_objects(self) -> Any:
        return self.column._from_objects


@compiles(LocalDay)
def _local_day(element: LocalDay, compiler: Any, **kw: Any) -> str:
    column, offset = (compiler.process(element.column, **kw),
                      compiler.process(element.offset, **kw))
    return f"to_char({column} + ({offset}) * interval '1 second', 'YYYY-MM-DD')"


@compiles(LocalDay, "sqlite")
def _local_day_of_text(element: LocalDay, compiler: Any, **kw: Any) -> str:
    # The stored text to the second ('YYYY-MM-DD HH:MM:SS'): SQLite's times are whole
    # milliseconds, and a fraction rounded up could cross midnight.
    column, offset = (compiler.process(element.column, **kw),
                      compiler.process(element.offset, **kw))
    return f"date(substr({column}, 1, 19), ({offset}) || ' seconds')"


class MicrosecondsBetween(ColumnElement[int]):
    """``end - start`` in whole microseconds: exact, as ``timedelta`` gives it."""

    type = Integer()
    inherit_cache = True
    _traverse_internals: ClassVar[Any] = [("start", InternalTraversal.dp_clauseelement),
                                          ("end", InternalTraversal.dp_clauseelement)]

    def __init__(self, start: Any, end: Any) -> None:
        self.start = start
        self.end = end

    @property
    def _from_objects(self) -> Any:
        return [*self.start._from_objects, *self.end._from_objects]


@compiles(MicrosecondsBetween)
def _microseconds(element: MicrosecondsBetween, compiler: Any, **kw: Any) -> str:
    start, end = compiler.process(element.start, **kw), compiler.process(element.end, **kw)
    return f"CAST(round(extract(epoch FROM {end} - {start}) * 1000000) AS BIGINT)"


@compiles(MicrosecondsBetween, "sqlite")
def _microseconds_of_text(element: MicrosecondsBetween, compiler: Any, **kw: Any) -> str:
    # SQLite keeps the times as text 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds by
    # strftime of the text cut to the second (SQLite's times are whole milliseconds: .9999995
    # would round up to the next second), the fraction from the text (padded: a time without
    # one has none). julianday would be a float of days, a few microseconds off.
    def parts(column: Any) -> tuple[str, str]:
        text = compiler.process(column, **kw)
        return (f"CAST(strftime('%s', substr({text}, 1, 19)) AS INTEGER)",
                f"CAST(substr({text} || '000000', 21, 6) AS INTEGER)")
    (start, start_fraction), (end, end_fraction) = parts(element.start), parts(element.end)
    return f"(({end} - {start}) * 1000000 + {end_fraction} - {start_fraction})"


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def case_counts(moment: datetime) -> list[Any]:
    """What ``Tally.count_cases`` reads of each group of cases, judged at ``moment``."""
    c = _c
    ended = func.coalesce(c.resolved_at, c.closed_at)
    judged, contact_judged = c.deadline.is_not(None), c.contact_deadline.is_not(None)
    resolved = c.resolved_at.is_not(None)
    resolved_outcome = c.outcome == "resolved"
    contacted = c.contacted_at.is_not(None)
    return [
        func.count().label("cases"),
        _count(resolved_outcome).label("resolved"),
        _count(and_(resolved_outcome, not_(c.left_community.is_(True))))
        .label("resolved_locally"),
        _count(judged).label("judged"),
        _count(and_(judged, resolved, not_(c.breached.is_(True)))).label("met"),
        _count(and_(judged, resolved, c.breached.is_(True))).label("breached"),
        _count(and_(judged, c.resolved_at.is_(None), open_overdue(moment)))
        .label("open_overdue"),
        _count(contact_judged).label("contact_judged"),
        _count(and_(contact_judged, contacted, c.contacted_at <= c.contact_deadline))
        .label("contact_met"),
        _count(and_(contact_judged, or_(
            and_(contacted, c.contacted_at > c.contact_deadline),
            and_(c.contacted_at.is_(None), ended > c.contact_deadline))))
        .label("contact_breached"),
        _count(and_(contact_judged, c.contacted_at.is_(None),
                    or_(ended.is_(None), ended <= c.contact_deadline),
                    contact_overdue(moment))).label("contact_open_overdue"),
        _count(c.ever_closed.is_(True)).label("ever_closed"),
        _count(and_(c.ever_closed.is_(True), c.reopens > 0)).label("reopened"),
        _count(c.escalations != 0).label("escalated"),
        func.coalesce(func.sum(c.escalations), 0).label("escalations"),
    ]


class _Groups:
    """The totals' tally and, with ``--by``, one per value of its column."""

    def __init__(self, sections: dict[str, ReportSection], zone: tzinfo,
                 by: str | None) -> None:
        self.sections, self.zone, self.by = sections, zone, by
        self.totals = Tally(sections, zone)
        self.groups: dict[str, Tally] = {}
        self.keys = [] if by is None else [_c[by].label("group_key")]
        """What each query selects and groups by first."""

    def of(self, row: Any) -> list[Tally]:
        """The tallies a counted row counts in."""
        if self.by is None:
            return [self.totals]
        name = NO_GROUP if row.group_key is None else str(row.group_key)
        group = self.groups.get(name) or self.groups.setdefault(
            name, Tally(self.sections, self.zone))
        return [self.totals, group]


def counted(conn: Connection, filters: Filters, moment: datetime, by: str | None,
            sections: dict[str, ReportSection], zone: tzinfo
            ) -> tuple[Tally, dict[str, Tally]]:
    """The tallies of the cases ``filters`` selects: the totals, and one per value of the
    column ``by`` (``(none)`` for NULL)."""
    groups = _Groups(sections, zone, by)
    where = filters.clause()

    def rows(*columns: Any, condition: Any = None, group: bool = True) -> Iterator[Any]:
        query = select(*groups.keys, *columns).where(where)
        if condition is not None:
            query = query.where(condition)
        if group:
            query = query.group_by(*groups.keys, *(column for column in columns
                                                  if column.name != "cases"))
        yield from conn.execute(query)

    cases = func.count().label("cases")
    dimensions = (_c.stage, _c.state, _c.kind, _c.channel, _c.grade, _c.satisfaction)
    query = (select(*groups.keys, *dimensions, *case_counts(moment),
                    func.min(_c.opened_at).label("first"), func.max(_c.opened_at).label("last"))
             .where(where).group_by(*groups.keys, *dimensions))
    firsts, lasts = [], []
    for row in conn.execute(query):
        firsts.append(row.first)
        lasts.append(row.last)
        for tally in groups.of(row):
            tally.count_cases(row, row.cases)
    for row in rows(_c.category, _c.community, cases,
                    condition=and_(_c.category != "", _c.community != "")):
        for tally in groups.of(row):
            tally.count_place(row.category, row.community, row.cases)
    for row in rows(_c.escalation_steps, cases, condition=_c.escalations != 0):
        for tally in groups.of(row):
            tally.count_steps(row.escalation_steps, row.cases)
    _count_sections(rows, groups, sections)
    hours = MicrosecondsBetween(_c.opened_at, _c.closed_at).label("microseconds")
    closed = rows(hours, condition=_c.closed_at.is_not(None), group=False)
    # The same division as ``timedelta.total_seconds() / 3600``: the same floats.
    if by is None:  # one list, without a tally to find for each case
        groups.totals.hours_to_close = [row[0] / 10**6 / 3600 for row in closed]
    else:
        for row in closed:
            for tally in groups.of(row):
                tally.hours_to_close.append(row.microseconds / 10**6 / 3600)
    _count_intake(rows, groups, min(firsts, default=None), max(lasts, default=None))
    return groups.totals, {name: groups.groups[name] for name in sorted(groups.groups)}


def _count_sections(rows: Callable[..., Iterator[Any]], groups: _Groups,
                    sections: dict[str, ReportSection]) -> None:
    """The cases of the kinds with a report section, by the values of the columns they count
    by and the milestones they reached."""
    names = {name for section in sections.values() for name in section.count_by.values()}
    columns = [column for column in case_summary.columns if column.name in names]
    if not any(s.count_by or s.milestones for s in sections.values()):
        return
    for row in rows(_c.kind, _c.milestones, *columns, func.count().label("cases"),
                    condition=_c.kind.in_(sorted(sections))):
        values = row._mapping
        for tally in groups.of(row):
            tally.count_section(row.kind, values, row.milestones, row.cases)


def _count_intake(rows: Callable[..., Iterator[Any]], groups: _Groups,
                  first: datetime | None, last: datetime | None) -> None:
    """The cases opened each of the office's days, by channel: grouped by the day of each
    opening moved by the office's offset from UTC at that moment (``offset_at``)."""
    if first is None or last is None:
        return  # no case
    day = LocalDay(_c.opened_at, offset_at(_c.opened_at, groups.zone, first, last))
    for row in rows(day.label("day"), _c.channel, func.count().label("cases")):
        for tally in groups.of(row):
            tally.count_intake(row.day, row.channel, row.cases)


def offset_at(column: Any, zone: tzinfo, first: datetime, last: datetime) -> Any:
    """The offset of ``zone`` from UTC, in seconds, at the time in ``column``, for times from
    ``first`` to ``last`` (naive UTC): a number, or a CASE over the changes between them
    (summer time), found by sampling every few hours and halving to the microsecond."""
    changes: list[tuple[datetime, int]] = []
    offset, moment = _offset(zone, first), first
    while moment < last:
        later = min(moment + SAMPLED, last)
        if _offset(zone, later) == offset:
            moment = later
            continue
        low, high = moment, later  # the offset changes after low, by high
        while high - low > ONE_MICROSECOND:
            middle = low + (high - low) / 2
            low, high = (middle, high) if _offset(zone, middle) == offset else (low, middle)
        offset, moment = _offset(zone, high), high
        changes.append((high, offset))
    if not changes:
        return literal_column(str(offset))
    before = _offset(zone, first)
    whens = []
    for start, after in changes:
        whens.append((column < start, literal_column(str(before))))
        before = after
    return case(*whens, else_=literal_column(str(before)))


def _offset(zone: tzinfo, moment: datetime) -> int:
    offset = moment.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())
