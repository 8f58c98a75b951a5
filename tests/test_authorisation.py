"""Who may do what: roles come from the workflow; an actor bound to a unit sees and acts only
on the cases at that unit or below it (a grid worker on the grid's cases, a community
supervisor on everything in the community). A refusal names the actor, role, trigger and
case, and records nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from click.testing import CliRunner, Result

from casework import Actor, Casework, InvalidField, PermissionDenied
from cli import cli

from .support import petition_v2, running_v1_then_v2

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
COMMUNITY = "guanlan/guancheng"
GRID = "guanlan/guancheng/b1/g1"
OTHER_GRID = "guanlan/guancheng/b1/g2"
OTHER_COMMUNITY_GRID = "guanlan/xinlan/b1/g1"

CLERK = Actor("li.na", roles=["intake", "assessor", "dispatcher"])
GRID_HANDLER = Actor("chen.jie", roles=["handler"], unit=GRID)
OTHER_GRID_HANDLER = Actor("he.ping", roles=["handler"], unit=OTHER_GRID)
COMMUNITY_SUPERVISOR = Actor("gao.lan", roles=["supervisor"], unit=COMMUNITY)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def dispatched_to(app: Casework, unit: str, grade: str = "D") -> UUID:
    case_id = app.open_case("petition", CLERK, at(0), channel="hotline", title="Leaking pipe",
                            location=unit)
    app.fire(case_id, "assess", CLERK, at(0.1), grade=grade, category="water")
    app.fire(case_id, "dispatch", CLERK, at(0.2), unit=unit)
    return case_id


def test_a_handler_acts_on_the_cases_of_their_own_grid(app: Casework) -> None:
    case_id = dispatched_to(app, GRID)
    allowed = app.allowed_triggers(case_id, GRID_HANDLER)
    assert sorted(allowed) == ["accept", "contact", "escalate", "send_back"]
    assert app.fire(case_id, "accept", GRID_HANDLER, at(1)).state == "in_progress"


def test_a_handler_of_another_grid_is_refused_and_nothing_is_recorded(app: Casework) -> None:
    case_id = dispatched_to(app, GRID)
    before = app.history(case_id)

    with pytest.raises(PermissionDenied) as refused:
        app.fire(case_id, "accept", OTHER_GRID_HANDLER, at(1))

    message = str(refused.value)
    for named in ("he.ping", "handler", "accept", str(case_id), GRID, OTHER_GRID):
        assert named in message
    assert app.history(case_id) == before
    assert app.allowed_triggers(case_id, OTHER_GRID_HANDLER) == []


def test_a_supervisor_acts_below_their_level_but_not_beside_it(app: Casework) -> None:
    below = dispatched_to(app, GRID)
    beside = dispatched_to(app, OTHER_COMMUNITY_GRID)

    assert app.fire(below, "accept", COMMUNITY_SUPERVISOR, at(1)).state == "in_progress"
    with pytest.raises(PermissionDenied):
        app.fire(beside, "accept", COMMUNITY_SUPERVISOR, at(1))
    assert app.get_case(beside).state == "dispatched"


def test_a_case_escalated_above_the_handler_leaves_their_reach(app: Casework) -> None:
    case_id = dispatched_to(app, GRID)
    app.fire(case_id, "accept", GRID_HANDLER, at(1))
    app.fire(case_id, "escalate", GRID_HANDLER, at(2), reason="needs the block")

    assert app.get_case(case_id).unit == "guanlan/guancheng/b1"
    assert app.allowed_triggers(case_id, GRID_HANDLER) == []
    with pytest.raises(PermissionDenied):
        app.fire(case_id, "accept", GRID_HANDLER, at(3))
    assert app.fire(case_id, "accept", COMMUNITY_SUPERVISOR, at(3)).state == "in_progress"


def test_a_bound_actor_sees_only_the_cases_within_reach(app: Casework) -> None:
    case_id = dispatched_to(app, GRID)

    assert app.get_case(case_id, actor=GRID_HANDLER).unit == GRID
    assert len(app.history(case_id, actor=COMMUNITY_SUPERVISOR)) == 3
    with pytest.raises(PermissionDenied, match="see"):
        app.get_case(case_id, actor=OTHER_GRID_HANDLER)
    with pytest.raises(PermissionDenied, match="see"):
        app.history(case_id, actor=OTHER_GRID_HANDLER)
    with pytest.raises(PermissionDenied, match="see"):
        app.get_case(case_id, as_of=at(0.15), actor=OTHER_GRID_HANDLER)


def test_intake_bound_to_a_community_opens_cases_located_in_it_only(app: Casework) -> None:
    station = Actor("xu.min", roles=["intake"], unit=COMMUNITY)

    inside = app.open_case("petition", station, at(0), channel="service_station",
                           title="Noise at night", location=GRID)
    unplaced = app.open_case("petition", station, at(0), channel="service_station",
                             title="Where do I apply for a permit?")
    with pytest.raises(PermissionDenied, match="outside"):
        app.open_case("petition", station, at(0), channel="service_station",
                      title="Blocked drain", location=OTHER_COMMUNITY_GRID)

    assert app.get_case(inside).state == app.get_case(unplaced).state == "collected"


def test_a_case_placed_nowhere_yet_is_open_to_every_unit(app: Casework) -> None:
    """Nothing says where it belongs until intake gives a location or it is dispatched."""
    case_id = app.open_case("petition", CLERK, at(0), channel="hotline", title="A question")
    assessor = Actor("ma.li", roles=["assessor"], unit=OTHER_GRID)
    assert app.fire(case_id, "assess", assessor, at(1), grade="D", category="info").state \
        == "assessed"


def test_an_actor_bound_to_no_such_unit_is_a_clear_error(app: Casework) -> None:
    case_id = dispatched_to(app, GRID)
    typo = Actor("chen.jie", roles=["handler"], unit="guanlan/guancheng/b1/g99")
    with pytest.raises(InvalidField, match="g99"):
        app.fire(case_id, "accept", typo, at(1))


def test_a_supervisor_migrates_only_the_cases_within_reach(tmp_path: Path) -> None:
    old, app = running_v1_then_v2(tmp_path, petition_v2(tmp_path))
    below, beside = dispatched_to(old, GRID), dispatched_to(old, OTHER_COMMUNITY_GRID)

    batch = app.batch()
    assert batch.migrate(below, 2, COMMUNITY_SUPERVISOR, at(1)).version == 2
    with pytest.raises(PermissionDenied):
        batch.migrate(beside, 2, COMMUNITY_SUPERVISOR, at(1))
    batch.commit()
    assert app.get_case(beside).version == 1


# The command line ------------------------------------------------------------------------


def casework(*args: str, db: Path, env: dict[str, str] | None = None) -> Result:
    """The command line in-process, with no CASEWORK_* from outside but these."""
    environment = {"CASEWORK_DB": f"sqlite:///{db}", "CASEWORK_ACTOR": None, **(env or {})}
    return CliRunner().invoke(cli, list(args), env=environment, prog_name="casework")


@pytest.fixture
def dispatched_case(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "cases.db"
    app = Casework(f"sqlite:///{db}")
    case_id = dispatched_to(app, GRID)
    app.close()
    return db, str(case_id)


def test_cli_actor_at_unit_is_refused_outside_it_with_one_line_and_exit_5(
        dispatched_case: tuple[Path, str]) -> None:
    db, case_id = dispatched_case

    refused = casework("fire", case_id, "accept", "--actor", f"he.ping@{OTHER_GRID}",
                       "--role", "handler", db=db)

    assert refused.exit_code == 5
    assert refused.stderr.count("\n") == 1
    assert "he.ping" in refused.stderr and "accept" in refused.stderr
    accepted = casework("fire", case_id, "accept", "--json", db=db,
                        env={"CASEWORK_ACTOR": f"chen.jie@{GRID}:handler"})
    assert accepted.exit_code == 0, accepted.stderr
    assert json.loads(accepted.stdout)["state"] == "in_progress"


def test_cli_show_and_history_refuse_a_case_outside_the_actors_unit(
        dispatched_case: tuple[Path, str]) -> None:
    db, case_id = dispatched_case

    for command in ("show", "history"):
        outside = casework(command, case_id, "--actor", f"he.ping@{OTHER_GRID}", db=db)
        inside = casework(command, case_id, "--actor", f"gao.lan@{COMMUNITY}", db=db)
        assert outside.exit_code == 5 and "see" in outside.stderr
        assert inside.exit_code == 0, inside.stderr
