"""The three rates (三率) units are assessed by, and each unit's account: SQL sums over the
units' ledger (``projections.unit_ledger``) of the cases a report selects.

Definitions (the denominator is the valid visits: the petitioner was reached and answered
the questionnaire; visits of consultation-only cases, the rules' ``excluded_categories``, do
not count, and rejected or merged cases are never visited: those states end a case before it
closes):

- 响应率 response     = visits answering "the unit contacted me" ÷ valid visits;
- 解决率 resolution   = visits answering "my problem is solved" ÷ valid visits;
- 满意率 satisfaction = (满意 + f × 基本满意) ÷ valid visits;
- the composite score = the rates weighted (``casework.assessment``), out of 100.

Every revisit counts, in the month it was made and for the unit that held the case then (a
case reopened and visited again is visited twice). The sums are SQL aggregates: a report over
a million cases costs what a GROUP BY over the ledger costs. The queries read the read model
as it is: ``report`` catches it up first (``ReadModel.catch_up``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select, true

from casework.assessment import AssessmentRules
from casework.questionnaire import BASICALLY_SATISFIED, SATISFIED, UNSATISFIED

from .filters import Filters
from .read_model import ReadModel
from .statistics import ratio
from .tables import case_summary, unit_ledger
from .unit_ledger import NO_UNIT

RANKINGS = ("unit", "community", "grid")
"""The groupings whose rows are units' accounts, ranked by the composite score."""
VISIT_COUNTS = ("visits", "valid_visits", "contacted", "solved", SATISFIED,
                BASICALLY_SATISFIED, UNSATISFIED)
ACCOUNT_COUNTS = ("received", "from_below", "escalated_up", "contacted_in_time",
                  "resolved_in_time", "breaches", "sent_back")
LEDGER_KEYS = (*RANKINGS, "kind", "channel")
"""Columns the ledger holds as the case had them at the event (no join needed)."""

Period = tuple[datetime, datetime]
"""From (inclusive) to (exclusive), naive UTC: an assessment month."""


@dataclass(frozen=True)
class ThreeRates:
    """The revisits' answers of a set of cases and the rates they give."""

    visits: int
    valid: int
    contacted: int
    solved: int
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    rules: AssessmentRules

    @property
    def response_rate(self) -> float | None:
        return ratio(self.contacted, self.valid)

    @property
    def resolution_rate(self) -> float | None:
        return ratio(self.solved, self.valid)

    @property
    def satisfaction_rate(self) -> float | None:
        basic = self.rules.basic_weight * self.basically_satisfied
        return ratio(self.satisfied + basic, self.valid)

    @property
    def composite(self) -> float | None:
        return self.rules.composite(self.response_rate, self.resolution_rate,
                                    self.satisfaction_rate)

    def as_dict(self) -> dict[str, Any]:
        return {"visits": self.visits, "valid": self.valid, "contacted": self.contacted,
                "solved": self.solved, SATISFIED: self.satisfied,
                BASICALLY_SATISFIED: self.basically_satisfied, UNSATISFIED: self.unsatisfied,
                "response_rate": self.response_rate, "resolution_rate": self.resolution_rate,
                "satisfaction_rate": self.satisfaction_rate, "composite": self.composite}


@dataclass(frozen=True)
class UnitAccount:
    """A unit's (or a community's, a grid's) account over a period, and its rank."""

    key: str
    rank: int | None
    """1 for the best composite score; None without valid visits (nothing to rank by)."""
    received: int
    from_below: int
    escalated_up: int
    held_hours: float
    contacted_in_time: int
    resolved_in_time: int
    breaches: int
    sent_back: int
    three_rates: ThreeRates

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "rank": self.rank, "received": self.received,
                "received_from_below": self.from_below, "escalated_up": self.escalated_up,
                "held_hours": self.held_hours, "contacted_in_time": self.contacted_in_time,
                "resolved_in_time": self.resolved_in_time, "breaches": self.breaches,
                "sent_back": self.sent_back, "three_rates": self.three_rates.as_dict()}


def counted_visits(rules: AssessmentRules) -> Any:
    """The ledger rows whose visits the rates count: not of an excluded category."""
    u = unit_ledger.c
    if not rules.excluded_categories:
        return true()
    return or_(u.category.is_(None), u.category.not_in(rules.excluded_categories))


