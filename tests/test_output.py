"""Output that respects a person: what fire says, history in full and to the terminal's width,
workflows show, when a report was judged, units with their names, errors that suggest the
unit meant, --quiet, and shell completion."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from casework import Actor, Casework, InvalidField

from .support import CLERK, HANDLER, T0, assert_one_line_error, invoke

GRID = "guanlan/guancheng/b1/g2"
LONG_NOTE = "called the road team; " * 12 + "THE END"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cases.db'}"


@pytest.fixture
def case(db: str) -> str:
    app = Casework(db)
    case_id = app.open_case("petition", CLERK, T0, channel="hotline", title="Broken cover",
                            location=GRID)
    app.fire(case_id, "assess", CLERK, T0, grade="B", category="road")
    app.close()
    return str(case_id)


def test_fire_says_the_state_unit_deadline_and_spawned_case(db: str, case: str) -> None:
    tz = ["--tz", "Asia/Shanghai", "--db", db]
    dispatched = invoke("fire", case[:8], "dispatch", "unit=guanlan/guancheng", "--actor", "li",
                        "--role", "dispatcher", "--at", "2024-05-06T09:30:00+00:00", *tz)
    assert dispatched.exit_code == 0, dispatched.stderr
    assert dispatched.stdout.splitlines() == [
        f"{case}  dispatch: now dispatched (dispatch)",
        "  unit      guanlan/guancheng",
        "  deadline  2024-05-24 18:00 Asia/Shanghai (grade B)"]  # 15 working days later
    invoke("fire", case, "accept", "--actor", "wang", "--role", "handler", *tz)
    spawned = invoke("fire", case, "spawn_task", "title=Help", "--actor", "wang", "--role",
                     "handler", *tz)
    task = spawned.stdout.splitlines()[-1].split()
    assert task[:2] == ["spawned", "volunteer_task"]
    assert Casework(db).get_case(task[2]).kind == "volunteer_task"
    quiet = invoke("fire", case, "note", "note=x", "--actor", "wang", "--role", "handler",
                   "-q", *tz)
    assert quiet.exit_code == 0 and quiet.stdout == ""


def test_history_fits_the_terminal_and_full_shows_every_value(db: str, case: str) -> None:
    app = Casework(db)
    app.fire(case, "dispatch", CLERK, T0, unit="guanlan/guancheng")
    app.fire(case, "accept", HANDLER, T0)
    app.fire(case, "note", HANDLER, T0, note=LONG_NOTE)
    app.close()
    short = invoke("history", case, "--db", db, env={"COLUMNS": "120"}).stdout
    assert all(len(line) <= 120 for line in short.splitlines())
    assert "THE END" not in short and "..." in short
    full = invoke("history", case, "--full", "--db", db, env={"COLUMNS": "120"}).stdout
    assert all(len(line) <= 120 for line in full.splitlines())
    assert "THE END" in full
    assert " ".join(full.split()).count("called the road team;") == 12


def test_workflows_show_gives_descriptions_branches_choices_and_ranges() -> None:
    text = invoke("workflows", "show", "petition").stdout
    assert "The return visit (回访) asks the petitioner the questionnaire" in text
    assert "→ in_progress instead when unsatisfied (reopen)" in text
    assert "satisfaction: an integer 1..5" in text
    assert "rating: one of satisfied, basically_satisfied, unsatisfied" in text
    assert "channel (required): one of hotline, mini_program" in text
    data = json.loads(invoke("workflows", "show", "petition", "--json").stdout)
    revisit = next(t for t in data["triggers"] if t["name"] == "revisit")
    assert revisit["branches"] == [{"when": "not_reached", "to": "=", "effects": []},
                                   {"when": "unsatisfied", "to": "in_progress",
                                    "effects": ["reopen"]}]
    assert revisit["fields"]["satisfaction"]["min"] == 1
    assert revisit["fields"]["satisfaction"]["max"] == 5
    assert revisit["description"].startswith("The return visit (回访)")
    assert data["grades"]["A"] == {"resolve": "2h", "contact": "1h", "min_level": "community"}


def test_the_report_says_when_it_was_judged(db: str, case: str) -> None:
    text = invoke("report", "--now", "2024-06-01T00:00+00:00", "--tz", "Asia/Shanghai",
                  "--db", db).stdout
    assert "judged at 2024-06-01 08:00 Asia/Shanghai" in text.splitlines()[-1]


def test_units_lists_names_levels_and_parents() -> None:
    listed = invoke("units", "guanlan", "--depth", "1").stdout.splitlines()
    assert listed[0].split() == ["path", "level", "name", "parent"]
    assert ["guanlan/guancheng", "community", "观城社区", "guanlan"] in [
        line.split() for line in listed]
    assert all(line.count("/") <= 2 for line in listed[2:])
    tree = invoke("units", "guanlan/guancheng/b1", "--tree", "--depth", "1").stdout
    assert tree.splitlines()[:2] == ["b1  观城社区第1街区  (block)",
                                     "  g1  观城社区第1街区第1网格  (grid)"]
    data = json.loads(invoke("units", "nyc", "--json").stdout)
    assert {"path": "nyc/nypd", "level": "department", "parent": "nyc",
            "name": "New York City Police Department (NYPD)"} in data


@pytest.mark.parametrize("args, fragment", [
    (["units", "guanlan/guanchen"], "did you mean guanlan/guancheng (观城社区)"),
    (["units", "观城社区"], "did you mean guanlan/guancheng (观城社区)"),
    (["report", "--unit", "guanlan/economy"], "casework units guanlan --depth 1"),
])
def test_an_unknown_unit_suggests_the_nearest(tmp_path: Path, args: list[str],
                                             fragment: str) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    Casework(db).open_case("petition", CLERK, channel="hotline", title="x")
    assert_one_line_error(invoke(*args, "--db", db), 2, fragment)


def test_unknown_units_in_fields_and_actors_suggest_the_nearest(app: Casework) -> None:
    case_id = app.open_case("petition", CLERK, T0, channel="hotline", title="x")
    app.fire(case_id, "assess", CLERK, T0, grade="C", category="road")
    with pytest.raises(InvalidField, match=r"did you mean guanlan/guancheng/b1 \("):
        app.fire(case_id, "dispatch", CLERK, T0, unit="guanlan/guancheng/b01")
    with pytest.raises(InvalidField, match=r"bound to a unit that does not exist.*did you mean"):
        app.allowed_triggers(case_id, Actor("wang", ["handler"], unit="guanlan/guanchen"))


def complete(args: str, env_db: str | None = None) -> list[str]:
    words = f"casework {args}"
    env = {"_CASEWORK_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    if env_db:
        env["CASEWORK_DB"] = env_db
    result = invoke(env=env)
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_shell_completion_offers_kinds_units_cases_and_legal_triggers(db: str,
                                                                     case: str) -> None:
    assert complete("open pet") == ["petition"]
    assert "guanlan/guancheng" in complete("cases --unit guanlan/guan")
    assert "guanlan/guancheng/b1" not in complete("cases --unit guanlan/guan")  # one level
    assert complete(f"show {case[:5]}", db) == [case]
    assert set(complete(f"fire {case[:8]} ", db)) == {"dispatch", "merge", "reject"}


def test_a_time_given_with_an_offset_is_shown_with_that_offset(tmp_path: Path) -> None:
    """Not as "UTC+08:00", which reads as a time in UTC."""
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    shenzhen = timezone(timedelta(hours=8))
    app = Casework(db)
    case = str(app.open_case("petition", CLERK, T0.astimezone(shenzhen), channel="hotline",
                             title="Street light out"))
    app.close()
    history = invoke("history", case, "--db", db).stdout
    assert f"{T0.astimezone(shenzhen):%Y-%m-%d %H:%M} +08:00" in history
    assert "UTC+08:00" not in history


def test_a_report_without_cases_has_no_empty_lines(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    app = Casework(db)
    app.open_case("petition", CLERK, T0, channel="hotline", title="Street light out")
    app.close()
    shown = invoke("report", "--db", db, "--since", "2030-01-01").stdout
    assert "all cases" in shown
    assert not [line for line in shown.splitlines() if line.strip() in ("channels", "kinds")]


def test_a_missing_argument_is_named(tmp_path: Path) -> None:
    result = invoke("fire", "--db", f"sqlite:///{tmp_path / 'cases.db'}")
    assert result.exit_code == 2
    assert_one_line_error(result, 2, "Missing argument 'CASE'")
