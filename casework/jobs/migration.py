"""Moving running cases to a newer version of their workflow, on purpose.

The target version declares how the states of older versions map onto its own
(``[migrations.from_1]`` in its definition file); a state with the same name maps to itself.
A migration is a ``Migrated`` event on each case; cases in a state with no mapping are
reported and left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from ..actor import SYSTEM, Actor
from ..batch import Batch
from ..timestamps import parse_time


@dataclass
class Migration:
    kind: str
    to_version: int
    actor: Actor = SYSTEM
    name: str = "migrate"

    def __call__(self, batch: Batch, case_id: UUID) -> str | None:
        case = batch.load(case_id)
        if case.kind != self.kind or case.workflow_version >= self.to_version:
            return None  # already there (a rerun, or another worker got it)
        before = (case.workflow_version, case.state)
        # NotMigratable (no mapping for its state) is reported by the runner as a refusal.
        # At the clock's time, unless the case's history already runs past it.
        at = max(parse_time(batch.app.clock()), case.updated_at)
        view = batch.migrate(case_id, self.to_version, self.actor, at)
        return f"v{before[0]} {before[1]} → v{view.version} {view.state}"
