"""The case routes: open, fire, read (as of a time), history, what the caller may do next,
lists and queues. Each parses, calls one library function, and answers through a model."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from casework import Actor, DuplicateCase
from projections.filters import CaseFilter

from .auth import current_actor, token_holder
from .engines import EnginePool
from .idempotency import Answer, case_id_for
from .listing import CaseQuery, case_page
from .responses import answer, etag, expected_version, idempotent
from .schemas import (
    AllowedTriggers,
    CaseOut,
    CasePage,
    CaseSummary,
    FireTrigger,
    HistoryEntryOut,
    OpenCase,
    TriggerOut,
)
from .tokens import TokenInfo

router = APIRouter(tags=["cases"])
IdempotencyKey = Annotated[str | None, Header(
    pattern=r"^[ -~]{1,200}$",
    description="Any text of yours, unique per request: a retry with the same key gets the "
                "first answer again, and opens no second case.")]
AsOf = Annotated[str | None, Query(description="Business time (ISO 8601): the case as it "
                                               "was then.")]


def pool(request: Request) -> EnginePool:
    return request.app.state.pool


@router.post("/cases", status_code=201, response_model=CaseOut,
             summary="Open a case", response_description="The case, as opened")
def open_case(body: OpenCase, request: Request,
              holder: TokenInfo = Depends(token_holder),
              idempotency_key: IdempotencyKey = None) -> JSONResponse:
    case_id = None if idempotency_key is None else case_id_for(holder.id, idempotency_key)

    def handle() -> Answer:
        with pool(request).borrow() as engine:
            app = engine.app
            try:
                new_id = app.open_case(body.kind, holder.actor, body.at, case_id=case_id,
                                       person=body.person, **body.fields)
            except DuplicateCase:
                if case_id is None:
                    raise
                new_id = case_id  # opened by this key's first request, whose process died
            view = app.get_case(new_id, actor=holder.actor)
            allowed = app.allowed_triggers(new_id, holder.actor)
        return answer(CaseOut.of(view, allowed), 201,
                      {"Location": f"/cases/{view.id}", "ETag": etag(view)})

    return idempotent(request, idempotency_key, body, handle)


@router.post("/cases/{case_id}/triggers/{trigger}", response_model=CaseOut,
             summary="Fire a trigger on a case",
             response_description="The case after the command")
def fire(case_id: str, trigger: str, body: FireTrigger, request: Request,
         holder: TokenInfo = Depends(token_holder),
         if_match: Annotated[str | None, Header(
             description="The case's ETag as read: 412 when it changed since.")] = None,
         idempotency_key: IdempotencyKey = None) -> JSONResponse:
    expected = expected_version(if_match)

    def handle() -> Answer:
        with pool(request).borrow() as engine:
            app = engine.app
            view = app.fire(case_id, trigger, holder.actor, body.at,
                            expected_version=expected, **body.fields)
            allowed = app.allowed_triggers(view.id, holder.actor)
        return answer(CaseOut.of(view, allowed), 200, {"ETag": etag(view)})

    return idempotent(request, idempotency_key, body, handle)


@router.get("/cases/{case_id}", response_model=CaseOut, summary="A case",
            response_description="The case now (with its ETag), or as it was at as_of")
def get_case(case_id: str, request: Request, as_of: AsOf = None,
             actor: Actor = Depends(current_actor)) -> JSONResponse:
    with pool(request).borrow() as engine:
        view = engine.app.get_case(case_id, as_of=as_of, actor=actor)
        allowed = None if as_of is not None else engine.app.allowed_triggers(view.id, actor)
    headers = {"ETag": etag(view)} if as_of is None else {}
    return JSONResponse(CaseOut.of(view, allowed).model_dump(mode="json"), headers=headers)


@router.get("/cases/{case_id}/history", response_model=list[HistoryEntryOut],
            summary="A case's history: who did what, when, from which state to which")
def history(case_id: str, request: Request, as_of: AsOf = None,
            actor: Actor = Depends(current_actor)) -> list[HistoryEntryOut]:
    with pool(request).borrow() as engine:
        entries = engine.app.history(case_id, as_of=as_of, actor=actor)
    return [HistoryEntryOut.of(entry) for entry in entries]


@router.get("/cases/{case_id}/triggers", response_model=AllowedTriggers,
            summary="The triggers the caller may fire on the case now, with their fields")
def allowed_triggers(case_id: str, request: Request,
                     actor: Actor = Depends(current_actor)) -> AllowedTriggers:
    with pool(request).borrow() as engine:
        app = engine.app
        view = app.get_case(case_id, actor=actor)
        names = app.allowed_triggers(view.id, actor)
        workflow = app.workflow_of(view)
    return AllowedTriggers(case=view.id, state=view.state, events=view.events,
                           triggers=[TriggerOut.of(workflow.triggers[n]) for n in names])


Limit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]
Cursor = Annotated[str | None, Query(description="next_cursor of the page before.")]


def case_query(kind: str | None = None, state: str | None = None, stage: str | None = None,
               unit: Annotated[str | None, Query(description="At this unit or below.")] = None,
               grade: str | None = None, channel: str | None = None,
               category: str | None = None) -> CaseQuery:
    return CaseQuery(CaseFilter(kind=kind, state=state, stage=stage, unit=unit, grade=grade),
                     channel=channel, category=category)


@router.get("/cases", response_model=CasePage, summary="Cases, newest first, a page at a time",
            tags=["lists"])
def list_cases(request: Request, query: CaseQuery = Depends(case_query), limit: Limit = 50,
               cursor: Cursor = None, actor: Actor = Depends(current_actor)) -> CasePage:
    return _page(request, actor, query, limit, cursor)


@router.get("/queues/{queue}", response_model=CasePage, tags=["lists"],
            summary="A queue: overdue (open past its deadline) or mine (what the caller may "
                    "act on now)")
def queue(queue: Literal["overdue", "mine"], request: Request,
          query: CaseQuery = Depends(case_query), limit: Limit = 50, cursor: Cursor = None,
          actor: Actor = Depends(current_actor)) -> CasePage:
    query = CaseQuery(query.where, query.channel, query.category,
                      overdue=queue == "overdue", mine=queue == "mine")
    return _page(request, actor, query, limit, cursor)


def _page(request: Request, actor: Actor, query: CaseQuery, limit: int,
          cursor: str | None) -> CasePage:
    with pool(request).borrow() as engine:
        items, next_cursor = case_page(engine, actor, query, limit, cursor)
    return CasePage(items=[CaseSummary(**item) for item in items], next_cursor=next_cursor)
