"""The office's report over HTTP: the same figures as ``casework report --json``, with the
same ``inputs`` and digest, so that ``casework report --verify`` checks a served report.
A caller bound to a unit sees only that unit's part."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from casework import Actor, PermissionDenied
from projections.filters import Filters
from projections.verification import live_report

from .auth import current_actor
from .problems import time_parameter

router = APIRouter(tags=["report"])
Grouping = Literal["stage", "state", "unit", "community", "grade", "category", "channel", "kind"]



@router.get("/report", response_model=dict[str, Any],
            summary="The report: counts by stage, resolution, deadlines, satisfaction, ...")
def report(request: Request, actor: Actor = Depends(current_actor),
           kind: str | None = None,
           unit: Annotated[str | None, Query(description="Cases at this unit or below.")] = None,
           since: Annotated[str | None, Query(description="Opened at or after (ISO 8601).")
                            ] = None,
           until: Annotated[str | None, Query(description="Opened before (ISO 8601).")] = None,
           by: Grouping | None = None,
           now: Annotated[str | None, Query(description="Judge deadlines at this time.")
                          ] = None) -> dict[str, Any]:
    if actor.unit is not None:
        if unit is None:
            unit = actor.unit
        elif not actor.reaches(unit.strip("/")):
            raise PermissionDenied(actor.id, actor.roles, "report on", unit,
                                   reason=f"{unit} is outside {actor.id}'s unit {actor.unit}")
    filters = Filters(kind=kind, unit=unit, since=time_parameter(since, "since"),
                      until=time_parameter(until, "until"))
    with request.app.state.pool.borrow() as engine:
        filters.check(engine.app)
        result = live_report(engine.app, engine.read_model, filters, by, time_parameter(now, "now"))
    return result.as_dict()
