"""Likely duplicates: open cases that look like another one, to merge them.

A case's likely duplicates are the open cases of the same kind and category (any category
while it has none yet, as when it has just been opened), near the same place — the same
``place`` text, or a location in the same grid (the same unit at grid level or below) —
opened within a window of days of it, ranked by how alike their titles are (rapidfuzz's
``WRatio``, 0 to 100, over lower-cased words; Chinese titles compare character by
character). SQL narrows the candidates (indexed on place, location and opening time);
only they are compared.

``Casework.open_case`` returns the new case's id as always (the engine knows nothing of read
models); ``likely_duplicates(read_model, case_id)`` is what a caller asks next, and
``casework open`` prints its answer. The workflow's merge trigger then links a duplicate to
the case it repeats.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from rapidfuzz import fuzz, utils
from sqlalchemy import ColumnElement, DateTime, Select, String, Text, bindparam, or_, select

from casework import Actor, Casework, UnknownCase

from .filters import is_open, within_reach
from .read_model import ReadModel
from .tables import case_summary

WINDOW_DAYS = 7
"""Cases opened this many days before or after the case are candidates."""
THRESHOLD = 70.0
"""Titles at least this alike (0 to 100) make a likely duplicate."""
SHOWN = 5
CANDIDATES = 500
"""At most this many candidates are compared, the latest opened first."""

_c = case_summary.c


@dataclass(frozen=True)
class Duplicate:
    """A case that looks like another: why it is near, and how alike the titles are."""

    id: UUID
    kind: str
    state: str
    title: str | None
    place: str | None
    location: str | None
    unit: str | None
    opened_at: datetime
    score: float
    """Title similarity, 0 to 100."""
    near: str
    """"same place" or "same grid <path>"."""

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def likely_duplicates(read_model: ReadModel, case_id: UUID | str, *,
                      window_days: float = WINDOW_DAYS, threshold: float = THRESHOLD,
                      limit: int = SHOWN, actor: Actor | None = None) -> list[Duplicate]:
    """The open cases most like ``case_id``, best first (those ``actor`` may see).
    ``UnknownCase`` when the read model, caught up, has no such case."""
    case_id = Casework.parse_case_id(case_id)
    read_model.catch_up()
    window = timedelta(days=window_days)
    statement = _candidates(is_open(), within_reach(actor.unit if actor else None))
    with read_model.engine.connect() as conn:
        case = conn.execute(select(case_summary).where(_c.id == str(case_id))).first()
        if case is None:
            raise UnknownCase(case_id)
        candidates = conn.execute(statement, _parameters(case, case.opened_at - window,
                                                         case.opened_at + window)).all()
    return _ranked(case, candidates, threshold)[:limit]


def duplicate_pairs(read_model: ReadModel, *, window_days: float = WINDOW_DAYS,
                    threshold: float = THRESHOLD) -> Iterator[tuple[UUID, Duplicate]]:
    """Every case with the likely duplicates it had when it was opened: cases opened before
    it, within the window, still open at that moment. How a store's history of duplicates
    is counted (``casework duplicates --all``)."""
    read_model.catch_up()
    window = timedelta(days=window_days)
    still_open = or_(_c.closed_at.is_(None), _c.closed_at > bindparam("at", type_=DateTime))
    statement = _candidates(still_open)
    with read_model.engine.connect() as conn, read_model.engine.connect() as lookup:
        cases = conn.execution_options(yield_per=1000).execute(
            select(case_summary).order_by(_c.opened_at, _c.id))
        for case in cases:
            parameters = _parameters(case, case.opened_at - window, case.opened_at)
            earlier = lookup.execute(statement, {**parameters, "at": case.opened_at}).all()
            for duplicate in _ranked(case, earlier, threshold):
                yield UUID(case.id), duplicate


def _candidates(*conditions: ColumnElement[bool]) -> Select[Any]:
    """The cases near a case (the same place, or a location in the same grid; a NULL equals
    nothing), of its kind and category, opened in a window: one statement, with the case's
    values as parameters."""
    category = bindparam("category", type_=String)
    return (select(case_summary)
            .where(_c.kind == bindparam("kind", type_=String),
                   or_(category.is_(None), _c.category == category),
                   or_(_c.place == bindparam("place", type_=Text),
                       _c.grid == bindparam("grid", type_=String)),
                   _c.id != bindparam("id", type_=String),
                   _c.opened_at.between(bindparam("start", type_=DateTime),
                                        bindparam("end", type_=DateTime)),
                   *conditions)
            .order_by(_c.opened_at.desc()).limit(CANDIDATES))


def _parameters(case: Any, start: datetime, end: datetime) -> dict[str, Any]:
    return {"kind": case.kind, "category": case.category, "place": case.place,
            "grid": case.grid, "id": case.id, "start": start, "end": end}


def _ranked(case: Any, candidates: list[Any], threshold: float) -> list[Duplicate]:
    title = case.title or ""
    found = []
    for other in candidates:
        score = fuzz.WRatio(title, other.title or "", processor=utils.default_process)
        if score < threshold:
            continue
        near = ("same place" if case.place and other.place == case.place
                else f"same grid {case.grid}")
        found.append(Duplicate(UUID(other.id), other.kind, other.state, other.title,
                               other.place, other.location, other.unit,
                               other.opened_at.replace(tzinfo=UTC), round(score, 1), near))
    found.sort(key=lambda d: (-d.score, abs((d.opened_at.replace(tzinfo=None)
                                             - case.opened_at).total_seconds())))
    return found
