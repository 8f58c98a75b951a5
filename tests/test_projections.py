"""The read model and its reports: disposable, exact, and crash-safe.

* Incremental catch-up, a full rebuild and a plain replay of the events give the same rows,
  and the same report, whatever the commands and wherever the catch-ups fall.
* The figures of DOMAIN.md ("Figures to reproduce") come out exactly, through the public API.
* A projection that dies half-way leaves nothing half-applied; two read models sharing one
  database never apply an event twice; catching up with nothing new costs nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import select
from sqlalchemy.engine import Engine

import casework.storage
import projections.read_model as read_model_module
from casework import Actor, Casework, CaseworkError, GuardRefused, Organisation
from casework.demo import Simulation
from casework.fields import FieldSpec
from casework.organisation import Unit
from casework.workflow import Workflow
from projections import ReadModel
from projections.case_summary import summarise
from projections.filters import Filters
from projections.report import GROUPINGS, report
from projections.tables import case_summary

from .conftest import ORGANISATION, REGISTRY, T0, Clock, at_most, new_app
from .support import summary_rows

# The sample organisation (workflows/organisation/guanlan.csv).
SUBDISTRICT = "guanlan"
GUANCHENG = "guanlan/guancheng"
XINLAN = "guanlan/xinlan"
KUKENG = "guanlan/kukeng"
BLOCK = "guanlan/guancheng/b1"
GRID = "guanlan/guancheng/b1/g1"
BUILDING_GRID = "guanlan/guancheng/b1/g1/bg1"
URBAN_MANAGEMENT = "guanlan/urban-management"
ENTERPRISE_SERVICE = "guanlan/enterprise-service"

CLERK = Actor("intake-desk", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("handler", roles=["handler"])
COMMISSIONER = Actor("commissioner", roles=["commissioner"])
VISITOR = Actor("revisit-team", roles=["visitor"])

NOW = T0 + timedelta(days=30)
"""When the reports of the example tests are read: after everything in them happened."""


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def rate(share: float) -> Any:
    """A share as the report gives it: rounded to four decimal places."""
    return pytest.approx(share, abs=1e-4)


def replay(app: Casework, case_ids: set[str]) -> list[dict[str, Any]]:
    """The summary rows a plain replay computes: ``summarise`` folded over each case's events."""
    rows = []
    for case_id in sorted(case_ids):
        row = None
        for stored in app.events.get(UUID(case_id)):
            row = summarise(row, stored, app.workflows, app.organisation)
        rows.append(row)
    return rows


def all_case_ids(app: Casework) -> set[str]:
    """Every case that has an event in the store, read from the notification log."""
    return {str(n.originator_id) for n in notifications(app)}


def notifications(app: Casework) -> list[Any]:
    return list(app.recorder.select_notifications(start=1, limit=1_000_000))


def replay_first(app: Casework, count: int) -> list[dict[str, Any]]:
    """The summary rows after the first ``count`` events of the notification log."""
    rows: dict[str, dict[str, Any]] = {}
    for notification in notifications(app)[:count]:
        stored = app.mapper.to_domain_event(notification)
        case_id = str(stored.originator_id)
        rows[case_id] = summarise(rows.get(case_id), stored, app.workflows, app.organisation)
    return [rows[case_id] for case_id in sorted(rows)]


@pytest.fixture
def read_model(app: Casework) -> Iterator[ReadModel]:
    model = ReadModel(app)
    yield model
    model.close()


# Petitions and enterprise requests, step by step ---------------------------------------

def petition_in_follow_up(work: Any, opened: datetime, *, grade: str = "C", unit: str = BLOCK,
                          category: str = "road", channel: str = "hotline") -> UUID:
    """Opened, graded, dispatched to ``unit`` and accepted there, one minute apart.

    ``work`` is the application or one of its batches."""
    case_id = work.open_case("petition", CLERK, opened, channel=channel, title=category,
                             location=BUILDING_GRID)
    work.fire(case_id, "assess", CLERK, opened + timedelta(minutes=1), grade=grade,
              category=category)
    work.fire(case_id, "dispatch", CLERK, opened + timedelta(minutes=2), unit=unit)
    work.fire(case_id, "accept", HANDLER, opened + timedelta(minutes=3))
    return case_id


def resolve(work: Any, case_id: UUID, when: datetime) -> None:
    work.fire(case_id, "resolve", HANDLER, when, resolution="done")


