"""What a command knows while it is being checked: the context guards, conditions and
effects read. Kept apart so that the rule modules share one definition."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .actor import Actor
from .calendars import Calendar
from .case import Case
from .organisation import Organisation
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
    outcome_of: Callable[[Case], str | None]
    """The outcome of another case's state under its own workflow (None while it is open)."""
    calendar: Calendar
    """The office calendar the clocks count on."""
