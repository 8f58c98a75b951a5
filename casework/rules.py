"""What a command knows while it is being checked: the context guards, conditions and
effects read. Kept apart so that the three rule modules share one definition."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .actor import Actor
    from .case import Case
    from .organisation import Organisation
    from .registry import WorkflowRegistry
    from .workflow import Trigger, Workflow


@dataclass(frozen=True)
class CommandContext:
    case: Case
    trigger: Trigger
    fields: dict[str, Any]
    actor: Actor
    at: datetime
    workflow: Workflow
    organisation: Organisation
    load_case: Callable[[str], Case | None]
    """Another case by id (None when there is none): for rules that look across cases."""
    workflows: WorkflowRegistry
