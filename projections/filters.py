"""Which cases a report counts or a batch job selects: conditions over the read model, as
parameterised SQL. The report's filters and a job's ``--where`` are the same conditions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, true

from casework import Casework, InvalidField
from casework.timestamps import naive_utc, parse_time

from .tables import case_summary

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

    def check(self, app: Casework) -> None:
        """A kind or unit that does not exist is a typo: say so, rather than select nothing."""
        check_known(app, self.kind, self.unit)

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
        """A kind or unit that does not exist is a typo: say so, rather than report nothing."""
        check_known(app, self.kind, self.unit)

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
        raise InvalidField("unit", f"no unit {unit!r} in the organisation")
