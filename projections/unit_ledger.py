"""Each unit's account, entry by entry: what one event meant for the units it concerns.

Responsibility goes to the unit that held the case when the event happened, not to where
the case ends: an escalation is the lower unit's "escalated up" and the upper unit's
"received from below"; a deadline that passes is a breach of the unit holding the case then;
a revisit (回访) counts for the unit that resolved the case, which holds it at the visit.

``ledger_entries`` is a pure function of the case's summary row before and after the event
(``projections.case_summary``), so that catch-up, rebuild and replay give the same entries.
Accounts and the three rates are SQL sums over these rows (``projections.three_rates``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from casework.organisation import Organisation
from casework.questionnaire import (
    ANSWERS,
    BASICALLY_SATISFIED,
    SATISFIED,
    UNSATISFIED,
    counts_for_rates,
    satisfaction_level,
)
from casework.workflow import Workflow

NO_UNIT = "(none)"
"""The account of events while no unit held the case (a revisit of a case never dispatched)."""
CONTACT_SETTING = "contact_within_hours"
DEFAULT_CONTACT_HOURS = 24
"""Shenzhen's rule: the handling unit contacts the petitioner within 24 hours. Only for cases
recorded without a contact clock (version 1); a case with one is judged by its own recorded
contact deadline (working time), when the petitioner is first reached."""
COUNTS = ("received", "from_below", "escalated_up", "contacted_in_time", "resolved_in_time",
          "breaches", "sent_back", "visits", "valid_visits", "contacted", "solved", SATISFIED,
          BASICALLY_SATISFIED, UNSATISFIED)
"""The counters of an entry (columns of ``unit_ledger``), beside ``held_hours``."""
NO_COUNTS = dict.fromkeys(COUNTS, 0)


def held_hours(since: datetime, until: datetime) -> float:
    """How long a unit held a case, in hours: the elapsed time for now. The one place that
    says it, so that working time (office hours and holidays) can replace it."""
    return max(0.0, (until - since).total_seconds() / 3600)


def ledger_entries(before: dict[str, Any] | None, after: dict[str, Any], event: Any,
                   workflow: Workflow, organisation: Organisation) -> list[dict[str, Any]]:
    """The entries of ``event`` (the rows of ``unit_ledger``): one per unit it concerns."""
    if (after["unit"] is None if before is None
            else not _concerns_units(before, after, event.fields)):
        return []  # most events (notes, assessments...): nothing to fold, and folds are hot
    at: datetime = after["updated_at"]
    lines: dict[str | None, Counter[str]] = {}
    hours: Counter[str | None] = Counter()

    def add(unit: str | None, **counts: int) -> None:
        lines.setdefault(unit, Counter()).update(counts)

    held_by = None if before is None else before["unit"]
    _moves(before, after, add, hours)
    _handling(before, after, workflow, at, add, hours)
    was_breached = before is not None and bool(before["missed_deadline"] or before["breached"])
    if bool(after["missed_deadline"] or after["breached"]) and not was_breached:
        add(held_by if held_by is not None else after["unit"], breaches=1)
    if before is not None and after["reopens"] > before["reopens"]:
        add(after["unit"], sent_back=1)  # 不满意重办: back to the unit that resolved it
    if any(name in event.fields for name in ANSWERS):
        add(held_by, **_visit(event.fields, workflow))
    for unit in hours:
        lines.setdefault(unit, Counter())
    return [_entry(after, event, unit, counts, hours[unit], organisation)
            for unit, counts in lines.items()]


def _concerns_units(before: dict[str, Any], after: dict[str, Any],
                    fields: dict[str, Any]) -> bool:
    """Whether the event changed what the accounts count: the unit, a unit taking the case on
    or resolving it, the deadline's verdict or the reopenings; or whether it answers the
    questionnaire."""
    return (before["unit"] != after["unit"]
            or (before["stage"] == "dispatch" and after["stage"] == "follow_up")
            or (after["outcome"] == "resolved" and before["outcome"] != "resolved")
            or before["missed_deadline"] != after["missed_deadline"]
            or before["breached"] != after["breached"] or before["reopens"] != after["reopens"]
            or before["contacted_at"] != after["contacted_at"]
            or any(name in fields for name in ANSWERS))


def _moves(before: dict[str, Any] | None, after: dict[str, Any], add: Any,
           hours: Counter[str | None]) -> None:
    """A case that changed units: the old unit's time with it ends, the new one receives it
    (from below when it was escalated)."""
    old = None if before is None else before["unit"]
    new = after["unit"]
    if old == new:
        return
    escalated = before is not None and after["escalations"] > before["escalations"]
    if old is not None and before is not None and before["unit_since"] is not None:
        hours[old] += held_hours(before["unit_since"], after["updated_at"])
    if old is not None and escalated:
        add(old, escalated_up=1)
    if new is not None:
        add(new, received=1, from_below=int(escalated))


def _handling(before: dict[str, Any] | None, after: dict[str, Any], workflow: Workflow,
              at: datetime, add: Any, hours: Counter[str | None]) -> None:
    """The unit that holds the case took it on (contact) or resolved it, in time or not."""
    if before is None or before["unit"] != after["unit"] or after["unit"] is None:
        return
    unit = after["unit"]
    since = before["unit_since"]
    _contact(before, after, workflow, at, add)
    if after["outcome"] == "resolved" and before["outcome"] != "resolved":
        if since is not None:
            hours[unit] += held_hours(since, at)
        # Judged by the deadline the unit was given: an earlier unit's missed one (which
        # ``breached`` keeps for the case) is that unit's breach, not this one's.
        deadline = after["deadline"]
        add(unit, resolved_in_time=int(deadline is None or at <= deadline))


def _contact(before: dict[str, Any], after: dict[str, Any], workflow: Workflow,
             at: datetime, add: Any) -> None:
    """Contacted in time: by the case's recorded contact deadline when the petitioner is
    first reached; a case without a contact clock (version 1), by the workflow's hours from
    receiving the case to taking it on."""
    unit, since = after["unit"], before["unit_since"]
    if after["contact_deadline"] is not None:
        if before["contacted_at"] is None and after["contacted_at"] is not None:
            add(unit, contacted_in_time=int(after["contacted_at"] <= after["contact_deadline"]))
    elif before["stage"] == "dispatch" and after["stage"] == "follow_up" and since is not None:
        allowed = workflow.settings.get(CONTACT_SETTING, DEFAULT_CONTACT_HOURS)
        add(unit, contacted_in_time=int(held_hours(since, at) <= allowed))


def _visit(fields: dict[str, Any], workflow: Workflow) -> dict[str, int]:
    """A revisit's answers, as counts (a visit that does not count for the rates is only a
    visit)."""
    if not counts_for_rates(fields):
        return {"visits": 1}
    level = satisfaction_level(fields, workflow.settings)
    counts = {"visits": 1, "valid_visits": 1, "contacted": int(fields.get("contacted") is True),
              "solved": int(fields.get("solved") is True)}
    if level is not None:
        counts[level] = 1
    return counts


def _entry(after: dict[str, Any], event: Any, unit: str | None, counts: Counter[str],
           hours: float, organisation: Organisation) -> dict[str, Any]:
    known = unit is not None and unit in organisation
    community = grid = None
    if known and unit == after["unit"]:
        community = after["community"]  # case_summary's, of the same unit
    elif known:
        community = organisation.ancestor_at(unit, "community")
    if known:
        grid = organisation.ancestor_at(unit, "grid")
    return {"case_id": after["id"], "version": event.originator_version,
            "unit": NO_UNIT if unit is None else unit, "at": after["updated_at"],
            "community": community,
            "kind": after["kind"], "channel": after["channel"], "category": after["category"],
            # A unit above the grids answers for cases in a grid: the grid where the problem is.
            "grid": grid or after["grid"],
            "held_hours": round(hours, 4), **NO_COUNTS, **counts}
