"""The figures of a report over one set of cases (its totals, or one group of ``--by``), as
typed values: what ``projections.tally`` accumulates and ``projections.report`` returns."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .statistics import ratio
from .three_rates import ThreeRates

OPEN_OVERDUE = "open_overdue"
CONTACT_OVERDUE = "contact_overdue"
HOT_SPOTS = 10
OVERALL = "overall"
NO_CHANNEL = "(none)"
CLOSE_HOURS_BINS = (0, 2, 4, 8, 24, 48, 72, 168, 336, 720)
"""Edges of the time-to-close histogram, in hours; the last bin has no upper edge. The
grades' default limits (2 hours, 1, 3 and 7 days) fall on edges."""


@dataclass(frozen=True)
class Deadlines:
    """Cases judged against their deadline: resolved in time, resolved late, or open past it."""

    met: int = 0
    breached: int = 0
    open_overdue: int = 0

    @property
    def compliance(self) -> float | None:
        return ratio(self.met, self.met + self.breached + self.open_overdue)

    def as_dict(self) -> dict[str, Any]:
        return {"met": self.met, "breached": self.breached, "open_overdue": self.open_overdue,
                "compliance": self.compliance}


@dataclass(frozen=True)
class Bin:
    """Durations from ``lower`` hours up to (not including) ``upper`` (None: no limit)."""

    lower: float
    upper: float | None
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.lower, "to": self.upper, "count": self.count}


@dataclass(frozen=True)
class Durations:
    count: int
    median: float | None
    p90: float | None
    histogram: list[Bin] = field(default_factory=list)
    """How many durations fall between each pair of ``CLOSE_HOURS_BINS``."""

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "median": self.median, "p90": self.p90,
                "histogram": [b.as_dict() for b in self.histogram]}


@dataclass(frozen=True)
class Satisfaction:
    """Of the latest revisit of each case, scored 1 to 5."""

    count: int
    mean: float | None
    distribution: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "distribution": dict(self.distribution)}


@dataclass(frozen=True)
class EscalationStep:
    """Escalations from a unit at one level to its parent at another."""

    from_level: str
    to_level: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.from_level, "to": self.to_level, "count": self.count}


@dataclass(frozen=True)
class Escalations:
    cases: int
    total: int
    rate: float | None
    steps: list[EscalationStep] = field(default_factory=list)
    """The escalations by the level they left and the level they reached."""

    def as_dict(self) -> dict[str, Any]:
        return {"cases": self.cases, "total": self.total, "rate": self.rate,
                "steps": [step.as_dict() for step in self.steps]}


@dataclass(frozen=True)
class HotSpot:
    category: str
    community: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "community": self.community, "count": self.count}


@dataclass(frozen=True)
class Figures:
    """The figures of one set of cases."""

    total: int
    open: int
    closed: int
    by_stage: dict[str, int]
    by_state: dict[str, int]
    by_kind: dict[str, int]
    by_channel: dict[str, int]
    resolved: int
    resolution_rate: float | None
    """The handlers' own "resolved" over all cases: NOT 解决率, the petitioners' judgement in
    the revisits (``three_rates.resolution_rate``). In JSON also as
    ``handler_resolution_rate``; ``resolution_rate`` stays for the readers of older reports."""
    local_resolution_rate: float | None
    sla: dict[str, Deadlines]
    """Per grade, and ``overall``."""
    time_to_close_hours: Durations
    satisfaction: Satisfaction
    reopen_rate: float | None
    escalations: Escalations
    hot_spots: list[HotSpot]
    sections: dict[str, dict[str, Any]]
    """What each workflow's own report section shows (see ``ReportSection``), by its name."""
    intake_by_day: dict[str, dict[str, int]] = field(default_factory=dict)
    """Cases opened each day (ISO date, UTC), by channel (``(none)`` without one)."""
    by_category_and_community: dict[str, dict[str, int]] = field(default_factory=dict)
    """Category → community → cases: every pair, not only the top ``hot_spots``."""
    contact: dict[str, Deadlines] = field(default_factory=dict)
    """The contact clock (reaching the petitioner), per grade and ``overall``; ``sla`` is
    the resolution clock's. Only cases whose workflow has a contact clock count."""
    three_rates: ThreeRates | None = None
    """三率 from the revisits (projections.three_rates)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "open": self.open,
            "closed": self.closed,
            "by_stage": dict(self.by_stage),
            "by_state": dict(self.by_state),
            "by_kind": dict(self.by_kind),
            "by_channel": dict(self.by_channel),
            "resolved": self.resolved,
            "resolution_rate": self.resolution_rate,
            "handler_resolution_rate": self.resolution_rate,
            "local_resolution_rate": self.local_resolution_rate,
            "sla": {grade: deadlines.as_dict() for grade, deadlines in self.sla.items()},
            "time_to_close_hours": self.time_to_close_hours.as_dict(),
            "satisfaction": self.satisfaction.as_dict(),
            "reopen_rate": self.reopen_rate,
            "escalations": self.escalations.as_dict(),
            "hot_spots": [spot.as_dict() for spot in self.hot_spots],
            "intake_by_day": {day: dict(counts) for day, counts in self.intake_by_day.items()},
            "by_category_and_community": {category: dict(counts) for category, counts
                                          in self.by_category_and_community.items()},
            "contact": {grade: deadlines.as_dict() for grade, deadlines in self.contact.items()},
            **({} if self.three_rates is None
               else {"three_rates": self.three_rates.as_dict()}),
            **{name: dict(section) for name, section in self.sections.items()},
        }


def histogram(values: list[float], edges: tuple[float, ...]) -> list[Bin]:
    """How many values fall in each bin from one edge to the next (the last has no end)."""
    counts = Counter(bisect_right(edges, value) - 1 for value in values)
    bounds = [*edges[1:], None]
    return [Bin(lower, upper, counts[index])
            for index, (lower, upper) in enumerate(zip(edges, bounds, strict=True))]