def enterprise_request_in_progress(work: Any, opened: datetime, enterprise: str,
                                   category: str = "policy") -> UUID:
    case_id = work.open_case("enterprise_request", CLERK, opened, channel="enterprise_visit",
                             enterprise=enterprise, title=f"{category} request",
                             location=BUILDING_GRID)
    work.fire(case_id, "assess", CLERK, opened + timedelta(hours=1), category=category,
              grade="C")
    work.fire(case_id, "assign", CLERK, opened + timedelta(hours=2), leader="leader-01",
              department=ENTERPRISE_SERVICE, commissioner=COMMISSIONER.id)
    work.fire(case_id, "accept", COMMISSIONER, opened + timedelta(hours=3))
    return case_id


# 1. Incremental = rebuild = replay, for random command sequences ----------------------

ACTORS = [
    Actor("clerk", roles=["intake", "assessor", "dispatcher"]),
    Actor("handler", roles=["handler"]),
    Actor("boss", roles=["supervisor", "mediator"]),
    Actor("resident", roles=["resident"]),
    Actor("vol1", roles=["volunteer"]),
    Actor("vol2", roles=["volunteer"]),
    Actor("org", roles=["organiser"]),
    Actor("visitor", roles=["visitor"]),
    Actor("commissioner", roles=["commissioner"]),
    Actor("enterprise", roles=["enterprise"]),
    Actor("system", roles=["system"]),
]
# Units a case may be dispatched to: every level, so that grades are sometimes refused,
# escalations sometimes leave the community and the filters have something to tell apart.
UNITS = [SUBDISTRICT, GUANCHENG, XINLAN, BLOCK, GRID, "guanlan/xinlan/b2/g3",
         URBAN_MANAGEMENT, ENTERPRISE_SERVICE]
DEPARTMENTS = [URBAN_MANAGEMENT, ENTERPRISE_SERVICE]


def valid_value(spec: FieldSpec, trigger: str, clock: Clock, cases: list[str]
                ) -> st.SearchStrategy[Any]:
    if spec.type in ("string", "text"):
        return st.text(alphabet="ab路灯", min_size=1, max_size=5)
    if spec.type == "integer":
        low = spec.min if spec.min is not None else 1
        return st.integers(low, min(spec.max if spec.max is not None else low + 4, low + 4))
    if spec.type == "number":
        return st.floats(spec.min if spec.min is not None else -1e6,
                         spec.max if spec.max is not None else 1e6)
    if spec.type == "boolean":
        return st.booleans()
    if spec.type == "choice":
        return st.sampled_from(spec.choices)
    if spec.type == "datetime":
        return st.integers(1, 200).map(lambda h: (clock.now + timedelta(hours=h)).isoformat())
    if spec.type == "unit":
        return st.sampled_from(DEPARTMENTS if trigger == "assign" else UNITS)
    assert spec.type == "case", spec.type
    return st.sampled_from(cases)


def valid_fields(data: st.DataObject, specs: dict[str, FieldSpec], trigger: str, clock: Clock,
                 cases: list[str]) -> dict[str, Any]:
    fields = {}
    for name, spec in specs.items():
        if spec.type == "case" and not cases:
            continue
        if spec.required or data.draw(st.booleans(), label=f"give {name}"):
            fields[name] = data.draw(valid_value(spec, trigger, clock, cases), label=name)
    return fields


LOOPS = {"note", "progress", "send_back", "release", "object", "redo"}
"""Triggers that go round in circles."""


def weighted(workflow: Workflow, legal: Iterable[str]) -> list[str]:
    """The legal triggers; those that move a case on, four times over (not those that end it
    early, like reject, merge or cancel, nor those that go round in circles)."""
    def moves_on(name: str) -> bool:
        destination = workflow.states.get(workflow.triggers[name].to)
        return name not in LOOPS and not (destination is not None and destination.terminal
                                          and destination.outcome != "resolved")

    return sorted(legal) + sorted(name for name in legal if moves_on(name)) * 3


def allowed_actor(data: st.DataObject, roles: tuple[str, ...]) -> Actor:
    return data.draw(st.sampled_from([a for a in ACTORS if a.role_for(roles)]), label="actor")


