"""Office time on cases: deadlines recorded when commands are accepted, on the office
calendar; the contact clock; pauses; reopening; a later calendar never rewrites the past."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from casework import Actor, Casework
from casework.calendar_files import office_calendar
from casework.jobs.migration import Migration
from casework.jobs.runner import run_job
from casework.jobs.sweep import Sweep
from projections import ReadModel
from projections.due_soon import due_soon
from projections.filters import CaseFilter
from projections.report import report
from projections.selection import Candidates

from .conftest import REGISTRY, REGISTRY_V1, new_app
from .support import invoke

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = Actor("office", roles=["intake", "assessor", "dispatcher", "handler", "mediator",
                                "visitor", "supervisor"])
SYSTEM = Actor("system", roles=["system"])
COMMUNITY = "guanlan/guancheng"
V2 = REGISTRY


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def office() -> Casework:
    app = new_app(workflows=V2)
    yield app
    app.close()


def accepted_petition(app: Casework, grade: str, at: datetime) -> str:
    case_id = app.open_case("petition", OFFICE, at, channel="hotline", title="Noise",
                            location=COMMUNITY)
    app.fire(case_id, "assess", OFFICE, at, grade=grade, category="noise", dispute=True)
    app.fire(case_id, "dispatch", OFFICE, at, unit=COMMUNITY)
    app.fire(case_id, "accept", OFFICE, at)
    return str(case_id)


def test_new_petitions_run_version_2_with_its_working_day_limits(office: Casework) -> None:
    case_id = accepted_petition(office, "C", local(2024, 9, 30, 16))
    view = office.get_case(case_id)
    assert view.version == 2
    # 7 working days after Monday 30 September 2024: 8–12 October (Saturday 12 a working day)
    # and 14–15 October.
    assert view.deadline == local(2024, 10, 15, 18)
    assessed = office.history(case_id)[1]
    assert assessed.changes["deadline"] == local(2024, 10, 15, 18)  # recorded in the event
    assert assessed.changes["resolve_limit"] == "7wd"
    # The contact clock starts when the unit accepts: 24 elapsed hours.
    assert view.contact_deadline == local(2024, 10, 1, 16)
    assert office.history(case_id)[3].changes["contact_deadline"] == local(2024, 10, 1, 16)


def test_the_first_successful_contact_stops_the_contact_clock(office: Casework) -> None:
    case_id = accepted_petition(office, "B", local(2024, 5, 23, 10))
    office.fire(case_id, "contact", OFFICE, local(2024, 5, 23, 11), method="phone",
                outcome="not_reached")
    assert office.get_case(case_id).contacted_at is None
    office.fire(case_id, "contact", OFFICE, local(2024, 5, 23, 15), method="visit",
                outcome="reached")
    office.fire(case_id, "contact", OFFICE, local(2024, 5, 24, 9), method="message",
                outcome="reached")
    assert office.get_case(case_id).contacted_at == local(2024, 5, 23, 15)
    with pytest.raises(Exception, match="method"):
        office.fire(case_id, "contact", OFFICE, local(2024, 5, 24, 10), method="fax",
                    outcome="reached")


def test_a_case_paused_in_mediation_over_a_weekend_is_not_late(office: Casework) -> None:
    # Grade D: 16 working hours from Thursday 09:00, due Friday 18:00.
    case_id = accepted_petition(office, "D", local(2024, 5, 23, 9))
    assert office.get_case(case_id).deadline == local(2024, 5, 24, 18)
    office.fire(case_id, "mediate", OFFICE, local(2024, 5, 24, 10), track="people")
    assert office.get_case(case_id).paused_since == local(2024, 5, 24, 10)
    # Back on Monday 10:00: paused Friday 10–18 (7 working hours) and Monday 9–10 (1).
    office.fire(case_id, "mediation_failed", OFFICE, local(2024, 5, 27, 10), note="no deal")
    view = office.get_case(case_id)
    assert view.paused_since is None
    assert view.paused_seconds == 8 * 3600
    assert view.deadline == local(2024, 5, 27, 18)
    left = office.history(case_id)[-1]
    assert left.changes["deadline"] == local(2024, 5, 27, 18)  # the history shows the move
    office.fire(case_id, "resolve", OFFICE, local(2024, 5, 27, 15), resolution="agreed")
    with ReadModel(office) as model:
        figures = report(model, now=local(2024, 5, 28, 9)).figures
    assert (figures.sla["D"].met, figures.sla["D"].breached) == (1, 0)
    # Nobody reached the petitioner within 24 hours of accepting: the contact clock was late.
    assert (figures.contact["D"].met, figures.contact["D"].breached) == (0, 1)


def test_a_reopened_case_gets_a_new_deadline_and_is_not_escalated_at_once(
        office: Casework) -> None:
    case_id = accepted_petition(office, "D", local(2024, 5, 23, 9))
    office.fire(case_id, "resolve", OFFICE, local(2024, 5, 23, 17), resolution="fixed")
    office.fire(case_id, "close", OFFICE, local(2024, 5, 24, 9), confirmed_by="petitioner")
    reopened_at = local(2024, 6, 3, 10)  # long after the first deadline
    view = office.fire(case_id, "revisit", OFFICE, reopened_at, satisfaction=1)
    assert view.state == "in_progress"
    assert view.deadline == local(2024, 6, 5, 10)  # 16 working hours from the reopening
    sweep = Sweep(reopened_at + timedelta(minutes=5))
    batch = office.batch()
    assert sweep(batch, view.id) is None  # not escalated
    batch.commit()
    assert office.get_case(case_id).escalations == 0


def test_escalation_gives_the_new_unit_the_grades_time_again(office: Casework) -> None:
    case_id = accepted_petition(office, "C", local(2024, 5, 23, 9))
    view = office.fire(case_id, "escalate", OFFICE, local(2024, 5, 24, 9), reason="too big")
    assert view.deadline == local(2024, 6, 4, 18)  # 7 working days after Friday 24 May


def test_a_naive_time_means_the_offices_time_zone(office: Casework) -> None:
    case_id = office.open_case("petition", OFFICE, "2024-05-23T09:00", channel="hotline",
                               title="Noise")
    assert office.get_case(case_id).opened_at == local(2024, 5, 23, 9)
    assert office.calendar.zone == SHANGHAI


def test_a_later_calendar_changes_no_recorded_deadline_and_no_past_report(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'office.db'}"
    app = new_app(url, workflows=V2)
    case_id = accepted_petition(app, "C", local(2024, 5, 23, 9))
    app.fire(case_id, "resolve", OFFICE, local(2024, 5, 31, 17), resolution="done")
    late_id = accepted_petition(app, "D", local(2024, 5, 23, 9))
    recorded = app.get_case(case_id).deadline
    history = app.history(case_id)
    with ReadModel(app) as model:
        before = report(model, now=local(2024, 6, 10, 9)).as_dict()
    app.close()

    # The office then declares every day of 2024 off from 24 May on.
    changed = tmp_path / "changed.toml"
    changed.write_text('base = "chinese-calendar"\noff = ["2024-05-24..2024-12-31"]\n',
                       encoding="utf-8")
    again = new_app(url, workflows=V2, calendar=changed)
    assert again.calendar.deadline(local(2024, 5, 23, 9), again.workflows.get(
        "petition").grades["C"].resolve) != recorded  # the new calendar would say otherwise
    assert again.get_case(case_id).deadline == recorded
    assert again.history(case_id) == history
    assert again.get_case(late_id).deadline == local(2024, 5, 24, 18)
    with ReadModel(again) as model:
        model.rebuild()
        after = report(model, now=local(2024, 6, 10, 9)).as_dict()
    assert after == before
    again.close()


def test_version_1_cases_replay_without_the_clocks(tmp_path: Path) -> None:
    """Cases recorded under version 1 (events without any clock attribute) load as before."""
    app = new_app(f"sqlite:///{tmp_path / 'old.db'}", workflows=REGISTRY_V1)
    case_id = app.open_case("petition", OFFICE, local(2024, 5, 23, 9), channel="hotline",
                            title="Noise", location=COMMUNITY)
    app.fire(case_id, "assess", OFFICE, local(2024, 5, 23, 9), grade="C", category="noise")
    app.close()
    again = new_app(f"sqlite:///{tmp_path / 'old.db'}", workflows=V2)
    view = again.get_case(case_id)
    assert (view.version, view.contact_deadline, view.paused_seconds) == (1, None, 0.0)
    assert view.deadline == local(2024, 5, 23, 9) + timedelta(hours=168)
    again.close()


def test_the_office_file_names_the_calendar() -> None:
    calendar = office_calendar()
    assert (calendar.name, str(calendar.zone)) == ("cn_mainland", "Asia/Shanghai")


def test_due_soon_lists_clocks_close_to_their_deadline_by_unit(office: Casework) -> None:
    # Grade D: resolve in 16 working hours (Friday 18:00), contact within 24 hours (Friday
    # 09:00); version 2 warns within 4 working hours or with less than a fifth left.
    case_id = accepted_petition(office, "D", local(2024, 5, 23, 9))
    with ReadModel(office) as model:
        assert due_soon(model, local(2024, 5, 23, 10)) == []
        early = due_soon(model, local(2024, 5, 24, 6))
        assert [(d.case, d.clock, d.unit) for d in early] == [(case_id, "contact", COMMUNITY)]
        assert early[0].left_hours == 3
        office.fire(case_id, "contact", OFFICE, local(2024, 5, 24, 8), method="phone",
                    outcome="reached")
        late = due_soon(model, local(2024, 5, 24, 14, 30))
        assert [(d.clock, d.left_hours) for d in late] == [("resolve", 3.5)]
        assert due_soon(model, local(2024, 5, 24, 14, 30), unit="guanlan/xinlan") == []
        assert due_soon(model, local(2024, 5, 24, 18, 30)) == []  # overdue, not due soon


def test_sweep_lists_due_soon_cases(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'office.db'}"
    app = new_app(url, workflows=V2)
    case_id = accepted_petition(app, "D", local(2024, 5, 23, 9))
    app.close()
    env = {"CASEWORK_TIMEZONE": "Asia/Shanghai"}
    result = invoke("sweep", "--db", url, "--now", "2024-05-24T15:00", env=env)
    assert result.exit_code == 0, result.output
    assert f"{COMMUNITY}: 1" in result.output
    assert f"{case_id}  resolve due 2024-05-24 18:00 Asia/Shanghai, 3.0 h left" in result.output
    listed = json.loads(invoke("sweep", "--db", url, "--now", "2024-05-24T15:00", "--json",
                               env=env).output)
    assert [due["case"] for due in listed["due_soon"]] == [case_id]


def test_show_gives_both_clocks_time_left_and_time_paused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'office.db'}"
    app = new_app(url, workflows=V2)
    case_id = accepted_petition(app, "D", local(2024, 5, 23, 9))
    app.fire(case_id, "contact", OFFICE, local(2024, 5, 23, 10), method="phone",
             outcome="reached")
    app.fire(case_id, "mediate", OFFICE, local(2024, 5, 23, 14), track="people")
    app.close()
    env: dict[str, str] = {}
    shown = json.loads(invoke("show", case_id, "--db", url, "--as-of", "2024-05-24T10:00",
                              "--json", env=env).output)
    contact, resolve = shown["clocks"]["contact"], shown["clocks"]["resolve"]
    assert (contact["status"], contact["limit"]) == ("met", "24h")
    # Paused since Thursday 14:00: 4 working hours that day, 1 on Friday by 10:00; the 12
    # working hours left when the pause began (to Friday 18:00) stay left.
    assert (resolve["status"], resolve["limit"], resolve["paused_hours"],
            resolve["left_hours"]) == ("paused", "16wh", 5, 12)
    text = invoke("show", case_id, "--db", url, "--as-of", "2024-05-24T10:00", env=env).output
    assert "resolve   due 2024-05-24 10:00 UTC (16wh)  paused, 12 working h left, paused 5 " \
           "working h" in text


def test_migrate_moves_running_cases_to_version_2_keeping_their_deadlines(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'office.db'}"
    old = new_app(url, workflows=REGISTRY_V1)
    running = old.open_case("petition", OFFICE, local(2024, 5, 23, 9), channel="hotline",
                            title="Noise", location=COMMUNITY)
    old.fire(running, "assess", OFFICE, local(2024, 5, 23, 9), grade="C", category="noise",
             dispute=True)
    old.fire(running, "dispatch", OFFICE, local(2024, 5, 23, 9), unit=COMMUNITY)
    old.fire(running, "accept", OFFICE, local(2024, 5, 23, 9))
    v1_deadline = old.get_case(running).deadline
    assert v1_deadline == local(2024, 5, 23, 9) + timedelta(hours=168)
    old.close()

    app = new_app(url, workflows=V2, clock=lambda: local(2024, 5, 23, 18))
    summary = run_job(app, Migration("petition", 2), Candidates(CaseFilter(
        kind="petition", version_below=2)))
    assert (summary.changed, summary.refused) == (1, 0)
    view = app.get_case(running)
    assert (view.version, view.state, view.deadline) == (2, "in_progress", v1_deadline)
    # The new version's triggers apply; its next clock is counted in working time.
    app.fire(running, "mediate", OFFICE, local(2024, 5, 24, 9), track="people")
    view = app.fire(running, "mediation_failed", OFFICE, local(2024, 5, 24, 12), note="no")
    # A clock in elapsed hours (v1's 168h) is moved by the elapsed time paused.
    assert view.deadline == v1_deadline + timedelta(hours=3)
    view = app.fire(running, "escalate", OFFICE, local(2024, 5, 24, 14), reason="too big")
    assert (view.resolve_limit, view.deadline) == ("7wd", local(2024, 6, 4, 18))
    app.close()


def test_an_enterprise_request_waits_for_material_without_its_clock_running(
        office: Casework) -> None:
    commissioner = Actor("he.qiang", roles=["commissioner"])
    case_id = office.open_case("enterprise_request", OFFICE, local(2024, 5, 20, 9),
                               channel="hotline", enterprise="Guanlan Precision Ltd",
                               title="Tax rebate")
    office.fire(case_id, "assess", commissioner, local(2024, 5, 20, 9), category="finance_tax",
                grade="D")  # 2 working days: Wednesday 22 May 18:00
    office.fire(case_id, "assign", OFFICE, local(2024, 5, 20, 10), leader="Wang",
                department="guanlan/enterprise-service", commissioner="he.qiang")
    view = office.fire(case_id, "accept", commissioner, local(2024, 5, 20, 11))
    assert (view.deadline, view.contact_deadline) == (local(2024, 5, 22, 18),
                                                      local(2024, 5, 21, 11))
    office.fire(case_id, "contact", commissioner, local(2024, 5, 20, 12), method="visit",
                outcome="reached")
    office.fire(case_id, "request_material", commissioner, local(2024, 5, 21, 9),
                material="the invoices")
    # A working day and a half later (Tuesday 9:00 to Wednesday 14:00: 12 working hours).
    view = office.fire(case_id, "material_received", commissioner, local(2024, 5, 22, 14))
    assert view.paused_seconds == 12 * 3600
    assert view.deadline == local(2024, 5, 24, 14)  # Wednesday 18:00 + 12 working hours


def test_a_snapshot_from_before_the_clocks_still_loads(tmp_path: Path) -> None:
    """A version 1 case's state never holds the clocks' attributes, as snapshots taken
    before they existed do not: such a snapshot loads with the defaults."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = new_app(url, workflows=REGISTRY_V1, snapshot_interval=2)
    case_id = old.open_case("petition", OFFICE, local(2024, 5, 23, 9), channel="hotline",
                            title="Noise", location=COMMUNITY)
    old.fire(case_id, "assess", OFFICE, local(2024, 5, 23, 9), grade="C", category="noise")
    old.fire(case_id, "dispatch", OFFICE, local(2024, 5, 23, 9), unit=COMMUNITY)
    snapshot = next(iter(old.snapshots.get(case_id, desc=True, limit=1)))
    assert "contact_deadline" not in snapshot.state
    old.close()
    again = new_app(url, workflows=V2, snapshot_interval=2)
    view = again.fire(case_id, "accept", OFFICE, local(2024, 5, 23, 10))
    assert (view.version, view.contact_deadline, view.paused_seconds) == (1, None, 0.0)
    again.close()


