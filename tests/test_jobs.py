"""Batch jobs: the sweep, migrations and reprocessing — deterministic, idempotent,
resumable after SIGKILL, and the same with one worker or several."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework import Actor, Casework, WorkflowRegistry
from casework.jobs.migration import Migration
from casework.jobs.reprocess import Reprocess
from casework.jobs.runner import run_job
from casework.jobs.sweep import Sweep, sweep_rules
from projections.filters import CaseFilter
from projections.selection import Candidates

from .conftest import ORGANISATION, REGISTRY, new_app
from .support import (
    CLERK,
    HANDLER,
    REPO,
    T0,
    business_history,
    casework_command,
    overdue_petitions,
    petition_v2,
    running_v1_then_v2,
)


def sweep(app: Casework, now: datetime, workers: int = 1) -> Any:
    candidates = Candidates(due=tuple(sweep_rules(app.workflows, now)))
    return run_job(app, Sweep(now), candidates, workers=workers)


def escalations_for_overdue(app: Casework, case_id: str) -> int:
    return sum(1 for e in app.history(case_id)
               if e.trigger == "escalate" and e.fields.get("reason") == "overdue")


# The sweep -----------------------------------------------------------------------------

def test_sweep_escalates_overdue_cases_to_the_parent_unit_with_a_fresh_deadline(
        database_url: str) -> None:
    app = new_app(database_url)
    ids = overdue_petitions(app, 6)
    now = T0 + timedelta(hours=3)
    summary = sweep(app, now)
    assert (summary.examined, summary.changed, summary.refused) == (6, 6, 0)
    for case_id in ids:
        case = app.get_case(case_id)
        assert case.unit == "guanlan"
        assert case.state == "dispatched"
        assert case.deadline == now + timedelta(hours=2)
        entry = app.history(case_id)[-1]
        assert (entry.actor, entry.role, entry.fields) == ("system", "system",
                                                           {"reason": "overdue"})


def test_sweep_closes_unconfirmed_cases_expires_unclaimed_tasks_and_lists_revisits(
        database_url: str) -> None:
    app = new_app(database_url)
    batch = app.batch()
    resolved = batch.open_case("petition", CLERK, T0, channel="hotline", title="resolved")
    batch.fire(resolved, "assess", CLERK, T0, grade="C", category="noise")
    batch.fire(resolved, "dispatch", CLERK, T0, unit="guanlan/guancheng/b1")
    batch.fire(resolved, "accept", HANDLER, T0)
    batch.fire(resolved, "resolve", HANDLER, T0 + timedelta(hours=1), resolution="quiet now")
    closed = batch.open_case("petition", CLERK, T0, channel="hotline", title="closed",
                             phone="13800000000")
    batch.fire(closed, "assess", CLERK, T0, grade="D", category="noise")
    batch.fire(closed, "dispatch", CLERK, T0, unit="guanlan/guancheng/b1/g1")
    batch.fire(closed, "accept", HANDLER, T0)
    batch.fire(closed, "resolve", HANDLER, T0, resolution="done")
    batch.fire(closed, "close", CLERK, T0, confirmed_by="petitioner")
    task = batch.open_case("volunteer_task", Actor("o", ["organiser"]), T0, title="help",
                           claim_by=(T0 + timedelta(days=2)).isoformat())
    batch.commit()

    too_early = sweep(app, T0 + timedelta(days=1))
    assert too_early.changed == 0 and too_early.listed == []

    summary = sweep(app, T0 + timedelta(days=8))
    assert app.get_case(resolved).state == "closed"
    assert app.history(resolved)[-1].fields == {"confirmed_by": "default"}
    assert app.get_case(task).state == "expired"
    assert summary.changed == 2
    assert [entry["case"] for entry in summary.listed] == [str(closed)]
    assert summary.listed[0]["phone"] == "13800000000"


def test_the_revisit_list_names_whom_to_call_as_each_workflow_marks_its_contact(
        database_url: str) -> None:
    """A petition's contact is its petitioner; an enterprise request's is its contact person:
    the workflow files say so (``contact = true``), not the sweep."""
    app = new_app(database_url)
    commissioner = Actor("he.qiang", roles=["commissioner"])
    batch = app.batch()
    request = batch.open_case("enterprise_request", CLERK, T0, channel="enterprise_visit",
                              enterprise="Guanlan Printing Co.", title="Needs a loan",
                              contact="Zhang Wei", phone="13911112222")
    batch.fire(request, "assess", CLERK, T0, category="investment_financing", grade="B")
    batch.fire(request, "assign", CLERK, T0, leader="Deputy Chen",
               department="guanlan/enterprise-service", commissioner="he.qiang")
    batch.fire(request, "accept", commissioner, T0)
    batch.fire(request, "resolve", commissioner, T0, resolution="loan arranged")
    batch.fire(request, "close", commissioner, T0, confirmed_by="enterprise")
    petition = batch.open_case("petition", CLERK, T0, channel="hotline", title="Noise",
                               petitioner="Liu Xiuying", phone="13800000000")
    batch.fire(petition, "assess", CLERK, T0, grade="D", category="noise")
    batch.fire(petition, "dispatch", CLERK, T0, unit="guanlan/guancheng/b1/g1")
    batch.fire(petition, "accept", HANDLER, T0)
    batch.fire(petition, "resolve", HANDLER, T0, resolution="done")
    batch.fire(petition, "close", CLERK, T0, confirmed_by="petitioner")
    batch.commit()

    listed = {entry["kind"]: entry for entry in sweep(app, T0 + timedelta(days=8)).listed}

    assert listed["enterprise_request"]["contact"] == "Zhang Wei"
    assert listed["enterprise_request"]["phone"] == "13911112222"
    assert listed["petition"]["petitioner"] == "Liu Xiuying"
    assert listed["petition"]["phone"] == "13800000000"


def copy_cases(source: Casework, target: Casework, ids: list[str]) -> None:
    for case_id in ids:
        target.events.put(list(source.events.get(source.parse_case_id(case_id))))


def test_two_sweeps_with_the_same_now_equal_one(database_url: str) -> None:
    once, twice = new_app(), new_app(database_url)
    ids = overdue_petitions(once, 30)
    copy_cases(once, twice, ids)
    now = T0 + timedelta(hours=5)
    sweep(once, now)
    sweep(twice, now)
    second = sweep(twice, now)
    assert second.changed == 0
    for case_id in ids:
        assert business_history(twice, case_id) == business_history(once, case_id)


@pytest.mark.slow
def test_one_worker_equals_four_workers(tmp_path: Path) -> None:
    one = Casework(f"sqlite:///{tmp_path / 'one.db'}", workflows=REGISTRY,
                   organisation=ORGANISATION)
    ids = overdue_petitions(one, 80)
    four = Casework(f"sqlite:///{tmp_path / 'four.db'}", workflows=REGISTRY,
                    organisation=ORGANISATION)
    copy_cases(one, four, ids)
    now = T0 + timedelta(hours=4)
    by_one = sweep(one, now, workers=1)
    by_four = sweep(four, now, workers=4)
    assert (by_one.examined, by_one.changed) == (by_four.examined, by_four.changed) == (80, 80)
    for case_id in ids:
        assert business_history(four, case_id) == business_history(one, case_id)


@pytest.mark.slow
def test_a_sweep_killed_part_way_finishes_on_the_rerun_with_every_case_escalated_once(
        tmp_path: Path) -> None:
    database = tmp_path / "kill.db"
    app = Casework(f"sqlite:///{database}", workflows=REGISTRY, organisation=ORGANISATION)
    ids = overdue_petitions(app, 3000)
    before = app.recorder.max_notification_id()
    now = (T0 + timedelta(hours=6)).isoformat()
    command = [*casework_command(), "sweep", "--db", f"sqlite:///{database}", "--now", now]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}

    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if _max_notification(database) > before:  # the first chunk has been committed
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    escalated_when_killed = _max_notification(database) - before
    assert 0 < escalated_when_killed < len(ids), "the kill should land part-way"

    rerun = subprocess.run(command, env=environment, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert all(escalations_for_overdue(app, case_id) == 1 for case_id in ids)
    assert app.recorder.max_notification_id() - before == len(ids)


def _max_notification(database: Path) -> int:
    with sqlite3.connect(database, timeout=30) as conn:
        return conn.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0] or 0


# Migrations ----------------------------------------------------------------------------

def test_migration_moves_cases_in_every_state_and_keeps_their_history(tmp_path: Path) -> None:
    old, app = running_v1_then_v2(tmp_path, petition_v2(tmp_path))
    cases = {}
    for state, steps in {
        "collected": [],
        "assessed": [("assess", CLERK, {"grade": "C", "category": "noise"})],
        "in_progress": [("assess", CLERK, {"grade": "C", "category": "noise"}),
                        ("dispatch", CLERK, {"unit": "guanlan/guancheng/b1"}),
                        ("accept", HANDLER, {})],
        "rejected": [("reject", CLERK, {"reason": "spam"})],
    }.items():
        case_id = old.open_case("petition", CLERK, T0, channel="hotline", title=state)
        for trigger, actor, fields in steps:
            old.fire(case_id, trigger, actor, T0, **fields)
        cases[state] = case_id
    assert all(app.get_case(c).version == 1 for c in cases.values())
    app.clock = lambda: T0 + timedelta(days=1)

    summary = run_job(app, Migration("petition", 2), Candidates(CaseFilter(kind="petition",
                                                                            version_below=2)))
    assert (summary.changed, summary.refused) == (4, 0)
    moved = app.get_case(cases["in_progress"])
    assert (moved.version, moved.state, moved.stage) == (2, "handling", "follow_up")
    assert app.get_case(cases["collected"]).state == "collected"
    last = app.history(cases["in_progress"])[-1]
    assert (last.trigger, last.from_state, last.to_state) == ("migrate", "in_progress",
                                                              "handling")
    assert [e.trigger for e in app.history(cases["in_progress"])] == [
        "open", "assess", "dispatch", "accept", "migrate"]
    # The new version's triggers now apply; the old history is untouched.
    assert app.fire(moved.id, "hold", HANDLER, T0 + timedelta(days=2),
                    reason="waiting").state == "on_hold"
    assert run_job(app, Migration("petition", 2), Candidates(CaseFilter(
        kind="petition", version_below=2))).changed == 0

    from casework.audit import audit
    assert audit(app).findings == []


def test_only_the_system_or_a_supervisor_may_migrate(tmp_path: Path) -> None:
    old, app = running_v1_then_v2(tmp_path, petition_v2(tmp_path))
    case_id = old.open_case("petition", CLERK, T0, channel="hotline", title="x")
    by_clerk = run_job(app, Migration("petition", 2, CLERK), Candidates(CaseFilter()))
    assert (by_clerk.changed, by_clerk.refused) == (0, 1)
    assert "permission denied: clerk" in by_clerk.refusals[0]["reason"]
    by_supervisor = run_job(app, Migration("petition", 2, Actor("boss", ["supervisor"])),
                            Candidates(CaseFilter()))
    assert by_supervisor.changed == 1
    assert app.history(case_id)[-1].role == "supervisor"


def test_a_state_without_a_mapping_is_listed_and_left_alone(tmp_path: Path) -> None:
    petition_v2(tmp_path)
    text = (tmp_path / "petition.v2.toml").read_text(encoding="utf-8")
    (tmp_path / "petition.v2.toml").write_text(
        re.sub(r"(?m)^mediating +=.*\n", "", text)  # the state, whatever its titles
        .replace('"mediating"', '"handling"'), encoding="utf-8")
    old, app = running_v1_then_v2(tmp_path, WorkflowRegistry.from_directory(tmp_path))
    case_id = old.open_case("petition", CLERK, T0, channel="hotline", title="dispute")
    old.fire(case_id, "assess", CLERK, T0, grade="C", category="dispute")
    old.fire(case_id, "dispatch", CLERK, T0, unit="guanlan/guancheng/b1")
    old.fire(case_id, "accept", HANDLER, T0)
    old.fire(case_id, "mediate", HANDLER, T0, track="people")
    summary = run_job(app, Migration("petition", 2), Candidates(CaseFilter(kind="petition")))
    assert (summary.changed, summary.refused) == (0, 1)
    assert "mediating" in summary.refusals[0]["reason"]
    assert app.get_case(case_id).version == 1


# Reprocessing --------------------------------------------------------------------------

def test_reprocess_fires_once_per_case_even_when_run_twice(database_url: str) -> None:
    app = new_app(database_url)
    ids = overdue_petitions(app, 10)
    note = Reprocess("note", HANDLER, T0 + timedelta(hours=1), {"note": "weekly review"},
                     name="review-week-19")
    selection = Candidates(CaseFilter(state="in_progress"))
    first = run_job(app, note, selection)
    second = run_job(app, note, selection)
    assert (first.changed, second.changed) == (5, 0)
    assert sum(e.trigger == "note" for c in ids for e in app.history(c)) == 5


def test_reprocess_reports_the_cases_it_refuses_and_changes_nothing_there(
        database_url: str) -> None:
    app = new_app(database_url)
    overdue_petitions(app, 4)
    resolve = Reprocess("resolve", Actor("nobody"), T0 + timedelta(hours=1),
                        {"resolution": "bulk"})
    summary = run_job(app, resolve, Candidates(CaseFilter(kind="petition")))
    assert (summary.changed, summary.refused) == (0, 4)
    assert all("cannot resolve" in r["reason"] or "permission denied" in r["reason"]
               for r in summary.refusals)


FILTERS = st.fixed_dictionaries({}, optional={
    "kind": st.sampled_from(["petition", "volunteer_task"]),
    "state": st.sampled_from(["collected", "assessed", "dispatched", "in_progress",
                              "published"]),
    "stage": st.sampled_from(["collect", "assess", "dispatch", "follow_up"]),
    "unit": st.sampled_from(["guanlan", "guanlan/guancheng", "guanlan/guancheng/b1",
                             "guanlan/xinlan"]),
    "grade": st.sampled_from(["A", "B", "C", "D"]),
    "opened_before": st.integers(0, 12).map(lambda h: T0 + timedelta(hours=h)),
    "opened_after": st.integers(0, 12).map(lambda h: T0 + timedelta(hours=h)),
})


@pytest.fixture(scope="module")
def varied_cases() -> Casework:
    """Cases of two kinds, in several states, units, grades and opening times."""
    app = new_app()
    batch = app.batch()
    units = ["guanlan/guancheng", "guanlan/guancheng/b1", "guanlan/guancheng/b1/g1",
             "guanlan/xinlan", "guanlan/xinlan/b2"]
    for n in range(40):
        opened = T0 + timedelta(hours=n % 12)
        case_id = batch.open_case("petition", CLERK, opened, channel="hotline", title=str(n))
        if n % 5 == 0:
            continue
        grade = "ABCD"[n % 4] if n % 4 else "D"
        batch.fire(case_id, "assess", CLERK, opened, grade=grade, category="road")
        if n % 5 == 1:
            continue
        unit = units[n % len(units)] if grade == "D" else units[n % 2 * 3]
        batch.fire(case_id, "dispatch", CLERK, opened, unit=unit)
        if n % 5 == 2:
            batch.fire(case_id, "accept", HANDLER, opened)
    for n in range(6):
        batch.open_case("volunteer_task", Actor("o", ["organiser"]), T0 + timedelta(hours=n),
                        title=str(n), location=units[n % len(units)])
    batch.commit()
    return app


@pytest.mark.slow
@settings(max_examples=60)
@given(where=FILTERS)
def test_a_reprocess_dry_run_selects_exactly_what_a_plain_filter_over_get_case_selects(
        varied_cases: Casework, where: dict[str, Any]) -> None:
    app = varied_cases
    step = Reprocess("note", HANDLER, T0 + timedelta(days=1), {"note": "check"},
                     name="dry-run-check")
    summary = run_job(app, step, Candidates(CaseFilter(**where)), dry_run=True)
    selected = {r["case"] for r in summary.refusals} | {c["case"] for c in summary.changes}

    expected = set()
    for case_id in app.events.recorder.select_notifications(start=1, limit=10_000):
        view = app.get_case(case_id.originator_id)
        if _matches(view, where):
            expected.add(str(view.id))
    assert selected == expected
    assert sum(e.trigger == "note" for c in expected for e in app.history(c)) == 0


def _matches(view: Any, where: dict[str, Any]) -> bool:
    unit = where.get("unit")
    return all([
        "kind" not in where or view.kind == where["kind"],
        "state" not in where or view.state == where["state"],
        "stage" not in where or view.stage == where["stage"],
        "grade" not in where or view.grade == where["grade"],
        unit is None or (view.unit is not None
                         and (view.unit == unit or view.unit.startswith(unit + "/"))),
        "opened_before" not in where or view.opened_at < where["opened_before"],
        "opened_after" not in where or view.opened_at >= where["opened_after"],
    ])


# Dry runs of import and rebuild ---------------------------------------------------------

def test_an_import_dry_run_checks_every_row_and_stores_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from cli import cli

    monkeypatch.chdir(tmp_path)
    source = new_app(f"sqlite:///{tmp_path / 'source.db'}")
    overdue_petitions(source, 5)
    runner = CliRunner()
    exported = runner.invoke(cli, ["export", "--db", f"sqlite:///{tmp_path / 'source.db'}"])
    as_older = "".join(exported.stdout.splitlines(keepends=True)[1:-1])  # no opening, closing
    (tmp_path / "cases.jsonl").write_text(as_older + "not json\n", encoding="utf-8")
    target = f"sqlite:///{tmp_path / 'target.db'}"

    result = runner.invoke(cli, ["import", "cases.jsonl", "--dry-run", "--db", target])

    assert result.exit_code == 8
    assert result.stdout.startswith("would import 5 cases, skipped 0 already present, "
                                    "rejected 1")
    assert "line 6: not valid JSON" in result.stderr
    assert not (tmp_path / "cases.rejects.jsonl").exists()
    assert new_app(target).recorder.max_notification_id() is None


def test_a_rebuild_dry_run_lists_the_rows_a_rebuild_would_change(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import cli

    database = tmp_path / "cases.db"
    ids = overdue_petitions(new_app(f"sqlite:///{database}"), 3)
    runner = CliRunner()
    assert runner.invoke(cli, ["rebuild", "--dry-run", "--db", f"sqlite:///{database}"]
                         ).stdout == "a rebuild would change 0 rows\n"
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE case_summary SET state = 'teleported' WHERE id = ?", (ids[1],))

    result = runner.invoke(cli, ["rebuild", "--dry-run", "--db", f"sqlite:///{database}"])

    assert result.stdout.splitlines() == [
        f"{ids[1]}: the read-model row disagrees with the events: state 'teleported' "
        "(events say 'in_progress')",
        "a rebuild would change 1 row"]
    assert runner.invoke(cli, ["rebuild", "--db", f"sqlite:///{database}"]).exit_code == 0
    assert runner.invoke(cli, ["rebuild", "--dry-run", "--db", f"sqlite:///{database}"]
                         ).stdout == "a rebuild would change 0 rows\n"


def test_a_reprocess_typo_is_refused_before_any_case_is_touched(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import cli

    database = f"sqlite:///{tmp_path / 'cases.db'}"
    app = new_app(database)
    overdue_petitions(app, 4)
    before = app.recorder.max_notification_id()
    runner = CliRunner()
    base = ["reprocess", "--db", database, "--where", "kind=petition", "--actor", "boss",
            "--role", "supervisor"]
    for extra, code, fragment in (
            (["--trigger", "nte", "note=x"], 4, "petition v2 has no trigger 'nte'"),
            (["--trigger", "note", "nte=x"], 2, "field 'nte'"),
            (["--trigger", "note"], 2, "field 'note': note requires it")):
        result = runner.invoke(cli, [*base, *extra])
        assert result.exit_code == code, result.stderr
        assert result.stderr.startswith("casework: ") and fragment in result.stderr
    assert app.recorder.max_notification_id() == before  # nothing recorded

    refused = runner.invoke(cli, [*base, "--trigger", "resolve", "resolution=bulk"])
    assert refused.exit_code == 1  # some cases refused: the status says so
    assert "refused 2" in refused.stdout  # the two still dispatched cannot be resolved
