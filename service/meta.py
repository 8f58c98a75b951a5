"""What the service says about itself, without a token: whether it is up, and what each
problem type means (the ``type`` of every problem links here)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from .problems import DESCRIPTIONS, KINDS, Problem
from .schemas import Health, ProblemType

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, summary="Up, and how many events are stored")
def health(request: Request) -> Health:
    with request.app.state.pool.borrow() as engine:
        return Health(status="ok", events=engine.app.recorded_events())


@router.get("/problems/{kind}", response_model=ProblemType,
            summary="What a problem type means")
def problem_type(kind: str) -> ProblemType:
    if kind not in KINDS:
        raise Problem("no-such-route", f"no problem type {kind!r}")
    found = KINDS[kind]
    return ProblemType(kind=found.name, title=found.title, status=found.status,
                       exit_code=found.exit_code, description=DESCRIPTIONS[found.name])
