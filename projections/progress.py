"""How far the cases of each channel and each kind have come: collected, resolved, still in
progress, as an office announces them ("67 problems collected, 41 solved, 26 being followed
up"), read from the report without arithmetic. One SQL count over the read model."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import case, func, select

from .case_summary import OPEN
from .filters import Filters
from .read_model import ReadModel
from .tables import case_summary

NO_VALUE = "(none)"
FIGURES = ("collected", "resolved", "in_progress")

Progress = dict[str, dict[str, int]]
"""Value → ``collected``, ``resolved``, ``in_progress`` (open) and ``closed_otherwise``
(rejected, merged, cancelled...)."""


def progress(read_model: ReadModel, filters: Filters) -> tuple[Progress, Progress]:
    """The progress of the selected cases by channel, and by kind."""
    c = case_summary.c
    query = (select(c.kind, c.channel, func.count().label("collected"),
                    func.sum(case((c.outcome == "resolved", 1), else_=0)).label("resolved"),
                    func.sum(case((c.status == OPEN, 1), else_=0)).label("in_progress"))
             .where(filters.clause()).group_by(c.kind, c.channel))
    by_channel: dict[str, Counter[str]] = {}
    by_kind: dict[str, Counter[str]] = {}
    with read_model.engine.connect() as conn:
        for row in conn.execute(query):
            counts = {name: int(getattr(row, name) or 0) for name in FIGURES}
            by_channel.setdefault(row.channel or NO_VALUE, Counter()).update(counts)
            by_kind.setdefault(row.kind, Counter()).update(counts)
    return _finished(by_channel), _finished(by_kind)


def _finished(counts: dict[str, Counter[str]]) -> Progress:
    return {key: {**{name: value[name] for name in FIGURES},
                  "closed_otherwise": value["collected"] - value["resolved"]
                  - value["in_progress"]} for key, value in sorted(counts.items())}

