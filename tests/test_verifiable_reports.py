"""Reports anyone can re-derive: ``report --as-of`` and ``--known-at``, the inputs' digest,
``--verify FILE`` and ``--explain FIGURE``, as a user drives them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework import Actor, Casework
from casework.timestamps import utc_now
from projections.filters import Filters
from projections.replayed import Cutoff
from projections.verification import verifiable_report

from .conftest import REGISTRY_V1
from .support import assert_one_line_error, invoke, simulated

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
AS_OF = "2024-05-10T00:00:00+00:00"
CLERK = Actor("li.na", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("chen.jie", roles=["handler"])
XINLAN = "guanlan/xinlan"


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def grade_b_petition(app: Casework, resolved_after: float | None, opened: float = 0) -> str:
    case_id = app.open_case("petition", CLERK, hours(opened), channel="hotline", title="noise")
    app.fire(case_id, "assess", CLERK, hours(opened), grade="B", category="noise")
    app.fire(case_id, "dispatch", CLERK, hours(opened + 1), unit=XINLAN)
    app.fire(case_id, "accept", HANDLER, hours(opened + 2))
    if resolved_after is not None:
        app.fire(case_id, "resolve", HANDLER, hours(opened + resolved_after),
                 resolution="done")
    return str(case_id)


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, list[str]]:
    """A database with two grade-B petitions resolved on time before AS_OF, recorded under
    version 1 of the petition (72 elapsed hours for grade B)."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    app = Casework(url, workflows=REGISTRY_V1)
    ids = [grade_b_petition(app, 30), grade_b_petition(app, 40, opened=5)]
    app.close()
    return url, ids


