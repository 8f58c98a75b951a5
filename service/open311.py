"""Open311 GeoReport v2 under /open311/v2: the service list and definitions (public), and
service requests (a token: ``Authorization: Bearer`` or the standard's ``api_key``).

Requests are posted form-encoded, as the standard says; the extension of the path (.json or
.xml) picks the answer's format, errors included (Open311's list of code and description,
not problem details).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from casework import DuplicateCase, PermissionDenied, UnknownCase
from casework.timestamps import utc_now

from .auth import authenticate, bearer
from .georeport import PARAMETERS, Services, render
from .idempotency import Answer, IdempotencyStore, case_id_for, fingerprint
from .listing import RequestQuery, request_ids
from .problems import Problem, time_parameter
from .tokens import TokenInfo

PREFIX = "/open311/v2"
DEFAULT_SPAN = timedelta(days=90)
MAX_SPAN = timedelta(days=90)
router = APIRouter(prefix=PREFIX, tags=["open311"])
Format = Literal["json", "xml"]
XML = {"text/xml": {"schema": {"type": "string"}}}


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class ValueOut(BaseModel):
    key: str
    name: str


class AttributeOut(BaseModel):
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[ValueOut] | None = None


class ServiceDefinitionOut(BaseModel):
    service_code: str
    attributes: list[AttributeOut]


class PostedOut(BaseModel):
    service_request_id: str
    service_notice: str | None


class RequestOut(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


def services(request: Request) -> Services:
    return request.app.state.open311


def holder(request: Request, api_key: str | None,
           credentials: HTTPAuthorizationCredentials | None) -> TokenInfo:
    return authenticate(request, credentials.credentials if credentials else api_key)


Jurisdiction = Annotated[str | None, Query(description="The organisation: one of its "
                                                       "top-level units.")]
ApiKey = Annotated[str | None, Query(description="A token, when not sent as Authorization: "
                                                 "Bearer.")]


@router.get("/services.{fmt}", response_model=list[ServiceOut], responses={200: {"content": XML}},
            summary="The services: each workflow residents may open cases of")
def service_list(fmt: Format, request: Request, jurisdiction_id: Jurisdiction = None,
                 api_key: ApiKey = None) -> Response:
    """Public: ``api_key`` is taken (clients send it everywhere) and not needed."""
    found = services(request)
    found.check_jurisdiction(jurisdiction_id)
    return render([s.summary() for s in found.by_code.values()], "services", fmt)


@router.get("/services/{service_code}.{fmt}", response_model=ServiceDefinitionOut,
            responses={200: {"content": XML}},
            summary="A service's attributes: the opening fields no standard parameter fills")
def service_definition(service_code: str, fmt: Format, request: Request,
                       jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None
                       ) -> Response:
    found = services(request)
    found.check_jurisdiction(jurisdiction_id)
    return render(found.get(service_code).definition(), "service_definition", fmt)


FORM = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["service_code"],
        "properties": {name: {"type": "string"} for name in (
            "service_code", "api_key", "jurisdiction_id", *PARAMETERS)},
        "additionalProperties": {"type": "string"},
        "description": "The standard's parameters, and attribute[NAME] for each attribute of "
                       "the service's definition."}}}}}


@router.post("/requests.{fmt}", response_model=list[PostedOut], openapi_extra=FORM,
             responses={200: {"content": XML}}, summary="Post a service request: open a case")
async def post_request(fmt: Format, request: Request, api_key: ApiKey = None,
                       credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                       idempotency_key: Annotated[str | None, Header()] = None) -> Response:
    body = await request.body()
    given = _form(request, body)
    who = holder(request, given.get("api_key", api_key), credentials)
    found = services(request)
    found.check_jurisdiction(given.get("jurisdiction_id"))
    service = found.get(given.get("service_code", ""))
    fields = service.opening_fields(given)
    case_id = None if idempotency_key is None else case_id_for(who.id, idempotency_key)

    def handle() -> Answer:
        with request.app.state.pool.borrow() as engine:
            try:
                new_id = engine.app.open_case(service.kind, who.actor, case_id=case_id,
                                              **fields)
            except DuplicateCase:
                if case_id is None:
                    raise
                new_id = case_id
        return Answer(200, [{"service_request_id": str(new_id),
                             "service_notice": service.notice}], {})

    if idempotency_key is None:
        result = await run_in_threadpool(handle)
    else:
        store: IdempotencyStore = request.app.state.idempotency
        print_ = fingerprint(request.method, request.url.path, body)
        result = await run_in_threadpool(store.run, who.id, idempotency_key, print_, handle)
    if result.status >= 400:  # a refusal replayed from the first request
        return render([{"code": result.status, "description": result.body.get("detail")}],
                      "errors", fmt, result.status, result.headers)
    return render(result.body, "service_requests", fmt, result.status, result.headers)


def _form(request: Request, body: bytes) -> dict[str, str]:
    kind = request.headers.get("content-type", "application/x-www-form-urlencoded")
    if kind.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise Problem("unsupported-media-type",
                      "post the request form-encoded (application/x-www-form-urlencoded)")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError) as error:
        raise Problem("bad-input", f"not a form: {error}") from None
    return dict(pairs)


@router.get("/requests.{fmt}", response_model=list[RequestOut],
            responses={200: {"content": XML}},
            summary="Service requests: by id, service, status and when they were requested")
def get_requests(
    fmt: Format, request: Request,
    service_request_id: Annotated[str | None, Query(description="Ids, comma-separated; the "
                                                    "other filters are then ignored.")] = None,
    service_code: Annotated[str | None, Query(description="Codes, comma-separated.")] = None,
    status: Annotated[str | None, Query(description="open, closed, or both "
                                                    "comma-separated.")] = None,
    start_date: Annotated[str | None, Query(description="Requested at or after (default: "
                                                        "90 days before end_date).")] = None,
    end_date: Annotated[str | None, Query(description="Requested at or before (default: "
                                                      "now). At most 90 days apart.")] = None,
    jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Response:
    who = holder(request, api_key, credentials)
    found = services(request)
    found.check_jurisdiction(jurisdiction_id)
    with request.app.state.pool.borrow() as engine:
        if service_request_id is not None:
            ids = [part.strip() for part in service_request_id.split(",") if part.strip()]
        else:
            ids = request_ids(engine, _query(found, service_code, status, start_date,
                                             end_date))
        items = [item for case_id in ids[:1000]
                 if (item := _request(engine, found, who, case_id)) is not None]
    return render(items, "service_requests", fmt)


@router.get("/requests/{service_request_id}.{fmt}", response_model=list[RequestOut],
            responses={200: {"content": XML}}, summary="One service request")
def get_request(service_request_id: str, fmt: Format, request: Request,
                jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None,
                credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
                ) -> Response:
    who = holder(request, api_key, credentials)
    found = services(request)
    found.check_jurisdiction(jurisdiction_id)
    with request.app.state.pool.borrow() as engine:
        view = engine.app.get_case(service_request_id, actor=who.actor)
        service = found.by_kind.get(view.kind)
        if service is None:
            raise UnknownCase(service_request_id, "it is not an Open311 service request")
        item = service.request(view, found.organisation)
    return render([item], "service_requests", fmt)


def _request(engine: Any, found: Services, who: TokenInfo, case_id: str
             ) -> dict[str, Any] | None:
    """The request, or None when there is no such case, the caller cannot see it, or it is
    of no Open311 service (a listing leaves those out)."""
    try:
        view = engine.app.get_case(case_id, actor=who.actor)
    except (UnknownCase, PermissionDenied):
        return None
    service = found.by_kind.get(view.kind)
    return None if service is None else service.request(view, found.organisation)


def _query(found: Services, codes: str | None, status: str | None, start: str | None,
           end: str | None) -> RequestQuery:
    kinds = tuple(found.get(code.strip()).kind for code in codes.split(",") if code.strip()) \
        if codes else tuple(found.by_kind)
    statuses = tuple(s.strip() for s in (status or "").split(",") if s.strip())
    if any(s not in ("open", "closed") for s in statuses):
        raise Problem("bad-input", "status: open, closed, or both comma-separated",
                      {"field": "status"})
    until = time_parameter(end, "end_date") or utc_now()
    since = time_parameter(start, "start_date") or until - DEFAULT_SPAN
    if since > until or until - since > MAX_SPAN:
        raise Problem("bad-input", "start_date must come before end_date, at most 90 days",
                      {"field": "start_date"})
    return RequestQuery(kinds, statuses, since, until)
