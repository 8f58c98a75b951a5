"""The figures of one set of cases, accumulated: from the counts the report's SQL gives
(``projections.report_counts``: so many cases of this stage, kind, grade... at once), or from
one read-model row at a time (``figures_of``: what one case adds to each figure, for
``--explain``). Both end in the same increments, so a figure means the same either way."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any

from casework.timestamps import local_day
from casework.workflow import OPEN_STAGES, STAGES, ReportSection

from .case_summary import MILESTONE_SEPARATOR, escalation_steps
from .figures import (
    CLOSE_HOURS_BINS,
    HOT_SPOTS,
    NO_CHANNEL,
    OVERALL,
    Deadlines,
    Durations,
    Escalations,
    EscalationStep,
    Figures,
    HotSpot,
    Satisfaction,
    histogram,
)
from .statistics import nested, percentile, ratio

Verdicts = Mapping[str, int]
"""``met``, ``breached``, ``open_overdue`` → cases (those of neither are in time)."""


def figures_of(rows: Iterable[Any], sections: dict[str, ReportSection],
               zone: tzinfo = UTC) -> Figures:
    """The figures of the given read-model rows (with their ``open_overdue`` and
    ``contact_overdue`` labels, ``report.verdicts``), one row at a time: what one case adds to
    each figure (``projections.explain``)."""
    tally = Tally(sections, zone)
    for row in rows:
        tally.add(row)
    return tally.figures()


@dataclass
class Tally:
    """The figures of one set of cases, accumulated."""

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

    # What ``cases`` cases of the same values add (the report's SQL counts).

    def count_cases(self, row: Any, cases: int) -> None:
        """Cases of one stage, state, kind, channel, grade and satisfaction score, with what
        of them the SQL counted (``report_counts``)."""
        self.total += cases
        self.by_stage[row.stage] += cases
        self.by_state[row.state] += cases
        self.by_kind[row.kind] += cases
        if row.channel:
            self.by_channel[row.channel] += cases
        self.resolved += row.resolved
        self.resolved_locally += row.resolved_locally
        if row.grade:  # deadlines by urgency grade
            if row.judged:
                self.count_deadlines(self.sla, row.grade, {
                    "met": row.met, "breached": row.breached, "open_overdue": row.open_overdue})
            if row.contact_judged:
                self.count_deadlines(self.contact, row.grade, {
                    "met": row.contact_met, "breached": row.contact_breached,
                    "open_overdue": row.contact_open_overdue})
        if row.satisfaction is not None:
            self.satisfaction[row.satisfaction] += cases
        self.ever_closed += row.ever_closed
        self.reopened += row.reopened
        self.escalated += row.escalated
        self.escalations += row.escalations

    def count_deadlines(self, clock: dict[str, Counter[str]], grade: str,
                        verdicts: Verdicts) -> None:
        for key in (OVERALL, grade):  # a grade with cases still in time is listed too
            counts = clock.get(key) or clock.setdefault(key, Counter())
            counts.update(verdicts)

    def count_intake(self, day: str, channel: str | None, cases: int) -> None:
        self.intake[(day, channel or NO_CHANNEL)] += cases

    def count_steps(self, steps: str, cases: int) -> None:
        """Cases whose escalations took the steps ``steps`` (the column's text)."""
        for step, times in escalation_steps(steps).items():
            self.escalation_steps[step] += times * cases

    def count_place(self, category: str | None, community: str | None, cases: int) -> None:
        if category and community:
            self.hot_spots[(category, community)] += cases

    def count_section(self, kind: str, values: Mapping[str, Any], milestones: str,
                      cases: int) -> None:
        """Cases of ``kind`` with these values of the columns its section counts by, and
        these milestones reached (the column's text)."""
        section = self.sections.get(kind)
        if section is None:
            return
        for figure, name in section.count_by.items():
            value = values.get(name)
            if value:
                self.counted.setdefault((kind, figure), Counter())[value] += cases
        for figure, trigger in section.milestones.items():
            if f"{MILESTONE_SEPARATOR}{trigger}{MILESTONE_SEPARATOR}" in milestones:
                self.milestones[(kind, figure)] += cases

    # One read-model row (``figures_of``): the same increments, with the verdicts judged here.

    def add(self, row: Any) -> None:
        self.total += 1
        self.by_stage[row.stage] += 1
        self.by_state[row.state] += 1
        self.by_kind[row.kind] += 1
        if row.channel:
            self.by_channel[row.channel] += 1
        self.count_intake(local_day(row.opened_at, self.zone), row.channel, 1)
        if row.outcome == "resolved":
            self.resolved += 1
            self.resolved_locally += not row.left_community
        if row.deadline is not None and row.grade:
            self.count_deadlines(self.sla, row.grade, _one(_deadline_verdict(row)))
        if row.contact_deadline is not None and row.grade:
            self.count_deadlines(self.contact, row.grade, _one(_contact_verdict(row)))
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
            self.count_steps(row.escalation_steps, 1)
        self.count_place(row.category, row.community, 1)
        self.count_section(row.kind, row._mapping, row.milestones, 1)

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


def _deadline_verdict(row: Any) -> str | None:
    """Resolved in time or late, open past the deadline (``row.open_overdue``, the SQL of
    ``filters.open_overdue``, as ``cases --overdue`` lists), or neither."""
    if row.resolved_at is not None:
        return "breached" if row.breached else "met"
    return "open_overdue" if row.open_overdue else None


def _contact_verdict(row: Any) -> str | None:
    ended = row.resolved_at or row.closed_at
    if row.contacted_at is not None:
        return "breached" if row.contacted_at > row.contact_deadline else "met"
    if ended is not None and ended > row.contact_deadline:
        return "breached"  # finished without ever reaching the petitioner in time
    return "open_overdue" if row.contact_overdue else None


def _one(verdict: str | None) -> Verdicts:
    return {} if verdict is None else {verdict: 1}
