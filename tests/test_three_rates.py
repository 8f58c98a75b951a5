"""The revisit questionnaire, the three rates (三率) and each unit's account, as an office
reads them in ``casework report``: by the definitions, for the unit that held the case."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from casework import Actor, Casework
from casework.assessment import AssessmentRules, assessment_rules
from casework.errors import SettingsError
from projections import ReadModel
from projections.explain_rates import explain_rates
from projections.filters import Filters
from projections.report import report
from projections.tables import unit_ledger
from projections.three_rates import RANKINGS, grouped_rates, overall_rates, unit_accounts

from .conftest import REGISTRY_V1, T0, new_app
from .support import invoke

CLERK = Actor("intake-desk", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("handler", roles=["handler", "supervisor"])
VISITOR = Actor("revisit-team", roles=["visitor"])
GRID = "guanlan/guancheng/b1/g1"
BLOCK = "guanlan/guancheng/b1"
OTHER_GRID = "guanlan/xinlan/b1/g1"
NOW = T0 + timedelta(days=60)


@pytest.fixture
def read_model(app: Casework) -> Iterator[ReadModel]:
    model = ReadModel(app)
    yield model
    model.close()


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def closed_petition(app: Casework, unit: str = GRID, category: str = "road",
                    start: float = 0, escalate: bool = False) -> UUID:
    """A grade-D petition dispatched to ``unit``, taken on (and escalated to its parent, which
    takes it on) and resolved, closed."""
    case_id = app.open_case("petition", CLERK, at(start), channel="hotline", title=category)
    app.fire(case_id, "assess", CLERK, at(start), grade="D", category=category)
    app.fire(case_id, "dispatch", CLERK, at(start + 1), unit=unit)
    app.fire(case_id, "accept", HANDLER, at(start + 2))
    if escalate:
        app.fire(case_id, "escalate", HANDLER, at(start + 3), reason="beyond us")
        app.fire(case_id, "accept", HANDLER, at(start + 4))
    app.fire(case_id, "resolve", HANDLER, at(start + 5), resolution="fixed")
    app.fire(case_id, "close", CLERK, at(start + 6), confirmed_by="petitioner")
    return case_id


def visit(app: Casework, case_id: UUID, hours: float = 80, **answers: Any) -> Any:
    return app.fire(case_id, "revisit", VISITOR, at(hours), **answers)


# The questionnaire ------------------------------------------------------------------------

def test_a_petitioner_who_says_not_solved_sends_the_case_back_to_the_unit_that_resolved_it(
        app: Casework) -> None:
    case_id = closed_petition(app, BLOCK)
    view = visit(app, case_id, valid=True, contacted=True, solved=False,
                 rating="basically_satisfied")
    assert (view.state, view.unit, view.reopens) == ("in_progress", BLOCK, 1)


def test_unsatisfied_reopens_and_solved_and_basically_satisfied_closes(app: Casework) -> None:
    unhappy, content = closed_petition(app), closed_petition(app)
    assert visit(app, unhappy, valid=True, contacted=True, solved=True,
                 rating="unsatisfied").state == "in_progress"
    assert visit(app, content, valid=True, contacted=True, solved=True,
                 rating="basically_satisfied").state == "revisited"


def test_a_visit_that_reaches_nobody_leaves_the_case_due_another(app: Casework) -> None:
    case_id = closed_petition(app)
    assert visit(app, case_id, valid=False).state == "closed"
    assert visit(app, case_id, 100, valid=True, contacted=True, solved=True,
                 rating="satisfied").state == "revisited"


def test_the_older_score_still_works_and_maps_onto_the_levels(app: Casework,
                                                              read_model: ReadModel) -> None:
    """A revisit as recorded before the questionnaire (a score only) is still accepted: 1 or
    2 reopens; the rates do not count it (nobody asked if it was solved), the 1–5 figures of
    ``satisfaction`` do."""
    low, high = closed_petition(app), closed_petition(app)
    assert visit(app, low, satisfaction=2).state == "in_progress"
    assert visit(app, high, satisfaction=3).state == "revisited"
    figures = report(read_model, now=NOW).figures
    assert figures.three_rates is not None
    assert (figures.three_rates.valid, figures.three_rates.response_rate) == (0, None)
    assert figures.satisfaction.count == 2


# The definitions --------------------------------------------------------------------------

def test_the_three_rates_follow_their_definitions(app: Casework,
                                                  read_model: ReadModel) -> None:
    answers = [  # contacted, solved, rating
        (True, True, "satisfied"), (True, True, "satisfied"),
        (True, True, "basically_satisfied"), (True, False, "basically_satisfied"),
        (False, False, "unsatisfied")]
    for contacted, solved, rating in answers:
        visit(app, closed_petition(app), valid=True, contacted=contacted, solved=solved,
              rating=rating)
    visit(app, closed_petition(app), valid=False)  # not reached: not in the denominator
    consultation = closed_petition(app, category="consultation")  # not assessed
    visit(app, consultation, valid=True, contacted=False, solved=False, rating="unsatisfied")

    data = json.loads(json.dumps(report(read_model, now=NOW).as_dict()))

    assert data["three_rates"] == {
        "visits": 6, "valid": 5, "contacted": 4, "solved": 3, "satisfied": 2,
        "basically_satisfied": 2, "unsatisfied": 1,
        "response_rate": 0.8, "resolution_rate": 0.6,
        "satisfaction_rate": 0.76,               # (2 + 0.9 × 2) ÷ 5
        "composite": 68.4}                       # 100 × (0.1 × 0.8 + 0.5 × 0.6 + 0.4 × 0.76)
    assert data["handler_resolution_rate"] == data["resolution_rate"]
    assert data["assessment"]["basic_weight"] == 0.9


def test_weights_and_f_are_settings(app: Casework, read_model: ReadModel) -> None:
    visit(app, closed_petition(app), valid=True, contacted=True, solved=False,
          rating="basically_satisfied")
    rules = AssessmentRules(basic_weight=0.8, weights={"response": 30, "resolution": 35,
                                                      "satisfaction": 35})
    read_model.catch_up()
    rates = overall_rates(read_model, Filters(), rules)
    assert (rates.satisfaction_rate, rates.composite) == (0.8, 58.0)  # 30 + 0 + 35 × 0.8


def test_the_assessment_month_starts_on_the_day_the_settings_say(tmp_path: Any) -> None:
    db = f"sqlite:///{tmp_path / 'month.db'}"
    app = new_app(db)
    visit(app, closed_petition(app), hours=24 * 12, valid=True, contacted=True, solved=True,
          rating="satisfied")  # 7 June 2024 (T0 is 26 May)
    app.close()
    june = json.loads(invoke("report", "--db", db, "--month", "2024-06", "--json").stdout)
    assert june["three_rates"]["valid"] == 1
    (tmp_path / "casework.toml").write_text("[assessment]\nmonth_starts_on = 19\n")
    may = json.loads(invoke("report", "--db", db, "--month", "2024-06", "--json").stdout)
    assert may["three_rates"]["valid"] == 1  # 19 May to 18 June
    july = json.loads(invoke("report", "--db", db, "--month", "2024-07", "--json").stdout)
    assert july["three_rates"]["valid"] == 0
    assert july["assessment"]["month_starts_on"] == 19


def test_a_wrong_assessment_setting_is_one_line_and_exit_status(tmp_path: Any) -> None:
    (tmp_path / "casework.toml").write_text("[assessment]\nmonth_starts_on = 31\n")
    result = invoke("report", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.exit_code != 0
    assert "month_starts_on must be a day 1..28" in result.stderr
    assert "Traceback" not in result.stderr
    (tmp_path / "casework.toml").unlink()
    result = invoke("report", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--month", "2024-13")
    assert result.exit_code == 2
    assert "is not a month such as" in result.stderr



def test_assessment_weights_that_are_not_a_table_are_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="assessment weights are response"):
        assessment_rules({"weights": 1}, "casework.toml")


# Each unit's account ----------------------------------------------------------------------

def test_responsibility_goes_to_the_unit_that_held_the_case(database_url: str) -> None:
    """The grid escalates a case past its deadline to the block, which resolves it; the
    petitioner is not satisfied: the grid answers for the breach and the escalation, the
    block for receiving it, resolving it (in time: by the deadline it was given) and the
    revisit. Recorded under version 1 of the petition (grade D: 24 elapsed hours)."""
    app = new_app(database_url, workflows=REGISTRY_V1)
    read_model = ReadModel(app)
    case_id = app.open_case("petition", CLERK, at(0), channel="hotline", title="drain")
    app.fire(case_id, "assess", CLERK, at(0), grade="D", category="drainage")
    app.fire(case_id, "dispatch", CLERK, at(1), unit=GRID)
    app.fire(case_id, "accept", HANDLER, at(3))
    app.fire(case_id, "escalate", HANDLER, at(30), reason="too big")  # past the 24 hours
    app.fire(case_id, "accept", HANDLER, at(31))
    app.fire(case_id, "resolve", HANDLER, at(40), resolution="rebuilt")
    app.fire(case_id, "close", CLERK, at(41), confirmed_by="petitioner")
    visit(app, case_id, valid=True, contacted=True, solved=True, rating="unsatisfied")

    accounts = {a.key: a for a in report(read_model, by="unit", now=NOW).assessment.ranking}

    grid, block = accounts[GRID], accounts[BLOCK]
    assert (grid.received, grid.contacted_in_time, grid.escalated_up, grid.breaches,
            grid.held_hours) == (1, 1, 1, 1, 29.0)
    assert (block.received, block.from_below, block.resolved_in_time, block.sent_back,
            block.held_hours) == (1, 1, 1, 1, 10.0)
    assert (block.three_rates.valid, block.three_rates.unsatisfied) == (1, 1)
    assert grid.three_rates.valid == 0 and grid.rank is None
    read_model.close()
    app.close()


def test_report_by_unit_ranks_the_units_by_composite_score(tmp_path: Any) -> None:
    db = f"sqlite:///{tmp_path / 'rank.db'}"
    app = new_app(db)
    visit(app, closed_petition(app, GRID), valid=True, contacted=True, solved=False,
          rating="unsatisfied")
    visit(app, closed_petition(app, OTHER_GRID), valid=True, contacted=True, solved=True,
          rating="satisfied")
    app.close()

    data = json.loads(invoke("report", "--db", db, "--by", "unit", "--json").stdout)
    assert [(a["rank"], a["key"]) for a in data["ranking"]] == [(1, OTHER_GRID), (2, GRID)]
    assert data["ranking"][0]["three_rates"]["composite"] == 100.0
    rows = list(csv.DictReader(io.StringIO(
        invoke("report", "--db", db, "--by", "unit", "--csv").stdout)))
    assert [(r["group"], r["rates_valid_visits"], r["rates_resolution"]) for r in rows] == [
        ("all", "2", "0.5"), (GRID, "1", "0.0"), (OTHER_GRID, "1", "1.0")]
    text = invoke("report", "--db", db, "--by", "community").stdout
    assert "ranking by community" in text
    ranked = text[text.index("ranking by community"):].splitlines()
    assert ranked[3].split()[:2] == ["1", "guanlan/xinlan"]
    assert ranked[4].split()[:2] == ["2", "guanlan/guancheng"]


# Properties -------------------------------------------------------------------------------

UNITS = [GRID, BLOCK, OTHER_GRID, "guanlan/guancheng", "guanlan/xinlan"]
answers = st.fixed_dictionaries({}, optional={
    "valid": st.booleans(), "contacted": st.booleans(), "solved": st.booleans(),
    "rating": st.sampled_from(["satisfied", "basically_satisfied", "unsatisfied"]),
    "satisfaction": st.integers(1, 5)})
a_case = st.tuples(st.sampled_from(UNITS), st.booleans(), st.lists(answers, max_size=3),
                   st.sampled_from(["road", "consultation"]))


@hypothesis_settings(max_examples=50)  # each example builds its cases through the engine
@given(cases=st.lists(a_case, min_size=1, max_size=6))
def test_rates_stay_in_bounds_units_add_up_and_a_rebuild_gives_the_same_accounts(
        cases: list[Any]) -> None:
    app = new_app()
    try:
        _run(app, cases)
        with ReadModel(app) as read_model:
            read_model.catch_up()
            rules = AssessmentRules()
            overall = overall_rates(read_model, Filters(), rules)
            for rate in (overall.response_rate, overall.resolution_rate,
                         overall.satisfaction_rate):
                assert rate is None or 0 <= rate <= 1
            assert overall.composite is None or 0 <= overall.composite <= 100
            for by in RANKINGS:
                parts = grouped_rates(read_model, Filters(), rules, by).values()
                for name in ("visits", "valid", "contacted", "solved", "satisfied",
                             "basically_satisfied", "unsatisfied"):
                    assert sum(getattr(p, name) for p in parts) == getattr(overall, name)
            before = _accounts(read_model)
            read_model.rebuild()
            assert _accounts(read_model) == before
    finally:
        app.close()


def _run(app: Casework, cases: list[Any]) -> None:
    """Each case dispatched to its unit, maybe escalated, resolved, closed and visited with
    each set of answers while it is closed (a reopened case is resolved again)."""
    for number, (unit, escalate, visits, category) in enumerate(cases):
        case_id = closed_petition(app, unit, category, start=number, escalate=escalate)
        for hours, fields in enumerate(visits, start=100):
            view = visit(app, case_id, hours, **fields)
            if view.state == "in_progress":
                app.fire(case_id, "resolve", HANDLER, at(hours + 0.3), resolution="again")
                app.fire(case_id, "close", CLERK, at(hours + 0.5), confirmed_by="petitioner")
            elif view.state == "revisited":
                break


def _accounts(read_model: ReadModel) -> tuple[Any, ...]:
    with read_model.engine.connect() as conn:
        rows = conn.execute(select(unit_ledger).order_by(
            unit_ledger.c.case_id, unit_ledger.c.version, unit_ledger.c.unit)).all()
    rules = AssessmentRules()
    return (tuple(tuple(row) for row in rows),
            *(tuple(unit_accounts(read_model, Filters(), rules, by)) for by in RANKINGS))


def test_a_past_report_and_its_verification_keep_the_three_rates(tmp_path: Any) -> None:
    """``--as-of`` replays the events into a scratch model: its units' ledger too; a saved
    report of one assessment month verifies by the month and rules it names."""
    db = f"sqlite:///{tmp_path / 'past.db'}"
    app = new_app(db)
    visit(app, closed_petition(app), hours=80, valid=True, contacted=True, solved=True,
          rating="satisfied")
    visit(app, closed_petition(app, OTHER_GRID), hours=24 * 12, valid=True, contacted=False,
          solved=False, rating="unsatisfied")
    app.close()
    past = json.loads(invoke("report", "--db", db, "--as-of", (T0 + timedelta(days=5))
                             .isoformat(), "--by", "unit", "--json").stdout)
    assert (past["three_rates"]["valid"], past["ranking"][0]["key"]) == (1, GRID)

    saved = tmp_path / "may.json"
    saved.write_text(invoke("report", "--db", db, "--by", "unit", "--month", "2024-05",
                            "--json").stdout)
    assert json.loads(saved.read_text())["three_rates"]["valid"] == 1
    result = invoke("report", "--db", db, "--verify", str(saved))
    assert result.exit_code == 0, result.output


COUNTS = ("visits", "valid", "contacted", "solved", "satisfied", "basically_satisfied",
          "unsatisfied")


def test_explain_lists_the_revisits_behind_each_count_of_the_three_rates(
        tmp_path: Any) -> None:
    """Every count, overall and of every unit, is as long as its list of revisits: a case
    visited twice twice, a consultation or a visit that reached nobody not among the valid
    ones; the rates are ratios of counts, and the message says which to explain."""
    db = f"sqlite:///{tmp_path / 'explain.db'}"
    app = new_app(db)
    visit(app, closed_petition(app, GRID), valid=True, contacted=True, solved=True,
          rating="satisfied")
    twice = closed_petition(app, OTHER_GRID)
    visit(app, twice, 80, valid=True, contacted=True, solved=False, rating="unsatisfied")
    app.fire(twice, "resolve", HANDLER, at(81), resolution="again")
    app.fire(twice, "close", CLERK, at(82), confirmed_by="petitioner")
    visit(app, twice, 90, valid=True, contacted=False, solved=True,
          rating="basically_satisfied")
    visit(app, closed_petition(app, GRID, category="consultation"), valid=True,
          contacted=True, solved=True, rating="satisfied")
    visit(app, closed_petition(app, BLOCK), valid=False)
    app.close()

    data = json.loads(invoke("report", "--db", db, "--by", "unit", "--json").stdout)
    groups = {"overall": data["three_rates"],
              **{account["key"]: account["three_rates"] for account in data["ranking"]}}
    assert set(groups) == {"overall", GRID, OTHER_GRID, BLOCK}
    for group, rates in groups.items():
        for count in COUNTS:
            path = f"three_rates.{group}.{count}"
            result = invoke("report", "--db", db, "--by", "unit", "--explain", path, "--json")
            assert result.exit_code == 0, result.output
            listed = json.loads(result.stdout)["revisits"]
            assert len(listed) == rates[count], path
            assert all(r["trigger"] == "revisit" for r in listed)
            assert group == "overall" or {r["unit"] for r in listed} <= {group}
    twice_listed = json.loads(invoke("report", "--db", db, "--by", "unit", "--explain",
                                     f"three_rates.{OTHER_GRID}.valid", "--json").stdout)
    assert [(r["case"], r["solved"], r["satisfaction"]) for r in twice_listed["revisits"]] == [
        (str(twice), False, "unsatisfied"), (str(twice), True, "basically_satisfied")]
    text = invoke("report", "--db", db, "--explain", "three_rates.solved").stdout
    assert text.splitlines()[0] == "three_rates.solved: 2 revisits"

    for path, message in (
            ("three_rates.overall.response_rate", "is a ratio of counts; explain "
             "three_rates.overall.contacted and three_rates.overall.valid"),
            (f"three_rates.{GRID}.solved", "give the --by it was grouped by"),
            ("three_rates.overall.late", "has no count 'late'")):
        result = invoke("report", "--db", db, "--explain", path)
        assert result.exit_code == 2, path
        assert message in result.stderr and len(result.stderr.splitlines()) == 1
    result = invoke("report", "--db", db, "--by", "unit", "--explain",
                    "three_rates.guanlan/nowhere.valid")
    assert (result.exit_code, result.stderr.strip()) == (
        2, "casework: field '--explain': the report by unit has no group "
           "'guanlan/nowhere'")


def test_the_revisits_explained_are_as_many_as_each_count_on_both_back_ends(
        app: Casework, read_model: ReadModel) -> None:
    visit(app, closed_petition(app, GRID), valid=True, contacted=True, solved=False,
          rating="basically_satisfied")
    visit(app, closed_petition(app, OTHER_GRID), valid=True, contacted=False, solved=True,
          rating="satisfied")
    visit(app, closed_petition(app, BLOCK, category="consultation"), valid=True)
    read_model.catch_up()
    rules = AssessmentRules()
    by_unit = grouped_rates(read_model, Filters(), rules, "unit")
    for group, rates in {"overall": overall_rates(read_model, Filters(), rules),
                         **by_unit}.items():
        for count, name in zip(COUNTS, ("visits", "valid", "contacted", "solved", "satisfied",
                                        "basically_satisfied", "unsatisfied"), strict=True):
            listed = list(explain_rates(read_model, Filters(), f"three_rates.{group}.{count}",
                                        "unit", rules, None))
            assert len(listed) == getattr(rates, name), (group, count)


def test_explain_of_a_month_counts_the_revisits_of_that_month(tmp_path: Any) -> None:
    db = f"sqlite:///{tmp_path / 'month.db'}"
    app = new_app(db)
    visit(app, closed_petition(app), hours=80, valid=True, contacted=True, solved=True,
          rating="satisfied")
    visit(app, closed_petition(app, OTHER_GRID), hours=24 * 40, valid=True, contacted=True,
          solved=True, rating="satisfied")
    app.close()
    month = (T0 + timedelta(hours=80)).strftime("%Y-%m")
    data = json.loads(invoke("report", "--db", db, "--month", month, "--json").stdout)
    result = invoke("report", "--db", db, "--month", month, "--explain",
                    "three_rates.overall.solved", "--json")
    assert len(json.loads(result.stdout)["revisits"]) == data["three_rates"]["solved"] == 1
    saved = tmp_path / "month.json"
    saved.write_text(invoke("report", "--db", db, "--month", month, "--by", "community",
                            "--json").stdout)
    result = invoke("report", "--db", db, "--verify", str(saved), "--explain",
                    "three_rates.guanlan/guancheng.solved", "--json")
    assert result.exit_code == 0, result.output
    explained = json.loads(result.stdout)["explain"]
    assert [r["unit"] for r in explained["revisits"]] == [GRID]
