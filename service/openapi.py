"""The OpenAPI document: generated from the routes and models, with every error answer
described as a problem, and kept in the repository (``service/openapi.json``) so that a
change of the API shows in review; a test checks that the served one equals the file.

``python -m service.write_openapi`` writes the file again after a change of the API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .problems import MEDIA_TYPE
from .schemas import ProblemOut

DOCUMENT = Path(__file__).with_name("openapi.json")
DESCRIPTION = """\
casework's engine over HTTP: open cases, fire triggers (with `If-Match` on the case's `ETag`
to refuse a stale decision with 412), read a case as it is or was (`as_of`), its history, what
the caller may do next, lists and queues, and the report; Open311 GeoReport v2 under
`/open311/v2`.

Every request but `/health`, `/problems/...` and the Open311 service list needs a token
(`Authorization: Bearer cw_...`, made by `casework tokens create`) and acts as the token's
actor, with the library's roles and unit reach. `POST` takes an `Idempotency-Key`. Errors are
RFC 9457 problem details (`application/problem+json`) with the casework error `kind` and the
`exit_code` the command line gives the same mistake.
"""
ERRORS = {"401": "No valid token", "403": "Out of the caller's reach, or a role is missing",
          "404": "No such case, workflow or resource", "409": "Illegal transition, a "
          "conflict, or an idempotent request in progress", "412": "If-Match names a stale "
          "version", "413": "The body is too large", "415": "Not a media type the resource "
          "takes", "422": "Bad input: a field, parameter or body", "503": "The database is "
          "unreachable or locked; try again", "default": "Any other problem"}
OPEN311_ERROR = {"type": "array", "items": {"type": "object", "required": ["code",
                 "description"], "properties": {"code": {"type": "integer"},
                                                "description": {"type": "string"}}}}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, description=DESCRIPTION,
                         routes=app.routes)
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = ProblemOut.model_json_schema(ref_template="#/components/schemas/"
                                                                   "{model}")
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses[status] = _error(path, description)
    return schema


def _error(path: str, description: str) -> dict[str, Any]:
    if path.startswith("/open311/"):
        return {"description": description + " (Open311's error list)", "content": {
            "application/json": {"schema": OPEN311_ERROR},
            "text/xml": {"schema": {"type": "string"}}}}
    return {"description": description, "content": {
        MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def text(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