def test_report_csv_gives_the_contact_clock_beside_the_resolution_clock(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'office.db'}"
    app = new_app(url, workflows=V2)
    reached = accepted_petition(app, "D", local(2024, 5, 23, 9))
    app.fire(reached, "contact", OFFICE, local(2024, 5, 23, 10), method="phone",
             outcome="reached")
    app.fire(reached, "resolve", OFFICE, local(2024, 5, 23, 16), resolution="done")
    accepted_petition(app, "D", local(2024, 5, 23, 9))  # never reached, nor resolved
    app.close()
    result = invoke("report", "--db", url, "--now", "2024-05-27T12:00", "--csv")
    assert result.exit_code == 0, result.output
    everything = next(csv.DictReader(io.StringIO(result.output)))
    assert everything["group"] == "all"
    assert {k: everything[k] for k in ("sla_met", "sla_late", "open_overdue")} == {
        "sla_met": "1", "sla_late": "0", "open_overdue": "1"}
    assert {k: everything[k] for k in ("contact_met", "contact_late",
                                       "contact_open_overdue", "contact_compliance")} == {
        "contact_met": "1", "contact_late": "0", "contact_open_overdue": "1",
        "contact_compliance": "0.5"}


def test_the_clocks_due_soon_and_the_contact_line_speak_chinese(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'office.db'}"
    app = new_app(url, workflows=V2)
    case_id = accepted_petition(app, "D", local(2024, 5, 23, 9))
    app.fire(case_id, "contact", OFFICE, local(2024, 5, 23, 10), method="phone",
             outcome="reached")
    app.fire(case_id, "mediate", OFFICE, local(2024, 5, 23, 14), track="people")
    due_id = accepted_petition(app, "D", local(2024, 5, 23, 9))
    app.close()
    shown = invoke("show", case_id, "--db", url, "--as-of", "2024-05-24T10:00", "--lang", "zh")
    assert shown.exit_code == 0, shown.output
    assert "联系时限  时限 2024-05-24 01:00 UTC（24h）  按时，剩余 23 小时" in shown.output
    assert "办结时限  时限 2024-05-24 10:00 UTC（16wh）  暂停计时，剩余 12 个工作小时，" \
        "已暂停 5 个工作小时" in shown.output
    env = {"CASEWORK_TIMEZONE": "Asia/Shanghai"}
    swept = invoke("sweep", "--db", url, "--now", "2024-05-24T15:00", "--lang", "zh", env=env)
    assert swept.exit_code == 0, swept.output
    assert "个时限即将到期：" in swept.output
    assert f"{due_id}  办结时限截止 2024-05-24 18:00 Asia/Shanghai，剩余 3.0 小时" in swept.output
    reported = invoke("report", "--db", url, "--now", "2024-05-27T12:00", "--lang", "zh")
    assert reported.exit_code == 0, reported.output
    assert "联系时限   D 50.0%（按时 1，逾期 0，超期未结 1）" in reported.output.splitlines()


