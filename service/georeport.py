"""Open311 GeoReport v2: services from ``workflows/open311/services.toml``, requests read
from and written to cases, and the standard's JSON and XML forms.

A service is a workflow kind; a service request is a case (``service_request_id`` is its
id); its status is ``open`` while the case is in an open stage (collect to follow-up) and
``closed`` after, with the case's state as ``status_notes``; ``agency_responsible`` is the
unit the case was dispatched to; ``expected_datetime`` its deadline. Only the parameters the
standard's answer has are shown (never a personal field: loading refuses a mapping that would
show one); ``jurisdiction_id`` is the organisation: one of its top-level units.
"""

from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.responses import JSONResponse, Response

from casework import CaseView, CaseworkError, Organisation, WorkflowRegistry
from casework.fields import FieldSpec
from casework.workflow import OPEN_STAGES
from workflows import DEFINITIONS

from .problems import Problem

SERVICES = DEFINITIONS / "open311" / "services.toml"
PARAMETERS = ("lat", "long", "address_string", "description", "media_url", "first_name",
              "last_name", "phone", "email", "device_id", "account_id", "address_id")
SHOWN = {"lat": "lat", "long": "long", "address_string": "address",
         "description": "description", "media_url": "media_url"}
"""Parameters a request's answer shows, and under which name."""
DATATYPES = {"string": "string", "text": "text", "integer": "number", "number": "number",
             "datetime": "datetime", "choice": "singlevaluelist", "boolean": "singlevaluelist",
             "unit": "string", "case": "string"}
STATUS_CODES = {"bad-input": 400, "unauthorized": 401, "permission-denied": 403}
"""Open311's statuses where they differ from the problem's (it answers bad input with 400)."""


class ServiceDefinitionError(CaseworkError):
    exit_code = 2


@dataclass(frozen=True)
class Service:
    code: str
    kind: str
    name: str
    description: str
    group: str
    keywords: tuple[str, ...]
    notice: str | None
    parameters: dict[str, str]
    """Open311 parameter → opening field."""
    defaults: dict[str, Any]
    attributes: tuple[FieldSpec, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        return {"service_code": self.code, "service_name": self.name,
                "description": self.description, "metadata": bool(self.attributes),
                "type": "realtime", "keywords": ",".join(self.keywords), "group": self.group}

    def definition(self) -> dict[str, Any]:
        return {"service_code": self.code, "attributes": [
            _attribute(order, spec, spec.name not in self.defaults)
            for order, spec in enumerate(self.attributes, start=1)]}

    def opening_fields(self, given: dict[str, str]) -> dict[str, Any]:
        """The opening fields of a request's parameters (``attribute[NAME]`` included)."""
        parts: dict[str, list[str]] = {}
        for parameter, name in self.parameters.items():
            value = given.get(parameter, "").strip()
            if value:
                parts.setdefault(name, []).append(value)
        fields = dict(self.defaults) | {name: " ".join(v) for name, v in parts.items()}
        attributes = {spec.name for spec in self.attributes}
        for key, value in given.items():
            if key.startswith("attribute[") and key.endswith("]"):
                name = key[len("attribute["):-1]
                if name not in attributes:
                    raise Problem("bad-input", f"service {self.code} has no attribute "
                                  f"{name!r} (it has {', '.join(sorted(attributes))})",
                                  {"field": key})
                if value != "":
                    fields[name] = value
        return fields

    def request(self, view: CaseView, organisation: Organisation) -> dict[str, Any]:
        """The case as a GeoReport v2 service request."""
        shown = {SHOWN[p]: view.fields.get(f) for p, f in self.parameters.items() if p in SHOWN}
        unit = view.unit
        return {
            "service_request_id": str(view.id),
            "status": "open" if view.stage in OPEN_STAGES else "closed",
            "status_notes": view.state,
            "service_name": self.name,
            "service_code": self.code,
            "description": shown.get("description"),
            "agency_responsible": organisation[unit].name if unit in organisation else unit,
            "service_notice": self.notice,
            "requested_datetime": view.opened_at.isoformat(),
            "updated_datetime": view.updated_at.isoformat(),
            "expected_datetime": None if view.deadline is None else view.deadline.isoformat(),
            "address": shown.get("address"),
            "address_id": None,
            "zipcode": None,
            "lat": shown.get("lat"),
            "long": shown.get("long"),
            "media_url": shown.get("media_url"),
        }


def _attribute(order: int, spec: FieldSpec, required: bool) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "variable": True, "code": spec.name, "datatype": DATATYPES[spec.type],
        "required": required and spec.required, "datatype_description": spec.describe(),
        "order": order, "description": spec.name.replace("_", " ")}
    if spec.type == "choice":
        attribute["values"] = [{"key": c, "name": c} for c in spec.choices]
    elif spec.type == "boolean":
        attribute["values"] = [{"key": "true", "name": "yes"}, {"key": "false", "name": "no"}]
    return attribute


