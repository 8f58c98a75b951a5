"""How routes answer: JSON made through the models, ETags, and the stored answers of
idempotent requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from casework import CaseView

from .idempotency import Answer, IdempotencyStore, fingerprint
from .problems import MEDIA_TYPE


def etag(view: CaseView) -> str:
    """The case's version as an entity tag: what If-Match must name for a command."""
    return f'"{view.events}"'


def expected_version(if_match: str | None) -> int | None:
    """The version If-Match names; None without the header or with ``*``. A tag that is not
    one of this service's can match no version: -1, which makes the command stale."""
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip()
    if len(text) >= 3 and text[0] == text[-1] == '"' and text[1:-1].isdecimal() \
            and text[1:-1].isascii() and len(text) < 20:
        return int(text[1:-1])
    return -1


def answer(model: BaseModel | list[BaseModel] | dict[str, Any], status: int = 200,
           headers: dict[str, str] | None = None) -> Answer:
    if isinstance(model, BaseModel):
        body: Any = model.model_dump(mode="json")
    elif isinstance(model, list):
        body = [item.model_dump(mode="json") for item in model]
    else:
        body = model
    return Answer(status, body, headers or {})


def respond(result: Answer) -> JSONResponse:
    media_type = MEDIA_TYPE if result.status >= 400 else None  # a refusal replayed
    return JSONResponse(result.body, result.status, result.headers, media_type=media_type)


def idempotent(request: Request, key: str | None, body: BaseModel,
               handle: Callable[[], Answer]) -> JSONResponse:
    """``handle()`` once per Idempotency-Key (when the request has one)."""
    if key is None:
        return respond(handle())
    store: IdempotencyStore = request.app.state.idempotency
    content = json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    print_ = fingerprint(request.method, request.url.path, content)
    return respond(store.run(request.state.token_id, key, print_, handle))
