"""``casework whatif`` with the candidates beyond grade limits: a calendar file (a day off
added to the period), the contact clock's limits, and the three rates' settings.

What a user checks: a holiday added in the period makes cases on time that were late and
never the reverse; a shorter contact limit makes contacted-in-time cases late; the policy in
force written out as a candidate (the office's own calendar file, the same contact limits)
changes nothing; a bad calendar file is one line and exit 2; the store keeps its bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from casework import Actor, Casework
from casework.calendar_files import load_calendar, office_zone
from casework.calendars import Calendar
from casework.whatif import Policy, read_assessment
from projections import ReadModel
from projections.filters import Filters
from projections.report import report
from projections.whatif import (
    CONTACTED_IN_TIME,
    CONTACTED_LATE,
    IN_TIME,
    LATE,
    NOT_CONTACTED_OVERDUE,
    NOT_CONTACTED_YET,
    NOT_REACHED,
    ON_TIME,
    OVERDUE,
    what_if,
)
from workflows import CALENDARS, DEFINITIONS

from .conftest import database
from .support import assert_one_line_error, invoke, simulated

MAY, JUNE = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
OFFICE_CALENDAR = CALENDARS / "cn_mainland.toml"
"""The office's calendar file (``workflows/organisation/office.toml`` names it)."""
MONDAY = datetime(2024, 5, 6, 1, 0, tzinfo=UTC)
"""Monday 6 May 2024, 09:00 in Shanghai: the start of a working day."""
CLERK = Actor("li.na", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("chen.jie", roles=["handler"])
XINLAN = "guanlan/xinlan"
SIMULATIONS = settings(max_examples=5, deadline=None)
"""Each example simulates a small month: a handful is enough to vary the histories."""
LATER = {LATE: ON_TIME, OVERDUE: IN_TIME, CONTACTED_LATE: CONTACTED_IN_TIME,
         NOT_CONTACTED_OVERDUE: NOT_CONTACTED_YET, NOT_REACHED: None}
"""Each verdict, and the one a later deadline can turn it into."""


def hours(n: float) -> datetime:
    return MONDAY + timedelta(hours=n)


def calendar_with(tmp_path: Path, off: list[str], name: str = "candidate.toml") -> Path:
    """The office's calendar file with ``off`` added: a candidate calendar."""
    text = OFFICE_CALENDAR.read_text(encoding="utf-8")
    assert "off = []" in text
    path = tmp_path / name
    path.write_text(text.replace("off = []", f"off = {json.dumps(off)}"), encoding="utf-8")
    return path


def office_file(path: Path) -> Calendar:
    """A calendar file read as ``casework whatif --calendar`` reads it: in the office's zone."""
    return load_calendar(path, office_zone())


def petition(app: Casework, grade: str, title: str = "noise") -> str:
    """A petition assessed on Monday morning, dispatched and accepted at once (both clocks
    start then)."""
    case_id = app.open_case("petition", CLERK, MONDAY, channel="hotline", title=title)
    app.fire(case_id, "assess", CLERK, MONDAY, grade=grade, category="noise")
    app.fire(case_id, "dispatch", CLERK, MONDAY, unit=XINLAN)
    app.fire(case_id, "accept", HANDLER, MONDAY)
    return str(case_id)


def two_petitions(url: str) -> tuple[Casework, str, str]:
    """Grade D (16 working hours: due Tuesday 18:00) resolved Wednesday noon, late; and one
    still in progress, overdue since Tuesday evening. The first was reached after 10 hours
    (its 24-hour contact limit met), the second not yet."""
    app = Casework(url)
    resolved, waiting = petition(app, "D"), petition(app, "D", "road")
    app.fire(resolved, "contact", HANDLER, hours(10), method="phone", outcome="reached")
    app.fire(resolved, "resolve", HANDLER, hours(51), resolution="quiet now")
    return app, resolved, waiting


def test_a_day_off_added_in_the_period_makes_late_cases_on_time(tmp_path: Path) -> None:
    app, resolved, waiting = two_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    candidate = Policy.candidate(app.workflows,
                                 calendar=office_file(calendar_with(tmp_path, ["2024-05-07"])))
    result = what_if(app, candidate, Filters(since=MAY, until=JUNE), now=hours(56))

    changed = {(c.case_id, c.clock): (c.in_force, c.candidate) for c in result.changed_cases}
    # Tuesday off: 16 working hours end on Wednesday 18:00, after the resolution.
    assert changed == {(resolved, "resolve"): (LATE, ON_TIME),
                       (waiting, "resolve"): (OVERDUE, IN_TIME)}
    deadlines = {c.case_id: (c.deadline_in_force, c.deadline_candidate)
                 for c in result.changed_cases}
    assert deadlines[resolved] == (datetime(2024, 5, 7, 10), datetime(2024, 5, 8, 10))
    assert ("sla.D.breached", 1, 0) in result.figures
    assert ("sla.D.open_overdue", 1, 0) in result.figures
    # The contact limit is in elapsed hours: the day off changes nothing there.
    assert not [path for path, _, _ in result.figures if path.startswith("contact.")]


def test_the_command_takes_a_calendar_file(tmp_path: Path) -> None:
    app, resolved, _ = two_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    app.close()
    result = invoke("whatif", "--db", f"sqlite:///{tmp_path / 'cases.db'}", "--calendar",
                    str(calendar_with(tmp_path, ["2024-05-07"])), "--since", "2024-05-01",
                    "--now", hours(56).isoformat())
    assert result.exit_code == 0, result.output
    assert any(line.split()[:3] == ["sla.D.breached", "1", "0"]
               for line in result.output.splitlines())
    assert (f"  {resolved} petition grade D: late -> on time (deadline 2024-05-07T10:00 -> "
            "2024-05-08T10:00)") in result.output


@SIMULATIONS
@given(seed=st.integers(0, 10_000), first=st.integers(1, 30), days=st.integers(1, 10))
def test_a_calendar_with_more_days_off_never_makes_a_case_late(seed: int, first: int,
                                                               days: int) -> None:
    """Days off only take working time away: every deadline counted in working time comes
    later or stays, so a case may turn on time, never late."""
    app = simulated("sqlite:///:memory:", seed=seed, petitions=24)
    start = date(2024, 5, first)
    end = start + timedelta(days=days - 1)
    with _folder() as folder:
        path = calendar_with(folder, [f"{start.isoformat()}..{end.isoformat()}"])
        result = what_if(app, Policy.candidate(app.workflows, calendar=office_file(path)),
                         Filters(since=MAY, until=JUNE), now=JUNE)
    for case in result.changed_cases:
        assert LATER.get(case.in_force or "", "?") == case.candidate, case
        if case.deadline_candidate is not None and case.deadline_in_force is not None:
            assert case.deadline_candidate >= case.deadline_in_force, case
    assert all(not change.would for change in result.escalations)
    for clock in ("sla", "contact"):
        before = getattr(result.in_force.figures, clock)
        after = getattr(result.candidate.figures, clock)
        for key, judged in before.items():
            assert after[key].met >= judged.met
            assert after[key].breached + after[key].open_overdue <= (
                judged.breached + judged.open_overdue)


@SIMULATIONS
@given(seed=st.integers(0, 10_000), kind=st.sampled_from([None, "petition"]),
       by=st.sampled_from(["grade", "community"]))
def test_the_policy_in_force_as_a_candidate_changes_nothing(seed: int, kind: str | None,
                                                            by: str) -> None:
    """The office's own calendar file, the contact limits it has: the same figures (the
    units' accounts included)."""
    app = simulated("sqlite:///:memory:", seed=seed, petitions=24)
    filters = Filters(kind, None, MAY, JUNE)
    same = ("petition.A.contact=1h", "petition.B.contact=24h", "petition.C.contact=24h",
            "petition.D.contact=24h", "enterprise_request.A.contact=2h",
            "enterprise_request.B.contact=24h", "enterprise_request.C.contact=24h",
            "enterprise_request.D.contact=24h")
    candidate = Policy.candidate(app.workflows, overrides=same,
                                 calendar=office_file(OFFICE_CALENDAR))
    assert not candidate.in_force  # judged again, event by event
    result = what_if(app, candidate, filters, by=by, now=JUNE)
    with ReadModel(app) as read_model:
        expected = report(read_model, filters, by=by, now=JUNE).as_dict()
    assert result.in_force.as_dict() == expected
    assert result.candidate.as_dict() == expected
    assert (result.figures, result.changed_cases, result.escalations, result.illegal,
            result.sweep) == ([], [], [], [], [])


def test_a_shorter_contact_limit_makes_cases_contacted_in_time_late(tmp_path: Path) -> None:
    app, resolved, waiting = two_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    candidate = Policy.candidate(app.workflows, overrides=("D.contact=8h",))
    result = what_if(app, candidate, Filters(since=MAY, until=JUNE), now=hours(20))

    changed = {(c.case_id, c.clock): (c.in_force, c.candidate) for c in result.changed_cases}
    assert changed == {(resolved, "contact"): (CONTACTED_IN_TIME, CONTACTED_LATE),
                       (waiting, "contact"): (NOT_CONTACTED_YET, NOT_CONTACTED_OVERDUE)}
    contact = {c.case_id: (c.deadline_in_force, c.deadline_candidate)
               for c in result.changed_cases}
    assert contact[resolved] == (hours(24).replace(tzinfo=None), hours(8).replace(tzinfo=None))
    assert ("contact.D.met", 1, 0) in result.figures
    assert ("contact.D.breached", 0, 1) in result.figures
    assert ("contact.D.open_overdue", 0, 1) in result.figures
    # The resolution clock is the same: no escalation, no resolve figure moves.
    assert not [path for path, _, _ in result.figures if path.startswith("sla.")]
    assert result.escalations == []


def test_on_a_month_shortening_the_contact_limit_only_turns_cases_late() -> None:
    app = simulated("sqlite:///:memory:", seed=5, petitions=60)
    result = what_if(app, Policy.candidate(app.workflows, overrides=("B.contact=2h",)),
                     Filters(since=MAY, until=JUNE), now=JUNE)
    turned = Counter((c.clock, c.in_force, c.candidate) for c in result.changed_cases)
    assert turned[("contact", CONTACTED_IN_TIME, CONTACTED_LATE)] > 0
    assert {clock for clock, _, _ in turned} == {"contact"}
    assert all(LATER[after] == before for _, before, after in turned)
    before, after = result.in_force.figures.contact["B"], result.candidate.figures.contact["B"]
    assert after.met < before.met and after.breached > before.breached


def test_a_candidate_workflow_files_contact_limits_count(tmp_path: Path) -> None:
    app, resolved, _ = two_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    text = (DEFINITIONS / "petition_v2.toml").read_text(encoding="utf-8")
    old = 'D = { resolve = "16wh", contact = "24h",'
    assert old in text
    candidate_file = tmp_path / "petition-candidate.toml"
    candidate_file.write_text(text.replace(old, 'D = { resolve = "16wh", contact = "8h",')
                              .replace("version = 2", "version = 3", 1), encoding="utf-8")
    result = what_if(app, Policy.candidate(app.workflows, files=(str(candidate_file),)),
                     Filters(since=MAY, until=JUNE), now=hours(56))
    assert {(c.case_id, c.clock, c.candidate) for c in result.changed_cases
            if c.case_id == resolved} == {(resolved, "contact", CONTACTED_LATE)}


def test_the_command_lists_the_contact_clocks_that_change(tmp_path: Path) -> None:
    app, resolved, waiting = two_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    app.close()
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    result = invoke("whatif", "--db", url, "--grade", "petition.D.contact=8h",
                    "--now", hours(20).isoformat())
    assert result.exit_code == 0, result.output
    assert (f"  {resolved} petition grade D, contact: contacted in time -> contacted late "
            "(contact deadline 2024-05-07T01:00 -> 2024-05-06T09:00)") in result.output
    assert any(line.split()[:3] == ["contact.D.breached", "0", "1"]
               for line in result.output.splitlines())
    listed = json.loads(invoke("whatif", "--db", url, "--grade", "D.contact=8h", "--now",
                               hours(20).isoformat(), "--json").output)["changed_cases"]
    assert {(c["case"], c["clock"]) for c in listed} == {(resolved, "contact"),
                                                         (waiting, "contact")}
    chinese = invoke("whatif", "--db", url, "--grade", "D.contact=8h", "--now",
                     hours(20).isoformat(), "--lang", "zh")
    assert chinese.exit_code == 0, chinese.output
    assert f"  {resolved} 群众诉求 D 级，联系：按时联系 -> 超时联系" in chinese.output
    page = tmp_path / "whatif.html"
    written = invoke("whatif", "--db", url, "--grade", "D.contact=8h", "--now",
                     hours(20).isoformat(), "--html", str(page))
    assert written.exit_code == 0, written.output
    assert (f"<code>{resolved}</code></td><td>petition</td><td>D</td><td>contact</td>"
            "<td>contacted in time</td><td>contacted late</td>") in page.read_text("utf-8")


def test_a_candidate_workflows_sweep_settings_list_its_warnings_and_closes(
        tmp_path: Path) -> None:
    """Due-soon warnings and default closes are the workflow's settings: the sweep at --now
    would list and close other cases (listed, not replayed)."""
    app, resolved, waiting = two_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    text = (DEFINITIONS / "petition_v2.toml").read_text(encoding="utf-8")
    for old, new in (("close_after_days_without_objection = 7",
                      "close_after_days_without_objection = 1"),
                     ('due_soon_within = "4wh"', 'due_soon_within = "16wh"')):
        assert old in text
        text = text.replace(old, new)
    candidate_file = tmp_path / "petition-candidate.toml"
    candidate_file.write_text(text.replace("version = 2", "version = 3", 1), encoding="utf-8")
    candidate = Policy.candidate(app.workflows, files=(str(candidate_file),))
    filters = Filters(since=MAY, until=JUNE)

    # Tuesday 05:00 in Shanghai: 8 of 16 working hours left, not yet due soon by 4wh.
    early = what_if(app, candidate, filters, now=hours(20))
    assert [(c.case_id, c.action, c.clock, c.would) for c in early.sweep] == [
        (waiting, "due soon", "resolve", True)]
    # 30 hours after the resolution: a day without objection, not seven.
    later = what_if(app, candidate, filters, now=hours(81))
    assert (resolved, "close", True) in {(c.case_id, c.action, c.would) for c in later.sweep}
    assert later.figures == [] and later.changed_cases == []  # listed, not replayed

    printed = invoke("whatif", "--db", f"sqlite:///{tmp_path / 'cases.db'}", "--workflow",
                     str(candidate_file), "--now", hours(81).isoformat())
    assert printed.exit_code == 0, printed.output
    assert (f"  {resolved} would be closed by default (no objection since 2024-05-08T04:00)"
            in printed.output)


def test_a_bad_calendar_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    app, _, _ = two_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    app.close()
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    not_toml = tmp_path / "broken.toml"
    not_toml.write_text("off = [2024-05-07\n", encoding="utf-8")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('holidays = ["2024-05-07"]\n', encoding="utf-8")
    no_day = calendar_with(tmp_path, ["May 7th"], "no-day.toml")
    for path, fragment in ((not_toml, "not TOML"), (unknown, "unknown key 'holidays'"),
                           (no_day, "is not a day"),
                           (tmp_path / "missing.toml", "does not exist")):
        line = assert_one_line_error(invoke("whatif", "--db", url, "--calendar", str(path)),
                                     2, fragment)
        assert path.name in line
    # Told before the database is opened, as any malformed value is.
    missing = f"sqlite:///{tmp_path / 'no-such-folder' / 'cases.db'}"
    assert_one_line_error(invoke("whatif", "--db", missing, "--calendar", str(not_toml)), 2,
                          "not TOML")


def test_the_store_keeps_its_bytes_after_a_calendar_and_contact_candidate(
        tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    app = simulated(f"sqlite:///{path}", seed=7, petitions=30)
    with ReadModel(app) as read_model:
        read_model.catch_up()
    app.close()
    calendar = calendar_with(tmp_path, ["2024-05-06..2024-05-10"])
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}

    result = invoke("whatif", "--db", f"sqlite:///{path}", "--calendar", str(calendar),
                    "--grade", "B.contact=2h", "--since", "2024-05-01", "--until",
                    "2024-06-01", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["changed_cases"]
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert after == before


def test_the_candidates_three_rates_settings_count_its_side(tmp_path: Path) -> None:
    app = simulated("sqlite:///:memory:", seed=5, petitions=60)
    rates = tmp_path / "rates.toml"
    rates.write_text("[assessment]\nbasic_weight = 0.5\n"
                     "weights = { response = 30, resolution = 35, satisfaction = 35 }\n",
                     encoding="utf-8")
    candidate = Policy.candidate(app.workflows, assessment=read_assessment(rates))
    assert candidate.in_force  # it decides no deadline
    result = what_if(app, candidate, Filters(since=MAY, until=JUNE), now=JUNE)
    before, after = result.in_force.figures.three_rates, result.candidate.figures.three_rates
    assert before.basically_satisfied > 0
    assert after.satisfaction_rate < before.satisfaction_rate
    assert after.valid == before.valid and after.resolution_rate == before.resolution_rate
    changed = {path for path, _, _ in result.figures}
    assert {"three_rates.satisfaction_rate", "three_rates.composite",
            "assessment.basic_weight"} <= changed
    assert result.changed_cases == [] and result.escalations == []


def test_the_candidates_first_day_of_the_month_counts_its_revisits(tmp_path: Path) -> None:
    app = simulated(f"sqlite:///{tmp_path / 'cases.db'}", seed=5, petitions=60)
    app.close()
    rates = tmp_path / "rates.toml"
    rates.write_text("[assessment]\nmonth_starts_on = 19\n", encoding="utf-8")
    result = invoke("whatif", "--db", f"sqlite:///{tmp_path / 'cases.db'}", "--assessment",
                    str(rates), "--month", "2024-05", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    in_force, candidate = (answer[side]["assessment"] for side in ("in_force", "candidate"))
    # May in Shanghai: from the 1st under the policy in force, from 19 April under the candidate.
    assert (in_force["month"]["from"], candidate["month"]["from"]) == (
        "2024-04-30T16:00:00Z", "2024-04-18T16:00:00Z")
    visits = (answer["in_force"]["three_rates"]["visits"],
              answer["candidate"]["three_rates"]["visits"])
    assert visits[0] != visits[1], visits


def test_a_bad_assessment_file_or_month_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'cases.db'}"  # told before opening it
    no_table = tmp_path / "no-table.toml"
    no_table.write_text("language = 'zh'\n", encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text("[assessment]\nbasic_weight = 2\n", encoding="utf-8")
    for args, fragment in ((("--assessment", str(no_table)), "no [assessment] table"),
                           (("--assessment", str(bad)), "basic_weight must be a number"),
                           (("--grade", "B.contact=2h", "--month", "May"), "--month")):
        assert_one_line_error(invoke("whatif", "--db", url, *args), 2, fragment)


class _folder:
    """A temporary folder for a hypothesis example (pytest's tmp_path is one per test)."""

    def __enter__(self) -> Path:
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix="whatif-calendar-")
        return Path(self._dir.name)

    def __exit__(self, *_: object) -> None:
        self._dir.cleanup()


def test_a_calendar_and_contact_candidate_on_postgresql(tmp_path: Path) -> None:
    with database("postgresql") as url:
        app = simulated(url, seed=3, petitions=24)
        filters = Filters(since=MAY, until=JUNE)
        candidate = Policy.candidate(app.workflows, overrides=("B.contact=2h",),
                                     calendar=office_file(calendar_with(tmp_path,
                                                                        ["2024-05-20"])))
        result = what_if(app, candidate, filters, now=JUNE)
        with ReadModel(app) as read_model:
            assert result.in_force.as_dict() == report(read_model, filters,
                                                        now=JUNE).as_dict()
        assert "contact" in {case.clock for case in result.changed_cases}
        app.close()
