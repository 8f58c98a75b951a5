"""The figures an office reads: counts by stage, resolution, local resolution, deadlines,
time to close, satisfaction, reopening, hot spots — over a filtered set of cases.

Filters are SQL (parameterised); the figures are SQL ``GROUP BY``s over the selected cases
(``projections.report_counts``), added up in a ``Tally`` per group of ``--by`` and for the
totals (``projections.tally``, which also folds single rows for ``--explain``). The result
is a typed ``Report``; ``as_dict()`` gives the JSON form, and ``projections.rendering`` the
text and CSV forms every entrypoint shares.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from casework.assessment import AssessmentRules
from casework.registry import WorkflowRegistry
from casework.timestamps import naive_utc, utc_now
from casework.workflow import ReportSection

from .figures import (
    CLOSE_HOURS_BINS,
    CONTACT_OVERDUE,
    HOT_SPOTS,
    NO_CHANNEL,
    OPEN_OVERDUE,
    OVERALL,
    Bin,
    Deadlines,
    Durations,
    Escalations,
    EscalationStep,
    Figures,
    HotSpot,
    Satisfaction,
    histogram,
)
from .filters import Filters, contact_overdue, open_overdue
from .progress import progress
from .read_model import ReadModel
from .report_counts import counted
from .tally import figures_of
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

__all__ = ["CLOSE_HOURS_BINS", "CONTACT_OVERDUE", "GROUPINGS", "HOT_SPOTS", "NO_CHANNEL",
           "OPEN_OVERDUE", "OVERALL", "Assessment", "Bin", "Deadlines", "Durations",
           "EscalationStep", "Escalations", "Figures", "Group", "HotSpot", "Report",
           "Satisfaction", "figures_of", "histogram", "report", "report_sections", "verdicts"]

GROUPINGS = ("stage", "state", "unit", "community", "grid", "grade", "category", "channel",
             "kind")


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
    zone = read_model.app.calendar.zone  # intake: the office's days
    with read_model.engine.connect() as conn:  # one transaction: every count of one state
        totals, groups = counted(conn, filters, moment, by, sections, zone)
    return _assessed(read_model, Report(
        totals.figures(), [Group(key, tally.figures()) for key, tally in groups.items()],
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


def verdicts(moment: Any) -> tuple[Any, Any]:
    """The columns the tally reads beside each row (``tally.Tally.add``): whether the case is
    open past its deadline at ``moment``, on the resolution clock and on the contact clock."""
    return (open_overdue(moment).label(OPEN_OVERDUE),
            contact_overdue(moment).label(CONTACT_OVERDUE))


def report_sections(workflows: WorkflowRegistry) -> dict[str, ReportSection]:
    """Each kind's report section, as its latest version declares it."""
    latest = (workflows.get(name) for name in workflows.names())
    return {workflow.name: workflow.report for workflow in latest if workflow.report}

