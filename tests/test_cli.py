"""The command line, as a user drives it: every command, and every mistake a user can make.

A mistake gives exactly one line on stderr, starting with ``casework:``, no traceback, and the
exit code documented in ``casework --help``; nothing is recorded.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner, Result

from casework import Actor, Casework
from cli import cli

from .support import assert_one_line_error

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)

BLOCK = "guanlan/guancheng/b1"
GRID = "guanlan/guancheng/b1/g1"
BUILDING_GRID = "guanlan/guancheng/b1/g1/bg1"
XINLAN = "guanlan/xinlan"
KUKENG = "guanlan/kukeng"
ENTERPRISE_SERVICE = "guanlan/enterprise-service"

CLERK = Actor("li.na", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("chen.jie", roles=["handler"])
COMMISSIONER = Actor("he.qiang", roles=["commissioner"])

# Two ids that share their first four characters, for the prefix tests.
DISPATCHED = UUID("abcd0000-0000-4000-8000-000000000001")
CLOSED = UUID("abcd1111-0000-4000-8000-000000000002")
UNKNOWN = "ffffffff-ffff-4fff-8fff-ffffffffffff"

REPORT_KEYS = {"total", "open", "closed", "by_stage", "by_state", "by_kind", "resolved",
               "resolution_rate", "local_resolution_rate", "sla", "time_to_close_hours",
               "satisfaction", "reopen_rate", "hot_spots", "groups"}
NOW = "2024-06-01T00:00:00+00:00"


def hours(n: float) -> str:
    return (T0 + timedelta(hours=n)).isoformat()


class Cases:
    """A database with four known cases, made through the Python API."""

    def __init__(self, url: str) -> None:
        self.url = url
        app = Casework(url)
        try:
            # Opened T0, graded C at +1 h, dispatched to a block at +2 h.
            app.open_case("petition", CLERK, T0, case_id=DISPATCHED, channel="hotline",
                          title="Broken manhole cover", location=BUILDING_GRID)
            app.fire(DISPATCHED, "assess", CLERK, hours(1), grade="C", category="road")
            app.fire(DISPATCHED, "dispatch", CLERK, hours(2), unit=BLOCK)
            # Opened a day later, resolved and closed in Xinlan.
            app.open_case("petition", CLERK, hours(24), case_id=CLOSED, channel="walk_in",
                          title="Noise at night", location=BUILDING_GRID)
            app.fire(CLOSED, "assess", CLERK, hours(25), grade="B", category="noise")
            app.fire(CLOSED, "dispatch", CLERK, hours(26), unit=XINLAN)
            app.fire(CLOSED, "accept", HANDLER, hours(27))
            app.fire(CLOSED, "resolve", HANDLER, hours(30), resolution="quiet now")
            app.fire(CLOSED, "close", CLERK, hours(31), confirmed_by="petitioner")
            # Graded A, waiting to be dispatched.
            self.urgent = app.open_case("petition", CLERK, hours(40), channel="sensor",
                                        title="Falling object", location=BUILDING_GRID)
            app.fire(self.urgent, "assess", CLERK, hours(40.5), grade="A",
                     category="falling_objects")
            # An enterprise request two days in, followed up by a department.
            self.request = app.open_case("enterprise_request", CLERK, hours(48),
                                         channel="enterprise_visit", enterprise="enterprise-007",
                                         title="Needs a loan", location=BUILDING_GRID)
            app.fire(self.request, "assess", CLERK, hours(49), category="investment_financing",
                     grade="C")
            app.fire(self.request, "assign", CLERK, hours(50), leader="leader-01",
                     department=ENTERPRISE_SERVICE, commissioner=COMMISSIONER.id)
            app.fire(self.request, "accept", COMMISSIONER, hours(51))
            # A volunteer task in Kukeng, three days in.
            self.task = app.open_case("volunteer_task", Actor("lin.yu", ["organiser"]),
                                      hours(72), title="Collect rental listings",
                                      location=KUKENG)
        finally:
            app.close()

    def events(self, case_id: UUID | str) -> int:
        app = Casework(self.url)
        try:
            return len(app.history(case_id))
        finally:
            app.close()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cases.db'}"


@pytest.fixture
def cases(db: str) -> Cases:
    return Cases(db)


Run = Callable[..., Result]


@pytest.fixture
def run() -> Run:
    """``run(*args, env={...})``: casework in-process, with no CASEWORK_* from outside."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        clean: dict[str, str | None] = {"CASEWORK_DB": None, "CASEWORK_ACTOR": None}
        return runner.invoke(cli, list(args), env={**clean, **(env or {})},
                             prog_name="casework")

    return invoke


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.stderr, result.exception)
    return result.stdout


