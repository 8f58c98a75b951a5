"""Which cases a batch job looks at: filters over the read model, streamed by id.

A selection is plain data (picklable), so that each worker process of a job opens it on
its own connection and takes its own share of the ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from casework import Casework, InvalidField
from casework.sweep import SweepRule

from .case_summary import naive_utc
from .read_model import ReadModel
from .tables import case_summary

PAGE = 1000
FILTER_KEYS = ("kind", "state", "stage", "unit", "grade", "opened_before", "opened_after",
               "version_below")


def unit_within(prefix: str) -> ColumnElement[bool]:
    """Cases at the unit ``prefix`` or below it (never a sibling that merely starts alike)."""
    unit = prefix.strip("/")
    column = case_summary.c.unit
    return or_(column == unit, column.startswith(unit + "/", autoescape=True))


@dataclass(frozen=True)
class CaseFilter:
    """``--where`` conditions, all of which a case must meet."""

    kind: str | None = None
    state: str | None = None
    stage: str | None = None
    unit: str | None = None
    grade: str | None = None
    opened_before: datetime | None = None
    opened_after: datetime | None = None
    version_below: int | None = None

    def __post_init__(self) -> None:
        for name in ("kind", "state", "stage", "unit", "grade"):
            value = getattr(self, name)
            # Values are bound as parameters; PostgreSQL refuses NUL in one, so refuse first.
            if value is not None and (not isinstance(value, str) or not value.isprintable()):
                raise InvalidField(name, f"{value!r} is not printable text")
        version = self.version_below
        if version is not None and not (isinstance(version, int) and 0 <= version < 2**31):
            raise InvalidField("version_below", f"{version!r} is not a workflow version")

    @classmethod
    def parse(cls, pairs: dict[str, str]) -> CaseFilter:
        """From ``name=value`` text; ValueError naming what is wrong."""
        from casework.timestamps import parse_time

        values: dict[str, Any] = {}
        for name, value in pairs.items():
            if name not in FILTER_KEYS:
                raise ValueError(f"cannot filter on {name!r} (use {', '.join(FILTER_KEYS)})")
            if name.startswith("opened_"):
                values[name] = parse_time(value)
            elif name == "version_below":
                values[name] = int(value)
            else:
                values[name] = value
        return cls(**values)

    def clause(self) -> ColumnElement[bool]:
        c = case_summary.c
        conditions: list[ColumnElement[bool]] = []
        for name in ("kind", "state", "stage", "grade"):
            value = getattr(self, name)
            if value is not None:
                conditions.append(c[name] == value)
        if self.unit is not None:
            conditions.append(unit_within(self.unit))
        if self.opened_before is not None:
            conditions.append(c.opened_at < naive_utc(self.opened_before))
        if self.opened_after is not None:
            conditions.append(c.opened_at >= naive_utc(self.opened_after))
        if self.version_below is not None:
            conditions.append(c.workflow_version < self.version_below)
        return and_(true(), *conditions)

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in self.__dict__.items() if v is not None}


def id_range(partition: tuple[int, int]) -> tuple[str, str]:
    """The ids of partition ``share`` of ``parts``: an equal slice of the UUID space, as
    bounds on the stored text (a UUID's canonical text sorts as its number does). The first
    bound is just below the slice: ids are taken after it."""
    share, parts = partition
    start = share * 2**128 // parts
    end = (share + 1) * 2**128 // parts
    below = str(UUID(int=start - 1)) if start else ""
    above = str(UUID(int=end)) if end < 2**128 else "g"  # "g" sorts after every hex digit
    return below, above


def due_clause(rules: tuple[SweepRule, ...]) -> ColumnElement[bool]:
    c = case_summary.c
    return or_(false(), *(
        and_(c.kind == rule.kind, c.state.in_(rule.states), c[rule.column] < naive_utc(rule.before))
        for rule in rules
    ))


@dataclass(frozen=True)
class Candidates:
    """The cases a filter or a set of sweep rules selects, page by page, in id order."""

    where: CaseFilter = field(default_factory=CaseFilter)
    due: tuple[SweepRule, ...] | None = None

    def clause(self) -> ColumnElement[bool]:
        clause = self.where.clause()
        return clause if self.due is None else and_(clause, due_clause(self.due))

    def prepare(self, app: Casework) -> None:
        """Bring the read model up to the last event: once per worker, before its first
        partition (catching up again for every partition would apply the job's own events
        under the write lock, in each worker, while it holds up the others' writes)."""
        read_model = ReadModel(app)
        try:
            read_model.catch_up()
        finally:
            read_model.close()

    def case_ids(self, app: Casework, partition: tuple[int, int] = (0, 1)) -> Iterator[UUID]:
        low, high = id_range(partition)
        read_model = ReadModel(app)
        try:
            after = low
            while True:
                # Keyset pages within the partition's range of ids: no long-lived read, flat
                # memory whatever the size, and each worker reads only its own share.
                with read_model.engine.connect() as conn:
                    ids = list(conn.execute(
                        select(case_summary.c.id)
                        .where(self.clause(), case_summary.c.id > after,
                               case_summary.c.id < high)
                        .order_by(case_summary.c.id).limit(PAGE)).scalars())
                if not ids:
                    return
                after = ids[-1]
                for text in ids:
                    yield UUID(text)
        finally:
            read_model.close()

    def count(self, app: Casework) -> int:
        from sqlalchemy import func

        read_model = ReadModel(app)
        try:
            read_model.catch_up()
            with read_model.engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(case_summary)
                                        .where(self.clause())).scalar() or 0)
        finally:
            read_model.close()
