"""What is wrong with one definition file, collected so that the user sees every problem at
once, each naming the file and the entry."""

from __future__ import annotations

from typing import Any

from .errors import WorkflowDefinitionError


class DefinitionProblems:
    """Collects what is wrong with one file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.messages: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.messages.append(f"{self.source}: {where}: {message}")

    def raise_if_any(self) -> None:
        if self.messages:
            raise WorkflowDefinitionError("\n".join(self.messages))


def unknown_keys(problems: DefinitionProblems, where: str, table: Any, allowed: set[str]) -> bool:
    """Whether ``table`` is a table; each of its keys beyond ``allowed`` is a problem."""
    if not isinstance(table, dict):
        problems.add(where, "must be a table")
        return False
    for key in sorted(set(table) - allowed):
        problems.add(where, f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
    return True
