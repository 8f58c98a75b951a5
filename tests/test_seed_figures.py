"""The seeds' figures, built through the public API and read straight off the report (by
channel and by kind), with no arithmetic by the reader:

- Guanlan's 四个万家 door-to-door visits: 67 problems collected, 41 solved, 26 being followed up
  ("群众点单、入户党员派单、社区接单": residents order, the visiting party member dispatches,
  the community accepts);
- Pinghu's 四个一 enterprise service, 26–31 May: 324 enterprises visited, 326 requests
  collected, 317 solved, 9 in progress.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from casework import Actor, Casework
from projections import ReadModel
from projections.filters import Filters
from projections.report import Report, report

from .conftest import new_app
from .support import invoke

PARTY_MEMBER = Actor("party-member", roles=["intake", "assessor", "dispatcher"])
COMMUNITY_HANDLER = Actor("community-desk", roles=["handler"])
VISITOR = Actor("revisit-team", roles=["visitor"])
LEADER = Actor("pinghu-leader", roles=["intake", "assessor", "dispatcher"])
COMMISSIONER = Actor("commissioner", roles=["commissioner"])
COMMUNITIES = ["guancheng", "xinlan", "kukeng", "dashuikeng", "liguang", "songyuansha",
               "junzibu", "guihua", "niuhu", "zhangkengjing"]
VISITS_START = datetime(2024, 5, 6, 1, 0, tzinfo=UTC)
PINGHU_START = datetime(2024, 5, 26, 1, 0, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def guanlan_door_visits(app: Casework) -> None:
    """67 problems from households visited; the community takes each on; 41 solved (and the
    households say so at the revisit), 26 still followed up."""
    batch = app.batch()
    for n in range(67):
        at = VISITS_START + timedelta(hours=5 * n)
        community = f"guanlan/{COMMUNITIES[n % len(COMMUNITIES)]}"
        case_id = batch.open_case("petition", PARTY_MEMBER, at, channel="door_to_door",
                                  title="household visit", location=community)
        batch.fire(case_id, "assess", PARTY_MEMBER, at, grade="C", category="livelihood")
        batch.fire(case_id, "dispatch", PARTY_MEMBER, at + timedelta(hours=1), unit=community)
        batch.fire(case_id, "accept", COMMUNITY_HANDLER, at + timedelta(hours=3))
        if n >= 41:
            continue
        batch.fire(case_id, "resolve", COMMUNITY_HANDLER, at + timedelta(days=2),
                   resolution="helped")
        batch.fire(case_id, "close", PARTY_MEMBER, at + timedelta(days=2, hours=2),
                   confirmed_by="petitioner")
        batch.fire(case_id, "revisit", VISITOR, at + timedelta(days=5), valid=True,
                   contacted=True, solved=True, rating="satisfied")
    batch.commit()


def pinghu_enterprise_visits(app: Casework) -> None:
    """324 enterprises visited, two of them with two requests: 326; 317 solved, 9 in progress."""
    batch = app.batch()
    for n in range(326):
        at = PINGHU_START + timedelta(minutes=20 * n)
        enterprise = f"enterprise-{min(n, 323):03d}"
        case_id = batch.open_case("enterprise_request", LEADER, at, channel="enterprise_visit",
                                  enterprise=enterprise, title="request at the visit")
        batch.fire(case_id, "assess", LEADER, at, category="policy", grade="C")
        batch.fire(case_id, "assign", LEADER, at + timedelta(hours=1),
                   leader=LEADER.id, department="guanlan/enterprise-service",
                   commissioner=COMMISSIONER.id)
        batch.fire(case_id, "accept", COMMISSIONER, at + timedelta(hours=2))
        if n >= 317:
            continue
        batch.fire(case_id, "resolve", COMMISSIONER, at + timedelta(hours=30),
                   resolution="served")
    batch.commit()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Both scenarios in one office's store (a file, for the command line too)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('seeds') / 'seeds.db'}"
    app = new_app(url)
    guanlan_door_visits(app)
    pinghu_enterprise_visits(app)
    app.close()
    yield url


def office_report(url: str, **filters: str) -> Report:
    app = new_app(url)
    try:
        with ReadModel(app) as read_model:
            return report(read_model, Filters(**filters), now=NOW)
    finally:
        app.close()


def test_guanlan_door_visits_67_collected_41_solved_26_followed_up(seeded: str) -> None:
    figures = office_report(seeded)
    assert figures.assessment is not None
    assert figures.assessment.progress_by_channel["door_to_door"] == {
        "collected": 67, "resolved": 41, "in_progress": 26, "closed_otherwise": 0}
    petitions = office_report(seeded, kind="petition").figures
    assert (petitions.total, petitions.resolved, petitions.by_stage["follow_up"]) == (67, 41, 26)
    assert petitions.three_rates is not None
    assert (petitions.three_rates.valid, petitions.three_rates.solved) == (41, 41)


def test_pinghu_enterprise_service_326_requests_317_solved_9_in_progress(seeded: str) -> None:
    figures = office_report(seeded)
    assert figures.assessment is not None
    assert figures.assessment.progress_by_kind["enterprise_request"] == {
        "collected": 326, "resolved": 317, "in_progress": 9, "closed_otherwise": 0}
    assert figures.assessment.progress_by_channel["enterprise_visit"] == {
        "collected": 326, "resolved": 317, "in_progress": 9, "closed_otherwise": 0}


def test_the_command_line_report_says_them_in_so_many_words(seeded: str,
                                                           tmp_path: Path) -> None:
    text = invoke("report", "--db", seeded, "--now", NOW.isoformat()).stdout
    assert "door_to_door 67 collected, 41 resolved, 26 in progress" in text
    assert "enterprise_request 326 collected, 317 resolved, 9 in progress" in text
    data = json.loads(invoke("report", "--db", seeded, "--json").stdout)
    assert data["progress_by_kind"]["petition"]["collected"] == 67
