"""Random legal and illegal commands by random actors, on all three workflows.

After every step: the replayed case equals the live one (with and without snapshots), a
refused command recorded nothing, the history has one entry per accepted command, and
``get_case(as_of=t)`` equals the case as it was at t.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from casework import Actor, CaseView, CaseworkError, GuardRefused
from casework.fields import FieldSpec
from casework.personal import is_encrypted
from casework.workflow import OPEN, Workflow

from .conftest import NO_POSTGRES, POSTGRES_URL, REGISTRY, Clock, at_most, database, new_app

pytestmark = pytest.mark.slow  # subprocesses, several processes, or many examples

ACTORS = [
    Actor("clerk", roles=["intake", "assessor", "dispatcher"]),
    Actor("handler", roles=["handler"]),
    Actor("boss", roles=["supervisor", "mediator"]),
    Actor("vol1", roles=["volunteer"]),
    Actor("vol2", roles=["volunteer"]),
    Actor("org", roles=["organiser"]),
    Actor("visitor", roles=["visitor"]),
    Actor("commissioner", roles=["commissioner"]),
    Actor("system", roles=["system"]),
    Actor("nobody", roles=[]),
]
UNITS = [
    "guanlan",
    "guanlan/urban-management",
    "guanlan/guancheng",
    "guanlan/guancheng/b1",
    "guanlan/guancheng/b1/g1",
    "guanlan/xinlan/b2/g3/bg1",
]
KINDS = REGISTRY.names()
ALL_TRIGGERS = {kind: sorted(REGISTRY.get(kind).triggers) for kind in KINDS}


def value_for(spec: FieldSpec, cases: list[str]) -> st.SearchStrategy[Any]:
    if spec.type in ("string", "text"):
        return st.text(alphabet="abc中文", min_size=1, max_size=8)
    if spec.type == "integer":
        return st.integers(spec.min if spec.min is not None else -5,
                           spec.max if spec.max is not None else 50)
    if spec.type == "number":
        return st.floats(spec.min if spec.min is not None else -1e6,
                         spec.max if spec.max is not None else 1e6)
    if spec.type == "boolean":
        return st.booleans()
    if spec.type == "choice":
        return st.sampled_from(spec.choices)
    if spec.type == "datetime":
        return st.integers(1, 500).map(lambda h: (Clock().now + timedelta(hours=h)).isoformat())
    if spec.type == "unit":
        # Mostly units any grade may go to, so that careful dispatches get through.
        return st.sampled_from([*UNITS, *["guanlan/urban-management", "guanlan/guancheng"] * 3])
    assert spec.type == "case"
    return st.sampled_from(cases) if cases else st.just("00000000-0000-0000-0000-000000000000")


class CaseworkMachine(RuleBasedStateMachine):
    cases = Bundle("cases")

    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.database = database(self.backend)
        self.app = new_app(self.database.__enter__(), clock=self.clock, snapshot_interval=3)
        self.expected_events: dict[str, int] = {}
        self.timeline: dict[str, list[tuple[Any, CaseView]]] = {}
        self.touched: str | None = None

    @initialize(target=cases, kind=st.sampled_from(KINDS), data=st.data())
    def first_case(self, kind: str, data: st.DataObject) -> str:
        return self.open_case(kind, careful=True, data=data)

    def teardown(self) -> None:
        self.app.close()
        self.database.__exit__(None, None, None)

    def _fields(self, data: st.DataObject, specs: dict[str, FieldSpec], careful: bool
                ) -> dict[str, Any]:
        known = list(self.expected_events)
        fields = {}
        for name, spec in specs.items():
            if spec.required or data.draw(st.booleans(), label=f"include {name}"):
                fields[name] = data.draw(value_for(spec, known), label=name)
        if careful:
            return fields
        mistake = data.draw(st.sampled_from(["none", "unknown", "drop", "wrong"]))
        if mistake == "unknown":
            fields["no_such_field"] = "x"
        elif mistake == "drop" and fields:
            fields.pop(data.draw(st.sampled_from(sorted(fields))))
        elif mistake == "wrong" and fields:
            fields[data.draw(st.sampled_from(sorted(fields)))] = object()
        return fields

    def _accepted(self, case_id: str, view: CaseView) -> None:
        self.expected_events[case_id] = self.expected_events.get(case_id, 0) + 1
        self.timeline.setdefault(case_id, []).append((self.clock.now, view))

    def _record_spawned(self, before: tuple[str, ...], after: CaseView) -> None:
        for task_id in set(after.tasks) - set(before):
            self._accepted(task_id, self.app.get_case(task_id))

    @precondition(lambda self: len(self.expected_events) < 4)  # so that cases get deep
    @rule(target=cases, kind=st.sampled_from(KINDS), careful=st.booleans(), data=st.data())
    def open_case(self, kind: str, careful: bool, data: st.DataObject) -> str:
        self.clock.advance(minutes=data.draw(st.integers(1, 600)))
        workflow = REGISTRY.get(kind)
        actor = data.draw(_actors(workflow.opening.roles, careful))
        fields = self._fields(data, workflow.opening.fields, careful)
        try:
            case_id = str(self.app.open_case(kind, actor=actor, **fields))
        except CaseworkError:
            assert actor.role_for(workflow.opening.roles) is None or _has_mistake(
                fields, workflow.opening.fields)
            return "00000000-0000-0000-0000-000000000000"
        assert actor.role_for(workflow.opening.roles) is not None
        self._accepted(case_id, self.app.get_case(case_id))
        self.touched = case_id
        return case_id

    @rule(case_id=cases, careful=st.integers(0, 3).map(bool), data=st.data())
    def fire(self, case_id: str, careful: bool, data: st.DataObject) -> None:
        """Mostly a careful command (legal trigger, allowed actor, good fields), so that cases
        get deep into their workflows; otherwise anything at all."""
        if case_id not in self.expected_events:
            return
        before = self.app.get_case(case_id)
        workflow = REGISTRY.get(before.kind, before.version)
        legal = set(workflow.legal_triggers(before.state))
        # Triggers that end a case early (reject, cancel...) are drawn less often.
        weighted = sorted(legal) + _not_final(workflow, legal) * 3
        name = data.draw(st.sampled_from(weighted) if legal and careful
                         else st.sampled_from(ALL_TRIGGERS[before.kind]))
        trigger = workflow.triggers[name]
        actor = data.draw(_actors(trigger.roles, careful))
        fields = self._fields(data, trigger.fields, careful)
        self.clock.advance(minutes=data.draw(st.integers(1, 600)))
        history_before = self.app.history(case_id)
        try:
            after = self.app.fire(case_id, name, actor=actor, **fields)
        except GuardRefused:
            assert trigger.guards, f"{name} has no guards but was refused by one"
            self._assert_unchanged(case_id, before, history_before)
            return
        except CaseworkError:
            self._assert_unchanged(case_id, before, history_before)
            authorised = actor.role_for(trigger.roles) is not None
            assert name not in legal or not authorised or _has_mistake(fields, trigger.fields)
            return
        # Accepted: it must have been legal from the state and the actor allowed to fire it.
        assert name in legal, f"{name} accepted from {before.state}"
        assert actor.role_for(trigger.roles) is not None, f"{actor.id} fired {name}"
        assert after.state in workflow.destinations(trigger) | {before.state}
        self._accepted(case_id, after)
        self._record_spawned(before.tasks, after)
        self.touched = case_id
        event(f"accepted {name}")

    def _assert_unchanged(self, case_id: str, before: CaseView, history_before: list) -> None:
        assert self.app.get_case(case_id) == before
        assert self.app.history(case_id) == history_before

    @invariant()
    def replay_equals_live(self) -> None:
        for case_id, timeline in self.timeline.items():
            live = timeline[-1][1]
            loaded = self.app.get_case(case_id)
            assert loaded == live
            replayed = None
            for stored in self.app.events.get(loaded.id):
                replayed = stored.mutate(replayed)
            assert self.app.view_of(replayed) == live
            # What is stored holds personal values only encrypted.
            opening = self.app.workflows.get(live.kind, live.version).opening.fields
            for name, spec in opening.items():
                if spec.personal and name in replayed.fields:
                    assert is_encrypted(replayed.fields[name])

    @invariant()
    def one_history_entry_per_accepted_command(self) -> None:
        for case_id, count in self.expected_events.items():
            history = self.app.history(case_id)
            assert len(history) == count
            assert [entry.sequence for entry in history] == list(range(1, count + 1))
            assert history[0].trigger == OPEN

    @invariant()
    def time_travel_matches_the_past(self) -> None:
        """Checked on the case the last step changed (all of them would make it quadratic)."""
        for moment, view in self.timeline.get(self.touched or "", []):
            assert self.app.get_case(self.touched, as_of=moment) == view


def _not_final(workflow: Workflow, legal: set[str]) -> list[str]:
    """Legal triggers that do not end the case in a terminal state."""
    ends = {name for name in legal if workflow.states.get(workflow.triggers[name].to, None)
            and workflow.states[workflow.triggers[name].to].terminal}
    return sorted(legal - ends)


def _actors(roles: tuple[str, ...], careful: bool) -> st.SearchStrategy[Actor]:
    allowed = [actor for actor in ACTORS if actor.role_for(roles)]
    return st.sampled_from(allowed if careful and allowed else ACTORS)


def _has_mistake(fields: dict[str, Any], specs: dict[str, FieldSpec]) -> bool:
    """True when the generated fields carry one of the deliberate mistakes."""
    if set(fields) - set(specs):
        return True
    if any(spec.required and name not in fields for name, spec in specs.items()):
        return True
    return any(type(value) is object for value in fields.values())


CaseworkMachine.TestCase.settings = at_most(100, stateful_step_count=30)
TestCasework = CaseworkMachine.TestCase


class PostgresCaseworkMachine(CaseworkMachine):
    """The same machine on PostgreSQL: fewer examples, since each one gets its own schema."""

    backend = "postgresql"


PostgresCaseworkMachine.TestCase.settings = at_most(12, stateful_step_count=30)
TestCaseworkOnPostgres = pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)(
    PostgresCaseworkMachine.TestCase)
