"""The figures the report page draws that the terminal report does not: intake per day by
channel, the time-to-close histogram, escalations from level to level, and the whole
category × community table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from casework import Actor, Casework
from projections import ReadModel
from projections.report import HOT_SPOTS, report

from .conftest import T0

CLERK = Actor("intake-desk", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("handler", roles=["handler"])
GRID = "guanlan/guancheng/b1/g1"
GUANCHENG = "guanlan/guancheng"
NOW = T0 + timedelta(days=60)


@pytest.fixture
def read_model(app: Casework) -> Iterator[ReadModel]:
    model = ReadModel(app)
    yield model
    model.close()


def petition(app: Casework, opened: datetime, unit: str = GRID, channel: str = "hotline",
             category: str = "road") -> UUID:
    """Opened through ``channel``, graded D, dispatched to ``unit`` and accepted there."""
    case_id = app.open_case("petition", CLERK, opened, channel=channel, title=category)
    app.fire(case_id, "assess", CLERK, opened, grade="D", category=category)
    app.fire(case_id, "dispatch", CLERK, opened, unit=unit)
    app.fire(case_id, "accept", HANDLER, opened)
    return case_id


def test_intake_per_day_counts_cases_by_the_offices_day_they_were_opened_and_their_channel(
        app: Casework, read_model: ReadModel) -> None:
    """Days are the office's (Asia/Shanghai): 23:30 UTC on the 26th is 07:30 on the 27th in
    Shenzhen, and counts on the 27th."""
    day = T0.replace(hour=0, minute=0)
    petition(app, day + timedelta(hours=1), channel="hotline")
    petition(app, day + timedelta(hours=23, minutes=30), channel="hotline")
    petition(app, day + timedelta(hours=5), channel="sensor")
    petition(app, day + timedelta(days=1, hours=2), channel="mini_program")

    figures = report(read_model, now=NOW).as_dict()

    assert figures["intake_by_day"] == {
        "2024-05-26": {"hotline": 1, "sensor": 1},
        "2024-05-27": {"hotline": 1, "mini_program": 1},
    }


def test_the_time_to_close_histogram_counts_every_closed_case_once_between_its_edges(
        app: Casework, read_model: ReadModel) -> None:
    """Edges in hours: 0, 2, 4, 8, 24, ...; a case resolved exactly at an edge counts in the
    bin that starts there; the last bin has no end."""
    for hours in (1, 2, 3, 30, 30, 800):
        case_id = petition(app, T0)
        app.fire(case_id, "resolve", HANDLER, T0 + timedelta(hours=hours), resolution="done")
    petition(app, T0)  # still open: not in the histogram

    times = report(read_model, now=NOW).as_dict()["time_to_close_hours"]

    counts = {(b["from"], b["to"]): b["count"] for b in times["histogram"]}
    assert counts[(0, 2)] == 1
    assert counts[(2, 4)] == 2
    assert counts[(24, 48)] == 2
    assert counts[(720, None)] == 1
    assert sum(counts.values()) == times["count"] == 6


def test_escalations_are_counted_by_the_level_they_left_and_the_level_they_reached(
        app: Casework, read_model: ReadModel) -> None:
    """A grid's case escalated twice goes grid → block → community; a community's case goes
    to the subdistrict; the steps add up to the escalations."""
    twice = petition(app, T0, unit=GRID)
    app.fire(twice, "escalate", HANDLER, T0 + timedelta(hours=1), reason="needs the block")
    app.fire(twice, "accept", HANDLER, T0 + timedelta(hours=2))
    app.fire(twice, "escalate", HANDLER, T0 + timedelta(hours=3), reason="needs the community")
    once = petition(app, T0, unit=GUANCHENG)
    app.fire(once, "escalate", HANDLER, T0 + timedelta(hours=1), reason="beyond the community")
    petition(app, T0, unit=GRID)  # never escalated

    escalations = report(read_model, now=NOW).as_dict()["escalations"]

    assert escalations["steps"] == [
        {"from": "block", "to": "community", "count": 1},
        {"from": "community", "to": "subdistrict", "count": 1},
        {"from": "grid", "to": "block", "count": 1},
    ]
    assert escalations["total"] == 3
    assert escalations["cases"] == 2


def test_category_by_community_holds_every_pair_beyond_the_top_hot_spots(
        app: Casework, read_model: ReadModel) -> None:
    communities = ["guanlan/guancheng", "guanlan/xinlan", "guanlan/kukeng", "guanlan/niuhu"]
    categories = ["road", "noise", "drainage"]
    for community in communities:
        for n, category in enumerate(categories):
            for _ in range(n + 1):
                petition(app, T0, unit=community, category=category)

    figures = report(read_model, now=NOW).as_dict()

    table = figures["by_category_and_community"]
    assert len(figures["hot_spots"]) == HOT_SPOTS < len(communities) * len(categories)
    assert table == {category: {community: n + 1 for community in sorted(communities)}
                     for n, category in enumerate(categories)}
    assert sum(sum(row.values()) for row in table.values()) == figures["total"]
