"""An office's settings (casework.settings, casework config): flag over environment over the
working directory's file over the user's over the default; options before or after the
command; mistakes named with their file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from casework import Casework

from .support import CLERK, assert_one_line_error, invoke


def settings(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "casework.toml"
    path.write_text(text, encoding="utf-8")
    return path


def shown(*args: str, env: dict[str, str] | None = None) -> dict:
    result = invoke(*args, "config", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_each_setting_says_where_it_came_from_flag_over_environment_over_files(
        tmp_path: Path) -> None:
    user = settings(tmp_path / "user-config" / "casework",
                    'database = "sqlite:///user.db"\ntimezone = "Asia/Shanghai"\n'
                    'language = "en"\nactor = "li"\nroles = ["intake"]\n')
    here = settings(tmp_path, 'database = "sqlite:///office.db"\n')
    values = shown()
    assert values["database"] == {"value": "sqlite:///office.db", "source": f"file {here}"}
    assert values["timezone"] == {"value": "Asia/Shanghai", "source": f"file {user}"}
    assert values["actor"]["value"] == "li" and values["roles"]["value"] == ["intake"]
    assert values["files"] == [str(here), str(user)]
    from_env = shown(env={"CASEWORK_DB": "sqlite:///env.db", "CASEWORK_TIMEZONE": "UTC",
                          "CASEWORK_ACTOR": "wang@guanlan/guancheng:handler"})
    assert from_env["database"]["source"] == "environment CASEWORK_DB"
    assert from_env["timezone"] == {"value": "UTC", "source": "environment CASEWORK_TIMEZONE"}
    assert (from_env["actor"]["value"], from_env["unit"]["value"], from_env["roles"]["value"]) \
        == ("wang", "guanlan/guancheng", ["handler"])
    flagged = shown("--db", "sqlite:///flag.db", "--tz", "Europe/Paris", "--actor", "zhao",
                    env={"CASEWORK_DB": "sqlite:///env.db"})
    assert flagged["database"] == {"value": "sqlite:///flag.db", "source": "flag --db"}
    assert flagged["timezone"]["source"] == "flag --timezone"
    assert flagged["actor"]["value"] == "zhao" and flagged["roles"]["value"] == []
    only = settings(tmp_path / "elsewhere", 'language = "zh"\n')
    chosen = shown("--config", str(only))
    assert chosen["language"] == {"value": "zh", "source": f"file {only}"}
    assert chosen["database"] == {"value": "sqlite:///casework.db", "source": "default"}


def test_options_may_stand_before_or_after_the_command_and_the_file_names_the_database(
        tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'office.db'}"
    Casework(db).open_case("petition", CLERK, channel="hotline", title="Broken cover")
    before = invoke("--db", db, "report", "--json")
    after = invoke("report", "--json", "--db", db)
    assert before.exit_code == after.exit_code == 0
    assert json.loads(before.stdout)["total"] == json.loads(after.stdout)["total"] == 1
    settings(tmp_path, f'database = "{db}"\nactor = "li"\nroles = ["intake", "assessor"]\n')
    assert json.loads(invoke("report", "--json").stdout)["total"] == 1
    case = invoke("cases", "-q").stdout.split()[0]
    fired = invoke("fire", case[:8], "assess", "grade=B", "category=road")
    assert fired.exit_code == 0, fired.stderr
    history = invoke("history", case, "--json")
    assert json.loads(history.stdout)[-1]["actor"] == "li"  # who the settings file says
    assert invoke("--db", "sqlite:///nowhere.db", "report").exit_code == 7  # the flag wins


@pytest.mark.parametrize("text, fragment", [
    ('databse = "x"\n', "unknown setting 'databse'"),
    ("database = \n", "not valid TOML"),
    ('timezone = "Mars/Olympus"\n', "timezone 'Mars/Olympus'"),
    ('language = "fr"\n', "language 'fr'"),
    ("roles = 3\n", "roles must be a list"),
])
def test_a_bad_settings_file_is_one_line_naming_it(tmp_path: Path, text: str,
                                                   fragment: str) -> None:
    settings(tmp_path, text)
    assert_one_line_error(invoke("config"), 2, fragment)


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    assert_one_line_error(invoke("--config", str(tmp_path / "none.toml"), "config"), 2,
                          "no settings file")


def test_the_time_zone_is_the_offices_unless_a_setting_says_otherwise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not the machine's: a server in UTC shows Shenzhen's office its own days and times."""
    monkeypatch.chdir(tmp_path)
    shown = invoke("config", "--json", env={"TZ": "America/New_York",
                                            "CASEWORK_TIMEZONE": None}).stdout
    assert json.loads(shown)["timezone"]["value"] == "Asia/Shanghai"
    chosen = invoke("config", "--json", env={"CASEWORK_TIMEZONE": "Europe/Berlin"}).stdout
    assert json.loads(chosen)["timezone"]["value"] == "Europe/Berlin"
