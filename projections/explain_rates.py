"""``casework report --explain three_rates.GROUP.COUNT``: the revisits behind a count of
the three rates (三率), read from the units' ledger the rates are summed over.

GROUP is ``overall`` or a key of the report's ``--by`` (``guanlan/guancheng`` with ``--by
community``); ``three_rates.COUNT`` is the overall one. COUNT is one of the counts of the
report's JSON (``visits``, ``valid``, ``contacted``, ``solved``, ``satisfied``,
``basically_satisfied``, ``unsatisfied``): every revisit it counts is listed, once, with its
case and its event, so that the list is as long as the count. The rates are ratios of these
counts and are not explained themselves: the message names the counts to explain instead.
The rows are chosen by the same conditions as the sums (``projections.three_rates``): the
same filters, excluded categories, month and group column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, or_, select

from casework import InvalidField
from casework.assessment import AssessmentRules
from casework.questionnaire import LEVELS

from .explain import ExplainedEvent, case_events
from .filters import Filters
from .replayed import EVERYTHING, Cutoff
from .tables import case_summary, unit_ledger
from .three_rates import Period, counted_visits, group_column, ledger_of_cases
from .unit_ledger import NO_UNIT

FIGURE = "three_rates"
OVERALL = "overall"
COLUMNS = {"visits": "visits", "valid": "valid_visits", "contacted": "contacted",
           "solved": "solved", **{level: level for level in LEVELS}}
"""A count of the report's JSON → the ledger's column it sums."""
RATIOS = {"response_rate": "contacted and {g}.valid",
          "resolution_rate": "solved and {g}.valid",
          "satisfaction_rate": "satisfied, {g}.basically_satisfied and {g}.valid",
          "composite": "contacted, {g}.solved, {g}.satisfied, {g}.basically_satisfied and "
                       "{g}.valid"}


@dataclass(frozen=True)
class ExplainedRevisit:
    """One revisit a count includes: its case, the unit it counts for, its answers."""

    case_id: str
    kind: str
    category: str | None
    unit: str
    """The unit that held the case at the visit (the account it counts in)."""
    contacted: bool
    solved: bool
    level: str | None
    """满意, 基本满意 or 不满意 (``satisfied``...), if the petitioner said."""
    event: ExplainedEvent
    moved: bool = False
    """Whether the case has events recorded after the report being verified was made."""

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "kind": self.kind, "category": self.category,
                "unit": self.unit, "contacted": self.contacted, "solved": self.solved,
                "satisfaction": self.level, "moved": self.moved, **self.event.as_dict()}


def rates_path(path: str) -> tuple[str, str] | None:
    """(group, count) of a path under ``three_rates``; None for other figures. ``InvalidField``
    for a rate (a ratio of counts) or a name that is no count."""
    parts = path.split(".")
    if parts[0] != FIGURE:
        return None
    if len(parts) < 2:
        raise InvalidField("--explain", f"{path!r} is a group of figures; name one count "
                                        f"(e.g. {FIGURE}.{OVERALL}.solved)")
    group, count = ".".join(parts[1:-1]) or OVERALL, parts[-1]
    prefix = f"{FIGURE}.{group}"
    if count in RATIOS:
        raise InvalidField("--explain", f"{path!r} is a ratio of counts; explain "
                                        f"{prefix}.{RATIOS[count].format(g=prefix)}")
    if count not in COLUMNS:
        raise InvalidField("--explain", f"{prefix} has no count {count!r} (choose from "
                                        f"{', '.join(COLUMNS)})")
    return group, count


def explain_rates(model: Any, filters: Filters, path: str, by: str | None,
                  rules: AssessmentRules, period: Period | None, cutoff: Cutoff = EVERYTHING,
                  moved: frozenset[str] = frozenset()) -> Iterator[ExplainedRevisit]:
    """The revisits of the cases ``filters`` selects that count ``path`` of the report by
    ``by``, ``rules`` and ``period``, oldest case first; the read model must be caught up."""
    found = rates_path(path)
    assert found is not None, path
    group, count = found
    u = unit_ledger.c
    where = [filters.clause(), counted_visits(rules), u[COLUMNS[count]] > 0]
    if period is not None:
        where += [u.at >= period[0], u.at < period[1]]
    if group != OVERALL:
        where.append(_in_group(model, filters, by, group))
    query = (select(u.case_id, u.version, u.unit, u.kind, u.category, u.contacted, u.solved,
                    *(u[level] for level in LEVELS))
             .select_from(ledger_of_cases())
             .where(*where).order_by(u.case_id, u.version, u.unit))
    with model.engine.connect() as conn:
        rows = conn.execute(query).all()
    events: dict[str, dict[int, ExplainedEvent]] = {}
    for row in rows:
        if row.case_id not in events:
            events[row.case_id] = {e.version: e for e in case_events(model.app, row.case_id,
                                                                     cutoff)}
        level = next((name for name in LEVELS if getattr(row, name)), None)
        yield ExplainedRevisit(row.case_id, row.kind, row.category, row.unit,
                               bool(row.contacted), bool(row.solved), level,
                               events[row.case_id][row.version], row.case_id in moved)


def _in_group(model: Any, filters: Filters, by: str | None, group: str) -> Any:
    """The condition of the ledger's rows in ``group`` of the report by ``by``, its column
    read as the sums read it; ``InvalidField`` without ``--by`` or when no selected case
    has ``group`` as its value."""
    if by is None:
        raise InvalidField("--explain", f"{FIGURE}.{group} is a group of the report: give "
                                        "the --by it was grouped by")
    if by not in case_summary.c:
        raise InvalidField("--explain", f"the report cannot be grouped by {by!r}")
    column = group_column(by)
    value = (or_(column.is_(None), column == NO_UNIT) if group == NO_UNIT
             else column == group)
    query = select(exists().where(filters.clause(), value).select_from(ledger_of_cases()))
    grouped = select(exists().where(filters.clause(), case_summary.c[by] == group))
    with model.engine.connect() as conn:
        known = conn.execute(query).scalar() or (
            group != NO_UNIT and conn.execute(grouped).scalar())
    if not known:
        raise InvalidField("--explain", f"the report by {by} has no group {group!r}")
    return value
