"""Load and validate workflow definitions; every problem names the file and the entry.

A definition is a TOML file. Its shape, in brief (see workflows/petition.toml for a full one)::

    name = "petition"
    version = 1
    initial = "collected"
    [states]
    collected = { stage = "collect" }
    [[triggers]]
    name = "open"                    # the trigger that opens a case: no `from`
    to = "collected"
    roles = ["intake"]
    fields.title = { type = "string", required = true }
    [[triggers]]
    name = "assess"
    from = ["collected"]
    to = "assessed"
    roles = ["assessor"]
    fields.category = { type = "string", required = true }
    fields.note = { type = "text" }
    updates = ["category"]           # category becomes the case's; note stays the event's

The opening trigger's fields are the case's fields. Any other trigger's fields belong to its
event (the history shows them) and change the case's fields only where ``updates`` names them.
"""

from __future__ import annotations

import tomllib
from collections import deque
from pathlib import Path
from typing import Any

from .definition_problems import DefinitionProblems, unknown_keys
from .effects import EFFECTS, NEEDS_FIELD_OF_TYPE
from .errors import WorkflowDefinitionError
from .fields import FIELD_TYPES, FieldSpec
from .grade_definitions import check_due_soon, compile_grades
from .guards import CONDITIONS, GUARDS
from .workflow import (
    OPEN,
    OUTCOMES,
    STAGES,
    STAY,
    Branch,
    Grade,
    ReportSection,
    State,
    Trigger,
    Workflow,
)

_TOP_KEYS = {"name", "version", "title", "description", "initial", "states", "triggers",
             "grades", "settings", "migrations", "report"}
_STATE_KEYS = {"stage", "terminal", "outcome", "description", "titles", "pauses"}
_TRIGGER_KEYS = {"name", "from", "to", "roles", "fields", "guards", "effects", "branches",
                 "spawns", "description", "assignee", "updates", "titles"}
ASSIGNS_ACTOR = "actor"
"""``assignee = "actor"``: whoever fires the trigger takes the case on."""
_FIELD_KEYS = {"type", "required", "choices", "min", "max", "description", "personal",
               "contact"}
PERSONAL_TYPES = ("string", "text")
"""Field types that may be personal: what names, phones and addresses are written in."""
_BRANCH_KEYS = {"when", "to", "effects"}
_REPORT_KEYS = {"section", "count_by", "milestones"}


