"""The columns of ``case_summary`` the report's tally reads: only those are selected, so
that SQLite and SQLAlchemy build rows of a third of the table's width (titles, places and
the clocks' sources are never read by a report)."""

from __future__ import annotations

from sqlalchemy import Column

from casework.workflow import ReportSection

from .tables import case_summary

TALLIED = ("stage", "state", "kind", "channel", "opened_at", "outcome", "left_community",
           "grade", "deadline", "resolved_at", "breached", "contact_deadline", "contacted_at",
           "closed_at", "satisfaction", "ever_closed", "reopens", "escalations",
           "escalation_steps", "category", "community", "milestones")
"""What ``report._Tally.add`` reads of each row, besides the verdicts computed in SQL."""


def tallied_columns(sections: dict[str, ReportSection], by: str | None) -> list[Column]:
    """The id (the order), the tallied columns, the columns the workflows' sections count
    by and the ``--by`` grouping's, each once, in the table's order."""
    wanted = {"id", *TALLIED, *(by or "",)}
    for section in sections.values():
        wanted.update(section.count_by.values())
    return [column for column in case_summary.columns if column.name in wanted]