def test_contacted_in_time_is_judged_by_the_recorded_contact_deadline(
        office: Casework) -> None:
    """Version 2 records each case's contact deadline: the units' accounts judge the contact
    by it (when the petitioner is first reached), not by the hours to taking the case on."""
    late = accepted_petition(office, "D", local(2024, 5, 23, 9))  # taken on at once...
    office.fire(late, "contact", OFFICE, local(2024, 5, 24, 9, 30), method="phone",
                outcome="reached")  # ...but reached 24.5 hours later: late
    slow = office.open_case("petition", OFFICE, local(2024, 5, 23, 9), channel="hotline",
                            title="Noise", location="guanlan/xinlan")
    office.fire(slow, "assess", OFFICE, local(2024, 5, 23, 9), grade="D", category="noise")
    office.fire(slow, "dispatch", OFFICE, local(2024, 5, 23, 9), unit="guanlan/xinlan")
    office.fire(slow, "accept", OFFICE, local(2024, 5, 24, 12))  # 27 hours to take it on...
    office.fire(slow, "contact", OFFICE, local(2024, 5, 24, 13), method="phone",
                outcome="reached")  # ...and reached an hour later: in time
    never = accepted_petition(office, "D", local(2024, 5, 23, 9))  # never reached
    assert office.get_case(never).contacted_at is None
    with ReadModel(office) as model:
        ranking = report(model, by="community", now=local(2024, 5, 27, 12)).assessment.ranking
        accounts = {account.key: account for account in ranking}
    assert (accounts[COMMUNITY].received, accounts[COMMUNITY].contacted_in_time) == (2, 0)
    assert (accounts["guanlan/xinlan"].received,
            accounts["guanlan/xinlan"].contacted_in_time) == (1, 1)