@pytest.mark.slow
@at_most(50)
@given(data=st.data(), page_size=st.integers(1, 4), by=st.sampled_from([None, *GROUPINGS]))
def test_incremental_read_model_equals_rebuild_and_replay(data: st.DataObject, page_size: int,
                                                         by: str | None) -> None:
    """Random walks of a few cases through legal triggers, fired by actors allowed to fire
    them; the read model catches up at random points, a few events per page, so that pages
    split cases' histories. After each catch-up its rows are what a plain replay computes;
    at the end a rebuild changes neither the rows nor the report."""
    clock = Clock()
    app = new_app(clock=clock, snapshot_interval=3)  # snapshots must not reach the rows
    model = ReadModel(app, page_size=page_size)
    cases: list[str] = []
    ended: set[str] = set()
    try:
        for _ in range(data.draw(st.integers(1, 40), label="steps")):
            clock.advance(minutes=data.draw(st.integers(1, 3000), label="minutes later"))
            action = data.draw(st.sampled_from(["open", "fire", "fire", "fire", "catch up"]))
            if (action == "open" and len(cases) < 5) or not cases:
                workflow = REGISTRY.get(data.draw(st.sampled_from(REGISTRY.names())))
                opening = workflow.opening
                cases.append(str(app.open_case(
                    workflow.name, allowed_actor(data, opening.roles),
                    **valid_fields(data, opening.fields, "open", clock, cases))))
            elif action == "fire":
                if not (live := [c for c in cases if c not in ended]):
                    continue
                case = app.get_case(data.draw(st.sampled_from(live), label="case"))
                workflow = app.workflow_of(case)
                legal = workflow.legal_triggers(case.state)
                # Triggers that end a case early (reject, merge, cancel...) come less often,
                # so that cases get deep: escalated, resolved, closed, revisited, reopened.
                trigger = workflow.triggers[data.draw(st.sampled_from(weighted(workflow, legal)))]
                fields = valid_fields(data, trigger.fields, trigger.name, clock, cases)
                try:
                    after = app.fire(case.id, trigger.name, allowed_actor(data, trigger.roles),
                                     **fields)
                except GuardRefused:
                    continue  # refused: nothing recorded, nothing to project
                cases.extend(task for task in after.tasks if task not in cases)
                if not workflow.legal_triggers(after.state):
                    ended.add(str(after.id))
                event(f"{case.kind}: {trigger.name} -> {after.state}")
            else:
                model.catch_up()
                assert summary_rows(model) == replay(app, set(cases))

        model.catch_up()
        assert model.position() == app.recorder.max_notification_id()
        assert all_case_ids(app) == set(cases)
        incremental = summary_rows(model)
        assert incremental == replay(app, set(cases))
        before = report(model, by=by, now=clock.now).as_dict()

        assert model.rebuild() == len(notifications(app))
        assert summary_rows(model) == incremental
        assert report(model, by=by, now=clock.now).as_dict() == before
        assert before["total"] == len(cases)
    finally:
        model.close()
        app.close()


# 2. The figures of DOMAIN.md ----------------------------------------------------------

def test_guanlan_visits_67_petitions_41_resolved_26_followed_up(
        app: Casework, read_model: ReadModel) -> None:
    batch = app.batch()
    ids = [petition_in_follow_up(batch, at(n), channel="door_to_door") for n in range(67)]
    for case_id in ids[:41]:
        resolve(batch, case_id, at(100))
    batch.commit()

    figures = report(read_model, now=NOW).as_dict()

    assert figures["total"] == 67
    assert figures["resolved"] == 41
    assert figures["resolution_rate"] == rate(41 / 67)
    assert figures["by_stage"]["follow_up"] == 26
    assert figures["by_stage"]["close"] == 41
    assert figures["open"] == 26
    assert figures["closed"] == 41
    assert figures["by_kind"] == {"petition": 67}
    assert figures["by_channel"] == {"door_to_door": 67}


def test_pinghu_326_enterprise_requests_317_resolved_9_in_progress(
        app: Casework, read_model: ReadModel) -> None:
    """26-31 May: 324 enterprises visited, 326 requests collected (two enterprises asked for
    two things), 317 resolved, 9 still in progress."""
    batch = app.batch()
    ids = [enterprise_request_in_progress(batch, at(n / 10), f"enterprise-{n % 324:03d}")
           for n in range(326)]
    for case_id in ids[:317]:
        batch.fire(case_id, "resolve", COMMISSIONER, at(48), resolution="served")
    batch.commit()

    figures = report(read_model, now=NOW).as_dict()

    assert figures["total"] == 326
    assert figures["resolved"] == 317
    assert figures["resolution_rate"] == rate(317 / 326)
    assert figures["by_stage"]["follow_up"] == 9
    assert figures["by_state"] == {"in_progress": 9, "resolved": 317}
    assert figures["by_kind"] == {"enterprise_request": 326}
    assert figures["enterprise_requests"]["by_service_category"] == {"policy": 326}


