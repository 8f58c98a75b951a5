"""The ASGI application: composed here from the engine pool, the token and idempotency
tables, the routers, a body size limit and the handlers that turn every error into a
problem (or, under /open311/, into Open311's own error list)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from casework import Casework, CaseworkError, Organisation, WorkflowRegistry

from . import cases, georeport, meta, open311, report
from .delivery import DeliveryThread
from .engines import EnginePool
from .idempotency import IdempotencyStore
from .openapi import install_openapi
from .problems import MEDIA_TYPE, Problem, from_error
from .tokens import TokenStore

MAX_BODY = 256 * 1024
"""Bytes a request body may have by default (a petition's text fields hold 4,000 characters
each: tens of kilobytes at most)."""
POOL_SIZE = 4


def create_app(url: str | None = None, *, workflows: WorkflowRegistry | None = None,
               organisation: Organisation | None = None, pool_size: int = POOL_SIZE,
               max_body: int = MAX_BODY, background: list[Any] | None = None) -> FastAPI:
    """The service on database ``url`` (as every command takes it). ``background``: objects
    with ``start()`` and ``stop()`` run for the server's life (the webhook delivery)."""
    first = Casework(url, workflows=workflows, organisation=organisation)  # fails early
    workflows, organisation = first.workflows, first.organisation
    made = [first]

    def make() -> Casework:
        return made.pop() if made else Casework(url, workflows=workflows,
                                                organisation=organisation)

    if "mode=memory" in first.storage.event_store_env.get("SQLITE_DBNAME", ""):
        pool_size = 1  # a private in-memory database: every engine would get its own

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for job in background or ():
            job.start()
        try:
            yield
        finally:
            for job in background or ():
                job.stop()
            app.state.pool.close()
            app.state.tokens.close()
            app.state.idempotency.close()

    app = FastAPI(title="casework", version="1", lifespan=lifespan, docs_url=None,
                  redoc_url=None, dependencies=[Depends(known_parameters)])
    app.state.pool = EnginePool(make, pool_size)
    app.state.tokens = TokenStore(first.storage)
    app.state.idempotency = IdempotencyStore(first.storage)
    app.state.open311 = georeport.Services.load(workflows, organisation)
    for router in (meta.router, cases.router, report.router, open311.router):
        app.include_router(router)
    _handle_errors(app)
    app.add_middleware(BodyLimit, limit=max_body)
    app.add_middleware(CatchAll)
    install_openapi(app)
    return app


def known_parameters(request: Request) -> None:
    """A query parameter the route does not take is refused: a misspelt filter
    (``?stat=open``) must not quietly list everything."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise Problem("bad-input", f"unknown parameter {unknown[0]!r} (this resource takes "
                      f"{', '.join(sorted(known)) or 'none'})", {"field": unknown[0]})


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for inner in dependant.dependencies:
        names |= _query_names(inner)
    return names


def from_environment() -> FastAPI:
    """The application ``casework serve --processes N`` starts in each process (uvicorn's
    factory): the options it was given travel in the environment."""
    return create_app(os.environ.get("CASEWORK_DB") or None,
                      pool_size=int(os.environ.get("CASEWORK_SERVE_POOL", POOL_SIZE)),
                      max_body=int(os.environ.get("CASEWORK_SERVE_MAX_BODY", MAX_BODY)),
                      background=_background_from_environment())


def _background_from_environment() -> list[Any]:
    if os.environ.get("CASEWORK_SERVE_WEBHOOKS") != "1":
        return []
    return [DeliveryThread(os.environ.get("CASEWORK_DB") or None)]


def _handle_errors(app: FastAPI) -> None:
    async def answer(request: Request, error: Exception) -> Response:
        problem = from_error(error)
        if request.url.path.startswith(open311.PREFIX + "/"):
            return georeport.error_response(problem, request.url.path)
        return JSONResponse(problem.body(), problem.status, problem.headers,
                            media_type=MEDIA_TYPE)

    async def invalid(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        problem = Problem("bad-input", f"{where}: {first.get('msg', 'invalid')}",
                          {"field": where,
                           "errors": [{"loc": list(e.get("loc", ())), "msg": e.get("msg")}
                                      for e in error.errors()]})
        return await answer(request, problem)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        kind = {404: "no-such-route", 405: "method-not-allowed"}.get(error.status_code)
        headers = dict(error.headers or {})
        if error.status_code == 405:  # every method of the path, not the first route's
            headers["Allow"] = ", ".join(_methods(app, request))
        if kind is None:
            problem = Problem("bad-input", str(error.detail))
        else:
            problem = Problem(kind, f"{request.method} {request.url.path}: {error.detail}",
                              headers=headers)
        return await answer(request, problem)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    for expected in (Problem, CaseworkError, PersistenceError, sqlite3.Error, SQLAlchemyError):
        app.add_exception_handler(expected, answer)


def _methods(app: FastAPI, request: Request) -> list[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(request.scope | {"method": "GET"})
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class CatchAll:
    """Whatever no handler expected: logged with its traceback (by ``from_error``) and
    answered with a 500 problem naming only a reference to the log; the connection stays
    usable. (Starlette's own last resort answers, then raises again to the server.)"""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            if started:
                raise
            problem = from_error(error)
            path = scope.get("path", "")
            response = (georeport.error_response(problem, path)
                        if path.startswith(open311.PREFIX + "/")
                        else JSONResponse(problem.body(), problem.status, problem.headers,
                                          media_type=MEDIA_TYPE))
            await response(scope, receive, send)


DRAINED = 4 * 2**20
"""How much of a refused body is read (and dropped) before the 413 is sent."""


async def _drained(receive: Receive, limit: int) -> None:
    """Read and drop what is left of the request's body, up to ``limit`` bytes. A server that
    closes the connection with the client's bytes unread makes the kernel reset it, and the
    client, still sending, may lose the 413 it was sent (a test saw it, 1 run in many). It is
    read before the response: once a response is complete, the server gives no more of the
    body. Past ``limit`` the connection is closed anyway."""
    read = 0
    while read <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with a 413 problem, before any route reads
    it (whether or not the client said its length)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limit: int
                 ) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _drained(receive, DRAINED)
        problem = Problem("request-too-large", f"the body is over {self.limit} bytes",
                          headers={"Connection": "close"})
        path = scope.get("path", "")
        response = (georeport.error_response(problem, path)
                    if path.startswith(open311.PREFIX + "/")
                    else JSONResponse(problem.body(), problem.status, problem.headers,
                                      media_type=MEDIA_TYPE))
        await response(scope, receive, send)
