"""``casework report --explain FIGURE``: the cases and the events that make a number.

A figure is named by its path in the report's JSON form (``resolved``, ``sla.B.breached``,
``escalations.cases``, ``by_stage.dispatch``); ``late`` under a grade's deadlines stands for
``breached`` and ``open_overdue`` together (``sla.B.late``). A case makes a figure when the
figures of that case alone give it a value other than zero or none: its count, or, for a
rate, its numerator. The report's own code decides (``projections.report.figures_of``), so
an explanation cannot disagree with the number it explains. The counts of the three rates
(``three_rates.GROUP.COUNT``) are sums over the units' ledger, revisit by revisit: they are
explained by ``projections.explain_rates``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, select

from casework import Casework, InvalidField
from casework.timestamps import naive_utc

from .filters import Filters
from .replayed import EVERYTHING, Cutoff
from .report import OVERALL, Report, figures_of, report_sections, verdicts
from .tables import case_summary

LATE = "late"
NOT_PER_CASE = ("three_rates",)
"""Figures summed over the units' ledger (``projections.three_rates``), not per case:
``projections.explain_rates`` lists their revisits."""
LATE_PARTS = ("breached", "open_overdue")


@dataclass(frozen=True)
class ExplainedEvent:
    version: int
    trigger: str
    at: datetime
    recorded_at: datetime
    to_state: str
    deadline: datetime | None
    """The deadline the event set, if it set one."""

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.version, "trigger": self.trigger, "at": self.at.isoformat(),
                "recorded_at": self.recorded_at.isoformat(), "to_state": self.to_state,
                "deadline": self.deadline.isoformat() if self.deadline else None}


@dataclass(frozen=True)
class ExplainedCase:
    case_id: str
    kind: str
    grade: str | None
    state: str
    deadline: datetime | None
    events: list[ExplainedEvent]
    moved: bool = False
    """Whether it has events recorded after the report being verified was made."""

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "kind": self.kind, "grade": self.grade,
                "state": self.state,
                "deadline": self.deadline.isoformat() if self.deadline else None,
                "moved": self.moved, "events": [e.as_dict() for e in self.events]}


def figure_value(figures: dict[str, Any], path: str) -> Any:
    """The value at ``path`` of a report's JSON form; KeyError when there is none."""
    parts = path.split(".")
    if parts[-1] == LATE and len(parts) >= 2:
        where = figure_value(figures, ".".join(parts[:-1]))
        if isinstance(where, dict) and all(part in where for part in LATE_PARTS):
            return sum(where[part] or 0 for part in LATE_PARTS)
        raise KeyError(path)
    value: Any = figures
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(path)
    return value


def check_figure(whole: Report, path: str) -> None:
    """``InvalidField`` unless ``path`` names a figure of the report."""
    if path.split(".", 1)[0] in NOT_PER_CASE:
        raise InvalidField("--explain", f"{path!r} is a sum over the units' ledger, "
                                        "explained revisit by revisit, not case by case")
    try:
        value = figure_value(whole.figures.as_dict(), path)
    except KeyError:
        raise InvalidField("--explain", f"the report has no figure {path!r} (e.g. resolved, "
                                        "sla.B.late, escalations.cases, by_stage.close)"
                           ) from None
    if isinstance(value, dict | list):
        raise InvalidField("--explain", f"{path!r} is a group of figures; name one of them "
                                        f"({', '.join(map(str, value))[:200]})")


def explain(model: Any, filters: Filters, now: datetime, path: str, cutoff: Cutoff = EVERYTHING,
            moved: frozenset[str] = frozenset()) -> Iterator[ExplainedCase]:
    """The cases of ``model`` (a read model or a scratch one) that make figure ``path`` of
    the report over ``filters`` judged at ``now``, each with its events within ``cutoff``."""
    sections, zone = report_sections(model.app.workflows), model.app.calendar.zone
    query = (select(case_summary, *verdicts(naive_utc(now)))
             .where(filters.clause(), *narrowing(path)).order_by(case_summary.c.id))
    with model.engine.connect() as conn:
        for row in conn.execution_options(yield_per=2000).execute(query):
            if _makes(figures_of([row], sections, zone).as_dict(), path):
                yield ExplainedCase(row.id, row.kind, row.grade, row.state, row.deadline,
                                    list(case_events(model.app, row.id, cutoff)),
                                    row.id in moved)


NARROWED_BY = {"sla": "grade", "by_stage": "stage", "by_state": "state", "by_kind": "kind",
               "by_channel": "channel"}
"""Figures whose cases share a column's value, named in their path: only those rows need
to be judged one by one."""


def narrowing(path: str) -> list[ColumnElement[bool]]:
    """Conditions every case making ``path`` meets (none: every row is judged)."""
    figure, _, rest = path.partition(".")
    value = rest.split(".")[0]
    column = NARROWED_BY.get(figure)
    if column is None or not value or (figure == "sla" and value == OVERALL):
        return []
    return [case_summary.c[column] == value]


def _makes(figures: dict[str, Any], path: str) -> bool:
    """Whether one case's figures give ``path`` a value (a figure it has no part in, such
    as another grade's deadlines, is absent from them)."""
    try:
        return bool(figure_value(figures, path))
    except KeyError:
        return False


def case_events(app: Casework, case_id: str, cutoff: Cutoff) -> Iterator[ExplainedEvent]:
    """The events of a case that ``cutoff`` keeps, oldest first."""
    for stored in app.recorder.select_events(UUID(case_id)):
        event = app.mapper.to_domain_event(stored)
        if not (cutoff.happened(event) and cutoff.known(event)):
            continue
        deadline = event.changes.get("deadline")
        yield ExplainedEvent(event.originator_version, event.trigger, naive_utc(event.at),  # type: ignore[arg-type]
                             naive_utc(event.timestamp), event.to_state,  # type: ignore[arg-type]
                             naive_utc(deadline) if deadline else None)
