"""The JSON the API takes and gives, as pydantic models: they are the OpenAPI document's
schemas, and every answer is made through them, so the document says what is served."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from casework import CaseView, HistoryEntry
from casework.fields import FieldSpec
from casework.workflow import Trigger

FieldValue = str | int | float | bool | None
"""What a field's value may be in a request: text, a number, true or false (a time is ISO
8601 text, a unit its path, a case its id)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenCase(Strict):
    kind: str = Field(description="The workflow: petition, enterprise_request, volunteer_task.",
                      examples=["petition"])
    fields: dict[str, FieldValue] = Field(
        default_factory=dict, description="The opening trigger's fields.",
        examples=[{"channel": "hotline", "title": "Broken manhole cover",
                   "location": "guanlan/guancheng"}])
    at: str | None = Field(None, description="Business time (ISO 8601 with offset); "
                                             "default now.")
    person: str | None = Field(None, description="The resident's person id, when they have "
                                                 "cases already (their keys are shared).")


class FireTrigger(Strict):
    fields: dict[str, FieldValue] = Field(default_factory=dict,
                                          examples=[{"grade": "B", "category": "road"}])
    at: str | None = Field(None, description="Business time (ISO 8601 with offset); "
                                             "default now.")


class CaseOut(BaseModel):
    id: UUID
    kind: str
    workflow: str
    version: int = Field(description="The version of the workflow the case runs under.")
    state: str
    stage: str
    unit: str | None
    grade: str | None
    deadline: datetime | None
    fields: dict[str, Any] = Field(description="Personal fields decrypted, or '[erased]'.")
    volunteers: list[str]
    tasks: list[str]
    escalations: int
    reopens: int
    opened_at: datetime
    updated_at: datetime
    events: int = Field(description="How many events the case has: its version, the ETag.")
    person: str | None
    allowed_triggers: list[str] | None = Field(
        None, description="What the caller may fire now (absent with as_of).")

    @classmethod
    def of(cls, view: CaseView, allowed: list[str] | None = None) -> CaseOut:
        return cls(**view.as_dict(), allowed_triggers=allowed)


class HistoryEntryOut(BaseModel):
    sequence: int
    at: datetime
    recorded_at: datetime
    actor: str
    role: str
    trigger: str
    from_state: str | None
    to_state: str
    stage: str
    fields: dict[str, Any]
    changes: dict[str, Any]
    hash: str

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryEntryOut:
        return cls(**entry.__dict__)


class FieldOut(BaseModel):
    name: str
    type: str
    required: bool
    accepts: str = Field(description="What the field accepts, in words.")
    choices: list[str] | None = None
    min: float | None = None
    max: float | None = None
    personal: bool

    @classmethod
    def of(cls, spec: FieldSpec) -> FieldOut:
        return cls(name=spec.name, type=spec.type, required=spec.required,
                   accepts=spec.describe(), choices=list(spec.choices) or None,
                   min=spec.min, max=spec.max, personal=spec.personal)


class TriggerOut(BaseModel):
    name: str
    description: str | None
    fields: list[FieldOut]

    @classmethod
    def of(cls, trigger: Trigger) -> TriggerOut:
        return cls(name=trigger.name, description=trigger.description,
                   fields=[FieldOut.of(spec) for spec in trigger.fields.values()])


class AllowedTriggers(BaseModel):
    case: UUID
    state: str
    events: int
    triggers: list[TriggerOut] = Field(description="What the caller may fire now, with the "
                                                   "fields each takes.")


class CaseSummary(BaseModel):
    id: UUID
    kind: str
    state: str
    stage: str
    unit: str | None
    grade: str | None
    category: str | None
    channel: str | None
    deadline: datetime | None
    opened_at: datetime
    updated_at: datetime
    events: int


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(description="Give it as ?cursor= for the next page; "
                                                "null on the last one. A page may hold fewer "
                                                "items than the limit and still have a next.")


class Health(BaseModel):
    status: str
    events: int


class ProblemOut(BaseModel):
    """RFC 9457 problem details (application/problem+json)."""

    type: str
    title: str
    status: int
    detail: str
    kind: str
    exit_code: int | None = None
    model_config = ConfigDict(extra="allow")


class ProblemType(BaseModel):
    kind: str
    title: str
    status: int
    exit_code: int | None
    description: str