def test_local_resolution_counts_cases_that_never_left_their_community(
        app: Casework, read_model: ReadModel) -> None:
    """小事不出街区,大事不出社区: five resolved petitions, three of them at the grid, block and
    community (one reached the block by escalation from a grid), one escalated from the
    community to the subdistrict, one dispatched to a functional department: 3/5."""
    at_grid = petition_in_follow_up(app, at(0), grade="D", unit=GRID)
    up_to_block = petition_in_follow_up(app, at(0), grade="D", unit=GRID)
    app.fire(up_to_block, "escalate", HANDLER, at(1), reason="needs the block")
    app.fire(up_to_block, "accept", HANDLER, at(2))
    at_community = petition_in_follow_up(app, at(0), grade="B", unit=GUANCHENG)
    up_to_subdistrict = petition_in_follow_up(app, at(0), grade="B", unit=GUANCHENG)
    app.fire(up_to_subdistrict, "escalate", HANDLER, at(1), reason="beyond the community")
    app.fire(up_to_subdistrict, "accept", HANDLER, at(2))
    to_department = petition_in_follow_up(app, at(0), grade="B", unit=URBAN_MANAGEMENT)
    still_open = petition_in_follow_up(app, at(0), grade="C", unit=BLOCK)
    for case_id in (at_grid, up_to_block, at_community, up_to_subdistrict, to_department):
        resolve(app, case_id, at(5))
    assert app.get_case(up_to_subdistrict).unit == SUBDISTRICT
    assert app.get_case(up_to_block).unit == BLOCK
    assert app.get_case(still_open).stage == "follow_up"

    figures = report(read_model, now=NOW).as_dict()

    assert figures["resolved"] == 5
    assert figures["local_resolution_rate"] == rate(3 / 5)
    # By community: the case that went to the subdistrict no longer belongs to Guancheng.
    by_unit = {g["key"]: g for g in report(read_model, by="unit", now=NOW).as_dict()["groups"]}
    assert by_unit[SUBDISTRICT]["local_resolution_rate"] == 0
    assert by_unit[URBAN_MANAGEMENT]["local_resolution_rate"] == 0
    assert by_unit[GRID]["local_resolution_rate"] == 1


def test_deadlines_met_breached_and_open_overdue_by_grade(
        app: Casework, read_model: ReadModel) -> None:
    """Deadlines run from the assessment (Sunday 26 May 17:01 in Shanghai): A 2 elapsed hours,
    B 15 working days (Monday 17 June 18:00), C 7 working days, D 16 working hours (Tuesday
    28 May 18:00, 49 h later). Resolving exactly at the deadline meets it; an open case past
    its deadline is overdue; an open case within it is not judged yet."""
    def graded(grade: str) -> UUID:
        return petition_in_follow_up(app, at(0), grade=grade, unit=GUANCHENG)  # assessed at +1'

    assessed = at(0) + timedelta(minutes=1)
    resolve(app, graded("A"), assessed + timedelta(hours=1, minutes=59))  # met
    resolve(app, graded("A"), assessed + timedelta(hours=3))  # breached
    resolve(app, graded("B"), datetime(2024, 6, 17, 10, 0, tzinfo=UTC))  # met, on the dot
    graded("D")  # still open after 80 h: overdue
    graded("C")  # still open after 80 h, due in June: not judged yet
    resolve(app, graded("D"), assessed + timedelta(hours=50))  # breached
    dispatched_only = app.open_case("petition", CLERK, at(0), channel="hotline", title="late")
    app.fire(dispatched_only, "assess", CLERK, assessed, grade="D", category="road")
    # not even dispatched, 80 h after a deadline 49 h after the assessment: overdue

    sla = report(read_model, now=assessed + timedelta(hours=80)).as_dict()["sla"]

    none = {"met": 0, "breached": 0, "open_overdue": 0}
    assert {k: sla["overall"][k] for k in none} == {"met": 2, "breached": 2, "open_overdue": 2}
    assert sla["overall"]["compliance"] == rate(2 / 6)
    assert {k: sla["A"][k] for k in none} == {"met": 1, "breached": 1, "open_overdue": 0}
    assert {k: sla["B"][k] for k in none} == {"met": 1, "breached": 0, "open_overdue": 0}
    assert {k: sla.get("C", none)[k] for k in none} == none
    assert {k: sla["D"][k] for k in none} == {"met": 0, "breached": 1, "open_overdue": 2}

    # Judged earlier, the D cases still open were within their deadlines.
    early = report(read_model, now=assessed + timedelta(hours=10)).as_dict()["sla"]
    assert early["overall"]["open_overdue"] == 0