def data(result: Result) -> Any:
    return json.loads(ok(result))


# Help and version ---------------------------------------------------------------------

def test_help_lists_every_command_and_the_exit_codes(run: Run) -> None:
    text = ok(run("--help"))
    for command in ("demo", "open", "fire", "show", "history", "report", "rebuild", "project",
                    "workflows"):
        assert f"  {command} " in text, command
    assert "Exit codes" in text
    for code in range(8):
        assert f"  {code}  " in text


def test_version_prints_the_package_version(run: Run) -> None:
    """Whether casework is pip-installed or run from a checkout."""
    text = ok(run("--version"))
    try:
        assert metadata.version("casework") in text
    except metadata.PackageNotFoundError:
        assert "version" in text


# The demo -----------------------------------------------------------------------------

def small_demo(run: Run, url: str, *extra: str) -> Result:
    return run("demo", "--petitions", "60", "--enterprise-requests", "15",
               "--volunteer-tasks", "10", "--db", url, *extra)


def test_demo_simulates_a_month_prints_the_report_and_one_petitions_history(
        run: Run, db: str) -> None:
    text = ok(small_demo(run, db))
    assert "Guanlan subdistrict, May 2024 (seed 2024)" in text
    assert "all cases" in text and "resolution" in text and "by stage" in text
    assert "One petition's history" in text
    assert "from → to" in text and "collected" in text and "assess" in text

    figures = data(run("report", "--json", "--db", db, "--now", NOW))
    assert figures["by_kind"]["petition"] == 60
    assert figures["by_kind"]["enterprise_request"] == 15
    assert figures["by_kind"]["volunteer_task"] >= 10  # and those petitions spawned
    sample = text.split("casework history ")[1].split()[0]
    history = data(run("history", sample, "--json", "--db", db))
    assert history[0]["trigger"] == "open"
    assert "revisit" in [entry["trigger"] for entry in history]


def test_demo_json_is_the_report_of_the_month(run: Run, db: str) -> None:
    result = data(small_demo(run, db, "--json", "--seed", "7"))
    assert result["seed"] == 7
    assert result["commands"] > 85
    assert set(result["report"]) >= REPORT_KEYS
    assert result["report"]["by_kind"]["petition"] == 60
    assert result["report"]["by"] == "kind"


def test_the_same_seed_gives_the_same_month(run: Run, tmp_path: Path) -> None:
    first = data(small_demo(run, f"sqlite:///{tmp_path / 'a.db'}", "--json"))
    second = data(small_demo(run, f"sqlite:///{tmp_path / 'b.db'}", "--json"))
    assert first["report"] == second["report"]


def test_demo_refuses_a_database_that_already_has_events(run: Run, cases: Cases) -> None:
    before = data(run("report", "--json", "--db", cases.url, "--now", NOW))
    assert_one_line_error(small_demo(run, cases.url), 2, "already has events")
    assert data(run("report", "--json", "--db", cases.url, "--now", NOW)) == before


# Cases: open, fire, show, history -----------------------------------------------------