def test_cases_without_a_contact_clock_keep_the_workflows_contact_hours() -> None:
    """Version 1 cases record no contact deadline: taken on within the workflow's
    contact_within_hours (24) of receiving them is contacted in time."""
    app = new_app(workflows=REGISTRY_V1)
    for unit, taken_after in ((COMMUNITY, 2), ("guanlan/xinlan", 27)):
        case_id = app.open_case("petition", OFFICE, local(2024, 5, 23, 9), channel="hotline",
                                title="Noise", location=unit)
        app.fire(case_id, "assess", OFFICE, local(2024, 5, 23, 9), grade="C", category="noise")
        app.fire(case_id, "dispatch", OFFICE, local(2024, 5, 23, 9), unit=unit)
        app.fire(case_id, "accept", OFFICE, local(2024, 5, 23, 9) + timedelta(hours=taken_after))
        assert app.get_case(case_id).contact_deadline is None
    with ReadModel(app) as model:
        ranking = report(model, by="community", now=local(2024, 5, 27, 12)).assessment.ranking
        assert {a.key: a.contacted_in_time for a in ranking} == {
            COMMUNITY: 1, "guanlan/xinlan": 0}
    app.close()


def test_intake_by_day_counts_the_offices_days(office: Casework) -> None:
    """07:00 in Shanghai is 23:00 UTC the day before: the case counts on the Shanghai day."""
    office.open_case("petition", OFFICE, local(2024, 5, 23, 7), channel="hotline",
                     title="Noise", location=COMMUNITY)
    office.open_case("petition", OFFICE, local(2024, 5, 23, 23, 30), channel="online",
                     title="Noise", location=COMMUNITY)
    with ReadModel(office) as model:
        figures = report(model, now=local(2024, 5, 27, 12)).figures
    assert figures.intake_by_day == {"2024-05-23": {"hotline": 1, "online": 1}}
