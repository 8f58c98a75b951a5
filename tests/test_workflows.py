"""The three shipped workflows, end to end through the public API.

Every test runs on a fresh in-memory store and states its business times explicitly (``at=``),
so that deadlines, history and time travel are exact.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from casework import Actor, Casework, GuardRefused, IllegalTransition, UnknownCase

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
"""Monday morning, when the first petition of every test arrives."""


def at(hours: float) -> datetime:
    """Business time ``hours`` after T0."""
    return T0 + timedelta(hours=hours)


# Ends of working days (18:00 in Shanghai) that the grades' limits reach from T0 + a few hours.
WEDNESDAY_8_MAY = datetime(2024, 5, 8, 10, 0, tzinfo=UTC)     # D: 16 working hours
TUESDAY_14_MAY = datetime(2024, 5, 14, 10, 0, tzinfo=UTC)     # C: 7 working days
FRIDAY_24_MAY = datetime(2024, 5, 24, 10, 0, tzinfo=UTC)      # B: 15 working days


SIX_STAGES = ["collect", "assess", "dispatch", "follow_up", "close", "revisit"]

# The sample organisation (workflows/organisation/guanlan.csv).
SUBDISTRICT = "guanlan"
COMMUNITY = "guanlan/guancheng"
BLOCK = "guanlan/guancheng/b1"
GRID = "guanlan/guancheng/b1/g1"
BUILDING_GRID = "guanlan/guancheng/b1/g1/bg1"
URBAN_MANAGEMENT = "guanlan/urban-management"
ENTERPRISE_SERVICE = "guanlan/enterprise-service"

# Who does what.
INTAKE = Actor("li.na", roles=["intake"])
ASSESSOR = Actor("wang.fang", roles=["assessor"])
DISPATCHER = Actor("zhao.lei", roles=["dispatcher"])
HANDLER = Actor("chen.jie", roles=["handler"])
MEDIATOR = Actor("sun.li", roles=["mediator"])
VISITOR = Actor("zhou.min", roles=["visitor"])
RESIDENT = Actor("liu.resident", roles=["resident"])
SUPERVISOR = Actor("gao.hong", roles=["supervisor"])
COMMISSIONER = Actor("he.qiang", roles=["commissioner"])
ORGANISER = Actor("lin.yu", roles=["organiser"])
SYSTEM = Actor("system", roles=["system"])
VOLUNTEER_A = Actor("vol.a", roles=["volunteer"])
VOLUNTEER_B = Actor("vol.b", roles=["volunteer"])
VOLUNTEER_C = Actor("vol.c", roles=["volunteer"])


def stages_visited(app: Casework, case_id: UUID) -> list[str]:
    """The stages a case went through, in the order it first reached them."""
    seen: list[str] = []
    for entry in app.history(case_id):
        if entry.stage not in seen:
            seen.append(entry.stage)
    return seen


def triggers_fired(app: Casework, case_id: UUID) -> list[str]:
    return [entry.trigger for entry in app.history(case_id)]


def open_petition(app: Casework, when: datetime = T0, title: str = "Blocked drain") -> UUID:
    return app.open_case(
        "petition", INTAKE, at=when, channel="hotline", title=title,
        petitioner="Ms Liu", location=BUILDING_GRID,
    )


def petition_in_progress(app: Casework, grade: str = "B", unit: str = COMMUNITY) -> UUID:
    """A petition opened at T0, assessed at +1h, dispatched at +2h, accepted at +3h."""
    case_id = open_petition(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), grade=grade, category="drainage")
    app.fire(case_id, "dispatch", DISPATCHER, at=at(2), unit=unit)
    app.fire(case_id, "accept", HANDLER, at=at(3))
    return case_id


# Petition -----------------------------------------------------------------------------------


def test_petition_main_path_with_three_track_mediation(app: Casework) -> None:
    case_id = open_petition(app)
    assert app.get_case(case_id).state == "collected"

    view = app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="B", category="neighbour dispute",
                    dispute=True)
    # Grade B: 15 working days from the assessment (Monday 6 May 18:00 in Shanghai, after
    # hours), Saturday 11 May a make-up working day: Friday 24 May 18:00.
    assert (view.state, view.grade, view.deadline) == ("assessed", "B", FRIDAY_24_MAY)

    view = app.fire(case_id, "dispatch", DISPATCHER, at=at(2), unit=COMMUNITY)
    assert (view.state, view.unit) == ("dispatched", COMMUNITY)

    assert app.fire(case_id, "accept", HANDLER, at=at(3)).state == "in_progress"
    view = app.fire(case_id, "note", HANDLER, at=at(4), note="Both parties visited")
    assert view.state == "in_progress"
    assert app.history(case_id)[-1].fields == {"note": "Both parties visited"}
    assert "note" not in view.fields  # the note's, not the case's

    assert app.fire(case_id, "mediate", MEDIATOR, at=at(5), track="people").state == "mediating"
    view = app.fire(case_id, "mediation_failed", MEDIATOR, at=at(6), note="No agreement")
    assert view.state == "in_progress"

    # The next mediation must go on a later track: people → administrative → judicial.
    with pytest.raises(GuardRefused) as refused:
        app.fire(case_id, "mediate", MEDIATOR, at=at(7), track="people")
    assert refused.value.guard == "mediation_track_advances"
    view = app.fire(case_id, "mediate", MEDIATOR, at=at(7), track="administrative")
    assert (view.state, view.fields["track"]) == ("mediating", "administrative")

    view = app.fire(case_id, "mediation_succeeded", MEDIATOR, at=at(8),
                    agreement="The wall is repaired at shared cost")
    assert view.state == "resolved"
    view = app.fire(case_id, "close", INTAKE, at=at(9), confirmed_by="petitioner")
    assert view.state == "closed"
    view = app.fire(case_id, "revisit", VISITOR, at=at(80), satisfaction=5, comment="Thank you")
    assert (view.state, view.stage, view.reopens) == ("revisited", "revisit", 0)

    assert triggers_fired(app, case_id) == [
        "open", "assess", "dispatch", "accept", "note", "mediate", "mediation_failed",
        "mediate", "mediation_succeeded", "close", "revisit",
    ]
    assert stages_visited(app, case_id) == SIX_STAGES
    assert view.events == 11
    assert (view.opened_at, view.updated_at) == (T0, at(80))
    # A revisited petition is finished: nobody can do anything more with it.
    assert app.allowed_triggers(case_id, SUPERVISOR) == []


def test_history_records_who_did_what_when_from_where_to_where(app: Casework) -> None:
    case_id = open_petition(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="C", category="drainage")
    app.fire(case_id, "dispatch", DISPATCHER, at=at(2), unit=BLOCK, note="Grid team is busy")

    opened, assessed, dispatched = app.history(case_id)

    assert opened.sequence == 1
    assert (opened.actor, opened.role, opened.trigger) == ("li.na", "intake", "open")
    assert (opened.from_state, opened.to_state, opened.stage) == (None, "collected", "collect")
    assert opened.fields == {"channel": "hotline", "title": "Blocked drain",
                             "petitioner": "Ms Liu", "location": BUILDING_GRID}
    assert opened.at == T0

    assert (assessed.actor, assessed.role, assessed.trigger) == ("wang.fang", "assessor", "assess")
    assert (assessed.from_state, assessed.to_state) == ("collected", "assessed")
    assert assessed.fields == {"grade": "C", "category": "drainage"}
    assert assessed.changes == {"grade": "C", "deadline": TUESDAY_14_MAY,
                                "resolve_limit": "7wd", "resolve_from": at(1)}
    assert assessed.at == at(1)

    assert (dispatched.actor, dispatched.role) == ("zhao.lei", "dispatcher")
    assert (dispatched.from_state, dispatched.to_state, dispatched.stage) == (
        "assessed", "dispatched", "dispatch")
    assert dispatched.fields == {"unit": BLOCK, "note": "Grid team is busy"}
    assert dispatched.changes == {"unit": BLOCK}
    assert dispatched.at == at(2)
    assert [entry.sequence for entry in (opened, assessed, dispatched)] == [1, 2, 3]


def test_the_role_recorded_is_the_one_the_trigger_admitted(app: Casework) -> None:
    clerk = Actor("multi", roles=["resident", "assessor", "intake"])
    case_id = app.open_case("petition", clerk, at=T0, channel="walk_in", title="Noise at night")
    app.fire(case_id, "assess", clerk, at=at(1), grade="D", category="noise")
    # The first of the trigger's roles the actor holds, in the workflow's order (issue 13).
    assert [entry.role for entry in app.history(case_id)] == ["intake", "assessor"]


@pytest.mark.parametrize(
    ("grade", "deadline"),
    [("A", at(5 + 2)), ("B", FRIDAY_24_MAY), ("C", TUESDAY_14_MAY), ("D", WEDNESDAY_8_MAY)],
)
def test_grade_sets_deadline_from_the_assessment_time(app: Casework, grade: str,
                                                      deadline: datetime) -> None:
    case_id = open_petition(app)
    assessed_at = at(5)  # not the opening time: the clock starts at the assessment
    view = app.fire(case_id, "assess", ASSESSOR, at=assessed_at, grade=grade, category="roads")
    assert view.grade == grade
    assert view.deadline == deadline  # A: 2 elapsed hours; the others on the office calendar
    assert app.get_case(case_id).deadline == deadline


def test_a_due_time_given_at_dispatch_overrides_the_grades_deadline(app: Casework) -> None:
    case_id = open_petition(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="C", category="roads")
    view = app.fire(case_id, "dispatch", DISPATCHER, at=at(2), unit=COMMUNITY, due=at(10))
    assert view.deadline == at(10)
    assert app.history(case_id)[-1].changes == {"unit": COMMUNITY, "deadline": at(10),
                                                 "resolve_limit": None}
    assert app.get_case(case_id).resolve_limit is None  # not the grade's: a person chose it


def test_without_a_due_time_dispatch_keeps_the_grades_deadline(app: Casework) -> None:
    case_id = open_petition(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="C", category="roads")
    view = app.fire(case_id, "dispatch", DISPATCHER, at=at(2), unit=COMMUNITY)
    assert view.deadline == TUESDAY_14_MAY


def test_get_case_as_of_shows_the_case_as_it_was(app: Casework) -> None:
    case_id = petition_in_progress(app, grade="B")
    app.fire(case_id, "mediate", MEDIATOR, at=at(5), track="people")
    app.fire(case_id, "mediation_failed", MEDIATOR, at=at(6), note="No agreement")

    assert app.get_case(case_id, as_of=T0).state == "collected"
    assert app.get_case(case_id, as_of=at(0.5)).state == "collected"
    past = app.get_case(case_id, as_of=at(1.5))
    assert (past.state, past.grade, past.unit, past.events) == ("assessed", "B", None, 2)
    past = app.get_case(case_id, as_of=at(2))  # an event at exactly as_of is included
    assert (past.state, past.unit) == ("dispatched", COMMUNITY)
    past = app.get_case(case_id, as_of=at(5.5).isoformat())  # ISO text works too
    assert (past.state, past.fields["track"]) == ("mediating", "people")
    assert app.get_case(case_id, as_of=at(1000)) == app.get_case(case_id)

    # history(as_of=...) is the audit trail up to that moment.
    assert [e.trigger for e in app.history(case_id, as_of=at(2.5))] == [
        "open", "assess", "dispatch"]

    with pytest.raises(UnknownCase, match="not opened yet"):
        app.get_case(case_id, as_of=T0 - timedelta(minutes=1))


def test_allowed_triggers_depend_on_state_and_roles(app: Casework) -> None:
    case_id = open_petition(app)
    assert set(app.allowed_triggers(case_id, INTAKE)) == {"assess", "reject", "merge"}
    assert set(app.allowed_triggers(case_id, ASSESSOR)) == {"assess", "reject", "merge"}
    assert app.allowed_triggers(case_id, HANDLER) == []
    assert app.allowed_triggers(case_id, RESIDENT) == []

    app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="C", category="drainage")
    assert set(app.allowed_triggers(case_id, ASSESSOR)) == {"reject", "merge", "dispatch"}
    assert app.allowed_triggers(case_id, DISPATCHER) == ["dispatch"]

    app.fire(case_id, "dispatch", DISPATCHER, at=at(2), unit=BLOCK)
    assert set(app.allowed_triggers(case_id, HANDLER)) == {"accept", "send_back", "escalate",
                                                          "contact"}
    assert app.allowed_triggers(case_id, SYSTEM) == ["escalate"]

    app.fire(case_id, "accept", HANDLER, at=at(3))
    assert set(app.allowed_triggers(case_id, HANDLER)) == {
        "note", "escalate", "mediate", "spawn_task", "resolve", "contact", "request_material"}
    assert set(app.allowed_triggers(case_id, MEDIATOR)) == {"note", "mediate", "contact"}
    assert app.allowed_triggers(str(case_id), RESIDENT) == []  # the id may be given as text


def test_unsatisfied_revisit_reopens_the_petition(app: Casework) -> None:
    case_id = petition_in_progress(app)
    app.fire(case_id, "resolve", HANDLER, at=at(4), resolution="Drain cleared")
    app.fire(case_id, "close", SYSTEM, at=at(4 + 7 * 24), confirmed_by="default")

    view = app.fire(case_id, "revisit", VISITOR, at=at(200), satisfaction=2,
                    comment="It is blocked again")
    assert (view.state, view.stage, view.reopens) == ("in_progress", "follow_up", 1)
    last = app.history(case_id)[-1]
    assert (last.trigger, last.from_state, last.to_state) == ("revisit", "closed", "in_progress")
    # Reopening starts a new resolution clock (B: 15 working days), from the revisit.
    assert last.changes == {"reopens": 1, "deadline": datetime(2024, 6, 5, 10, tzinfo=UTC),
                            "resolve_limit": "15wd", "resolve_from": at(200)}

    app.fire(case_id, "resolve", HANDLER, at=at(201), resolution="Pipe replaced")
    app.fire(case_id, "close", INTAKE, at=at(202), confirmed_by="petitioner")
    view = app.fire(case_id, "revisit", VISITOR, at=at(250), satisfaction=3)
    assert (view.state, view.reopens) == ("revisited", 1)
    assert stages_visited(app, case_id) == SIX_STAGES


@pytest.mark.parametrize("satisfaction", [1, 2])
def test_a_score_of_one_or_two_reopens(app: Casework, satisfaction: int) -> None:
    case_id = petition_in_progress(app)
    app.fire(case_id, "resolve", HANDLER, at=at(4), resolution="Done")
    app.fire(case_id, "close", INTAKE, at=at(5), confirmed_by="petitioner")
    view = app.fire(case_id, "revisit", VISITOR, at=at(6), satisfaction=satisfaction)
    assert (view.state, view.reopens) == ("in_progress", 1)


def test_objection_sends_a_resolved_petition_back_to_follow_up(app: Casework) -> None:
    case_id = petition_in_progress(app)
    app.fire(case_id, "resolve", HANDLER, at=at(4), resolution="Done")
    view = app.fire(case_id, "object", RESIDENT, at=at(5), reason="Nothing was done")
    assert view.state == "in_progress"


def test_escalation_moves_the_case_up_one_unit_at_a_time(app: Casework) -> None:
    case_id = open_petition(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="C", category="drainage")
    app.fire(case_id, "dispatch", DISPATCHER, at=at(2), unit=BLOCK)

    view = app.fire(case_id, "escalate", HANDLER, at=at(3), reason="Needs the community")
    assert (view.state, view.unit, view.escalations) == ("dispatched", COMMUNITY, 1)
    # The new unit gets the grade's time to resolve (C: 7 working days) from the escalation.
    assert app.history(case_id)[-1].changes == {
        "unit": COMMUNITY, "escalations": 1, "deadline": TUESDAY_14_MAY,
        "resolve_limit": "7wd", "resolve_from": at(3)}

    app.fire(case_id, "accept", HANDLER, at=at(4))
    view = app.fire(case_id, "escalate", SYSTEM, at=at(5), reason="Deadline passed")
    assert (view.state, view.unit, view.escalations) == ("dispatched", SUBDISTRICT, 2)

    # The subdistrict is the top: there is nobody left to escalate to.
    with pytest.raises(GuardRefused) as refused:
        app.fire(case_id, "escalate", SUPERVISOR, at=at(6), reason="Still stuck")
    assert refused.value.guard == "has_parent_unit"
    assert app.get_case(case_id).escalations == 2


def test_a_unit_can_send_a_case_back_to_be_dispatched_again(app: Casework) -> None:
    case_id = open_petition(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="B", category="road damage")
    app.fire(case_id, "dispatch", DISPATCHER, at=at(2), unit=COMMUNITY)
    view = app.fire(case_id, "send_back", HANDLER, at=at(3), reason="A road: urban management")
    assert view.state == "assessed"
    view = app.fire(case_id, "dispatch", DISPATCHER, at=at(4), unit=URBAN_MANAGEMENT)
    assert (view.state, view.unit) == ("dispatched", URBAN_MANAGEMENT)


@pytest.mark.parametrize("unit", [SUBDISTRICT, COMMUNITY, URBAN_MANAGEMENT])
def test_an_urgent_case_may_go_to_a_community_a_department_or_higher(app: Casework, unit: str
                                                                    ) -> None:
    case_id = open_petition(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="A", category="gas leak")
    assert app.fire(case_id, "dispatch", DISPATCHER, at=at(1.1), unit=unit).unit == unit


def test_a_simple_case_may_go_down_to_a_grid(app: Casework) -> None:
    case_id = open_petition(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), grade="D", category="street light")
    assert app.fire(case_id, "dispatch", DISPATCHER, at=at(2), unit=GRID).unit == GRID


def test_spawned_volunteer_task_is_linked_to_its_petition(app: Casework) -> None:
    case_id = petition_in_progress(app, unit=COMMUNITY)
    view = app.fire(case_id, "spawn_task", HANDLER, at=at(4), title="Collect rental listings",
                    volunteers_needed=1, claim_by=at(48))
    assert view.state == "in_progress"
    assert len(view.tasks) == 1
    assert app.history(case_id)[-1].changes == {"tasks": list(view.tasks)}

    task = app.get_case(view.tasks[0])
    assert (task.kind, task.state, task.stage) == ("volunteer_task", "published", "dispatch")
    assert task.fields["parent"] == str(case_id)
    assert task.fields["title"] == "Collect rental listings"
    assert task.fields["channel"] == "petition"
    assert task.fields["location"] == COMMUNITY
    assert task.deadline == at(48)
    assert task.opened_at == at(4)
    opening = app.history(task.id)[0]
    assert (opening.actor, opening.role, opening.trigger) == ("chen.jie", "handler", "open")


def test_petition_cannot_be_resolved_while_its_volunteer_task_is_open(app: Casework) -> None:
    case_id = petition_in_progress(app)
    task_id = app.fire(case_id, "spawn_task", HANDLER, at=at(4),
                       title="Carry shopping for Mr Zhang").tasks[0]

    with pytest.raises(GuardRefused) as refused:
        app.fire(case_id, "resolve", HANDLER, at=at(5), resolution="Done")
    assert refused.value.guard == "no_open_tasks"
    assert task_id in str(refused.value)
    assert app.get_case(case_id).state == "in_progress"

    app.fire(task_id, "claim", VOLUNTEER_A, at=at(6))
    app.fire(task_id, "start", VOLUNTEER_A, at=at(7))
    with pytest.raises(GuardRefused):
        app.fire(case_id, "resolve", HANDLER, at=at(8), resolution="Done")
    app.fire(task_id, "complete", VOLUNTEER_A, at=at(9), report="Shopping delivered")
    app.fire(task_id, "verify", ORGANISER, at=at(10))

    view = app.fire(case_id, "resolve", HANDLER, at=at(11), resolution="Volunteers helped")
    assert view.state == "resolved"


def test_completed_but_unverified_task_still_blocks_resolving(app: Casework) -> None:
    """Completed work may still be sent back (``redo``): only verify or cancel ends it."""
    case_id = petition_in_progress(app)
    task_id = app.fire(case_id, "spawn_task", HANDLER, at=at(4), title="Fix the railing").tasks[0]
    app.fire(task_id, "claim", VOLUNTEER_A, at=at(5))
    app.fire(task_id, "start", VOLUNTEER_A, at=at(6))
    app.fire(task_id, "complete", VOLUNTEER_A, at=at(7), report="Railing fixed")

    with pytest.raises(GuardRefused):
        app.fire(case_id, "resolve", HANDLER, at=at(8), resolution="Done")


def test_cancelling_the_task_lets_the_petition_be_resolved(app: Casework) -> None:
    case_id = petition_in_progress(app)
    task_id = app.fire(case_id, "spawn_task", HANDLER, at=at(4), title="Walk the dog").tasks[0]
    with pytest.raises(GuardRefused):
        app.fire(case_id, "resolve", HANDLER, at=at(5), resolution="Done")
    app.fire(task_id, "cancel", ORGANISER, at=at(6), reason="The family found a neighbour")
    assert app.fire(case_id, "resolve", HANDLER, at=at(7), resolution="Done").state == "resolved"


def test_merge_a_duplicate_into_another_existing_case(app: Casework) -> None:
    first = open_petition(app, title="Blocked drain on Guancheng Road")
    second = open_petition(app, when=at(1), title="Drain blocked again")
    app.fire(second, "assess", ASSESSOR, at=at(2), grade="C", category="drainage")

    view = app.fire(second, "merge", ASSESSOR, at=at(3), duplicate_of=first)
    assert (view.state, view.stage) == ("merged", "close")
    assert view.fields["duplicate_of"] == str(first)
    assert app.allowed_triggers(second, ASSESSOR) == []
    assert app.get_case(first).state == "collected"  # the original case is untouched


def test_reject_an_invalid_petition(app: Casework) -> None:
    case_id = open_petition(app)
    view = app.fire(case_id, "reject", INTAKE, at=at(1), reason="Test call, not a petition")
    assert (view.state, view.stage) == ("rejected", "close")
    assert app.history(case_id)[-1].fields == {"reason": "Test call, not a petition"}
    assert app.allowed_triggers(case_id, INTAKE) == []
    with pytest.raises(IllegalTransition):
        app.fire(case_id, "assess", ASSESSOR, at=at(2), grade="C", category="x")


# Enterprise request -------------------------------------------------------------------------


def open_enterprise_request(app: Casework) -> UUID:
    return app.open_case(
        "enterprise_request", COMMISSIONER, at=T0, channel="enterprise_visit",
        enterprise="Guanlan Precision Ltd", title="Needs help with an export tax rebate",
        contact="Mr Huang",
    )


def test_enterprise_request_main_path_with_the_four_ones(app: Casework) -> None:
    case_id = open_enterprise_request(app)
    view = app.get_case(case_id)
    assert (view.kind, view.state, view.stage) == ("enterprise_request", "received", "collect")
    assert view.fields["enterprise"] == "Guanlan Precision Ltd"

    view = app.fire(case_id, "assess", COMMISSIONER, at=at(1), category="finance_tax", grade="B")
    # Grade B: 7 working days.
    assert (view.state, view.grade, view.deadline) == ("assessed", "B", TUESDAY_14_MAY)

    # One enterprise, one leader, one department, one commissioner.
    view = app.fire(case_id, "assign", DISPATCHER, at=at(2), leader="Deputy Director Wang",
                    department=ENTERPRISE_SERVICE, commissioner="he.qiang")
    assert (view.state, view.stage, view.unit) == ("assigned", "dispatch", ENTERPRISE_SERVICE)
    assert view.fields["leader"] == "Deputy Director Wang"
    assert view.fields["department"] == ENTERPRISE_SERVICE
    assert view.fields["commissioner"] == "he.qiang"

    assert app.fire(case_id, "accept", COMMISSIONER, at=at(3)).state == "in_progress"
    app.fire(case_id, "note", COMMISSIONER, at=at(4), note="Documents collected")
    view = app.fire(case_id, "resolve", COMMISSIONER, at=at(30), resolution="Rebate filed")
    assert view.state == "resolved"
    assert app.fire(case_id, "close", COMMISSIONER, at=at(31),
                    confirmed_by="enterprise").state == "closed"
    view = app.fire(case_id, "revisit", VISITOR, at=at(200), satisfaction=4)
    assert (view.state, view.stage, view.reopens) == ("revisited", "revisit", 0)

    assert triggers_fired(app, case_id) == [
        "open", "assess", "assign", "accept", "note", "resolve", "close", "revisit"]
    assert stages_visited(app, case_id) == SIX_STAGES
    assigned = app.history(case_id)[2]
    assert (assigned.actor, assigned.role, assigned.from_state, assigned.to_state) == (
        "zhao.lei", "dispatcher", "assessed", "assigned")
    assert app.get_case(case_id, as_of=at(2.5)).state == "assigned"


@pytest.mark.parametrize("unit", [COMMUNITY, GRID, SUBDISTRICT])
def test_enterprise_request_is_assigned_to_a_functional_department(app: Casework, unit: str
                                                                  ) -> None:
    case_id = open_enterprise_request(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), category="legal", grade="C")
    with pytest.raises(GuardRefused) as refused:
        app.fire(case_id, "assign", DISPATCHER, at=at(2), leader="Wang", department=unit,
                 commissioner="he.qiang")
    assert refused.value.guard == "unit_is_department"
    assert "not a functional department" in str(refused.value)
    assert app.get_case(case_id).state == "assessed"


def test_enterprise_request_unsatisfied_revisit_reopens(app: Casework) -> None:
    case_id = open_enterprise_request(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), category="talent", grade="D")
    assert app.get_case(case_id).deadline == at(1 + 48)
    app.fire(case_id, "assign", ASSESSOR, at=at(2), leader="Wang", department=ENTERPRISE_SERVICE,
             commissioner="he.qiang")
    app.fire(case_id, "accept", COMMISSIONER, at=at(3))  # the one assigned (issue 13)
    app.fire(case_id, "resolve", HANDLER, at=at(4), resolution="Job fair arranged")
    app.fire(case_id, "close", SYSTEM, at=at(5), confirmed_by="default")
    view = app.fire(case_id, "revisit", COMMISSIONER, at=at(6), satisfaction=1)
    assert (view.state, view.reopens) == ("in_progress", 1)


def test_enterprise_request_escalates_from_department_to_subdistrict(app: Casework) -> None:
    case_id = open_enterprise_request(app)
    app.fire(case_id, "assess", ASSESSOR, at=at(1), category="space", grade="A")
    app.fire(case_id, "assign", DISPATCHER, at=at(2), leader="Wang",
             department=ENTERPRISE_SERVICE, commissioner="he.qiang")
    view = app.fire(case_id, "escalate", SUPERVISOR, at=at(3), reason="Needs land approval")
    assert (view.state, view.unit, view.escalations) == ("assigned", SUBDISTRICT, 1)


# Volunteer task -----------------------------------------------------------------------------


def open_task(app: Casework, needed: int | None = 2) -> UUID:
    extra = {} if needed is None else {"volunteers_needed": needed}
    return app.open_case("volunteer_task", ORGANISER, at=T0, title="Collect rental listings",
                         claim_by=at(24), location=GRID, channel="mini_program", **extra)


def test_volunteer_task_with_several_volunteers(app: Casework) -> None:
    task_id = open_task(app, needed=2)
    view = app.get_case(task_id)
    assert (view.state, view.stage, view.deadline) == ("published", "dispatch", at(24))

    view = app.fire(task_id, "claim", VOLUNTEER_A, at=at(1))
    assert (view.state, view.volunteers) == ("published", ("vol.a",))

    # A volunteer takes at most one place.
    with pytest.raises(GuardRefused) as refused:
        app.fire(task_id, "claim", VOLUNTEER_A, at=at(1.5))
    assert refused.value.guard == "not_yet_claimed_by_actor"

    view = app.fire(task_id, "claim", VOLUNTEER_B, at=at(2))
    assert (view.state, view.volunteers) == ("staffed", ("vol.a", "vol.b"))

    # A staffed task takes nobody else...
    with pytest.raises(IllegalTransition):
        app.fire(task_id, "claim", VOLUNTEER_C, at=at(2.5))
    # ...until someone gives their place back.
    view = app.fire(task_id, "release", VOLUNTEER_B, at=at(3))
    assert (view.state, view.volunteers) == ("published", ("vol.a",))
    view = app.fire(task_id, "claim", VOLUNTEER_C, at=at(4))
    assert (view.state, view.volunteers) == ("staffed", ("vol.a", "vol.c"))

    assert app.fire(task_id, "start", VOLUNTEER_A, at=at(5)).state == "in_progress"
    app.fire(task_id, "progress", VOLUNTEER_C, at=at(6), note="Five listings so far")
    view = app.fire(task_id, "complete", VOLUNTEER_A, at=at(8), report="Twelve listings found")
    assert (view.state, view.stage) == ("completed", "close")
    view = app.fire(task_id, "verify", ORGANISER, at=at(9))
    assert (view.state, view.stage) == ("verified", "close")
    view = app.fire(task_id, "feedback", RESIDENT, at=at(30), satisfaction=5,
                    comment="Very kind")
    assert (view.state, view.stage) == ("reviewed", "revisit")

    assert stages_visited(app, task_id) == ["dispatch", "follow_up", "close", "revisit"]
    assert [(e.actor, e.trigger, e.from_state, e.to_state) for e in app.history(task_id)] == [
        ("lin.yu", "open", None, "published"),
        ("vol.a", "claim", "published", "published"),
        ("vol.b", "claim", "published", "staffed"),
        ("vol.b", "release", "staffed", "published"),
        ("vol.c", "claim", "published", "staffed"),
        ("vol.a", "start", "staffed", "in_progress"),
        ("vol.c", "progress", "in_progress", "in_progress"),
        ("vol.a", "complete", "in_progress", "completed"),
        ("lin.yu", "verify", "completed", "verified"),
        ("liu.resident", "feedback", "verified", "reviewed"),
    ]
    assert app.get_case(task_id, as_of=at(3.5)).volunteers == ("vol.a",)
    assert app.get_case(task_id, as_of=at(2)).volunteers == ("vol.a", "vol.b")


def test_one_volunteer_staffs_a_task_by_default(app: Casework) -> None:
    task_id = open_task(app, needed=None)
    assert app.fire(task_id, "claim", VOLUNTEER_A, at=at(1)).state == "staffed"


def test_only_a_volunteer_who_claimed_can_release(app: Casework) -> None:
    task_id = open_task(app, needed=2)
    app.fire(task_id, "claim", VOLUNTEER_A, at=at(1))
    with pytest.raises(GuardRefused) as refused:
        app.fire(task_id, "release", VOLUNTEER_B, at=at(2))
    assert refused.value.guard == "claimed_by_actor"
    assert app.get_case(task_id).volunteers == ("vol.a",)


def test_completed_work_can_be_sent_back(app: Casework) -> None:
    task_id = open_task(app, needed=1)
    app.fire(task_id, "claim", VOLUNTEER_A, at=at(1))
    app.fire(task_id, "start", VOLUNTEER_A, at=at(2))
    app.fire(task_id, "complete", VOLUNTEER_A, at=at(3), report="Done")
    view = app.fire(task_id, "redo", ORGANISER, at=at(4), reason="Only two listings")
    assert view.state == "in_progress"


@pytest.mark.parametrize("claims", [0, 1, 2])
def test_cancel_a_volunteer_task(app: Casework, claims: int) -> None:
    task_id = open_task(app, needed=2)
    for hour, volunteer in enumerate([VOLUNTEER_A, VOLUNTEER_B][:claims], start=1):
        app.fire(task_id, "claim", volunteer, at=at(hour))
    view = app.fire(task_id, "cancel", SUPERVISOR, at=at(5), reason="The resident moved away")
    assert (view.state, view.stage) == ("cancelled", "close")
    assert app.allowed_triggers(task_id, ORGANISER) == []


def test_an_unclaimed_task_expires(app: Casework) -> None:
    task_id = open_task(app, needed=2)
    view = app.fire(task_id, "expire", SYSTEM, at=at(24))
    assert (view.state, view.stage) == ("expired", "close")
    last = app.history(task_id)[-1]
    assert (last.actor, last.role, last.trigger, last.fields) == (
        "system", "system", "expire", {})
    assert app.get_case(task_id, as_of=at(23)).state == "published"


def test_a_deadline_counts_elapsed_hours_across_a_daylight_saving_change(app: Casework) -> None:
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    assessed = datetime(2024, 3, 10, 1, 0, tzinfo=new_york)  # clocks go forward at 2:00
    case_id = app.open_case("petition", INTAKE, at=assessed, channel="hotline", title="Pothole")
    view = app.fire(case_id, "assess", ASSESSOR, at=assessed, grade="A", category="road")
    assert view.deadline - assessed == timedelta(hours=2)  # grade A: 2 elapsed hours
    assert view.deadline == datetime(2024, 3, 10, 4, 0, tzinfo=new_york)  # 04:00 local, EDT