def report_json(*args: str) -> dict[str, Any]:
    result = invoke("report", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_saved_report_holds_until_events_before_its_time_are_added(
        store: tuple[str, list[str]], tmp_path: Path) -> None:
    url, ids = store
    saved = tmp_path / "may10.json"
    saved.write_text(json.dumps(report_json("--db", url, "--as-of", AS_OF)), encoding="utf-8")
    assert json.loads(saved.read_text())["sla"]["B"]["met"] == 2

    holds = invoke("report", "--db", url, "--verify", str(saved))
    assert holds.exit_code == 0, holds.output
    assert "the report holds" in holds.output

    # entered late: a petition of May 6th, resolved after 80 hours
    app = Casework(url, workflows=REGISTRY_V1)
    late = grade_b_petition(app, 80, opened=-10)
    app.fire(ids[0], "close", CLERK, hours(100), confirmed_by="petitioner")  # after AS_OF
    app.close()

    changed = invoke("report", "--db", url, "--verify", str(saved), "--explain", "sla.B.late")
    assert changed.exit_code == 1, changed.output
    assert "the report no longer holds" in changed.output
    assert "sla.B.breached: 0 -> 1" in changed.output
    assert "total: 2 -> 3" in changed.output
    assert f"{late} petition grade B, resolved" in changed.output
    assert "(moved: events recorded since the report)" in changed.output
    assert ids[0] not in changed.output.split("sla.B.late:")[1]

    verdict = json.loads(invoke("report", "--db", url, "--verify", str(saved), "--json",
                                "--explain", "sla.B.late").output)
    assert verdict["holds"] is False
    assert verdict["recorded_since"]["listed"] == [late]
    assert [case["case"] for case in verdict["explain"]["cases"]] == [late]
    assert verdict["explain"]["cases"][0]["moved"] is True


def test_explain_lists_the_cases_and_events_behind_a_figure(
        store: tuple[str, list[str]]) -> None:
    url, ids = store
    result = invoke("report", "--db", url, "--explain", "sla.B.met", "--json")
    assert result.exit_code == 0, result.output
    explained = json.loads(result.output)
    assert sorted(case["case"] for case in explained["cases"]) == sorted(ids)
    triggers = [event["trigger"] for event in explained["cases"][0]["events"]]
    assert triggers == ["open", "assess", "dispatch", "accept", "resolve"]
    assert explained["cases"][0]["events"][1]["deadline"] is not None
    by_kind = json.loads(invoke("report", "--db", url, "--explain", "by_kind.petition",
                                "--json").output)
    assert sorted(case["case"] for case in by_kind["cases"]) == sorted(ids)
    overall = json.loads(invoke("report", "--db", url, "--explain", "sla.overall.met",
                                "--json").output)
    assert len(overall["cases"]) == 2
    nothing = invoke("report", "--db", url, "--explain", "sla.B.late", "--as-of", AS_OF)
    assert nothing.output.splitlines() == ["sla.B.late: 0 cases"]


def test_known_at_leaves_out_what_was_recorded_later(store: tuple[str, list[str]]) -> None:
    url, _ = store
    recorded_by = utc_now().isoformat()
    app = Casework(url)
    late = grade_b_petition(app, 80, opened=-10)
    app.close()

    then = report_json("--db", url, "--known-at", recorded_by)
    assert then["total"] == 2
    assert then["late_entries"] == {"events": 5, "cases": 1, "listed": [late]}
    text = invoke("report", "--db", url, "--known-at", recorded_by).output
    assert text.splitlines()[-1] == "entered after --known-at (not counted): 5 events of 1 case"
    now = report_json("--db", url)
    assert now["total"] == 3 and "late_entries" not in now
    assert then["inputs"]["digest"] != now["inputs"]["digest"]


def test_a_figure_edited_in_a_saved_report_is_named(store: tuple[str, list[str]],
                                                     tmp_path: Path) -> None:
    url, _ = store
    figures = report_json("--db", url, "--as-of", AS_OF)
    figures["resolved"] = 9
    saved = tmp_path / "edited.json"
    saved.write_text(json.dumps(figures), encoding="utf-8")
    result = invoke("report", "--db", url, "--verify", str(saved))
    assert result.exit_code == 1
    assert "resolved: 9 -> 2" in result.output


def test_bad_verify_and_explain_input_is_one_line_and_exit_2(
        store: tuple[str, list[str]], tmp_path: Path) -> None:
    url, _ = store
    not_json = tmp_path / "notes.txt"
    not_json.write_text("hello", encoding="utf-8")
    assert_one_line_error(invoke("report", "--db", url, "--verify", str(not_json)), 2,
                          "is not JSON")
    no_inputs = tmp_path / "old.json"
    no_inputs.write_text('{"total": 2}', encoding="utf-8")
    assert_one_line_error(invoke("report", "--db", url, "--verify", str(no_inputs)), 2,
                          "not a JSON report with its inputs")
    assert_one_line_error(invoke("report", "--db", url, "--verify", str(tmp_path / "no")),
                          2, "cannot read")
    assert_one_line_error(invoke("report", "--db", url, "--explain", "sla.Z.late"), 2,
                          "no figure 'sla.Z.late'")
    assert_one_line_error(invoke("report", "--db", url, "--explain", "sla"), 2,
                          "is a group of figures")
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(report_json("--db", url)), encoding="utf-8")
    assert_one_line_error(invoke("report", "--db", url, "--verify", str(saved), "--kind",
                                 "petition", "--now", AS_OF), 2,
                          "takes the saved report's options, not --kind, --now")


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000), kind=st.sampled_from([None, "petition"]))
def test_a_cut_after_every_event_is_the_report(seed: int, kind: str | None) -> None:
    app = simulated("sqlite:///:memory:", seed=seed, petitions=20)
    judged = datetime(2024, 6, 1, tzinfo=UTC)
    filters = Filters(kind=kind)
    live = verifiable_report(app, filters, "grade", judged)
    cut = verifiable_report(app, filters, "grade", judged,
                            Cutoff.of(datetime(2099, 1, 1, tzinfo=UTC), None))
    assert cut.report.as_dict() == live.report.as_dict()
    assert cut.inputs.chain_digest == live.inputs.chain_digest
    assert cut.inputs.cases == live.report.figures.total
    nothing = verifiable_report(app, filters, None, judged,
                                Cutoff.of(None, datetime(2000, 1, 1, tzinfo=UTC)))
    assert nothing.report.figures.total == 0
    assert nothing.late is not None and nothing.late.events == app.recorded_events()


def test_a_report_without_a_cut_holds_while_nothing_is_recorded(
        store: tuple[str, list[str]], tmp_path: Path) -> None:
    url, ids = store
    saved = tmp_path / "now.json"
    saved.write_text(json.dumps(report_json("--db", url, "--now", AS_OF, "--by", "grade")),
                     encoding="utf-8")
    assert invoke("report", "--db", url, "--verify", str(saved)).exit_code == 0
    app = Casework(url)
    app.fire(ids[0], "close", CLERK, hours(100), confirmed_by="petitioner")
    app.close()
    moved = invoke("report", "--db", url, "--verify", str(saved))
    assert moved.exit_code == 1
    assert "by_state.resolved: 2 -> 1" in moved.output
    assert f"1 event of 1 case: {ids[0]}" in moved.output


def test_the_page_of_a_report_as_of_a_time(store: tuple[str, list[str]],
                                           tmp_path: Path) -> None:
    url, _ = store
    page = tmp_path / "page.html"
    result = invoke("report", "--db", url, "--as-of", "2024-05-06T12:00+00:00", "--html",
                    str(page))
    assert result.exit_code == 0, result.output
    assert '"total": 1' in page.read_text(encoding="utf-8").replace('"total":1', '"total": 1')