def load_workflow(path: str | Path) -> Workflow:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise WorkflowDefinitionError(f"{path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise WorkflowDefinitionError(f"{path}: not valid TOML: {error}") from None
    return compile_workflow(data, source=str(path))


def compile_workflow(data: dict[str, Any], source: str = "<definition>") -> Workflow:
    problems = DefinitionProblems(source)
    unknown_keys(problems, "top level", data, _TOP_KEYS)
    for key in ("name", "version", "initial", "states", "triggers"):
        if key not in data:
            problems.add("top level", f"missing {key!r}")
    problems.raise_if_any()

    name, version = data["name"], data["version"]
    if not isinstance(name, str) or not name.isidentifier():
        problems.add("name", f"{name!r} is not a simple name (letters, digits, underscores)")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.add("version", f"{version!r} is not a positive integer")

    states = _states(problems, data["states"])
    grades = compile_grades(problems, data.get("grades", {}))
    triggers = _triggers(problems, data["triggers"], states, grades)
    initial = data["initial"]
    if initial not in states:
        problems.add("initial", f"unknown state {initial!r}")
    opening = triggers.pop(OPEN, None)
    if opening is None:
        problems.add("triggers", f"no {OPEN!r} trigger: how does a case start?")
    elif opening.to != initial:
        problems.add(f"trigger {OPEN!r}",
                     f"goes to {opening.to!r}, not the initial state {initial!r}")
    problems.raise_if_any()

    _check_graph(problems, initial, states, triggers)
    check_due_soon(problems, data.get("settings", {}))
    migrations = _migrations(problems, data.get("migrations", {}), states, version)
    assert opening is not None
    report = _report(problems, data.get("report"), {OPEN: opening, **triggers})
    problems.raise_if_any()
    return Workflow(
        name=name,
        version=version,
        title=str(data.get("title", name)),
        description=str(data.get("description", "")),
        initial=initial,
        states=states,
        opening=opening,
        triggers=triggers,
        grades=grades,
        settings=dict(data.get("settings", {})),
        migrations=migrations,
        report=report,
        source=source,
    )


def _states(problems: DefinitionProblems, table: Any) -> dict[str, State]:
    states: dict[str, State] = {}
    if not isinstance(table, dict) or not table:
        problems.add("states", "must be a non-empty table")
        return states
    for name, spec in table.items():
        where = f"state {name!r}"
        if not unknown_keys(problems, where, spec, _STATE_KEYS):
            continue
        stage = spec.get("stage")
        if stage not in STAGES:
            problems.add(where, f"stage {stage!r} is not one of {', '.join(STAGES)}")
        outcome = spec.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            problems.add(where, f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        states[name] = State(name, stage, bool(spec.get("terminal", False)), outcome,
                             _titles(problems, where, spec.get("titles", {})),
                             bool(spec.get("pauses", False)))
    return states


def _fields(problems: DefinitionProblems, where: str, table: Any) -> dict[str, FieldSpec]:
    fields: dict[str, FieldSpec] = {}
    if not isinstance(table, dict):
        problems.add(where, "fields must be a table")
        return fields
    for name, spec in table.items():
        field_where = f"{where}, field {name!r}"
        if not unknown_keys(problems, field_where, spec, _FIELD_KEYS):
            continue
        kind = spec.get("type")
        if kind not in FIELD_TYPES:
            problems.add(field_where, f"unknown type {kind!r} (types: {', '.join(FIELD_TYPES)})")
            continue
        choices = spec.get("choices", [])
        if kind == "choice" and (not isinstance(choices, list) or not choices
                                 or not all(isinstance(c, str) for c in choices)):
            problems.add(field_where, "a choice needs a non-empty list of text choices")
            continue
        personal = spec.get("personal", False)
        if not isinstance(personal, bool) or (personal and kind not in PERSONAL_TYPES):
            problems.add(field_where, "personal must be true or false, and only a field of "
                         f"type {' or '.join(PERSONAL_TYPES)} may be personal")
            continue
        contact = spec.get("contact", False)
        if not isinstance(contact, bool):
            problems.add(field_where, "contact must be true or false")
            continue
        description = spec.get("description", "")
        if not isinstance(description, str):
            problems.add(field_where, "description must be text")
            continue
        fields[name] = FieldSpec(
            name=name,
            type=kind,
            required=bool(spec.get("required", False)),
            choices=tuple(choices),
            min=spec.get("min"),
            max=spec.get("max"),
            personal=personal,
            contact=contact,
            description=description,
        )
    return fields


def _names(problems: DefinitionProblems, where: str, value: Any, known: dict[str, Any], what: str
           ) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        problems.add(where, f"{what}s must be a list of names")
        return ()
    for item in value:
        if item not in known:
            problems.add(where, f"undefined {what} {item!r} (defined: {', '.join(sorted(known))})")
    return tuple(value)


def _triggers(problems: DefinitionProblems, entries: Any, states: dict[str, State],
              grades: dict[str, Grade]) -> dict[str, Trigger]:
    triggers: dict[str, Trigger] = {}
    if not isinstance(entries, list) or not entries:
        problems.add("triggers", "must be a list of [[triggers]] tables")
        return triggers
    for position, spec in enumerate(entries, start=1):
        name = spec.get("name") if isinstance(spec, dict) else None
        where = f"trigger {name!r}" if name else f"trigger #{position}"
        if not unknown_keys(problems, where, spec, _TRIGGER_KEYS):
            continue
        if not isinstance(name, str) or not name.isidentifier():
            problems.add(where, "needs a name (letters, digits, underscores)")
            continue
        if name in triggers:
            problems.add(where, "duplicate trigger: a trigger of this name is defined above")
            continue
        sources = _sources(problems, where, name, spec, states)
        to = spec.get("to")
        if to != STAY and to not in states:
            problems.add(where, f"unknown state {to!r} in 'to'")
        roles = spec.get("roles")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            problems.add(where, "needs 'roles': the roles allowed to fire it")
            roles = []
        fields = _fields(problems, where, spec.get("fields", {}))
        guards = _names(problems, where, spec.get("guards", []), GUARDS, "guard")
        effects = _names(problems, where, spec.get("effects", []), EFFECTS, "effect")
        branches = _branches(problems, where, spec.get("branches", []), states)
        _check_effects(problems, where, (*effects, *(e for b in branches for e in b.effects)),
                       fields, grades)
        assignee = spec.get("assignee")
        if assignee is not None and assignee != ASSIGNS_ACTOR and (
                assignee not in fields or fields[assignee].type != "string"):
            problems.add(where, f"assignee must be {ASSIGNS_ACTOR!r} or one of its string "
                                f"fields, not {assignee!r}")
        updates = _updates(problems, where, name, spec.get("updates", []), fields)
        triggers[name] = Trigger(
            name=name,
            sources=tuple(sources),
            to=to,
            roles=tuple(roles),
            fields=fields,
            guards=guards,
            effects=effects,
            branches=branches,
            spawns=spec.get("spawns"),
            description=str(spec.get("description", "")),
            assignee=assignee,
            updates=updates,
            titles=_titles(problems, where, spec.get("titles", {})),
        )
    _check_case_field_types(problems, triggers)
    return triggers


def _sources(problems: DefinitionProblems, where: str, name: str, spec: dict[str, Any],
             states: dict[str, State]) -> Any:
    """The states a trigger may be fired in: none for the opening trigger."""
    sources = spec.get("from", [])
    if name == OPEN:
        if sources:
            problems.add(where, "the opening trigger has no 'from'")
        if spec.get("branches"):
            problems.add(where, "the opening trigger has no branches: a case opens in "
                                "the initial state")
        return sources
    sources = _names(problems, where, sources, states, "state")
    if not sources:
        problems.add(where, "needs 'from': the states it may be fired in")
    return sources


def _updates(problems: DefinitionProblems, where: str, name: str, value: Any,
             fields: dict[str, FieldSpec]) -> tuple[str, ...]:
    """The trigger's fields that change the case's fields (``updates``)."""
    if name == OPEN:
        if value:
            problems.add(where, "the opening trigger has no 'updates': all its fields are "
                                "the case's")
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.add(where, "updates must be a list of the trigger's field names")
        return ()
    for item in value:
        if item not in fields:
            problems.add(where, f"updates {item!r}, which is not one of its fields "
                                f"({', '.join(fields) or 'it has none'})")
    return tuple(value)


def _check_case_field_types(problems: DefinitionProblems, triggers: dict[str, Trigger]) -> None:
    """A case field keeps one type, whichever trigger sets it."""
    declared: dict[str, tuple[str, str]] = {}
    opening = triggers.get(OPEN)
    ordered = [opening] if opening is not None else []
    ordered += [t for t in triggers.values() if t is not opening]
    for trigger in ordered:
        names = trigger.fields if trigger is opening else trigger.updates
        for name in names:
            spec = trigger.fields.get(name)
            if spec is None:
                continue
            first = declared.setdefault(name, (spec.type, trigger.name))
            if first[0] != spec.type:
                problems.add(f"trigger {trigger.name!r}",
                             f"updates the case field {name!r} with a {spec.type}, but "
                             f"trigger {first[1]!r} sets it as a {first[0]}")


def _titles(problems: DefinitionProblems, where: str, table: Any) -> dict[str, str]:
    """What a state or trigger is called in other languages: language code → text."""
    if not isinstance(table, dict) or not all(
            isinstance(lang, str) and isinstance(text, str) and text.strip()
            for lang, text in table.items()):
        problems.add(where, 'titles must be a table of language → text, e.g. '
                            '{ zh = "已受理" }')
        return {}
    return dict(table)


def _branches(problems: DefinitionProblems, where: str, entries: Any, states: dict[str, State]
              ) -> tuple[Branch, ...]:
    if not isinstance(entries, list):
        problems.add(where, "branches must be a list of tables")
        return ()
    branches = []
    for spec in entries:
        if not unknown_keys(problems, f"{where}, branch", spec, _BRANCH_KEYS):
            continue
        when = spec.get("when")
        if when not in CONDITIONS:
            problems.add(where, f"undefined condition {when!r} "
                                f"(defined: {', '.join(sorted(CONDITIONS))})")
        to = spec.get("to")
        if to != STAY and to not in states:
            problems.add(where, f"unknown state {to!r} in a branch")
        effects = _names(problems, where, spec.get("effects", []), EFFECTS, "effect")
        branches.append(Branch(when, to, effects))
    return tuple(branches)


def _check_effects(problems: DefinitionProblems, where: str, effects: tuple[str, ...],
                   fields: dict[str, FieldSpec], grades: dict[str, Grade]) -> None:
    for effect in effects:
        needed = NEEDS_FIELD_OF_TYPE.get(effect)
        if needed and sum(spec.type == needed for spec in fields.values()) != 1:
            problems.add(where, f"effect {effect!r} needs exactly one field of type {needed!r}")
        if effect == "grade":
            spec = fields.get("grade")
            if spec is None or spec.type != "choice":
                problems.add(where, "effect 'grade' needs a choice field named 'grade'")
            elif set(spec.choices) - set(grades):
                missing = ", ".join(sorted(set(spec.choices) - set(grades)))
                problems.add(where, f"grades {missing} have no entry under [grades]")
        if effect == "contacted":
            spec = fields.get("outcome")
            if spec is None or spec.type != "choice" or "reached" not in spec.choices:
                problems.add(where, "effect 'contacted' needs a choice field 'outcome' with "
                                    "the choice 'reached'")


def _check_graph(problems: DefinitionProblems, initial: str, states: dict[str, State],
                 triggers: dict[str, Trigger]) -> None:
    outgoing: dict[str, set[str]] = {name: set() for name in states}
    for trigger in triggers.values():
        targets = {trigger.to, *(branch.to for branch in trigger.branches)}
        for source in trigger.sources:
            outgoing[source] |= {source if t == STAY else t for t in targets}
    reached = {initial}
    queue = deque([initial])
    while queue:
        for target in outgoing[queue.popleft()] - reached:
            reached.add(target)
            queue.append(target)
    for name, state in states.items():
        if name not in reached:
            problems.add(f"state {name!r}", f"unreachable from the initial state {initial!r}")
        if not state.terminal and not outgoing[name] - {name}:
            problems.add(f"state {name!r}",
                         "a dead end: no trigger leaves it, and it is not marked terminal")


def _migrations(problems: DefinitionProblems, table: Any, states: dict[str, State], version: int
                ) -> dict[int, dict[str, str]]:
    migrations: dict[int, dict[str, str]] = {}
    if not isinstance(table, dict):
        problems.add("migrations", "must be a table")
        return migrations
    for key, mapping in table.items():
        where = f"migrations.{key}"
        if not key.startswith("from_") or not key[5:].isdigit() or int(key[5:]) >= version:
            problems.add(where, f"name it from_N with N an older version than {version}")
            continue
        if not isinstance(mapping, dict):
            problems.add(where, "must map old state names to new ones")
            continue
        for old, new in mapping.items():
            if new not in states:
                problems.add(where, f"{old!r} maps to unknown state {new!r}")
        migrations[int(key[5:])] = dict(mapping)
    return migrations


def _report(problems: DefinitionProblems, table: Any, triggers: dict[str, Trigger]
            ) -> ReportSection | None:
    if table is None or not unknown_keys(problems, "report", table, _REPORT_KEYS):
        return None
    section = table.get("section")
    if not isinstance(section, str) or not section.isidentifier():
        problems.add("report", f"section {section!r} is not a simple name")
    fields = {name for trigger in triggers.values() for name in trigger.fields}
    count_by = _named_table(problems, "report.count_by", table.get("count_by", {}), fields,
                            "field")
    milestones = _named_table(problems, "report.milestones", table.get("milestones", {}),
                              set(triggers), "trigger")
    return ReportSection(str(section), count_by, milestones)


def _named_table(problems: DefinitionProblems, where: str, table: Any, known: set[str], what: str
                 ) -> dict[str, str]:
    """A table of figure names to names of ``what`` (a field, a trigger) the workflow has."""
    if not isinstance(table, dict):
        problems.add(where, f"must map figure names to {what} names")
        return {}
    for figure, name in table.items():
        if name not in known:
            problems.add(where, f"{figure} = {name!r}: no such {what} in this workflow")
    return {str(figure): str(name) for figure, name in table.items()}
