"""Every error a user can cause, and that a refused command records nothing.

A command either records exactly one event or, when it raises, leaves the case exactly as
it was: same state, same fields, same history.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

import casework
from casework import (
    Actor,
    Casework,
    CaseworkError,
    GuardRefused,
    IllegalTransition,
    InvalidField,
    PermissionDenied,
    UnknownCase,
    UnknownTrigger,
    UnknownWorkflow,
)

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


COMMUNITY = "guanlan/guancheng"
BLOCK = "guanlan/guancheng/b1"
GRID = "guanlan/guancheng/b1/g1"
BUILDING_GRID = "guanlan/guancheng/b1/g1/bg1"

INTAKE = Actor("li.na", roles=["intake"])
ASSESSOR = Actor("wang.fang", roles=["assessor"])
DISPATCHER = Actor("zhao.lei", roles=["dispatcher"])
HANDLER = Actor("chen.jie", roles=["handler"])
VISITOR = Actor("zhou.min", roles=["visitor"])
RESIDENT = Actor("liu.resident", roles=["resident"])
VOLUNTEER = Actor("vol.a", roles=["volunteer"])
ORGANISER = Actor("lin.yu", roles=["organiser"])


@contextmanager
def nothing_recorded(app: Casework, case_id: UUID) -> Iterator[None]:
    """The block must leave the case exactly as it found it."""
    history = app.history(case_id)
    case = app.get_case(case_id)
    yield
    assert app.history(case_id) == history
    assert app.get_case(case_id) == case


@contextmanager
def no_case_opened(app: Casework, case_id: UUID) -> Iterator[None]:
    """The block, which tries to open ``case_id``, must leave no trace of it."""
    yield
    with pytest.raises(UnknownCase):
        app.get_case(case_id)
    with pytest.raises(UnknownCase):
        app.history(case_id)


def petition(app: Casework, state: str = "collected") -> UUID:
    """A petition opened at T0 and taken, one hour per step, to ``state``."""
    case_id = app.open_case("petition", INTAKE, at=T0, channel="hotline", title="Blocked drain",
                            location=BUILDING_GRID)
    steps: list[tuple[str, Actor, dict[str, Any]]] = [
        ("assess", ASSESSOR, {"grade": "B", "category": "drainage"}),
        ("dispatch", DISPATCHER, {"unit": COMMUNITY}),
        ("accept", HANDLER, {}),
        ("resolve", HANDLER, {"resolution": "Cleared"}),
        ("close", INTAKE, {"confirmed_by": "petitioner"}),
    ]
    for hour, (trigger, actor, fields) in enumerate(steps, start=1):
        if app.get_case(case_id).state == state:
            break
        app.fire(case_id, trigger, actor, at=at(hour), **fields)
    assert app.get_case(case_id).state == state
    return case_id


# The error hierarchy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        casework.UnknownCase,
        casework.UnknownWorkflow,
        casework.IllegalTransition,
        casework.GuardRefused,
        casework.InvalidField,
        casework.PermissionDenied,
        casework.WorkflowDefinitionError,
        casework.OrganisationError,
        casework.ConcurrencyConflict,
        casework.StorageError,
        casework.DuplicateCase,
    ],
)
def test_every_error_is_a_casework_error(error: type[Exception]) -> None:
    assert issubclass(error, CaseworkError)
    assert isinstance(error.exit_code, int) and error.exit_code > 0


def test_a_guard_refusal_is_an_illegal_transition() -> None:
    assert issubclass(GuardRefused, IllegalTransition)


# UnknownCase --------------------------------------------------------------------------------


def test_unknown_case_for_a_random_uuid(app: Casework) -> None:
    missing = uuid4()
    with pytest.raises(UnknownCase, match=str(missing)) as raised:
        app.get_case(missing)
    assert raised.value.case_id == missing
    with pytest.raises(UnknownCase):
        app.history(missing)
    with pytest.raises(UnknownCase):
        app.allowed_triggers(missing, INTAKE)
    with pytest.raises(UnknownCase):
        app.fire(missing, "assess", ASSESSOR, at=T0, grade="B", category="x")
    with pytest.raises(UnknownCase):
        app.get_case(str(missing), as_of=T0)


@pytest.mark.parametrize("case_id", ["not-a-case", "", "12345", "case 42"])
def test_unknown_case_for_a_string_that_is_not_a_uuid(app: Casework, case_id: str) -> None:
    with pytest.raises(UnknownCase, match="not a case id"):
        app.get_case(case_id)
    with pytest.raises(UnknownCase, match="not a case id"):
        app.fire(case_id, "assess", ASSESSOR, at=T0, grade="B", category="x")
    with pytest.raises(UnknownCase):
        app.history(case_id)


def test_unknown_case_before_it_was_opened(app: Casework) -> None:
    case_id = petition(app)
    with pytest.raises(UnknownCase, match="not opened yet"):
        app.get_case(case_id, as_of=at(-1))
    with pytest.raises(UnknownCase, match="not opened yet"):  # as get_case (issue 13)
        app.history(case_id, as_of=at(-1))


# UnknownWorkflow ----------------------------------------------------------------------------


def test_unknown_workflow(app: Casework) -> None:
    case_id = uuid4()
    with no_case_opened(app, case_id), pytest.raises(UnknownWorkflow) as raised:
        app.open_case("parking_permit", INTAKE, at=T0, case_id=case_id, title="Permit")
    message = str(raised.value)
    assert "parking_permit" in message
    for known in ("enterprise_request", "petition", "volunteer_task"):
        assert known in message


# IllegalTransition --------------------------------------------------------------------------


def test_illegal_transition_names_the_state_and_the_legal_triggers(app: Casework) -> None:
    case_id = petition(app, "collected")
    with nothing_recorded(app, case_id), pytest.raises(IllegalTransition) as raised:
        app.fire(case_id, "close", INTAKE, at=at(1), confirmed_by="petitioner")
    error = raised.value
    assert not isinstance(error, GuardRefused)
    assert (error.state, error.trigger, error.legal) == ("collected", "close", [
        "assess", "merge", "reject"])
    message = str(error)
    assert "it is collected" in message
    assert "assess, merge, reject" in message
    assert str(case_id) in message


def test_illegal_transition_for_a_trigger_the_workflow_does_not_have(app: Casework) -> None:
    case_id = petition(app, "assessed")
    with nothing_recorded(app, case_id), pytest.raises(UnknownTrigger) as raised:
        app.fire(case_id, "teleport", DISPATCHER, at=at(5))
    assert isinstance(raised.value, IllegalTransition)
    assert "has no trigger 'teleport'" in str(raised.value)
    assert "is assessed" in str(raised.value)
    assert "dispatch" in raised.value.legal


def test_illegal_transition_from_a_terminal_state_lists_none(app: Casework) -> None:
    case_id = petition(app)
    app.fire(case_id, "reject", INTAKE, at=at(1), reason="Spam")
    with nothing_recorded(app, case_id), pytest.raises(IllegalTransition) as raised:
        app.fire(case_id, "assess", ASSESSOR, at=at(2), grade="B", category="x")
    assert raised.value.legal == []
    assert "legal triggers from rejected: none" in str(raised.value)


def test_illegal_transition_is_checked_before_fields(app: Casework) -> None:
    case_id = petition(app, "collected")
    with nothing_recorded(app, case_id), pytest.raises(IllegalTransition):
        app.fire(case_id, "dispatch", DISPATCHER, at=at(1), unit="no/such/unit")


# InvalidField -------------------------------------------------------------------------------

INVALID_FIELDS = [
    # (id, state, trigger, actor, fields, the field named, words in the message)
    ("unknown field", "collected", "assess", ASSESSOR,
     {"grade": "B", "category": "drainage", "urgency": "high"}, "urgency", "no such field"),
    ("missing required field", "collected", "assess", ASSESSOR,
     {"grade": "B"}, "category", "requires it"),
    ("required field given as None", "collected", "assess", ASSESSOR,
     {"grade": "B", "category": None}, "category", "requires it"),
    ("blank required text", "collected", "assess", ASSESSOR,
     {"grade": "B", "category": "   "}, "category", "blank"),
    ("wrong type: number for text", "collected", "assess", ASSESSOR,
     {"grade": "B", "category": 42}, "category", "not text"),
    ("wrong type: not a boolean", "collected", "assess", ASSESSOR,
     {"grade": "B", "category": "drainage", "dispute": "perhaps"}, "dispute", "boolean"),
    ("wrong type: not an integer", "closed", "revisit", VISITOR,
     {"satisfaction": "very"}, "satisfaction", "integer"),
    ("wrong type: boolean for integer", "closed", "revisit", VISITOR,
     {"satisfaction": True}, "satisfaction", "integer"),
    ("wrong type: not a case id", "collected", "merge", INTAKE,
     {"duplicate_of": "case-7"}, "duplicate_of", "case id"),
    ("choice not allowed", "collected", "assess", ASSESSOR,
     {"grade": "E", "category": "drainage"}, "grade", "one of A, B, C, D"),
    ("integer above range", "closed", "revisit", VISITOR,
     {"satisfaction": 6}, "satisfaction", "out of range"),
    ("integer below range", "closed", "revisit", VISITOR,
     {"satisfaction": 0}, "satisfaction", "out of range"),
    ("integer out of range on a spawned task", "in_progress", "spawn_task", HANDLER,
     {"title": "Help", "volunteers_needed": 101}, "volunteers_needed", "out of range"),
    ("unknown unit", "assessed", "dispatch", DISPATCHER,
     {"unit": "guanlan/atlantis"}, "unit", "no unit"),
    ("string over 200 characters", "collected", "assess", ASSESSOR,
     {"grade": "B", "category": "x" * 201}, "category", "over the limit of 200"),
    ("text over 4000 characters", "collected", "reject", INTAKE,
     {"reason": "x" * 4001}, "reason", "over the limit of 4000"),
    ("control character in a string", "collected", "assess", ASSESSOR,
     {"grade": "B", "category": "drain\x00age"}, "category", "control"),
    ("escape sequence in a string", "collected", "assess", ASSESSOR,
     {"grade": "B", "category": "\x1b[31mred"}, "category", "control"),
    ("newline in a one-line string", "collected", "assess", ASSESSOR,
     {"grade": "B", "category": "two\nlines"}, "category", "control"),
    ("control character in a text", "collected", "reject", INTAKE,
     {"reason": "bell\x07"}, "reason", "control"),
    ("bad datetime", "in_progress", "spawn_task", HANDLER,
     {"title": "Help", "claim_by": "next Tuesday"}, "claim_by", "ISO 8601"),
]


@pytest.mark.parametrize(
    ("state", "trigger", "actor", "fields", "field", "words"),
    [case[1:] for case in INVALID_FIELDS],
    ids=[case[0] for case in INVALID_FIELDS],
)
def test_invalid_field(app: Casework, state: str, trigger: str, actor: Actor,
                       fields: dict[str, Any], field: str, words: str) -> None:
    case_id = petition(app, state)
    with nothing_recorded(app, case_id), pytest.raises(InvalidField) as raised:
        app.fire(case_id, trigger, actor, at=at(10), **fields)
    assert raised.value.field == field
    assert f"field {field!r}" in str(raised.value)
    assert words in str(raised.value)


def test_text_at_the_limits_is_accepted(app: Casework) -> None:
    case_id = petition(app)
    view = app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="B", category="x" * 200)
    assert len(view.fields["category"]) == 200
    view = app.fire(case_id, "reject", INTAKE, at=at(2), reason="line one\n\tline two" + "y" * 3982)
    assert len(app.history(case_id)[-1].fields["reason"]) == 4000


def test_values_given_as_text_are_coerced(app: Casework) -> None:
    case_id = petition(app, "closed")
    view = app.fire(case_id, "revisit", VISITOR, at=at(10), satisfaction=" 4 ")
    assert view.fields["satisfaction"] == 4


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"channel": "hotline"}, "title"),
        ({"title": "Blocked drain"}, "channel"),
        ({"channel": "fax", "title": "Blocked drain"}, "channel"),
        ({"channel": "hotline", "title": 42}, "title"),
        ({"channel": "hotline", "title": "Blocked drain", "location": "guanlan/nowhere"},
         "location"),
        ({"channel": "hotline", "title": "Blocked drain", "colour": "red"}, "colour"),
    ],
)
def test_invalid_field_when_opening_opens_nothing(app: Casework, fields: dict[str, Any],
                                                  field: str) -> None:
    case_id = uuid4()
    with no_case_opened(app, case_id), pytest.raises(InvalidField) as raised:
        app.open_case("petition", INTAKE, at=T0, case_id=case_id, **fields)
    assert raised.value.field == field


def test_at_earlier_than_the_last_event_is_refused(app: Casework) -> None:
    case_id = petition(app, "assessed")  # last event at T0 + 1h
    with nothing_recorded(app, case_id), pytest.raises(InvalidField) as raised:
        app.fire(case_id, "dispatch", DISPATCHER, at=at(0.5), unit=COMMUNITY)
    assert raised.value.field == "at"
    assert "before the case's last event" in str(raised.value)
    # The same moment as the last event is fine: history only has to run forward.
    assert app.fire(case_id, "dispatch", DISPATCHER, at=at(1), unit=COMMUNITY).state == (
        "dispatched")


@pytest.mark.parametrize("when", ["yesterday", "", "2024-13-01T00:00", "1850-01-01T00:00"])
def test_at_that_is_not_a_time_is_refused(app: Casework, when: str) -> None:
    case_id = petition(app)
    with nothing_recorded(app, case_id), pytest.raises(InvalidField) as raised:
        app.fire(case_id, "assess", ASSESSOR, at=when, grade="B", category="drainage")
    assert raised.value.field == "at"


def test_get_case_as_of_a_bad_time_is_an_invalid_field(app: Casework) -> None:
    case_id = petition(app)
    with pytest.raises(InvalidField, match="'at'"):
        app.get_case(case_id, as_of="soon")


def test_refused_spawn_opens_no_task(app: Casework) -> None:
    case_id = petition(app, "in_progress")
    with nothing_recorded(app, case_id), pytest.raises(InvalidField):
        app.fire(case_id, "spawn_task", HANDLER, at=at(10), title="Help", volunteers_needed=0)
    assert app.get_case(case_id).tasks == ()


# PermissionDenied ---------------------------------------------------------------------------


def test_permission_denied_when_the_role_is_not_allowed(app: Casework) -> None:
    case_id = petition(app, "assessed")
    with nothing_recorded(app, case_id), pytest.raises(PermissionDenied) as raised:
        app.fire(case_id, "dispatch", RESIDENT, at=at(5), unit=COMMUNITY)
    message = str(raised.value)
    assert "liu.resident" in message
    assert "resident" in message
    assert "dispatch needs one of the roles assessor, dispatcher" in message
    assert (raised.value.actor, raised.value.trigger) == ("liu.resident", "dispatch")


def test_permission_denied_for_an_actor_without_roles(app: Casework) -> None:
    case_id = petition(app, "in_progress")
    nobody = Actor("anonymous")
    with nothing_recorded(app, case_id), pytest.raises(PermissionDenied, match="roles none"):
        app.fire(case_id, "resolve", nobody, at=at(10), resolution="Done")


def test_permission_denied_when_opening_opens_nothing(app: Casework) -> None:
    case_id = uuid4()
    with no_case_opened(app, case_id), pytest.raises(PermissionDenied):
        app.open_case("petition", VOLUNTEER, at=T0, case_id=case_id, channel="hotline",
                      title="Blocked drain")


def test_an_organiser_cannot_claim_a_volunteer_place(app: Casework) -> None:
    task_id = app.open_case("volunteer_task", ORGANISER, at=T0, title="Collect listings")
    with nothing_recorded(app, task_id), pytest.raises(PermissionDenied):
        app.fire(task_id, "claim", ORGANISER, at=at(1))


# GuardRefused -------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", [BLOCK, GRID, BUILDING_GRID])
def test_an_a_grade_case_goes_at_least_to_a_community(app: Casework, unit: str) -> None:
    case_id = petition(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="A", category="gas leak")
    with nothing_recorded(app, case_id), pytest.raises(GuardRefused) as raised:
        app.fire(case_id, "dispatch", DISPATCHER, at=at(1.5), unit=unit)
    error = raised.value
    assert (error.guard, error.state, error.trigger) == ("unit_fits_grade", "assessed", "dispatch")
    assert re.search(r"grade A case goes at least to a community", str(error))
    assert unit in str(error)


def test_a_c_grade_case_goes_at_least_to_a_block(app: Casework) -> None:
    case_id = petition(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="C", category="litter")
    with nothing_recorded(app, case_id), pytest.raises(GuardRefused, match="block"):
        app.fire(case_id, "dispatch", DISPATCHER, at=at(2), unit=GRID)


def test_merge_refuses_an_unknown_case_and_itself(app: Casework) -> None:
    case_id = petition(app)
    missing = uuid4()
    with nothing_recorded(app, case_id), pytest.raises(GuardRefused, match="no case") as raised:
        app.fire(case_id, "merge", INTAKE, at=at(1), duplicate_of=missing)
    assert raised.value.guard == "other_existing_case"
    with nothing_recorded(app, case_id), pytest.raises(GuardRefused, match="itself"):
        app.fire(case_id, "merge", INTAKE, at=at(1), duplicate_of=case_id)


def test_a_volunteer_cannot_claim_twice(app: Casework) -> None:
    task_id = app.open_case("volunteer_task", ORGANISER, at=T0, title="Collect listings",
                            volunteers_needed=3)
    app.fire(task_id, "claim", VOLUNTEER, at=at(1))
    with nothing_recorded(app, task_id), pytest.raises(GuardRefused, match="already claimed"):
        app.fire(task_id, "claim", VOLUNTEER, at=at(2))