def group_column(key: str) -> Any:
    """The column the sums group by: the ledger's own for those it holds (the value at the
    visit), else the case's (which needs the ledger joined to the cases)."""
    return unit_ledger.c[key] if key in LEDGER_KEYS else case_summary.c[key]


def ledger_of_cases() -> Any:
    """The ledger joined to its cases, for the filters and the cases' own columns."""
    return unit_ledger.join(case_summary, case_summary.c.id == unit_ledger.c.case_id)


def _sums(filters: Filters, rules: AssessmentRules, period: Period | None,
          key: str | None) -> Any:
    """One row of sums (per value of the column ``key`` when given) over the ledger of the
    selected cases. The ledger alone when it can: all cases, grouped by a column it holds."""
    u = unit_ledger.c
    counted = counted_visits(rules)
    columns = [func.coalesce(func.sum(case((counted, u[name]), else_=0)), 0).label(name)
               for name in VISIT_COUNTS]
    columns += [func.coalesce(func.sum(u[name]), 0).label(name) for name in ACCOUNT_COUNTS]
    columns.append(func.coalesce(func.sum(u.held_hours), 0.0).label("held_hours"))
    column = None if key is None else group_column(key)
    query = select(*([] if column is None else [column.label("key")]), *columns)
    if any(filters.as_dict().values()) or (key is not None and key not in LEDGER_KEYS):
        query = query.select_from(ledger_of_cases()).where(filters.clause())
    if period is not None:
        query = query.where(u.at >= period[0], u.at < period[1])
    return query if column is None else query.group_by(column)


def total(parts: list[ThreeRates], rules: AssessmentRules) -> ThreeRates:
    """The three rates of the union of disjoint parts (their counts add up)."""
    return ThreeRates(*(sum(getattr(part, name) for part in parts) for name in (
        "visits", "valid", "contacted", "solved", "satisfied", "basically_satisfied",
        "unsatisfied")), rules)


def _three_rates(row: Any, rules: AssessmentRules) -> ThreeRates:
    return ThreeRates(int(row.visits), int(row.valid_visits), int(row.contacted),
                      int(row.solved), int(row.satisfied), int(row.basically_satisfied),
                      int(row.unsatisfied), rules)


def overall_rates(read_model: ReadModel, filters: Filters, rules: AssessmentRules,
                  period: Period | None = None) -> ThreeRates:
    """The three rates of the cases ``filters`` selects (revisits made in ``period``)."""
    with read_model.engine.connect() as conn:
        row = conn.execute(_sums(filters, rules, period, None)).one()
    return _three_rates(row, rules)


def grouped_rates(read_model: ReadModel, filters: Filters, rules: AssessmentRules,
                  by: str, period: Period | None = None) -> dict[str, ThreeRates]:
    """The three rates per value of ``by``: for unit, community and grid, those of the
    unit that held the case at the visit; else the case's own value (kind, channel...)."""
    with read_model.engine.connect() as conn:
        rows = conn.execute(_sums(filters, rules, period, by)).all()
    return {_key(row.key): _three_rates(row, rules) for row in rows}


def unit_accounts(read_model: ReadModel, filters: Filters, rules: AssessmentRules,
                  by: str = "unit", period: Period | None = None) -> list[UnitAccount]:
    """Each unit's (community's, grid's) account, best composite score first (those without
    valid visits last, by name, unranked), ranked 1, 2, ... (equal scores share a rank)."""
    if by not in RANKINGS:
        raise ValueError(f"cannot rank by {by!r} (choose from {', '.join(RANKINGS)})")
    with read_model.engine.connect() as conn:
        rows = conn.execute(_sums(filters, rules, period, by)).all()
    scored = sorted(((_key(row.key), row, _three_rates(row, rules)) for row in rows),
                    key=lambda item: (item[2].composite is None, -(item[2].composite or 0),
                                      item[0]))
    accounts: list[UnitAccount] = []
    for position, (key, row, rates) in enumerate(scored, start=1):
        tied = accounts and accounts[-1].three_rates.composite == rates.composite
        rank = None if rates.composite is None else accounts[-1].rank if tied else position
        accounts.append(UnitAccount(
            key, rank, int(row.received), int(row.from_below), int(row.escalated_up),
            round(float(row.held_hours), 2), int(row.contacted_in_time),
            int(row.resolved_in_time), int(row.breaches), int(row.sent_back), rates))
    return accounts


def _key(value: Any) -> str:
    return NO_UNIT if value is None else str(value)