def test_open_prints_the_new_case_id(run: Run, db: str) -> None:
    text = ok(run("open", "petition", "--actor", "li", "--role", "intake", "--db", db,
                  "-f", "channel=hotline", "-f", "title=Broken manhole cover",
                  "-f", f"location={BUILDING_GRID}", "--at", T0.isoformat()))
    case_id = UUID(text.strip())
    case = data(run("show", str(case_id), "--json", "--db", db))
    assert case["state"] == "collected"
    assert case["fields"]["title"] == "Broken manhole cover"
    assert case["opened_at"] == T0.isoformat()


def test_open_json_and_the_database_from_the_environment(run: Run, db: str) -> None:
    env = {"CASEWORK_DB": db, "CASEWORK_ACTOR": "li:intake"}
    case = data(run("open", "enterprise_request", "--json", "-f", "channel=online",
                    "-f", "enterprise=enterprise-001", "-f", "title=Needs space", env=env))
    assert case["kind"] == "enterprise_request"
    assert case["state"] == "received"
    history = data(run("history", case["id"], "--json", env=env))
    assert [(e["actor"], e["role"], e["trigger"]) for e in history] == [("li", "intake", "open")]


def test_fire_as_the_actor_named_in_the_environment(run: Run, cases: Cases) -> None:
    env = {"CASEWORK_ACTOR": "wang:handler,supervisor"}
    text = ok(run("fire", str(DISPATCHED), "accept", "--db", cases.url, "--at", hours(3),
                  env=env))
    assert "accept: now in_progress (follow_up)" in text
    last = data(run("history", str(DISPATCHED), "--json", "--db", cases.url))[-1]
    assert (last["actor"], last["role"], last["trigger"]) == ("wang", "handler", "accept")


def test_fire_with_actor_and_roles_given_as_options(run: Run, cases: Cases) -> None:
    case = data(run("fire", str(DISPATCHED), "accept", "--actor", "chen", "--role",
                    "resident,supervisor", "--db", cases.url, "--json"))
    assert case["state"] == "in_progress"
    case = data(run("fire", str(DISPATCHED)[:8], "note", "note=visited the site", "--actor",
                    "chen", "--role", "handler", "--db", cases.url, "--json"))
    assert case["state"] == "in_progress"
    assert "note" not in case["fields"]  # the note's, not the case's
    history = data(run("history", str(DISPATCHED), "--json", "--db", cases.url))
    assert history[-1]["fields"] == {"note": "visited the site"}
    assert [(e["actor"], e["role"]) for e in history[-2:]] == [("chen", "supervisor"),
                                                              ("chen", "handler")]


def test_an_actor_option_overrides_the_environment_and_its_roles(run: Run,
                                                                 cases: Cases) -> None:
    """--actor names someone else than CASEWORK_ACTOR: that person has only the --role
    roles, not the environment's."""
    env = {"CASEWORK_ACTOR": "wang:handler"}
    assert_one_line_error(run("fire", str(DISPATCHED), "accept", "--actor", "zhao",
                              "--db", cases.url, env=env), 5, "permission denied", "zhao")
    assert cases.events(DISPATCHED) == 3


def test_show_says_what_the_actor_may_do_next(run: Run, cases: Cases) -> None:
    case = data(run("show", str(DISPATCHED), "--json", "--actor", "chen", "--role", "handler",
                    "--db", cases.url))
    assert case["state"] == "dispatched"
    assert case["stage"] == "dispatch"
    assert case["unit"] == BLOCK
    assert case["grade"] == "C"
    assert case["deadline"] == "2024-05-14T10:00:00+00:00"  # C: 7 working days
    assert case["clocks"]["resolve"]["limit"] == "7wd"
    assert case["events"] == 3
    assert sorted(case["allowed_triggers"]) == ["accept", "contact", "escalate", "send_back"]

    text = ok(run("show", str(DISPATCHED), "--actor", "chen", "--role", "handler",
                  "--db", cases.url))
    assert f"case      {DISPATCHED}" in text
    assert "state     dispatched  (stage dispatch)" in text
    assert f"unit      {BLOCK}" in text
    next_line = text.splitlines()[-1]
    assert next_line.startswith("next      chen (handler) may: ")
    assert sorted(next_line.split("may: ")[1].split(", ")) == ["accept", "contact", "escalate",
                                                                "send_back"]