class Services:
    """Every service, by code; which kinds they open; the jurisdictions."""

    def __init__(self, services: list[Service], organisation: Organisation) -> None:
        self.by_code = {service.code: service for service in services}
        self.by_kind = {service.kind: service for service in services}
        self.jurisdictions = sorted(u.path for u in organisation if u.parent_path is None)
        self.organisation = organisation

    @classmethod
    def load(cls, workflows: WorkflowRegistry, organisation: Organisation,
             path: Path = SERVICES) -> Services:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ServiceDefinitionError(f"{path}: {error}") from None
        services = [_service(path, code, spec, workflows)
                    for code, spec in data.get("services", {}).items()]
        kinds = [service.kind for service in services]
        if len(set(kinds)) != len(kinds):
            raise ServiceDefinitionError(f"{path}: one service per workflow kind")
        return cls(services, organisation)

    def get(self, code: str) -> Service:
        service = self.by_code.get(code)
        if service is None:
            raise Problem("not-found", f"no service {code!r} (services: "
                          f"{', '.join(sorted(self.by_code))})")
        return service

    def check_jurisdiction(self, jurisdiction: str | None) -> None:
        if jurisdiction not in (None, "", *self.jurisdictions):
            raise Problem("not-found", f"no jurisdiction {jurisdiction!r} (jurisdictions: "
                          f"{', '.join(self.jurisdictions)})")


def _service(path: Path, code: str, spec: dict[str, Any], workflows: WorkflowRegistry
             ) -> Service:
    where = f"{path}: service {code!r}"
    try:
        opening = workflows.get(spec["kind"]).opening.fields
        parameters = dict(spec.get("parameters", {}))
        defaults = dict(spec.get("defaults", {}))
        for parameter, name in parameters.items():
            if parameter not in PARAMETERS or name not in opening:
                raise ServiceDefinitionError(f"{where}: parameter {parameter!r} → {name!r}: "
                                             "not an Open311 parameter, or no such field")
            if parameter in SHOWN and opening[name].personal:
                raise ServiceDefinitionError(f"{where}: {parameter!r} is shown in answers "
                                             f"and may not fill the personal field {name!r}")
        for name, value in defaults.items():
            if name not in opening:
                raise ServiceDefinitionError(f"{where}: default for unknown field {name!r}")
            defaults[name] = opening[name].coerce(value)
        filled = set(parameters.values())
        attributes = tuple(s for s in opening.values() if s.name not in filled
                           and not s.personal)
        return Service(code, spec["kind"], spec.get("service_name", code),
                       spec.get("description", ""), spec.get("group", ""),
                       tuple(spec.get("keywords", ())), spec.get("service_notice"),
                       parameters, defaults, attributes)
    except KeyError as missing:
        raise ServiceDefinitionError(f"{where}: no {missing}") from None
    except CaseworkError as error:
        if isinstance(error, ServiceDefinitionError):
            raise
        raise ServiceDefinitionError(f"{where}: {error}") from None


# The standard's forms ---------------------------------------------------------------------

CONTAINERS = {"services": "service", "service_requests": "request", "errors": "error",
              "attributes": "attribute", "values": "value"}


def render(data: Any, root: str, fmt: str, status: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    """JSON as is; XML with ``root`` as the document element (a list's items in the element
    the standard names for them)."""
    if fmt == "json":
        return JSONResponse(data, status, headers)
    element = _element(root, data)
    ET.indent(element)
    text = ET.tostring(element, encoding="unicode")
    return Response('<?xml version="1.0" encoding="utf-8"?>\n' + text, status, headers,
                    media_type="text/xml; charset=utf-8")


def _element(name: str, value: Any) -> ET.Element:
    element = ET.Element(name)
    if isinstance(value, dict):
        for key, item in value.items():
            element.append(_element(key, item))
    elif isinstance(value, list):
        for item in value:
            element.append(_element(CONTAINERS.get(name, "item"), item))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
    return element


def error_response(problem: Problem, path: str) -> Response:
    """A problem as Open311's error list, in the format the path asks for."""
    status = STATUS_CODES.get(problem.kind, problem.status)
    fmt = "xml" if path.endswith(".xml") else "json"
    return render([{"code": status, "description": problem.detail}], "errors", fmt, status,
                  problem.headers)