def test_hot_spots_are_the_most_frequent_category_and_community_first(
        app: Casework, read_model: ReadModel) -> None:
    """Ordered by count, ties by category then community; only dispatched cases have a
    community."""
    spots = [("road", GUANCHENG)] * 3 + [("noise", XINLAN)] * 2 + [("drainage", GUANCHENG)] * 2
    spots += [("sanitation", KUKENG)]
    for n, (category, community) in enumerate(spots):
        petition_in_follow_up(app, at(n), grade="B", unit=community, category=category)
    undispatched = app.open_case("petition", CLERK, at(0), channel="hotline", title="x")
    app.fire(undispatched, "assess", CLERK, at(1), grade="B", category="sanitation")

    hot = report(read_model, now=NOW).as_dict()["hot_spots"]

    assert [(h["category"], h["community"], h["count"]) for h in hot] == [
        ("road", GUANCHENG, 3),
        ("drainage", GUANCHENG, 2),
        ("noise", XINLAN, 2),
        ("sanitation", KUKENG, 1),
    ]


def test_filter_by_kind(app: Casework, read_model: ReadModel) -> None:
    for n in range(3):
        petition_in_follow_up(app, at(n))
    for n in range(2):
        enterprise_request_in_progress(app, at(n), f"enterprise-{n}")
    app.open_case("volunteer_task", Actor("org", ["organiser"]), at(0), title="listings")

    def total(kind: str | None) -> int:
        return report(read_model, Filters(kind=kind), now=NOW).as_dict()["total"]

    assert (total("petition"), total("enterprise_request"), total("volunteer_task")) == (3, 2, 1)
    assert total(None) == 6
    assert total("no_such_kind") == 0
    petitions = report(read_model, Filters(kind="petition"), now=NOW).as_dict()
    assert petitions["by_kind"] == {"petition": 3}


def test_filter_by_unit_takes_the_unit_and_below_but_not_a_sibling_with_a_longer_name(
        clock: Clock) -> None:
    """The sample organisation has no unit whose path extends a sibling's (b1 and b10 are both
    under Guancheng only here): a unit filter is a path prefix, not a string prefix."""
    organisation = Organisation([
        *ORGANISATION,
        Unit("guanlan/guancheng/b10", "block", "观城社区第10街区"),
        Unit("guanlan/guancheng/b10/g1", "grid", "观城社区第10街区第1网格"),
    ])
    app = new_app(clock=clock, organisation=organisation)
    model = ReadModel(app)
    try:
        petition_in_follow_up(app, at(0), grade="C", unit=BLOCK)
        petition_in_follow_up(app, at(0), grade="D", unit=GRID)
        petition_in_follow_up(app, at(0), grade="C", unit="guanlan/guancheng/b10")
        petition_in_follow_up(app, at(0), grade="D", unit="guanlan/guancheng/b10/g1")
        petition_in_follow_up(app, at(0), grade="B", unit=GUANCHENG)
        petition_in_follow_up(app, at(0), grade="B", unit=XINLAN)
        app.open_case("petition", CLERK, at(0), channel="hotline", title="not dispatched")

        def units(prefix: str) -> list[str]:
            figures = report(model, Filters(unit=prefix), by="unit", now=NOW).as_dict()
            assert figures["total"] == sum(g["total"] for g in figures["groups"])
            return [g["key"] for g in figures["groups"]]

        assert units(BLOCK) == [BLOCK, GRID]
        assert units(BLOCK + "/") == [BLOCK, GRID]
        assert units("guanlan/guancheng/b10") == ["guanlan/guancheng/b10",
                                                  "guanlan/guancheng/b10/g1"]
        assert units(GUANCHENG) == [GUANCHENG, BLOCK, GRID, "guanlan/guancheng/b10",
                                    "guanlan/guancheng/b10/g1"]
        assert units(SUBDISTRICT) == sorted([GUANCHENG, BLOCK, GRID, "guanlan/guancheng/b10",
                                             "guanlan/guancheng/b10/g1", XINLAN])
        assert units("guanlan/guan") == []  # a string prefix of guancheng, not a unit
        assert units(GRID + "/bg1") == []
        assert report(model, now=NOW).as_dict()["total"] == 7
    finally:
        model.close()
        app.close()


