"""The city's demo: a year of a district of Guanlan-shaped subdistricts, through the engine."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from casework.city import CityPlan, city_organisation
from cli import cli


def run(*args: str, **env: str | None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"CASEWORK_DB": None, **env},
                              prog_name="casework")


def test_a_city_is_tens_of_subdistricts_each_shaped_like_guanlan() -> None:
    city = city_organisation(3)
    for root in ("d01", "d02", "d03"):
        below = [unit for unit in city if unit.path.startswith(root + "/")]
        levels = [unit.level for unit in below]
        assert (levels.count("community"), levels.count("block"), levels.count("grid"),
                levels.count("building_grid"), levels.count("department")) == (
            10, 60, 304, 840, 11)
    assert city["d02"].level == "subdistrict"
    assert city.parent("d02/guancheng") == "d02"


def test_the_city_demo_simulates_a_year_of_every_subdistrict(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'city.db'}"
    per_month = ("--petitions", "6", "--enterprise-requests", "2", "--volunteer-tasks", "1")

    done = run("demo", "--scale", "city", "--subdistricts", "2", *per_month, "--db", db,
               "--json")

    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    plan = CityPlan.of(2, (6, 2, 1))
    assert (plan.petitions, plan.enterprise_requests, plan.volunteer_tasks) == (141, 47, 23)
    by_kind = result["report"]["by_kind"]
    assert by_kind["petition"] == plan.petitions
    assert by_kind["enterprise_request"] == plan.enterprise_requests
    assert by_kind["volunteer_task"] >= plan.volunteer_tasks  # and those petitions spawned
    assert result["peak_mb"] > 0

    # The generated organisation is written beside the database, for later commands.
    organisation = tmp_path / "city.organisation.csv"
    env = {"CASEWORK_ORGANISATION": str(organisation)}
    for root in ("d01", "d02"):
        report = run("report", "--db", db, "--unit", root, "--json", **env)
        assert report.exit_code == 0, report.output
        assert json.loads(report.stdout)["total"] > 0
    # The whole year, the cases spread over it.
    december = run("report", "--db", db, "--since", "2024-12-01T00:00+08:00", "--json", **env)
    assert 0 < json.loads(december.stdout)["total"] < plan.cases / 6
    text = run("demo", "--scale", "city", "--subdistricts", "1", *per_month, "--db",
               f"sqlite:///{tmp_path / 'one.db'}")
    assert text.exit_code == 0, text.output
    assert "A district of 1 Guanlan-shaped subdistrict, 2024 (seed 2024)" in text.stdout
    assert "peak memory" in text.stdout and "CASEWORK_ORGANISATION=" in text.stdout
