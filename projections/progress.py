"""How far the cases of each channel and each kind have come: collected, resolved, still in
progress, as an office announces them ("67 problems collected, 41 solved, 26 being followed
up"), read from the report without arithmetic. SQL counts over the read model."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from .case_summary import OPEN
from .filters import Filters
from .read_model import ReadModel
from .tables import case_summary

NO_VALUE = "(none)"


def progress_by(read_model: ReadModel, filters: Filters, by: str) -> dict[str, dict[str, int]]:
    """Per value of the column ``by`` (channel, kind): cases collected, resolved (their
    outcome), in progress (open), and closed otherwise (rejected, merged, cancelled...)."""
    c = case_summary.c
    column = c[by]
    query = (select(column.label("key"), func.count().label("collected"),
                    func.sum(case((c.outcome == "resolved", 1), else_=0)).label("resolved"),
                    func.sum(case((c.status == OPEN, 1), else_=0)).label("in_progress"))
             .where(filters.clause()).group_by(column).order_by(column))
    with read_model.engine.connect() as conn:
        rows = conn.execute(query).all()
    return {NO_VALUE if row.key is None else str(row.key): _counts(row) for row in rows}


def _counts(row: Any) -> dict[str, int]:
    collected, resolved, in_progress = int(row.collected), int(row.resolved or 0), int(
        row.in_progress or 0)
    return {"collected": collected, "resolved": resolved, "in_progress": in_progress,
            "closed_otherwise": collected - resolved - in_progress}
