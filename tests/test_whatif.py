"""``casework whatif``: a period replayed under a candidate policy, next to the policy in force.

Under the policy in force it is the report exactly; a longer limit never makes a case late
that was on time; the store is not touched (the database file keeps its bytes).
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from casework import Actor, Casework
from casework.limits import Limit, parse_limit
from casework.whatif import Policy
from projections import ReadModel
from projections.filters import Filters
from projections.replayed import Cutoff
from projections.report import report
from projections.scratch import ScratchReadModel
from projections.tables import unit_ledger
from projections.verification import verifiable_report
from projections.whatif import IN_TIME, LATE, ON_TIME, OVERDUE, what_if
from workflows import DEFINITIONS

from .conftest import REGISTRY, database
from .support import assert_one_line_error, invoke, simulated

MAY, JUNE = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
CLERK = Actor("li.na", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("chen.jie", roles=["handler"])
XINLAN, GUANCHENG = "guanlan/xinlan", "guanlan/guancheng"
SIMULATIONS = settings(max_examples=6, deadline=None)
"""Each example simulates a small month: a handful is enough to vary the histories."""


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def grade_b_petitions(url: str) -> tuple[Casework, str, str]:
    """A grade-B petition resolved after 60 hours (on time under 72), and one still in
    progress after 50 hours."""
    app = Casework(url)
    resolved = app.open_case("petition", CLERK, T0, channel="hotline", title="noise")
    app.fire(resolved, "assess", CLERK, T0, grade="B", category="noise")
    app.fire(resolved, "dispatch", CLERK, hours(1), unit=XINLAN)
    app.fire(resolved, "accept", HANDLER, hours(2))
    app.fire(resolved, "resolve", HANDLER, hours(60), resolution="quiet now")
    waiting = app.open_case("petition", CLERK, T0, channel="hotline", title="road")
    app.fire(waiting, "assess", CLERK, T0, grade="B", category="road")
    app.fire(waiting, "dispatch", CLERK, hours(1), unit=XINLAN)
    app.fire(waiting, "accept", HANDLER, hours(2))
    return app, str(resolved), str(waiting)


@SIMULATIONS
@given(seed=st.integers(0, 10_000), start=st.integers(0, 30), days=st.integers(1, 31),
       kind=st.sampled_from([None, "petition", "enterprise_request"]))
def test_whatif_under_the_policy_in_force_is_the_report(seed: int, start: int, days: int,
                                                        kind: str | None) -> None:
    app = simulated("sqlite:///:memory:", seed=seed, petitions=24)
    since = MAY + timedelta(days=start)
    filters = Filters(kind, None, since, since + timedelta(days=days))
    result = what_if(app, Policy(app.workflows), filters, by="grade", now=JUNE)
    with ReadModel(app) as read_model:
        expected = report(read_model, filters, by="grade", now=JUNE).as_dict()
    assert result.in_force.as_dict() == expected
    assert result.candidate.as_dict() == expected
    assert (result.figures, result.changed_cases, result.escalations, result.illegal,
            result.sweep) == ([], [], [], [], [])


@SIMULATIONS
@given(seed=st.integers(0, 10_000), grade=st.sampled_from("ABCD"),
       longer=st.floats(0.5, 200), kind=st.sampled_from([None, "petition"]))
def test_a_longer_limit_never_makes_a_case_late_that_was_on_time(
        seed: int, grade: str, longer: float, kind: str | None) -> None:
    app = simulated("sqlite:///:memory:", seed=seed, petitions=24)
    in_force = app.workflows.get("petition").grades[grade].resolve
    # Longer in the limit's own unit (a working day is 24 hours here: at least a day more).
    more = Decimal(math.ceil(longer / 24)) if in_force.unit == "wd" else Decimal(str(longer))
    limit = in_force + Limit(more, in_force.unit)
    # Named for petitions: another kind's grade of the same name has a limit of its own.
    candidate = Policy.candidate(app.workflows,
                                 overrides=(f"petition.{grade}.resolve={limit}",))
    result = what_if(app, candidate, Filters(kind, None, MAY, JUNE), by="unit", now=JUNE)
    for case in result.changed_cases:
        assert case.in_force in (LATE, OVERDUE), case
        assert case.candidate in (ON_TIME, IN_TIME), case
        assert case.deadline_candidate > case.deadline_in_force
    assert all(not change.would for change in result.escalations)
    before, after = result.in_force.figures.sla, result.candidate.figures.sla
    for key, judged in before.items():
        assert after[key].met >= judged.met
        assert after[key].breached + after[key].open_overdue <= (
            judged.breached + judged.open_overdue)
    # The units' accounts, summed: no more breaches, no fewer resolutions in time.
    for name, fewer in (("breaches", True), ("resolved_in_time", False)):
        sums = [sum(getattr(account, name) for account in accounts(result, side).values())
                for side in ("in_force", "candidate")]
        assert (sums[1] <= sums[0]) if fewer else (sums[1] >= sums[0]), (name, sums)


def test_a_shorter_limit_names_the_cases_that_turn_late(tmp_path: Path) -> None:
    app, resolved, waiting = grade_b_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    candidate = Policy.candidate(app.workflows, overrides=("petition.B.resolve=48h",))
    result = what_if(app, candidate, Filters(since=MAY, until=JUNE), now=hours(50))

    changed = {case.case_id: (case.in_force, case.candidate) for case in result.changed_cases}
    assert changed == {resolved: (ON_TIME, LATE), waiting: (IN_TIME, OVERDUE)}
    # Both were in progress when 48 hours passed: the nightly sweep would have escalated them.
    assert sorted((c.case_id, c.would, c.at) for c in result.escalations) == sorted(
        (case_id, True, hours(48).replace(tzinfo=None)) for case_id in (resolved, waiting))
    assert ("sla.B.breached", 0, 1) in result.figures
    assert ("sla.B.open_overdue", 0, 1) in result.figures


def accounts(result: Any, side: str) -> dict[str, Any]:
    """A whatif side's units' accounts (``--by unit|community|grid``), by key."""
    return {account.key: account for account in getattr(result, side).assessment.ranking}


def test_the_candidates_units_accounts_count_what_it_would_have_recorded(
        tmp_path: Path) -> None:
    """Resolved after 60 hours: on time under the limit in force, late under 48 hours. The
    candidate's account of the unit that held it counts the breach and no resolution in
    time; the account in force does not (it is the report's)."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    app, _, _ = grade_b_petitions(url)
    candidate = Policy.candidate(app.workflows, overrides=("petition.B.resolve=48h",))
    filters = Filters(since=MAY, until=JUNE)
    result = what_if(app, candidate, filters, by="unit", now=hours(50))
    in_force, judged = accounts(result, "in_force")[XINLAN], accounts(result, "candidate")[XINLAN]
    assert (in_force.received, in_force.breaches, in_force.resolved_in_time) == (2, 0, 1)
    assert (judged.received, judged.breaches, judged.resolved_in_time) == (2, 1, 0)
    assert (f"ranking.{XINLAN}.breaches", 0, 1) in result.figures
    assert (f"ranking.{XINLAN}.resolved_in_time", 1, 0) in result.figures
    with ReadModel(app) as read_model:
        assert result.in_force.as_dict() == report(read_model, filters, by="unit",
                                                    now=hours(50)).as_dict()
    app.close()
    shown = invoke("whatif", "--db", url, "--grade", "petition.B.resolve=48h", "--by",
                   "community", "--now", hours(50).isoformat(), "--json")
    assert shown.exit_code == 0, shown.output
    ranking = {side: {account["key"]: account["breaches"]
                      for account in json.loads(shown.stdout)[side]["ranking"]}
               for side in ("in_force", "candidate")}
    assert ranking == {"in_force": {XINLAN: 0}, "candidate": {XINLAN: 1}}


def test_only_the_accounts_of_cases_the_candidate_judges_otherwise_change(
        tmp_path: Path, monkeypatch) -> None:
    """Beside the two grade-B cases: one of grade B resolved after 10 hours (it diverges, its
    deadline moves, but it is on time either way) and one of grade C in another community
    (it does not diverge). Their entries under the candidate are the recorded ones, row for
    row; the late one's are the candidate's; the side in force keeps the live accounts."""
    app, resolved, waiting = grade_b_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    quick, other = (app.open_case("petition", CLERK, T0, channel="hotline", title=title)
                    for title in ("light", "bins"))
    for case_id, grade, unit in ((quick, "B", XINLAN), (other, "C", GUANCHENG)):
        app.fire(case_id, "assess", CLERK, T0, grade=grade, category="noise")
        app.fire(case_id, "dispatch", CLERK, hours(1), unit=unit)
        app.fire(case_id, "accept", HANDLER, hours(2))
        app.fire(case_id, "resolve", HANDLER, hours(10), resolution="done")
    ledgers: dict[str, list[Any]] = {}
    overlaid = ScratchReadModel.overlaid

    def kept(model: ScratchReadModel) -> ScratchReadModel:
        replayed = overlaid(model)
        ledgers["in_force"], ledgers["candidate"] = ledger(model), ledger(replayed)
        return replayed

    monkeypatch.setattr(ScratchReadModel, "overlaid", kept)
    candidate = Policy.candidate(app.workflows, overrides=("petition.B.resolve=48h",))
    result = what_if(app, candidate, Filters(since=MAY, until=JUNE), by="unit", now=hours(50))
    with ReadModel(app) as read_model:
        live = ledger(read_model)
    assert ledgers["in_force"] == live
    for case_id in (str(quick), str(other), waiting):
        assert entries_of(ledgers["candidate"], case_id) == entries_of(live, case_id)
    late = entries_of(ledgers["candidate"], resolved)
    assert late != entries_of(live, resolved)
    assert [(entry.unit, entry.breaches) for entry in late if entry.breaches] == [(XINLAN, 1)]
    assert sum(entry.resolved_in_time for entry in late) == 0
    assert accounts(result, "candidate")[GUANCHENG] == accounts(result, "in_force")[GUANCHENG]


def ledger(model: Any) -> list[Any]:
    """Every entry of a read model's units' accounts, in the order of their key."""
    u = unit_ledger.c
    with model.engine.connect() as conn:
        return conn.execute(select(unit_ledger).order_by(u.case_id, u.version, u.unit)).all()


def entries_of(entries: list[Any], case_id: str) -> list[Any]:
    return [entry for entry in entries if entry.case_id == case_id]


def test_a_candidate_workflow_lists_the_commands_it_would_refuse(tmp_path: Path) -> None:
    app, resolved, waiting = grade_b_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    text = (DEFINITIONS / "petition.toml").read_text(encoding="utf-8")
    text = text.replace('roles = ["handler", "supervisor"]\nassignee = "actor"',
                        'roles = ["supervisor"]\nassignee = "actor"', 1)
    text = text.replace("B = { deadline_hours = 72,", "B = { deadline_hours = 48,", 1)
    assert "deadline_hours = 48" in text and 'roles = ["supervisor"]' in text
    candidate_file = tmp_path / "petition-candidate.toml"
    candidate_file.write_text(text.replace("version = 1", "version = 2", 1), encoding="utf-8")

    result = what_if(app, Policy.candidate(app.workflows, files=(str(candidate_file),)),
                     Filters(since=MAY, until=JUNE), now=hours(50))

    refused = sorted((c.case_id, c.trigger) for c in result.illegal)
    assert refused == sorted([(resolved, "accept"), (waiting, "accept")])
    assert "role handler may not accept" in result.illegal[0].reason
    # Replayed as recorded all the same: the cases were accepted, and judged by 48 hours.
    assert result.candidate.figures.by_state == result.in_force.figures.by_state
    assert {case.case_id for case in result.changed_cases} == {resolved, waiting}


def test_the_store_keeps_its_bytes_after_a_whatif_run(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    app = simulated(f"sqlite:///{path}", seed=7, petitions=30)
    with ReadModel(app) as read_model:
        read_model.catch_up()
    app.close()
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}

    result = invoke("whatif", "--db", f"sqlite:///{path}", "--grade", "B.resolve=24h",
                    "--since", "2024-05-01", "--until", "2024-06-01", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["changed_cases"]
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert after == before


def test_the_command_prints_the_figures_side_by_side(tmp_path: Path) -> None:
    app, resolved, _ = grade_b_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    app.close()
    result = invoke("whatif", "--db", f"sqlite:///{tmp_path / 'cases.db'}", "--grade",
                    "B.resolve=2d", "--since", "2024-05-01", "--until", "2024-06-01",
                    "--now", hours(50).isoformat())
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split()[:3] == ["sla.B.breached", "0", "1"] for line in lines)
    assert f"  {resolved} petition grade B: on time -> late" in result.output


def test_a_malformed_candidate_is_one_line_and_exit_2(tmp_path: Path) -> None:
    app, _, _ = grade_b_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    app.close()
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    for given_limit, fragment in (("B.resolve=1.5wd", "whole days"),
                                  ("B.resolve=soon", "not a limit"),
                                  ("B.resolve=99999999999h", "longer than a century"),
                                  ("Z.resolve=2h", "no workflow has grade 'Z'"),
                                  ("B.respond=2h", "unknown clock"),
                                  ("B=2h", "[KIND.]GRADE.CLOCK=LIMIT")):
        assert_one_line_error(invoke("whatif", "--db", url, "--grade", given_limit), 2,
                              fragment)


def test_the_registry_is_the_policy_in_force() -> None:
    assert Policy(REGISTRY).in_force
    assert Policy(REGISTRY).grade_limits("petition", 1)["B"] == parse_limit("72h")
    assert Policy(REGISTRY).grade_limits("petition", 2)["B"] == parse_limit("15wd")
    assert Policy.candidate(REGISTRY, overrides=("B.resolve=90m",)).grade_limits(
        "petition", 1)["B"] == parse_limit("1.5h")
    assert Policy.candidate(REGISTRY, overrides=("B.resolve=10wd",)).grade_limits(
        "petition", 2)["B"] == parse_limit("10wd")


def test_rows_that_leave_the_memory_cache_give_the_same_answer(monkeypatch) -> None:
    app = simulated("sqlite:///:memory:", seed=11, petitions=40)
    candidate = Policy.candidate(app.workflows, overrides=("B.resolve=30h",))
    filters = Filters(since=MAY, until=JUNE)
    cached = what_if(app, candidate, filters, by="community", now=JUNE).as_dict()
    monkeypatch.setattr("projections.scratch.CACHED_ROWS", 3)
    spilled = what_if(app, candidate, filters, by="community", now=JUNE).as_dict()
    assert spilled == cached
    assert cached["changed_cases"]
    with ReadModel(app) as read_model:
        assert spilled["in_force"] == report(read_model, filters, by="community",
                                             now=JUNE).as_dict()


@pytest.mark.parametrize(("seed", "override"), [
    (5, "B.resolve=30h"), (12, "petition.C.resolve=1d"), (19, "D.resolve=20wd"),
    (23, "B.contact=2h")])
def test_the_live_rows_a_full_replay_and_cases_read_again_give_the_same_answer(
        monkeypatch, seed: int, override: str) -> None:
    """whatif copies the live read model's rows and folds only the cases the candidate makes
    diverge; without the live rows it folds the period, and a diverged case whose events it
    did not keep is read again: the answer is the same."""
    app = simulated("sqlite:///:memory:", seed=seed, petitions=30)
    candidate = Policy.candidate(app.workflows, overrides=(override,))
    filters = Filters(since=MAY + timedelta(days=3), until=JUNE)
    live = what_if(app, candidate, filters, by="community", now=JUNE).as_dict()
    monkeypatch.setattr("projections.whatif_replay.KEPT_EVENTS", 4)
    read_again = what_if(app, candidate, filters, by="community", now=JUNE).as_dict()
    monkeypatch.setattr("projections.whatif.live_rows", lambda *_: None)
    replayed = what_if(app, candidate, filters, by="community", now=JUNE).as_dict()
    assert live == read_again == replayed
    assert live["changed_cases"] or live["figures"]


def test_whatif_catches_the_read_model_up_first(tmp_path: Path) -> None:
    app, resolved, waiting = grade_b_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    with ReadModel(app) as read_model:
        read_model.catch_up()
    app.fire(waiting, "resolve", HANDLER, hours(70), resolution="fixed")  # not yet folded
    candidate = Policy.candidate(app.workflows, overrides=("petition.B.resolve=48h",))
    result = what_if(app, candidate, Filters(since=MAY, until=JUNE), now=hours(80))
    changed = {case.case_id: (case.in_force, case.candidate) for case in result.changed_cases}
    assert changed == {resolved: (ON_TIME, LATE), waiting: (ON_TIME, LATE)}
    assert result.events == app.recorded_events()


def test_whatif_and_a_report_as_of_a_time_on_postgresql() -> None:
    with database("postgresql") as url:
        app = simulated(url, seed=3, petitions=16)
        filters = Filters(since=MAY, until=JUNE)
        candidate = Policy.candidate(app.workflows, overrides=("B.resolve=30h",))
        result = what_if(app, candidate, filters, now=JUNE)
        with ReadModel(app) as read_model:
            assert result.in_force.as_dict() == report(read_model, filters,
                                                        now=JUNE).as_dict()
        cut = verifiable_report(app, filters, None, JUNE, Cutoff.of(JUNE, None))
        assert cut.report.as_dict() == result.in_force.as_dict()
        app.close()


def test_the_html_page_puts_both_report_pages_side_by_side(tmp_path: Path) -> None:
    app, resolved, _ = grade_b_petitions(f"sqlite:///{tmp_path / 'cases.db'}")
    app.close()
    out = tmp_path / "whatif.html"
    result = invoke("whatif", "--db", f"sqlite:///{tmp_path / 'cases.db'}", "--grade",
                    "B.resolve=48h", "--now", hours(50).isoformat(), "--html", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.count("<iframe") == 2
    assert page.count("report-json") == 2  # each side is the report page, whole
    assert "<td>sla.B.breached</td>" in page
    assert f"<code>{resolved}</code>" in page


def test_whatif_without_a_candidate_asks_for_one(tmp_path: Path) -> None:
    """The policy in force against itself answers no question: say what to give."""
    result = invoke("whatif", "--since", "2024-05-01", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.exit_code == 2 and "--workflow FILE, --calendar FILE, --grade" in result.stderr

