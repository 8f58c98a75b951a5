"""The figures an office reads: counts by stage, resolution, local resolution, deadlines,
time to close, satisfaction, reopening, hot spots — over a filtered set of cases.

Filters are SQL (parameterised); the figures are folded in one streaming pass over the
selected rows, so that totals and every group of ``--by`` come from the same code. The result
is a typed ``Report``; ``as_dict()`` gives the JSON form, and ``projections.rendering`` the
text and CSV forms every entrypoint shares.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import select

from casework.assessment import AssessmentRules
from casework.registry import WorkflowRegistry
from casework.timestamps import local_day, naive_utc, utc_now
from casework.workflow import OPEN_STAGES, STAGES, ReportSection

from .case_summary import escalation_steps, reached_milestone
from .filters import Filters, contact_overdue, open_overdue
from .progress import progress
from .read_model import ReadModel
from .report_columns import tallied_columns
from .statistics import nested, percentile, ratio
from .tables import case_summary
from .three_rates import (
    RANKINGS,
    Period,
    ThreeRates,
    UnitAccount,
    grouped_rates,
    overall_rates,
    total,
    unit_accounts,
)

OPEN_OVERDUE = "open_overdue"
CONTACT_OVERDUE = "contact_overdue"
GROUPINGS = ("stage", "state", "unit", "community", "grid", "grade", "category", "channel",
             "kind")
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


@dataclass(frozen=True)
class Group:
    """The figures of the cases that share one value of ``--by``."""

    key: str
    figures: Figures

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, **self.figures.as_dict()}


@dataclass(frozen=True)
class Report:
    figures: Figures
    groups: list[Group]
    as_of: datetime
    """The moment open deadlines were judged at (UTC)."""
    filters: Filters
    by: str | None
    assessment: Assessment | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.figures.as_dict(),
                **({} if self.assessment is None else self.assessment.as_dict()),
                "as_of": self.as_of.replace(tzinfo=None).isoformat() + "Z",
                "filters": self.filters.as_dict(),
                "by": self.by,
                "groups": [group.as_dict() for group in self.groups]}


@dataclass(frozen=True)
class Assessment:
    """What the report adds for assessing units: the rules and month the three rates were
    computed by, each unit's account ranked (with ``--by unit|community|grid``), and how far
    the cases of each channel and kind have come."""

    rules: AssessmentRules
    month: Period | None
    ranking: list[UnitAccount]
    progress_by_channel: dict[str, dict[str, int]]
    progress_by_kind: dict[str, dict[str, int]]

    def as_dict(self) -> dict[str, Any]:
        month = None if self.month is None else {
            "from": self.month[0].isoformat() + "Z", "until": self.month[1].isoformat() + "Z"}
        return {"assessment": {**self.rules.as_dict(), "month": month},
                "ranking": [account.as_dict() for account in self.ranking],
                "progress_by_channel": self.progress_by_channel,
                "progress_by_kind": self.progress_by_kind}


def report(read_model: ReadModel, filters: Filters | None = None, by: str | None = None,
           now: datetime | None = None, rules: AssessmentRules | None = None,
           month: Period | None = None) -> Report:
    """The report over the cases ``filters`` selects, after catching up with the events;
    its three rates and units' accounts by ``rules``, of the revisits and events in ``month``
    (an assessment month, ``AssessmentRules.month``; None: all)."""
    filters = filters or Filters()
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"cannot group by {by!r} (choose from {', '.join(GROUPINGS)})")
    read_model.catch_up()
    moment = naive_utc(now or utc_now())
    assert moment is not None
    sections = report_sections(read_model.app.workflows)
    totals = _Tally(sections, read_model.app.calendar.zone)  # intake: the office's days
    groups: dict[str, _Tally] = {}
    query = (select(*tallied_columns(sections, by), *verdicts(moment))
             .where(filters.clause()).order_by(case_summary.c.id))
    with read_model.engine.connect() as conn:
        for row in conn.execution_options(yield_per=2000).execute(query):
            totals.add(row)
            if by is not None:
                key = getattr(row, by)
                groups.setdefault("(none)" if key is None else str(key),
                                  _Tally(sections, totals.zone)).add(row)
    return _assessed(read_model, Report(
        totals.figures(), [Group(key, groups[key].figures()) for key in sorted(groups)],
        moment, filters, by), rules or AssessmentRules(), month)


def _assessed(read_model: ReadModel, plain: Report, rules: AssessmentRules,
              month: Period | None) -> Report:
    """The report with its three rates (overall and per group), the units' ranking and the
    progress by channel and kind: two SQL aggregates, not a pass over the rows (the overall
    rates are the groups' added up)."""
    filters, by = plain.filters, plain.by
    ranking: list[UnitAccount] = []
    rates: dict[str, ThreeRates] = {}
    if by in RANKINGS:
        ranking = unit_accounts(read_model, filters, rules, by, month)
        rates = {account.key: account.three_rates for account in ranking}
    elif by is not None:
        rates = grouped_rates(read_model, filters, rules, by, month)
    overall = (total(list(rates.values()), rules) if by is not None
               else overall_rates(read_model, filters, rules, month))
    empty = ThreeRates(0, 0, 0, 0, 0, 0, 0, rules)
    groups = [replace(group, figures=replace(group.figures,
                                             three_rates=rates.get(group.key, empty)))
              for group in plain.groups]
    by_channel, by_kind = progress(read_model, filters)
    return replace(plain, figures=replace(plain.figures, three_rates=overall), groups=groups,
                   assessment=Assessment(rules, month, ranking, by_channel, by_kind))


def figures_of(rows: Iterable[Any], sections: dict[str, ReportSection],
               zone: tzinfo = UTC) -> Figures:
    """The figures of the given read-model rows (with their ``open_overdue`` label), by the
    same code as the report: what one case adds to each figure (``projections.explain``)."""
    tally = _Tally(sections, zone)
    for row in rows:
        tally.add(row)
    return tally.figures()


def verdicts(moment: Any) -> tuple[Any, Any]:
    """The columns the tally reads beside each row (``_Tally.add``): whether the case is
    open past its deadline at ``moment``, on the resolution clock and on the contact clock."""
    return (open_overdue(moment).label(OPEN_OVERDUE),
            contact_overdue(moment).label(CONTACT_OVERDUE))


def report_sections(workflows: WorkflowRegistry) -> dict[str, ReportSection]:
    """Each kind's report section, as its latest version declares it."""
    latest = (workflows.get(name) for name in workflows.names())
    return {workflow.name: workflow.report for workflow in latest if workflow.report}


@dataclass
class _Tally:
    """The figures of one set of cases, accumulated row by row."""

    sections: dict[str, ReportSection]
    zone: tzinfo = UTC  # the office's time zone, whose days ``intake`` counts
    total: int = 0
    by_stage: Counter[str] = field(default_factory=Counter)
    by_state: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    resolved: int = 0
    resolved_locally: int = 0
    sla: dict[str, Counter[str]] = field(default_factory=dict)
    contact: dict[str, Counter[str]] = field(default_factory=dict)
    hours_to_close: list[float] = field(default_factory=list)
    satisfaction: Counter[int] = field(default_factory=Counter)
    ever_closed: int = 0
    reopened: int = 0
    escalated: int = 0
    escalations: int = 0
    escalation_steps: Counter[tuple[str, str]] = field(default_factory=Counter)
    hot_spots: Counter[tuple[str, str]] = field(default_factory=Counter)
    intake: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(day, channel) → cases opened."""
    counted: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    """(kind, figure) → counts by value, for the sections' ``count_by``."""
    milestones: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, row: Any) -> None:
        self.total += 1
        self.by_stage[row.stage] += 1
        self.by_state[row.state] += 1
        self.by_kind[row.kind] += 1
        if row.channel:
            self.by_channel[row.channel] += 1
        self.intake[(local_day(row.opened_at, self.zone), row.channel or NO_CHANNEL)] += 1
        if row.outcome == "resolved":
            self.resolved += 1
            self.resolved_locally += not row.left_community
        if row.deadline is not None and row.grade:  # deadlines by urgency grade
            self._judge_deadline(row)
        if row.contact_deadline is not None and row.grade:
            self._judge_contact(row)
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
            self.escalation_steps.update(escalation_steps(row.escalation_steps))
        if row.category and row.community:
            self.hot_spots[(row.category, row.community)] += 1
        section = self.sections.get(row.kind)
        if section is not None:
            self._add_to_section(row, section)

    def _judge_deadline(self, row: Any) -> None:
        verdict = None
        if row.resolved_at is not None:
            verdict = "breached" if row.breached else "met"
        elif row.open_overdue:  # the SQL of ``filters.open_overdue``, as cases --overdue lists
            verdict = "open_overdue"
        for key in (OVERALL, row.grade):  # a grade with cases still in time is listed too
            counts = self.sla.get(key) or self.sla.setdefault(key, Counter())
            if verdict is not None:
                counts[verdict] += 1

    def _judge_contact(self, row: Any) -> None:
        verdict = None
        ended = row.resolved_at or row.closed_at
        if row.contacted_at is not None:
            verdict = "breached" if row.contacted_at > row.contact_deadline else "met"
        elif ended is not None and ended > row.contact_deadline:
            verdict = "breached"  # finished without ever reaching the petitioner in time
        elif row.contact_overdue:
            verdict = "open_overdue"
        for key in (OVERALL, row.grade):
            counts = self.contact.get(key) or self.contact.setdefault(key, Counter())
            if verdict is not None:
                counts[verdict] += 1

    def _add_to_section(self, row: Any, section: ReportSection) -> None:
        mapping = row._mapping
        for figure, name in section.count_by.items():
            value = mapping.get(name)
            if value:
                self.counted.setdefault((row.kind, figure), Counter())[value] += 1
        for figure, trigger in section.milestones.items():
            self.milestones[(row.kind, figure)] += reached_milestone(row, trigger)

    def figures(self) -> Figures:
        open_count = sum(self.by_stage[s] for s in OPEN_STAGES)
        ratings = sum(self.satisfaction.values())
        sla = {grade: Deadlines(**counts) for grade, counts in sorted(self.sla.items())}
        return Figures(
            total=self.total,
            open=open_count,
            closed=self.total - open_count,
            by_stage={stage: self.by_stage[stage] for stage in STAGES},
            by_state=dict(sorted(self.by_state.items())),
            by_kind=dict(sorted(self.by_kind.items())),
            by_channel=dict(sorted(self.by_channel.items())),
            resolved=self.resolved,
            resolution_rate=ratio(self.resolved, self.total),
            local_resolution_rate=ratio(self.resolved_locally, self.resolved),
            sla=sla or {OVERALL: Deadlines()},
            contact={grade: Deadlines(**counts) for grade, counts in sorted(self.contact.items())},
            time_to_close_hours=Durations(len(self.hours_to_close),
                                          percentile(self.hours_to_close, 50),
                                          percentile(self.hours_to_close, 90),
                                          histogram(self.hours_to_close, CLOSE_HOURS_BINS)),
            satisfaction=Satisfaction(
                ratings,
                round(sum(k * v for k, v in self.satisfaction.items()) / ratings, 3)
                if ratings else None,
                {str(score): self.satisfaction[score] for score in range(1, 6)}),
            reopen_rate=ratio(self.reopened, self.ever_closed),
            escalations=Escalations(self.escalated, self.escalations,
                                    ratio(self.escalated, self.total),
                                    [EscalationStep(low, high, count) for (low, high), count
                                     in sorted(self.escalation_steps.items())]),
            hot_spots=[HotSpot(category, community, count)
                       for (category, community), count in sorted(
                           self.hot_spots.items(), key=lambda item: (-item[1], item[0])
                       )[:HOT_SPOTS]],
            sections={section.name: self._section(kind, section)
                      for kind, section in self.sections.items()},
            intake_by_day=nested(self.intake),
            by_category_and_community=nested(self.hot_spots),
        )

    def _section(self, kind: str, section: ReportSection) -> dict[str, Any]:
        counted = {figure: dict(sorted(self.counted.get((kind, figure), Counter()).items()))
                   for figure in section.count_by}
        reached = {figure: self.milestones[(kind, figure)] for figure in section.milestones}
        return {**counted, **reached}


def histogram(values: list[float], edges: tuple[float, ...]) -> list[Bin]:
    """How many values fall in each bin from one edge to the next (the last has no end)."""
    counts = Counter(bisect_right(edges, value) - 1 for value in values)
    bounds = [*edges[1:], None]
    return [Bin(lower, upper, counts[index])
            for index, (lower, upper) in enumerate(zip(edges, bounds, strict=True))]