def test_history_is_the_timeline_of_the_case(run: Run, cases: Cases) -> None:
    entries = data(run("history", str(CLOSED), "--json", "--db", cases.url))
    assert [e["trigger"] for e in entries] == ["open", "assess", "dispatch", "accept",
                                               "resolve", "close"]
    assert [e["to_state"] for e in entries][-1] == "closed"
    assert [e["sequence"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[1]["fields"] == {"grade": "B", "category": "noise"}
    assert entries[3]["actor"] == HANDLER.id
    assert entries[0]["at"] == hours(24)

    text = ok(run("history", str(CLOSED), "--db", cases.url))
    lines = text.splitlines()
    assert lines[0].split() == ["#", "at", "who", "(role)", "trigger", "from", "→", "to",
                                "fields"]
    assert len(lines) == 2 + 6
    assert "resolved → closed" in lines[-1]


def test_a_unique_prefix_names_a_case_in_any_letter_case(run: Run, cases: Cases) -> None:
    for prefix in ("abcd0", "ABCD0000", str(DISPATCHED)[:13], str(DISPATCHED).upper()):
        assert data(run("show", prefix, "--json", "--db", cases.url))["id"] == str(DISPATCHED)
    assert data(run("history", "abcd1", "--json", "--db", cases.url))[-1]["trigger"] == "close"


@pytest.mark.parametrize(("prefix", "says"), [
    ("abcd", "ambiguous"),
    ("abcd2", "unknown case abcd2"),
    ("ab", "at least 4 characters"),
    ("not-a-case", "unknown case not-a-case"),
    (UNKNOWN, f"unknown case {UNKNOWN}"),
])
def test_an_ambiguous_or_unknown_prefix_is_refused(run: Run, cases: Cases, prefix: str,
                                                   says: str) -> None:
    for command in ("show", "history"):
        assert_one_line_error(run(command, prefix, "--db", cases.url), 3, says)
    assert_one_line_error(run("fire", prefix, "accept", "--actor", "chen", "--role",
                              "handler", "--db", cases.url), 3, says)


def test_show_and_history_travel_back_in_time(run: Run, cases: Cases) -> None:
    """Between the assessment (+1 h) and the dispatch (+2 h) the case was assessed."""
    then = hours(1.5)
    case = data(run("show", str(DISPATCHED), "--as-of", then, "--json", "--db", cases.url))
    assert case["state"] == "assessed"
    assert case["unit"] is None
    assert case["events"] == 2
    assert "allowed_triggers" not in case  # what one may do is a question about now

    entries = data(run("history", str(DISPATCHED), "--as-of", then, "--json",
                       "--db", cases.url))
    assert [e["trigger"] for e in entries] == ["open", "assess"]

    # The same instant written in Shenzhen time.
    shenzhen = (T0 + timedelta(hours=1.5)).astimezone(timezone(timedelta(hours=8))).isoformat()
    assert data(run("show", str(DISPATCHED), "--as-of", shenzhen, "--json",
                    "--db", cases.url)) == case

    assert_one_line_error(run("show", str(DISPATCHED), "--as-of", hours(-1),
                              "--db", cases.url), 3, "not opened yet")


# Reports ------------------------------------------------------------------------------

def test_report_json_has_every_figure(run: Run, cases: Cases) -> None:
    figures = data(run("report", "--json", "--now", NOW, "--db", cases.url))
    assert set(figures) >= REPORT_KEYS
    assert figures["total"] == 5
    assert figures["by_kind"] == {"enterprise_request": 1, "petition": 3, "volunteer_task": 1}
    assert figures["resolved"] == 1
    assert figures["by_state"]["closed"] == 1
    assert figures["as_of"].startswith("2024-06-01T00:00:00")


def test_report_text_shows_the_figures(run: Run, cases: Cases) -> None:
    text = ok(run("report", "--now", NOW, "--db", cases.url))
    header, _, everything = text.splitlines()[:3]
    assert header.split()[:3] == ["cases", "open", "closed"]
    assert everything.split()[:5] == ["all", "cases", "5", "4", "1"]
    assert "by stage" in text


def test_report_csv_has_a_header_and_one_row_per_group(run: Run, cases: Cases) -> None:
    text = ok(run("report", "--csv", "--by", "kind", "--now", NOW, "--db", cases.url))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0].startswith("group,cases,open,closed,resolved,resolution_rate")
    assert [(r["group"], r["cases"]) for r in rows] == [
        ("all", "5"), ("enterprise_request", "1"), ("petition", "3"), ("volunteer_task", "1")]


def test_report_by_community_splits_the_total(run: Run, cases: Cases) -> None:
    figures = data(run("report", "--by", "community", "--json", "--now", NOW,
                       "--db", cases.url))
    groups = {g["key"]: g["total"] for g in figures["groups"]}
    assert groups == {"guanlan/guancheng": 1, XINLAN: 1, KUKENG: 1, "(none)": 2}
    assert sum(groups.values()) == figures["total"]
    text = ok(run("report", "--by", "community", "--now", NOW, "--db", cases.url))
    assert XINLAN in text and KUKENG in text


@pytest.mark.parametrize(("options", "total"), [
    (["--kind", "petition"], 3),
    (["--kind", "enterprise_request"], 1),
    (["--unit", "guanlan/guancheng"], 1),
    (["--unit", "guanlan"], 4),
    (["--since", hours(24)], 4),
    (["--until", hours(24)], 1),
    (["--since", hours(12), "--until", hours(60)], 3),
])
def test_report_filters(run: Run, cases: Cases, options: list[str], total: int) -> None:
    figures = data(run("report", *options, "--json", "--now", NOW, "--db", cases.url))
    assert figures["total"] == total


@pytest.mark.parametrize(("options", "code", "fragment"), [
    (["--unit", "guanlan/guan"], 2, "no unit 'guanlan/guan'"),  # not a prefix of a path
    (["--kind", "petitoin"], 3, "unknown workflow petitoin"),
])
def test_report_refuses_a_unit_or_kind_that_does_not_exist(
        run: Run, cases: Cases, options: list[str], code: int, fragment: str) -> None:
    assert_one_line_error(run("report", *options, "--db", cases.url), code, fragment)


def test_rebuild_leaves_the_report_as_it_was(run: Run, cases: Cases) -> None:
    report = ["report", "--json", "--by", "unit", "--now", NOW, "--db", cases.url]
    before = data(run(*report))
    assert data(run("rebuild", "--json", "--db", cases.url)) == {"events": 16}
    assert data(run(*report)) == before
    assert "rebuilt the read models from 16 events" in ok(run("rebuild", "--db", cases.url))
    assert data(run(*report)) == before


def test_project_applies_what_is_new_then_nothing(run: Run, cases: Cases) -> None:
    assert ok(run("project", "--db", cases.url)).startswith("applied 16 events")
    assert ok(run("project", "--db", cases.url)).startswith("applied 0 events")


# Workflows ----------------------------------------------------------------------------

def test_workflows_list(run: Run) -> None:
    text = ok(run("workflows", "list"))
    for name in ("petition", "enterprise_request", "volunteer_task"):
        assert name in text
    listed = data(run("workflows", "list", "--json"))
    assert {w["name"] for w in listed} == {"petition", "enterprise_request", "volunteer_task"}
    assert all(w["version"] >= 1 and w["states"] > 0 for w in listed)


def test_workflows_show(run: Run) -> None:
    text = ok(run("workflows", "show", "petition"))
    assert text.startswith("petition v2")
    assert "states" in text and "triggers" in text and "mediation_failed" in text
    workflow = data(run("workflows", "show", "petition", "--json"))
    assert workflow["initial"] == "collected"
    assert workflow["states"]["revisited"] == {"stage": "revisit", "terminal": True,
                                               "outcome": "resolved",
                                               "titles": {"zh": "已回访"}, "pauses": False}
    assess = next(t for t in workflow["triggers"] if t["name"] == "assess")
    assert assess["fields"]["grade"]["choices"] == ["A", "B", "C", "D"]
    assert assess["from"] == ["collected"]


def test_workflows_diagram_is_mermaid(run: Run) -> None:
    text = ok(run("workflows", "diagram", "volunteer_task"))
    assert "stateDiagram-v2" in text
    assert "published" in text and "staffed" in text


@pytest.mark.parametrize("args", [["show", "complaint"], ["diagram", "complaint"],
                                  ["show", "petition", "--version", "99"]])
def test_an_unknown_workflow_is_refused(run: Run, args: list[str]) -> None:
    assert_one_line_error(run("workflows", *args), 3, "unknown workflow")


# Mistakes -----------------------------------------------------------------------------

HANDLER_OPTIONS = ["--actor", "chen", "--role", "handler"]
MISTAKES = {
    "mistyped command": (["shwo", str(DISPATCHED)], 2, ["No such command 'shwo'"]),
    "unknown option": (["show", str(DISPATCHED), "--colour"], 2, ["--colour"]),
    "unknown case": (["show", UNKNOWN], 3, [f"unknown case {UNKNOWN}"]),
    "unknown workflow": (["open", "complaint", "--actor", "li", "--role", "intake",
                          "-f", "title=x"], 3, ["unknown workflow complaint"]),
    "illegal trigger": (["fire", str(DISPATCHED), "resolve", "resolution=done",
                         *HANDLER_OPTIONS], 4, ["it is dispatched",
                                                "accept, contact, escalate, send_back"]),
    "illegal trigger on a closed case": (["fire", str(CLOSED), "accept", *HANDLER_OPTIONS],
                                         4, ["it is closed"]),
    "unknown trigger": (["fire", str(DISPATCHED), "acept", *HANDLER_OPTIONS], 4,
                        ["no trigger 'acept'", "accept"]),
    "guard refused": (["fire", "{urgent}", "dispatch", f"unit={GRID}", "--actor", "li",
                       "--role", "dispatcher"], 4, ["grade A", "community"]),
    "field without '='": (["fire", str(DISPATCHED), "send_back", "reason", *HANDLER_OPTIONS],
                          2, ["'reason' is not NAME=VALUE"]),
    "unknown field": (["fire", str(DISPATCHED), "accept", "colour=red", *HANDLER_OPTIONS], 2,
                      ["'colour'"]),
    "missing field": (["fire", str(DISPATCHED), "send_back", *HANDLER_OPTIONS], 2,
                      ["'reason'"]),
    "bad field value": (["fire", "{urgent}", "dispatch", "unit=guanlan/nowhere", "--actor",
                         "li", "--role", "dispatcher"], 2, ["'unit'", "guanlan/nowhere"]),
    "bad time": (["fire", str(DISPATCHED), "accept", "--at", "yesterday", *HANDLER_OPTIONS],
                 2, ["--at", "yesterday"]),
    "time before the last event": (["fire", str(DISPATCHED), "accept", "--at",
                                    "2024-05-01T00:00", *HANDLER_OPTIONS], 2, ["'at'"]),
    "permission denied": (["fire", str(DISPATCHED), "accept", "--actor", "li", "--role",
                           "intake"], 5, ["permission denied", "li", "handler"]),
    "no roles at all": (["fire", str(DISPATCHED), "accept", "--actor", "li"], 5,
                        ["permission denied"]),
    "bad grouping": (["report", "--by", "colour"], 2, ["--by", "colour"]),
    "bad report time": (["report", "--since", "last week"], 2, ["--since"]),
}


@pytest.mark.parametrize(("args", "code", "says"), MISTAKES.values(), ids=MISTAKES.keys())
def test_a_mistake_is_one_line_on_stderr_with_its_exit_code_and_records_nothing(
        run: Run, cases: Cases, args: list[str], code: int, says: list[str]) -> None:
    args = [a.format(urgent=cases.urgent) for a in args]
    before = [cases.events(c) for c in (DISPATCHED, CLOSED, cases.urgent)]
    assert_one_line_error(run(*args, "--db", cases.url), code, *says)
    assert [cases.events(c) for c in (DISPATCHED, CLOSED, cases.urgent)] == before


@pytest.mark.parametrize("command", [["show", UNKNOWN], ["history", UNKNOWN], ["report"],
                                     ["rebuild"], ["project"],
                                     ["fire", UNKNOWN, "accept", *HANDLER_OPTIONS]])
def test_an_unreachable_database_is_exit_code_7(run: Run, command: list[str]) -> None:
    url = "sqlite:///nonexistent/dir/x.db"
    assert_one_line_error(run(*command, "--db", url), 7, "nonexistent/dir/x.db")
    assert not Path("nonexistent").exists()


def test_a_database_url_that_is_not_one_is_refused(run: Run) -> None:
    assert_one_line_error(run("report", "--db", "mysql://localhost/cases"), 2, "mysql")


# A real process ------------------------------------------------------------------------

def _console_script() -> Any:
    """The installed ``casework`` script (CI installs the package); a checkout without it
    falls back to running cli.py with this Python, and the test id says so."""
    beside_python = Path(sys.executable).parent / "casework"
    script = beside_python if beside_python.exists() else shutil.which("casework")
    if script is not None:
        return pytest.param([str(script)], id="installed casework script")
    return pytest.param([sys.executable, str(REPO / "cli.py")],
                        id="python cli.py, as the casework script is not installed")


@pytest.mark.slow
@pytest.mark.parametrize("casework", [_console_script()])
def test_a_real_process_prints_results_and_one_line_errors(casework: list[str],
                                                           tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*casework, *args], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path, env=environment, check=False)

    listed = call("workflows", "list")
    assert listed.returncode == 0, listed.stderr
    assert "petition" in listed.stdout

    database = f"sqlite:///{tmp_path / 'x.db'}"
    opened = call("open", "volunteer_task", "-f", "title=Collect listings", "--actor", "o",
                  "--role", "organiser", "--db", database)
    assert opened.returncode == 0, opened.stderr

    for args, code in ((["show", UNKNOWN, "--db", database], 3),
                       (["show", UNKNOWN, "--db", f"sqlite:///{tmp_path / 'typo.db'}"], 7),
                       (["report", "--db", "sqlite:///nonexistent/dir/x.db"], 7),
                       (["shwo"], 2)):
        failed = call(*args)
        assert failed.returncode == code, failed.stderr
        assert "Traceback" not in failed.stderr
        assert failed.stderr.count("\n") == 1 and failed.stderr.startswith("casework: ")
        assert failed.stdout == ""
    assert not (tmp_path / "typo.db").exists()  # a mistyped database is not created


@pytest.mark.parametrize(("zone", "recorded"), [
    ("Asia/Shanghai", "2024-05-23T01:00:00+00:00"), ("UTC", "2024-05-23T09:00:00+00:00")])
def test_a_time_without_an_offset_means_the_zone_chosen_with_timezone(
        run: Run, db: str, zone: str, recorded: str) -> None:
    # The zone times are shown in is the one a typed time means: a clerk who sets --timezone
    # reads back the 09:00 they typed.
    case_id = ok(run("open", "petition", "--actor", "li", "--role", "intake", "--db", db,
                     "-f", "channel=hotline", "-f", "title=Noise", "--at", "2024-05-23T09:00",
                     "--timezone", zone, "-q")).strip()
    entries = data(run("history", case_id, "--json", "--db", db))
    assert datetime.fromisoformat(entries[0]["at"]) == datetime.fromisoformat(recorded)
