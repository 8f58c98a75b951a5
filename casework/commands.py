"""How a command becomes an event: checked against the case's workflow, then recorded.

A command is legal when the trigger may be fired from the case's state, the actor holds a
role the trigger admits and reaches the case (``casework.authorisation``), the fields are what
the trigger takes, and its guards pass. Then the trigger's effects compute what changes
(unit, grade, deadline, ...), personal fields are encrypted, and one event records it all on
the case, unsaved: the caller (``casework.batch``) saves it. A refused command raises and
records nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from uuid import UUID, uuid4

from .actor import Actor
from .authorisation import Authorisation
from .calendars import Calendar
from .case import Case
from .clocks import pause_changes
from .context import CommandContext
from .effects import EFFECTS
from .errors import (
    GuardRefused,
    IllegalTransition,
    InvalidField,
    NotMigratable,
    StaleCase,
    UnknownTrigger,
)
from .fields import coerce_fields
from .guards import CONDITIONS, GUARDS
from .organisation import Organisation
from .personal import PersonKeys, person_id
from .registry import WorkflowRegistry
from .timestamps import parse_time, utc_now
from .workflow import OPEN, STAY, Trigger, Workflow

Finder = Callable[[str], Case | None]
"""Another case by id, as the caller has it (None when there is none)."""


def business_time(at: datetime | str, zone: tzinfo = UTC) -> datetime:
    """``at`` as an aware time (naive: in the office's ``zone``); ``InvalidField`` naming
    ``at`` when it is not one."""
    try:
        return parse_time(at, zone)
    except ValueError as error:
        raise InvalidField("at", str(error)) from None


class Commands:
    """Checks commands and records their events on cases (not saved)."""

    def __init__(self, workflows: WorkflowRegistry, organisation: Organisation,
                 personal: PersonKeys, authorisation: Authorisation,
                 clock: Callable[[], datetime], calendar: Calendar) -> None:
        self.workflows = workflows
        self.organisation = organisation
        self.personal = personal
        self.authorisation = authorisation
        self.clock = clock
        self.calendar = calendar

    def workflow_of(self, case: Case) -> Workflow:
        return self.workflows.get(case.kind, case.workflow_version)

    def outcome_of(self, case: Case) -> str | None:
        return self.workflow_of(case).states[case.state].outcome

    # The three commands ----------------------------------------------------------------

    def open(self, kind: str, actor: Actor, at: datetime | str | None,
             given: Mapping[str, Any], case_id: UUID | None, find: Finder,
             parent: Case | None = None, person: str | UUID | None = None) -> Case:
        """A new case of ``kind`` under the latest version of its workflow."""
        workflow = self.workflows.get(kind)
        trigger = workflow.opening
        role = self.authorisation.role_for(actor, trigger, "(new case)")
        moment = self._moment(at, None)
        fields = coerce_fields(trigger.fields, given, self.organisation, OPEN)
        if case_id is not None and not isinstance(case_id, UUID):
            raise InvalidField("case_id", f"{case_id!r} is not a UUID")
        new_id = case_id or uuid4()
        if parent is None:  # a spawned case is placed by its parent, which the actor reaches
            location = fields.get(trigger.field_of_type("unit") or "location")
            self.authorisation.check_location(actor, location, OPEN, "(new case)")
        context = self._context(parent, trigger, fields, actor, moment, workflow, find)
        _check_guards(context, new_id, "")
        changes = _changes(context, trigger.effects)
        fields = self._protected(trigger, fields, changes, None, person,
                                 inherited=getattr(parent, "person", None))
        return Case.open(
            case_id=new_id,
            recorded_at=utc_now(),
            kind=workflow.name,
            workflow_version=workflow.version,
            trigger=OPEN,
            to_state=workflow.initial,
            to_stage=workflow.states[workflow.initial].stage,
            actor_id=actor.id,
            role=role,
            at=moment,
            fields=fields,
            changes=changes,
        )

    def fire(self, case: Case, name: str, actor: Actor, at: datetime | str | None,
             given: Mapping[str, Any], find: Finder, job: str | None = None,
             expected_version: int | None = None) -> list[Case]:
        """Record ``name`` fired on the case; returns every case the command changed (a
        spawned task is a second one). With ``expected_version``, ``StaleCase`` unless the
        case has that version (its number of events) now."""
        self.authorisation.check_reach(actor, case, name)
        if expected_version is not None and expected_version != case.version:
            raise StaleCase(case.id, expected_version, case.version)
        workflow = self.workflow_of(case)
        trigger = self._legal_trigger(workflow, case, name)
        role = self.authorisation.role_for(actor, trigger, case.id)
        moment = self._moment(at, case)
        fields = coerce_fields(trigger.fields, given, self.organisation, name)
        context = self._context(case, trigger, fields, actor, moment, workflow, find)
        _check_guards(context, case.id, case.state)
        destination, effects = trigger.to, trigger.effects
        for branch in trigger.branches:
            if CONDITIONS[branch.when](context):
                destination, effects = branch.to, (*effects, *branch.effects)
                break
        if destination == STAY:
            destination = case.state
        changes = _changes(context, effects)
        changes.update(pause_changes(self.calendar, workflow, case, destination, moment,
                                     changes))
        changed = [case]
        if trigger.spawns is not None:
            task = self._spawned(trigger.spawns, case, actor, moment, fields, find)
            changes["tasks"] = [*case.tasks, str(task.id)]
            changed.append(task)
        if job is not None:
            changes["jobs"] = [*case.jobs, job]
        fields = self._protected(trigger, fields, changes, getattr(case, "person", None))
        case.record(
            Case.Transitioned,
            recorded_at=utc_now(),
            trigger=name,
            from_state=case.state,
            to_state=destination,
            to_stage=workflow.states[destination].stage,
            actor_id=actor.id,
            role=role,
            at=moment,
            fields=fields,
            changes=changes,
            updates=[name for name in trigger.updates if name in fields],
        )
        return changed

    def migrate(self, case: Case, to_version: int, actor: Actor,
                at: datetime | str | None) -> None:
        """Record the case's move to another version of its workflow, by the state mapping
        that version declares (a state of the same name maps to itself)."""
        target = self.workflows.get(case.kind, to_version)
        role = self.authorisation.role_to_migrate(actor, case)
        if to_version <= case.workflow_version:
            raise NotMigratable(case.id, f"it already runs {case.kind} v{case.workflow_version}")
        mapping = target.migrations.get(case.workflow_version, {})
        state = mapping.get(case.state, case.state)
        if state not in target.states:
            raise NotMigratable(
                case.id, f"{target.key} has no state {case.state!r} and maps it to nothing")
        moment = self._moment(at, case)
        case.record(
            Case.Migrated,
            recorded_at=utc_now(),
            trigger="migrate",
            from_state=case.state,
            to_state=state,
            to_stage=target.states[state].stage,
            from_version=case.workflow_version,
            workflow_version=to_version,
            actor_id=actor.id,
            role=role,
            at=moment,
            fields={},
            changes={},
        )

    # Parts of a command ----------------------------------------------------------------

    @staticmethod
    def _legal_trigger(workflow: Workflow, case: Case, name: str) -> Trigger:
        trigger = workflow.transitions.get((case.state, name)) if isinstance(name, str) else None
        if trigger is None:
            legal = workflow.legal_triggers(case.state)
            if not isinstance(name, str) or name not in workflow.triggers:
                raise UnknownTrigger(case.id, case.state, name, workflow, legal)
            raise IllegalTransition(case.id, case.state, name, legal)
        return trigger

    def _context(self, case: Case | None, trigger: Trigger, fields: dict[str, Any],
                 actor: Actor, moment: datetime, workflow: Workflow,
                 find: Finder) -> CommandContext:
        return CommandContext(case, trigger, fields, actor, moment,  # type: ignore[arg-type]
                              workflow, self.organisation, find, self.outcome_of,
                              self.calendar)

    def _spawned(self, kind: str, parent: Case, actor: Actor, at: datetime,
                 fields: Mapping[str, Any], find: Finder) -> Case:
        """A case opened by another case's trigger, linked back to it."""
        given = {**fields, "parent": str(parent.id)}
        if parent.unit is not None:
            given.setdefault("location", parent.unit)
        given.setdefault("channel", parent.kind)
        opening = self.workflows.get(kind).opening.fields
        return self.open(kind, actor, at, {k: v for k, v in given.items() if k in opening},
                         None, find, parent)

    def _protected(self, trigger: Trigger, fields: dict[str, Any], changes: dict[str, Any],
                   person: str | None, given: str | UUID | None = None,
                   inherited: str | None = None) -> dict[str, Any]:
        """The fields as the event stores them: each personal one encrypted under the key of
        the case's person. A case gets its person (``changes``) when the caller names one,
        or with its first personal field: its parent's person (a spawned case), or a new one."""
        if person is None and given is not None:
            person = person_id(given)
            self.personal.ensure(person)
            changes["person"] = person
        personal = [name for name in fields if trigger.fields[name].personal]
        if not personal:
            return fields
        if person is None:
            person = inherited if inherited and self.personal.has_key(inherited) \
                else self.personal.new_person()
            changes["person"] = person
        return {name: self.personal.encrypt(person, name, value) if name in personal else value
                for name, value in fields.items()}

    def _moment(self, at: datetime | str | None, case: Case | None) -> datetime:
        moment = (business_time(at, self.calendar.zone) if at is not None
                  else parse_time(self.clock(), self.calendar.zone))
        if case is not None and moment < case.updated_at:
            raise InvalidField(
                "at", f"{moment.isoformat()} is before the case's last event "
                      f"({case.updated_at.isoformat()}); a case's history runs forward"
            )
        return moment


def _check_guards(context: CommandContext, case_id: object, state: str) -> None:
    for name in context.trigger.guards:
        reason = GUARDS[name](context)
        if reason is not None:
            raise GuardRefused(case_id, state, context.trigger.name, name, reason)


def _changes(context: CommandContext, effects: Iterable[str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for effect in effects:
        changes.update(EFFECTS[effect](context))
    return changes
