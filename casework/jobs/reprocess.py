"""One trigger fired on every case a filter selects, each checked as a normal command.

The job has a name (by default derived from the trigger, fields and filter), recorded on
every case it changes: running the same job again skips those cases, so even a trigger that
keeps the case in its state (a note) is applied once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from ..actor import Actor
from ..batch import Batch
from ..errors import UnknownTrigger
from ..fields import coerce_fields
from ..organisation import Organisation
from ..registry import WorkflowRegistry


def job_name(trigger: str, fields: dict[str, Any], where: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps([trigger, fields, where], sort_keys=True,
                                       default=str).encode()).hexdigest()[:12]
    return f"reprocess:{trigger}:{digest}"


@dataclass
class Reprocess:
    trigger: str
    actor: Actor
    at: datetime | None
    fields: dict[str, Any] = field(default_factory=dict)
    name: str = "reprocess"

    def __call__(self, batch: Batch, case_id: UUID) -> str | None:
        case = batch.load(case_id)
        if self.name in case.jobs:
            return None  # done by an earlier run of the same job
        before = case.state
        view = batch.fire(case_id, self.trigger, self.actor, self.at, job=self.name,
                          **self.fields)
        return f"{self.trigger}: {before} → {view.state}"

    def check(self, workflows: WorkflowRegistry, organisation: Organisation,
              kind: str | None) -> None:
        """Refuse, before touching any case, a trigger no selected workflow has, or fields
        it does not take: a typo must not become thousands of refusals."""
        names = [kind] if kind is not None else workflows.names()
        having = [workflow for workflow in (workflows.get(name) for name in names)
                  if self.trigger in workflow.triggers]
        if not having:
            raise UnknownTrigger("(any)", "-", self.trigger,
                                 workflows.get(kind) if kind is not None else None, [])
        for workflow in having:
            trigger = workflow.triggers[self.trigger]
            coerce_fields(trigger.fields, self.fields, organisation, self.trigger)