def test_filter_since_is_inclusive_and_until_exclusive_whatever_the_time_zone(
        app: Casework, read_model: ReadModel) -> None:
    for day in range(4):
        app.open_case("petition", CLERK, T0 + timedelta(days=day), channel="hotline",
                      title=f"day {day}")
    shenzhen = timezone(timedelta(hours=8))

    def total(since: datetime | None = None, until: datetime | None = None) -> int:
        return report(read_model, Filters(since=since, until=until), now=NOW).as_dict()["total"]

    day1, day3 = T0 + timedelta(days=1), T0 + timedelta(days=3)
    assert total(since=day1) == 3
    assert total(until=day3) == 3
    assert total(since=day1, until=day3) == 2
    assert total(since=day1.astimezone(shenzhen), until=day3.astimezone(shenzhen)) == 2
    assert total(since=day1 + timedelta(seconds=1)) == 2
    assert total(since=day3, until=day1) == 0


@pytest.fixture(scope="module")
def simulated_month() -> Iterator[Casework]:
    """A small simulated month: every kind, state, grade, channel and community."""
    app = new_app()
    Simulation(app, seed=7, petitions=150, enterprise_requests=40, volunteer_tasks=25).run()
    yield app
    app.close()


@pytest.mark.parametrize("by", GROUPINGS)
def test_grouping_splits_the_total_without_losing_or_counting_a_case_twice(
        simulated_month: Casework, by: str) -> None:
    model = ReadModel(simulated_month)
    try:
        figures = report(model, by=by, now=NOW).as_dict()
    finally:
        model.close()
    groups = figures["groups"]
    assert figures["total"] >= 215
    assert len(groups) > 1
    assert len({g["key"] for g in groups}) == len(groups)
    for name in ("total", "open", "closed", "resolved"):
        assert sum(g[name] for g in groups) == figures[name], name
    for stage, count in figures["by_stage"].items():
        assert sum(g["by_stage"][stage] for g in groups) == count
    if by == "kind":
        assert {g["key"]: g["total"] for g in groups} == figures["by_kind"]


