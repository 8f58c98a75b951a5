"""Lists and queues (projections.case_list, casework cases): every filter, every order, every
page, the named queues, and an actor's reach, checked against what the engine itself says
case by case (allowed_triggers, the report, the sweep)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from casework import Actor, Casework, InvalidField
from projections import ReadModel
from projections.batch_jobs import sweep_job
from projections.case_list import CaseQuery, CaseRow, list_cases
from projections.filters import CaseFilter, Filters
from projections.report import report
from projections.tables import case_summary

from .conftest import database
from .support import assert_one_line_error, invoke, simulated

NOW = datetime(2024, 6, 1, 0, 0, tzinfo=UTC)
"""The end of the simulated month: after every event, as a list is read."""
MID = datetime(2024, 5, 16, tzinfo=UTC)
COMMUNITY = "guanlan/guancheng"
CLERK = Actor("intake-desk", roles=["intake", "assessor", "dispatcher"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Casework, ReadModel]]:
    """A small simulated month (about 250 cases in every state), read model caught up."""
    backend = request.param
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('lists') / 'cases.db'}"
        context = None
    else:
        context = database("postgresql")
        url = context.__enter__()
    app = simulated(url)
    read_model = ReadModel(app)
    read_model.catch_up()
    yield app, read_model
    read_model.close()
    app.close()
    if context is not None:
        context.__exit__(None, None, None)


def rows(read_model: ReadModel) -> list[dict]:
    with read_model.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(case_summary))]


def every(read_model: ReadModel, query: CaseQuery, actor: Actor | None = None,
          size: int = 7) -> list[CaseRow]:
    """Every row of the query, page after page by cursor."""
    found, cursor = [], None
    while True:
        page = list_cases(read_model, CaseQuery(
            query.where, query.queue, query.sort, size, 1, cursor, query.now, query.zone,
            count=False), actor)
        found += page.rows
        cursor = page.next_cursor
        if cursor is None:
            return found


def ids(found: list[CaseRow]) -> set[str]:
    return {str(row.id) for row in found}


def test_each_filter_selects_exactly_the_rows_that_meet_it(store) -> None:
    _app, read_model = store
    all_rows = rows(read_model)
    conditions = {
        "kind": ("petition", lambda r: r["kind"] == "petition"),
        "state": ("in_progress", lambda r: r["state"] == "in_progress"),
        "stage": ("close", lambda r: r["stage"] == "close"),
        "unit": (COMMUNITY, lambda r: (r["unit"] or "").startswith(COMMUNITY + "/")
                 or r["unit"] == COMMUNITY),
        "channel": ("hotline", lambda r: r["channel"] == "hotline"),
        "grade": ("B", lambda r: r["grade"] == "B"),
        "category": ("noise", lambda r: r["category"] == "noise"),
        "status": ("closed", lambda r: r["stage"] in ("close", "revisit")),
        "text": ("NOISE guancheng", lambda r: "noise" in (r["title"] or "").lower()
                 and "guancheng" in (r["title"] or "")),
        "reopened": (True, lambda r: r["reopens"] > 0),
        "opened_after": (MID, lambda r: r["opened_at"] >= MID.replace(tzinfo=None)),
        "closed_before": (MID, lambda r: r["closed_at"] is not None
                          and r["closed_at"] < MID.replace(tzinfo=None)),
    }
    for name, (value, meets) in conditions.items():
        expected = {r["id"] for r in all_rows if meets(r)}
        assert expected, name  # the month has such cases: the filter is tested, not vacuous
        found = every(read_model, CaseQuery(CaseFilter(**{name: value}), now=NOW), size=50)
        assert ids(found) == expected, name


def test_assignee_is_who_took_the_case_on_last(store) -> None:
    app, read_model = store
    row = next(r for r in rows(read_model) if r["kind"] == "enterprise_request"
               and r["assignee"])
    commissioner = row["assignee"]
    assert commissioner.startswith("commissioner-")  # the assign trigger's field
    found = every(read_model, CaseQuery(CaseFilter(assignee=commissioner), now=NOW))
    assert row["id"] in ids(found)
    accepted = next(r for r in rows(read_model) if r["kind"] == "petition" and r["assignee"])
    last_accept = [e for e in app.history(accepted["id"]) if e.trigger == "accept"][-1]
    assert accepted["assignee"] == last_accept.actor  # the actor who accepted


def test_overdue_lists_exactly_what_the_report_counts_as_open_overdue(store) -> None:
    _app, read_model = store
    for unit in (None, COMMUNITY, "guanlan/xinlan", "guanlan/guancheng/b1"):
        figures = report(read_model, Filters(unit=unit), now=NOW)
        found = every(read_model, CaseQuery(CaseFilter(unit=unit), queue="overdue", now=NOW))
        assert len(found) == figures.figures.sla["overall"].open_overdue, unit
        assert all(row.overdue and row.stage in ("collect", "assess", "dispatch", "follow_up")
                   for row in found)
    assert every(read_model, CaseQuery(queue="overdue", now=NOW))  # not vacuous


def test_due_within_and_due_today_are_open_cases_in_time_with_a_deadline_in_the_window(
        store) -> None:
    _app, read_model = store
    # A working day (deadlines in working time fall on working days): Thursday 30 May.
    thursday = datetime(2024, 5, 30, 0, 0, tzinfo=UTC)
    days = thursday + timedelta(days=7)
    found = every(read_model, CaseQuery(CaseFilter(due_after=thursday, due_before=days),
                                        now=thursday))
    assert len(found) > 1
    assert all(thursday <= row.deadline < days and not row.overdue for row in found)
    shanghai = ZoneInfo("Asia/Shanghai")  # 00:00 UTC is 08:00 there: the day ends in 16 hours
    today = every(read_model, CaseQuery(queue="due-today", now=thursday, zone=shanghai))
    in_16_hours = [row for row in found if row.deadline < thursday + timedelta(hours=16)]
    assert today and ids(today) == ids(in_16_hours)
    in_utc = every(read_model, CaseQuery(queue="due-today", now=thursday, zone=UTC))
    in_a_day = [row for row in found if row.deadline < thursday + timedelta(days=1)]
    assert ids(in_utc) == ids(in_a_day)  # midnight in UTC: the whole next day


def test_to_revisit_is_what_the_sweep_lists_for_the_revisit_team(store) -> None:
    app, read_model = store
    found = every(read_model, CaseQuery(queue="to-revisit", now=NOW))
    summary = sweep_job(app, NOW).run(app, dry_run=True)
    listed = {entry["case"] for entry in summary.listed if entry["due"] == "revisit"}
    assert found and ids(found) == listed


@pytest.mark.parametrize("actor", [
    CLERK,
    Actor("handler@guanlan/guancheng", roles=["handler"], unit=COMMUNITY),
    Actor("boss", roles=["supervisor"], unit="guanlan/xinlan"),
    Actor("mediation-centre", roles=["mediator"]),
], ids=lambda actor: actor.id)
def test_mine_is_every_case_the_actor_may_act_on_now_with_what_they_may_do(
        store, actor: Actor) -> None:
    app, read_model = store
    found = every(read_model, CaseQuery(queue="mine", now=NOW), actor, size=25)
    expected = {}
    for row in rows(read_model):
        allowed = app.allowed_triggers(row["id"], actor)
        if allowed:
            expected[row["id"]] = tuple(allowed)
    assert expected
    assert {str(row.id): row.actions for row in found} == expected


def test_an_actor_bound_to_a_unit_sees_only_their_reach_whatever_the_query(store) -> None:
    app, read_model = store
    grid_worker = Actor("chen", roles=["handler"], unit="guanlan/guancheng/b1")
    for query in (CaseQuery(now=NOW), CaseQuery(CaseFilter(status="closed"), now=NOW),
                  CaseQuery(queue="overdue", now=NOW)):
        found = every(read_model, query, grid_worker)
        for row in found:
            assert grid_worker.reaches(app.load_case(row.id).jurisdiction)
    seen = every(read_model, CaseQuery(CaseFilter(), now=NOW), grid_worker)
    assert 0 < len(seen) < len(rows(read_model))


@pytest.mark.parametrize("sort", ["deadline", "age", "last-change"])
def test_pages_by_cursor_and_by_number_give_every_case_once_in_order(store, sort: str) -> None:
    _app, read_model = store
    by_cursor = every(read_model, CaseQuery(sort=sort, now=NOW), size=13)
    by_number = []
    for number in range(1, 1000):
        page = list_cases(read_model, CaseQuery(sort=sort, now=NOW, limit=13, page=number))
        if not page.rows:
            break
        assert page.total == len(rows(read_model)) and page.offset == (number - 1) * 13
        by_number += page.rows
    assert [r.id for r in by_cursor] == [r.id for r in by_number]
    assert len(ids(by_cursor)) == len(rows(read_model))
    open_first = [row.stage in ("collect", "assess", "dispatch", "follow_up") for row in by_cursor]
    assert open_first == sorted(open_first, reverse=True)  # open cases come first
    for status in (True, False):
        part = [row for row, is_open in zip(by_cursor, open_first, strict=True)
                if is_open == status]
        if sort == "age":
            keys = [(row.opened_at, str(row.id)) for row in part]
            assert keys == sorted(keys)
        elif sort == "last-change":
            keys = [(row.updated_at, str(row.id)) for row in part]
            assert keys == sorted(keys, reverse=True)
        else:
            dated = [row for row in part if row.deadline is not None]
            assert part[:len(dated)] == dated  # cases without a deadline last
            keys = [(row.deadline, str(row.id)) for row in dated]
            assert keys == sorted(keys)


def test_a_list_refuses_what_does_not_exist_and_says_what_does(store) -> None:
    _app, read_model = store
    with pytest.raises(InvalidField, match="did you mean guanlan/guancheng"):
        list_cases(read_model, CaseQuery(CaseFilter(unit="guanlan/guanchen")))
    with pytest.raises(InvalidField, match="no state 'in-progress'"):
        list_cases(read_model, CaseQuery(CaseFilter(state="in-progress")))
    with pytest.raises(InvalidField, match="not a cursor"):
        list_cases(read_model, CaseQuery(after="nonsense"))
    with pytest.raises(InvalidField, match="say who acts"):
        list_cases(read_model, CaseQuery(queue="mine"))
    with pytest.raises(InvalidField, match="does not exist"):
        list_cases(read_model, CaseQuery(), Actor("x", ["handler"], unit="guanlan/nowhere"))


# The command line ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'cases.db'}"
    simulated(url, seed=2024, petitions=600).close()
    return url


def test_cases_overdue_in_a_community_are_the_reports_open_overdue(demo_db: str) -> None:
    now = "2024-06-01T08:00+08:00"
    listed = invoke("cases", "--overdue", "--unit", COMMUNITY, "--now", now, "--json",
                    "--limit", "1000", "--db", demo_db)
    figures = invoke("report", "--unit", COMMUNITY, "--now", now, "--json", "--db", demo_db)
    assert listed.exit_code == 0, listed.stderr
    overdue = json.loads(figures.stdout)["sla"]["overall"]["open_overdue"]
    page = json.loads(listed.stdout)
    assert overdue > 0 and page["total"] == overdue == len(page["cases"])


def test_a_clerk_finds_what_waits_for_them_and_acts_on_it_without_knowing_an_id(
        demo_db: str, tmp_path) -> None:
    settings = tmp_path / "casework.toml"
    settings.write_text(f'database = "{demo_db}"\nactor = "wang"\n'
                        f'unit = "{COMMUNITY}"\nroles = ["handler"]\n', encoding="utf-8")
    table = invoke("cases", "mine", "--config", str(settings))
    assert table.exit_code == 0, table.stderr
    assert "you may" in table.stdout.splitlines()[0]
    first = invoke("--config", str(settings), "cases", "mine", "-q").stdout.split()[0]
    shown = invoke("show", first[:8], "--config", str(settings))
    assert "may:" in shown.stdout
    may = shown.stdout.rsplit("may:", 1)[1].split(",")[0].strip()
    assert may in ("accept", "note", "escalate", "resolve", "close", "object", "mediate",
                   "send_back", "mediation_failed", "mediation_succeeded", "spawn_task",
                   "contact", "request_material", "material_received")


def test_cases_as_csv_and_json_carry_the_same_rows(demo_db: str) -> None:
    as_json = json.loads(invoke("cases", "--all", "--limit", "50", "--json", "--db",
                                demo_db).stdout)
    as_csv = list(csv.DictReader(io.StringIO(
        invoke("cases", "--all", "--limit", "50", "--csv", "--db", demo_db).stdout)))
    assert [row["id"] for row in as_csv] == [case["id"] for case in as_json["cases"]]
    assert len(as_csv) == 50 and as_json["next_cursor"]
    after = invoke("cases", "--all", "--limit", "50", "--after", as_json["next_cursor"],
                   "--json", "--db", demo_db)
    following = json.loads(after.stdout)["cases"]
    assert following and not {c["id"] for c in following} & {r["id"] for r in as_csv}


@pytest.mark.parametrize("args, code, fragment", [
    (["cases", "mine"], 2, "say who acts"),
    (["cases", "--unit", "guanlan/economy"], 2, "casework units guanlan --depth 1"),
    (["cases", "--due-within", "soon"], 2, "not a duration"),
    (["cases", "--after", "xyz"], 2, "not a cursor"),
    (["cases", "--state", "in-progress"], 2, "no state 'in-progress'"),
])
def test_cases_mistakes_are_one_line(demo_db: str, args: list[str], code: int,
                                     fragment: str) -> None:
    assert_one_line_error(invoke(*args, "--db", demo_db), code, fragment)
