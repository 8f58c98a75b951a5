"""A compiled workflow: states, triggers and the lookup table commands use.

Built by ``casework.compiler`` from a definition file; immutable afterwards. A command costs
one dictionary lookup in ``Workflow.transitions``; the ``transitions`` machine is built once
per workflow version, for diagrams, and never bound to a case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .fields import FieldSpec
from .limits import Limit

STAGES = ("collect", "assess", "dispatch", "follow_up", "close", "revisit")
OPEN_STAGES = STAGES[:4]
OUTCOMES = ("resolved", "rejected", "merged", "cancelled", "expired")
OPEN = "open"
"""The name of the trigger that opens a case; it has no source state."""
STAY = "="
"""A trigger's destination that means "stay in the current state"."""


@dataclass(frozen=True)
class State:
    name: str
    stage: str
    terminal: bool = False
    outcome: str | None = None
    titles: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Language → what the state is called in it (``titles = { zh = "已受理" }``)."""
    pauses: bool = False
    """Time spent here does not count against the resolution clock (waiting for the
    petitioner's material, mediation in progress)."""


@dataclass(frozen=True)
class Branch:
    """Go to ``to`` instead of the trigger's destination when the condition holds."""

    when: str
    to: str
    effects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Trigger:
    name: str
    sources: tuple[str, ...]
    to: str
    roles: tuple[str, ...]
    fields: dict[str, FieldSpec]
    guards: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    branches: tuple[Branch, ...] = ()
    spawns: str | None = None
    description: str = ""
    assignee: str | None = None
    """Who takes the case on when it is fired: ``"actor"`` (whoever fires it) or the name of
    one of its fields; the read model lists the case under that assignee."""
    updates: tuple[str, ...] = ()
    """Its fields that set the case's field of the same name (``updates = [...]``); its
    other fields belong to its event only. Every field of the opening trigger is the case's."""
    titles: dict[str, str] = field(default_factory=dict, compare=False)
    """Language → what the trigger is called in it (``titles.zh = "评估"``)."""

    def field_of_type(self, kind: str) -> str | None:
        """The name of the trigger's (first) field of type ``kind``."""
        return next((spec.name for spec in self.fields.values() if spec.type == kind), None)


@dataclass(frozen=True)
class Grade:
    name: str
    resolve: Limit
    """How long the unit has to resolve a case of this grade, from its assessment."""
    min_level: str
    contact: Limit | None = None
    """How long the unit has to reach the petitioner, from accepting the case."""

    @property
    def deadline_hours(self) -> float:
        """The resolution limit in (roughly, for working time) elapsed hours."""
        return self.resolve.nominal_hours


@dataclass(frozen=True)
class ReportSection:
    """What the office report shows of this workflow's cases beside the common figures, under
    the key ``name``: counts by a field's values, and how many cases reached each milestone
    (a trigger fired on them at least once)."""

    name: str
    count_by: dict[str, str] = field(default_factory=dict)
    """Figure → the field whose values it counts (e.g. by_service_category → category)."""
    milestones: dict[str, str] = field(default_factory=dict)
    """Figure → the trigger that reaches it (e.g. claimed → claim)."""


@dataclass(frozen=True)
class Workflow:
    name: str
    version: int
    title: str
    description: str
    initial: str
    states: dict[str, State]
    opening: Trigger
    triggers: dict[str, Trigger]
    grades: dict[str, Grade] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    migrations: dict[int, dict[str, str]] = field(default_factory=dict)
    """For each older version, how its states map onto this version's."""
    report: ReportSection | None = None
    source: str = ""

    @cached_property
    def transitions(self) -> dict[tuple[str, str], Trigger]:
        """(state, trigger name) → trigger, for every legal pair."""
        return {
            (source, trigger.name): trigger
            for trigger in self.triggers.values()
            for source in trigger.sources
        }

    def legal_triggers(self, state: str) -> list[str]:
        return [name for (source, name) in self.transitions if source == state]

    def destinations(self, trigger: Trigger) -> set[str]:
        return {trigger.to, *(branch.to for branch in trigger.branches)} - {STAY}

    @cached_property
    def contact_fields(self) -> tuple[str, ...]:
        """The opening fields that say how to reach whoever brought the case."""
        return tuple(name for name, spec in self.opening.fields.items() if spec.contact)

    @property
    def key(self) -> str:
        return f"{self.name} v{self.version}"

    def as_dict(self) -> dict[str, Any]:
        """The definition as data: states with their stages, triggers with what they take,
        where they may lead and why, grades and settings."""
        return {
            "name": self.name, "version": self.version, "title": self.title,
            "description": self.description, "initial": self.initial,
            "states": {s.name: {"stage": s.stage, "terminal": s.terminal, "outcome": s.outcome,
                                "titles": dict(s.titles), "pauses": s.pauses}
                       for s in self.states.values()},
            "triggers": [_trigger_dict(t) for t in (self.opening, *self.triggers.values())],
            "grades": {g.name: {"resolve": str(g.resolve), "min_level": g.min_level,
                                "contact": None if g.contact is None else str(g.contact)}
                       for g in self.grades.values()},
            "settings": dict(self.settings),
        }

    @cached_property
    def machine_definition(self) -> dict[str, Any]:
        """The keyword arguments of a ``transitions.Machine`` for this workflow."""
        transitions = []
        for trigger in self.triggers.values():
            for branch in trigger.branches:
                transitions.append(
                    {
                        "trigger": trigger.name,
                        "source": list(trigger.sources),
                        "dest": None if branch.to == STAY else branch.to,
                        "conditions": [branch.when],
                    }
                )
            transitions.append(
                {
                    "trigger": trigger.name,
                    "source": list(trigger.sources),
                    "dest": None if trigger.to == STAY else trigger.to,
                    "conditions": list(trigger.guards),
                }
            )
        return {
            "states": list(self.states),
            "transitions": transitions,
            "initial": self.initial,
            "auto_transitions": False,
        }

    def diagram(self) -> str:
        """The workflow as a mermaid state diagram, drawn by ``transitions``."""
        # Drawing is rare, and this import costs a tenth of a second at every start.
        from transitions.extensions.diagrams import GraphMachine

        class _Drawing:
            """GraphMachine draws through a model; this one exists only to be drawn."""

        drawing = _Drawing()
        GraphMachine(
            model=drawing,
            title=f"{self.name} v{self.version}",
            graph_engine="mermaid",
            show_conditions=True,
            **self.machine_definition,
        )
        markup = str(drawing.get_graph().draw(None))  # type: ignore[attr-defined]
        # Drop the styling of a *current* state: an unbound definition has none.
        return "\n".join(line for line in markup.splitlines()
                         if not line.lstrip().startswith(("classDef ", "Class ")))


def _trigger_dict(trigger: Trigger) -> dict[str, Any]:
    return {"name": trigger.name, "titles": dict(trigger.titles),
            "description": trigger.description,
            "from": list(trigger.sources), "to": trigger.to, "roles": list(trigger.roles),
            "guards": list(trigger.guards), "effects": list(trigger.effects),
            "branches": [{"when": b.when, "to": b.to, "effects": list(b.effects)}
                         for b in trigger.branches],
            "spawns": trigger.spawns, "assignee": trigger.assignee,
            "updates": list(trigger.updates),
            "fields": {f.name: {"type": f.type, "required": f.required,
                                "choices": list(f.choices), "min": f.min, "max": f.max,
                                "personal": f.personal, "description": f.description}
                       for f in trigger.fields.values()}}
