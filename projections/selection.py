"""Which cases a batch job looks at: filters and sweep rules over the read model, streamed by
id.

A selection is plain data (picklable), so that each worker process of a job opens it on
its own connection and takes its own share of the ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy import ColumnElement, and_, false, func, or_, select

from casework import Casework
from casework.jobs.sweep import DEADLINE, LAST_CHANGE, SweepRule
from casework.timestamps import naive_utc

from .filters import CaseFilter
from .read_model import ReadModel
from .tables import case_summary

PAGE = 1000

MOMENTS = {DEADLINE: case_summary.c.deadline, LAST_CHANGE: case_summary.c.updated_at}
"""The read model's column for each moment of a case a sweep rule compares."""


def id_range(partition: tuple[int, int]) -> tuple[str, str]:
    """The ids of partition ``share`` of ``parts``: an equal slice of the UUID space, as
    bounds on the stored text (a UUID's canonical text sorts as its number does). The first
    bound is just below the slice: ids are taken after it."""
    share, parts = partition
    start = share * 2**128 // parts
    end = (share + 1) * 2**128 // parts
    below = str(UUID(int=start - 1)) if start else ""
    above = str(UUID(int=end)) if end < 2**128 else "g"  # "g" sorts after every hex digit
    return below, above


def due_clause(rules: tuple[SweepRule, ...]) -> ColumnElement[bool]:
    """The cases some rule may find due: the SQL form of ``SweepRule.due``."""
    c = case_summary.c
    # ``state || ''``, not ``state``: the same values, but no index on it. Through the state
    # index, SQLite answered the rules' OR by gathering every due case and sorting them by
    # id for each page of ``case_ids``: a sweep of N due cases read N² / PAGE rows (100 pages
    # of 0.48 s each at 100,000 cases). Without it, each page walks the ids from where the
    # last one stopped, and a sweep reads each row once.
    state = c.state + ""
    return or_(false(), *(
        and_(c.kind == rule.kind, c.workflow_version == rule.version, state.in_(rule.states),
             MOMENTS[rule.moment] < naive_utc(rule.before))
        for rule in rules
    ))


@dataclass(frozen=True)
class Candidates:
    """The cases a filter or a set of sweep rules selects, page by page, in id order."""

    where: CaseFilter = field(default_factory=CaseFilter)
    due: tuple[SweepRule, ...] | None = None

    def clause(self) -> ColumnElement[bool]:
        clause = self.where.clause()
        return clause if self.due is None else and_(clause, due_clause(self.due))

    def prepare(self, app: Casework) -> None:
        """Bring the read model up to the last event: once per worker, before its first
        partition (catching up again for every partition would apply the job's own events
        under the write lock, in each worker, while it holds up the others' writes)."""
        with ReadModel(app) as read_model:
            read_model.catch_up()

    def case_ids(self, app: Casework, partition: tuple[int, int] = (0, 1)) -> Iterator[UUID]:
        low, high = id_range(partition)
        with ReadModel(app) as read_model:
            after = low
            while True:
                # Keyset pages within the partition's range of ids: no long-lived read, flat
                # memory whatever the size, and each worker reads only its own share.
                with read_model.engine.connect() as conn:
                    ids = list(conn.execute(
                        select(case_summary.c.id)
                        .where(self.clause(), case_summary.c.id > after,
                               case_summary.c.id < high)
                        .order_by(case_summary.c.id).limit(PAGE)).scalars())
                if not ids:
                    return
                after = ids[-1]
                for text in ids:
                    yield UUID(text)

    def count(self, app: Casework) -> int:
        with ReadModel(app) as read_model:
            read_model.catch_up()
            with read_model.engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(case_summary)
                                        .where(self.clause())).scalar() or 0)
