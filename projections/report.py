"""The figures an office reads: counts by stage, resolution, local resolution, deadlines,
time to close, satisfaction, reopening, hot spots — over a filtered set of cases.

Filters are SQL (parameterised); the figures are folded in one streaming pass over the
selected rows, so that totals and every group of ``--by`` come from the same code.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from casework.timestamps import utc_now
from casework.workflow import OPEN_STAGES, STAGES

from .case_summary import naive_utc
from .read_model import ReadModel
from .selection import CaseFilter
from .tables import case_summary

GROUPINGS = ("stage", "state", "unit", "community", "grade", "category", "channel", "kind")
HOT_SPOTS = 10


@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    unit: str | None = None
    """A unit path: the cases dispatched to it or below it."""
    since: datetime | None = None
    """Cases opened at or after this time."""
    until: datetime | None = None
    """Cases opened before this time."""

    def apply(self, query: Select[Any]) -> Select[Any]:
        where = CaseFilter(kind=self.kind or None, unit=self.unit or None,
                           opened_after=self.since, opened_before=self.until)
        return query.where(where.clause())

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "unit": self.unit,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass
class _Sla:
    met: int = 0
    breached: int = 0
    open_overdue: int = 0

    def as_dict(self) -> dict[str, Any]:
        judged = self.met + self.breached + self.open_overdue
        return {"met": self.met, "breached": self.breached, "open_overdue": self.open_overdue,
                "compliance": _ratio(self.met, judged)}


@dataclass
class Figures:
    """The figures of one set of cases, accumulated row by row."""

    now: datetime
    total: int = 0
    by_stage: Counter[str] = field(default_factory=Counter)
    by_state: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    resolved: int = 0
    resolved_locally: int = 0
    sla: dict[str, _Sla] = field(default_factory=dict)
    hours_to_close: list[float] = field(default_factory=list)
    satisfaction: Counter[int] = field(default_factory=Counter)
    ever_closed: int = 0
    reopened: int = 0
    escalated: int = 0
    escalations: int = 0
    hot_spots: Counter[tuple[str, str]] = field(default_factory=Counter)
    service_categories: Counter[str] = field(default_factory=Counter)
    tasks: Counter[str] = field(default_factory=Counter)

    def add(self, row: Any) -> None:
        self.total += 1
        self.by_stage[row.stage] += 1
        self.by_state[row.state] += 1
        self.by_kind[row.kind] += 1
        if row.channel:
            self.by_channel[row.channel] += 1
        if row.outcome == "resolved":
            self.resolved += 1
            self.resolved_locally += not row.left_community
        if row.deadline is not None and row.grade:  # deadlines by urgency grade
            self._judge_deadline(row)
        if row.closed_at is not None:
            self.hours_to_close.append((row.closed_at - row.opened_at).total_seconds() / 3600)
        if row.satisfaction is not None:
            self.satisfaction[row.satisfaction] += 1
        if row.ever_closed:
            self.ever_closed += 1
            self.reopened += row.reopens > 0
        if row.escalations:
            self.escalated += 1
            self.escalations += row.escalations
        if row.category and row.community:
            self.hot_spots[(row.category, row.community)] += 1
        if row.kind == "enterprise_request" and row.category:
            self.service_categories[row.category] += 1
        if row.kind == "volunteer_task":
            self.tasks["published"] += 1
            self.tasks["claimed"] += row.claimed_at is not None
            self.tasks["completed"] += row.completed_at is not None
            self.tasks["expired"] += row.state == "expired"

    def _judge_deadline(self, row: Any) -> None:
        verdicts = [self.sla.setdefault("overall", _Sla())]
        if row.grade:
            verdicts.append(self.sla.setdefault(row.grade, _Sla()))
        for sla in verdicts:
            if row.resolved_at is not None:
                if row.breached:
                    sla.breached += 1
                else:
                    sla.met += 1
            elif row.stage in OPEN_STAGES and (row.missed_deadline or row.deadline < self.now):
                sla.open_overdue += 1

    def as_dict(self) -> dict[str, Any]:
        open_count = sum(self.by_stage[s] for s in OPEN_STAGES)
        ratings = sum(self.satisfaction.values())
        return {
            "total": self.total,
            "open": open_count,
            "closed": self.total - open_count,
            "by_stage": {stage: self.by_stage[stage] for stage in STAGES},
            "by_state": dict(sorted(self.by_state.items())),
            "by_kind": dict(sorted(self.by_kind.items())),
            "by_channel": dict(sorted(self.by_channel.items())),
            "resolved": self.resolved,
            "resolution_rate": _ratio(self.resolved, self.total),
            "local_resolution_rate": _ratio(self.resolved_locally, self.resolved),
            "sla": {grade: self.sla[grade].as_dict() for grade in sorted(self.sla)}
            or {"overall": _Sla().as_dict()},
            "time_to_close_hours": {
                "count": len(self.hours_to_close),
                "median": _percentile(self.hours_to_close, 50),
                "p90": _percentile(self.hours_to_close, 90),
            },
            "satisfaction": {
                "count": ratings,
                "mean": round(sum(k * v for k, v in self.satisfaction.items()) / ratings, 3)
                if ratings else None,
                "distribution": {str(score): self.satisfaction[score] for score in range(1, 6)},
            },
            "reopen_rate": _ratio(self.reopened, self.ever_closed),
            "escalations": {"cases": self.escalated, "total": self.escalations,
                            "rate": _ratio(self.escalated, self.total)},
            "hot_spots": [
                {"category": category, "community": community, "count": count}
                for (category, community), count in sorted(
                    self.hot_spots.items(), key=lambda item: (-item[1], item[0]))[:HOT_SPOTS]
            ],
            "enterprise_requests": {"by_service_category": dict(
                sorted(self.service_categories.items()))},
            "volunteer_tasks": {k: self.tasks[k]
                                for k in ("published", "claimed", "completed", "expired")},
        }


def report(read_model: ReadModel, filters: Filters = Filters(), by: str | None = None,
           now: datetime | None = None) -> dict[str, Any]:
    """The report over the cases ``filters`` selects, after catching up with the events."""
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"cannot group by {by!r} (choose from {', '.join(GROUPINGS)})")
    read_model.catch_up()
    moment = naive_utc(now or utc_now())
    assert moment is not None
    totals = Figures(moment)
    groups: dict[str, Figures] = {}
    query = filters.apply(select(case_summary)).order_by(case_summary.c.id)
    with read_model.engine.connect() as conn:
        for row in conn.execution_options(yield_per=2000).execute(query):
            totals.add(row)
            if by is not None:
                key = getattr(row, by)
                groups.setdefault("(none)" if key is None else str(key), Figures(moment)).add(row)
    result = totals.as_dict()
    result["as_of"] = moment.isoformat() + "Z"
    result["filters"] = filters.as_dict()
    result["by"] = by
    result["groups"] = [{"key": key, **groups[key].as_dict()} for key in sorted(groups)]
    return result


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _percentile(values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile, rounded to 0.01 hours."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return round(ordered[rank - 1], 2)