def test_satisfaction_and_reopen_rate_after_an_unsatisfied_revisit(
        app: Casework, read_model: ReadModel) -> None:
    """Revisited with 2 out of 5, a case reopens (follow up again), then is resolved again.
    Satisfaction counts each case's latest rating; the reopen rate is the share of cases ever
    closed that were reopened."""
    def closed_case(opened: datetime) -> UUID:
        case_id = petition_in_follow_up(app, opened)
        resolve(app, case_id, opened + timedelta(hours=5))
        app.fire(case_id, "close", CLERK, opened + timedelta(hours=6), confirmed_by="petitioner")
        return case_id

    unhappy = closed_case(at(0))
    happy = closed_case(at(0))
    content = closed_case(at(0))
    not_asked = closed_case(at(0))
    petition_in_follow_up(app, at(0))  # never closed: not in the reopen rate
    app.fire(happy, "revisit", VISITOR, at(80), satisfaction=5)
    app.fire(content, "revisit", VISITOR, at(80), satisfaction=4)
    app.fire(unhappy, "revisit", VISITOR, at(80), satisfaction=2)
    assert app.get_case(unhappy).state == "in_progress"

    reopened = report(read_model, now=NOW).as_dict()
    assert reopened["resolved"] == 3  # the reopened case's resolution no longer counts
    assert reopened["by_stage"]["follow_up"] == 2
    # Nor does its deadline count as met: reopening gave it a new one (grade C, 7 working
    # days from the revisit: 11 June, after the Dragon Boat holiday), in time at 250 h when
    # the never-closed case (due 4 June) is overdue, past at 420 h.
    sla = report(read_model, now=at(250)).as_dict()["sla"]["overall"]
    assert (sla["met"], sla["breached"], sla["open_overdue"]) == (3, 0, 1)
    sla = report(read_model, now=at(420)).as_dict()["sla"]["overall"]
    assert (sla["met"], sla["breached"], sla["open_overdue"]) == (3, 0, 2)

    resolve(app, unhappy, at(90))
    figures = report(read_model, now=NOW).as_dict()

    assert figures["resolved"] == 4
    assert figures["satisfaction"]["count"] == 3
    assert figures["satisfaction"]["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}
    assert figures["satisfaction"]["mean"] == pytest.approx(11 / 3, abs=1e-3)
    assert figures["reopen_rate"] == rate(1 / 4)
    assert not_asked in {UUID(r["id"]) for r in summary_rows(read_model)
                         if r["satisfaction"] is None}


# 3. Crash safety ------------------------------------------------------------------------

def some_history(app: Casework) -> None:
    """Five cases, 16 events, interleaved in the notification log."""
    first = petition_in_follow_up(app, at(0))
    second = petition_in_follow_up(app, at(0), grade="B", unit=GUANCHENG)
    enterprise_request_in_progress(app, at(0), "enterprise-001")
    resolve(app, first, at(5))
    app.fire(second, "escalate", HANDLER, at(6), reason="beyond the community")
    app.open_case("volunteer_task", Actor("org", ["organiser"]), at(7), title="listings",
                  location=GUANCHENG)
    app.open_case("petition", CLERK, at(8), channel="sensor", title="falling object")


@pytest.mark.parametrize("failing_call", [1, 2, 3, 4, 8, 12, 16])
def test_a_projection_that_dies_mid_page_leaves_nothing_half_applied(
        app: Casework, monkeypatch: pytest.MonkeyPatch, failing_call: int) -> None:
    """Pages of 3 events; folding the Nth event fails. The pages before it are kept with their
    tracking position; nothing of the failing page is. Restarted, the projection finishes the
    job and equals a rebuild."""
    some_history(app)
    total = len(notifications(app))
    assert total == 16
    fold = read_model_module.summarise
    calls = 0

    def dies_at_the_nth_event(*args: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == failing_call:
            raise RuntimeError("power cut")
        return fold(*args)

    monkeypatch.setattr(read_model_module, "summarise", dies_at_the_nth_event)
    crashed = ReadModel(app, page_size=3)
    with pytest.raises(Exception, match="power cut"):
        crashed.catch_up()

    kept = 3 * ((failing_call - 1) // 3)  # events of the pages before the failing one
    assert crashed.position() == (notifications(app)[kept - 1].id if kept else 0)
    assert summary_rows(crashed) == replay_first(app, kept)
    crashed.close()

    monkeypatch.setattr(read_model_module, "summarise", fold)
    restarted = ReadModel(app, page_size=3)
    try:
        assert restarted.catch_up() == total - kept
        assert restarted.position() == app.recorder.max_notification_id()
        caught_up = summary_rows(restarted)
        assert caught_up == replay(app, all_case_ids(app))
        assert restarted.rebuild() == total
        assert summary_rows(restarted) == caught_up
    finally:
        restarted.close()


@pytest.mark.parametrize("failing_page", [1, 2, 6])
def test_a_projection_that_dies_between_writing_rows_and_tracking_keeps_neither(
        app: Casework, monkeypatch: pytest.MonkeyPatch, failing_page: int) -> None:
    """The rows of a page and the position that says they are applied are one transaction:
    dying after the rows are written but before the position is, the page's rows are gone
    too, and the next catch-up applies the page once."""
    some_history(app)
    write_position = read_model_module.update
    pages = 0

    def dies_writing_the_nth_position(*args: Any) -> Any:
        nonlocal pages
        pages += 1
        if pages == failing_page:
            raise RuntimeError("power cut")
        return write_position(*args)

    monkeypatch.setattr(read_model_module, "update", dies_writing_the_nth_position)
    model = ReadModel(app, page_size=3)
    try:
        with pytest.raises(Exception, match="power cut"):
            model.catch_up()
        kept = 3 * (failing_page - 1)
        assert model.position() == (notifications(app)[kept - 1].id if kept else 0)
        assert summary_rows(model) == replay_first(app, kept)

        monkeypatch.undo()
        assert model.catch_up() == 16 - kept
        assert summary_rows(model) == replay(app, all_case_ids(app))
    finally:
        model.close()


def test_a_failed_catch_up_after_earlier_ones_keeps_the_earlier_rows(
        app: Casework, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = petition_in_follow_up(app, at(0))
    read_model.catch_up()
    before, position = summary_rows(read_model), read_model.position()

    resolve(app, case_id, at(5))
    app.fire(case_id, "close", CLERK, at(6), confirmed_by="petitioner")

    def broken(*_: Any) -> dict[str, Any]:
        raise RuntimeError("bug in a new projection")

    monkeypatch.setattr(read_model_module, "summarise", broken)
    with pytest.raises(Exception, match="bug in a new projection"):
        read_model.catch_up()
    assert summary_rows(read_model) == before
    assert read_model.position() == position
    assert before[0]["state"] == "in_progress"

    monkeypatch.undo()
    assert read_model.catch_up() == 2
    assert summary_rows(read_model)[0]["state"] == "closed"


def test_two_read_models_on_one_database_file_never_apply_an_event_twice(
        tmp_path: Any, clock: Clock) -> None:
    """Two processes (two applications and read models on one SQLite file) catch up in
    turns while cases keep changing; every event is applied once, by one of them."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    writer, first_app, second_app = new_app(url, clock=clock), new_app(url), new_app(url)
    first, second = ReadModel(first_app, page_size=3), ReadModel(second_app, page_size=2)
    try:
        applied = 0
        for n in range(6):
            case_id = petition_in_follow_up(writer, at(n), grade="B", unit=GUANCHENG)
            applied += first.apply_next_page()
            applied += second.apply_next_page()
            resolve(writer, case_id, at(n + 1))
            applied += second.apply_next_page()
            applied += first.apply_next_page()
        applied += first.catch_up() + second.catch_up()

        total = len(notifications(writer))
        assert applied == total == 30
        assert first.position() == second.position() == writer.recorder.max_notification_id()
        rows = summary_rows(first)
        assert rows == summary_rows(second) == replay(writer, all_case_ids(writer))
        assert first.rebuild() == total
        assert summary_rows(second) == rows
    finally:
        for closing in (first, second, writer, first_app, second_app):
            closing.close()


def test_two_read_models_catching_up_at_the_same_time_share_the_work(
        tmp_path: Any, clock: Clock) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    writer = new_app(url, clock=clock)
    batch = writer.batch()
    for n in range(40):
        petition_in_follow_up(batch, at(n))
    batch.commit()
    apps = [new_app(url), new_app(url)]
    models = [ReadModel(a, page_size=2) for a in apps]
    applied = [0, 0]
    errors: list[BaseException] = []

    def catch_up(index: int) -> None:
        try:
            applied[index] = models[index].catch_up()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=catch_up, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        assert sum(applied) == 160
        assert summary_rows(models[0]) == replay(writer, all_case_ids(writer))
    finally:
        for closing in (*models, *apps, writer):
            closing.close()


# 4. Catching up is cheap when nothing is new ------------------------------------------------

def test_catch_up_with_nothing_new_applies_nothing_and_writes_nothing(
        app: Casework, read_model: ReadModel) -> None:
    assert read_model.catch_up() == 0  # an empty store
    assert read_model.position() == 0
    some_history(app)
    assert read_model.catch_up() == 16
    position, rows = read_model.position(), summary_rows(read_model)

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split()[0].upper())

    sqlalchemy_event.listen(Engine, "before_cursor_execute", record)  # every engine
    try:
        assert read_model.catch_up() == 0
        assert read_model.catch_up() == 0
    finally:
        sqlalchemy_event.remove(Engine, "before_cursor_execute", record)

    assert read_model.position() == position
    assert summary_rows(read_model) == rows
    assert not {"INSERT", "UPDATE", "DELETE"} & set(statements), statements


def test_reading_the_read_model_does_not_hold_up_commands_of_other_processes(
        tmp_path: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a report streams its rows from the read model (a query on its engine, as
    ``report`` runs one), another process's command goes through at once: a SQLite database
    in WAL mode lets readers and a writer work side by side."""
    monkeypatch.setattr(casework.storage, "LOCK_TIMEOUT_SECONDS", 1)  # fail fast, not in 10 s
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    app, other_process = new_app(url, clock=clock), new_app(url, clock=clock)
    model = ReadModel(app)
    try:
        some_history(app)
        model.catch_up()
        with model.engine.connect() as reading:
            assert len(reading.execute(select(case_summary)).all()) == 5
            other_process.open_case("petition", CLERK, at(9), channel="hotline",
                                    title="arrives during the report")
        assert model.catch_up() == 1
    finally:
        for closing in (model, app, other_process):
            closing.close()


def test_a_refused_command_gives_the_projection_nothing_to_do(
        app: Casework, read_model: ReadModel) -> None:
    case_id = petition_in_follow_up(app, at(0))
    read_model.catch_up()
    position = read_model.position()
    with pytest.raises(CaseworkError):
        app.fire(case_id, "close", CLERK, at(1), confirmed_by="petitioner")  # not resolved
    assert read_model.catch_up() == 0
    assert read_model.position() == position
