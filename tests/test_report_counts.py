"""The report's SQL counts (``projections.report_counts``) against the plain Python count of
the same read-model rows (``tally.figures_of``, row by row, as ``--explain`` counts): every
figure equal, on SQLite and PostgreSQL, for random read models, filters, groupings, moments
and office time zones (with summer time, and days that begin on a half hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from casework import Casework
from casework.workflow import OPEN_STAGES, STAGES
from projections.case_summary import CLOSED, OPEN
from projections.filters import Filters
from projections.read_model import ReadModel
from projections.report import GROUPINGS, report, report_sections, verdicts
from projections.report_counts import NO_GROUP, counted
from projections.tables import case_summary
from projections.tally import figures_of

from .conftest import at_most

START = datetime(2024, 1, 1)
SPAN = timedelta(days=400)  # over both of a year's changes of summer time
ZONES = ("UTC", "Asia/Shanghai", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe")
KINDS = ("petition", "enterprise_request", "volunteer_task")
DURATIONS = [timedelta(hours=h) for h in (0, 2, 4, 8, 24, 48, 72, 168, 336, 720)]


def moments() -> st.SearchStrategy[datetime]:
    """Times over the span: whole seconds (stored without a fraction's digits mattering)
    or any microsecond."""
    seconds = int(SPAN.total_seconds())
    return st.one_of(
        st.integers(0, seconds).map(lambda s: START + timedelta(seconds=s)),
        st.integers(0, seconds * 10**6).map(lambda us: START + timedelta(microseconds=us)))


def after(moment: datetime) -> st.SearchStrategy[datetime | None]:
    """None, or a time after ``moment``: often on a histogram edge or a microsecond off it."""
    edge = st.sampled_from(DURATIONS).flatmap(lambda d: st.sampled_from(
        [d, d - timedelta(microseconds=1), d + timedelta(microseconds=1)]))
    later = st.integers(0, 60 * 86400 * 10**6).map(lambda us: timedelta(microseconds=us))
    return st.one_of(st.none(), st.one_of(edge, later).map(lambda d: moment + d))


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    opened = draw(moments())
    stage = draw(st.sampled_from(STAGES))
    escalations = draw(st.integers(0, 2))
    steps = draw(st.lists(st.sampled_from(["community>subdistrict", "subdistrict>district"]),
                          min_size=escalations, max_size=escalations, unique=True))
    fired = draw(st.lists(st.sampled_from(["open", "claim", "complete", "expire"]),
                          unique=True))
    maybe = st.one_of(st.none(), moments())
    return {
        "id": str(uuid4()), "kind": draw(st.sampled_from(KINDS)), "workflow_version": 1,
        "state": draw(st.sampled_from(["received", "handling", "closed", "rejected"])),
        "stage": stage, "status": OPEN if stage in OPEN_STAGES else CLOSED,
        "outcome": draw(st.sampled_from([None, "resolved", "rejected"])),
        "grade": draw(st.sampled_from([None, "", "A", "B"])),
        "category": draw(st.sampled_from([None, "", "roads", "noise"])),
        "channel": draw(st.sampled_from([None, "", "phone", "web"])),
        "unit": draw(st.sampled_from([None, "guanlan", "guanlan/guancheng", "minzhi"])),
        "community": draw(st.sampled_from([None, "", "guancheng", "xinlan"])),
        "left_community": draw(st.booleans()),
        "opened_at": opened,
        "resolved_at": draw(after(opened)), "closed_at": draw(after(opened)),
        "deadline": draw(maybe), "paused_since": draw(maybe),
        "contact_deadline": draw(maybe), "contacted_at": draw(after(opened)),
        "breached": draw(st.sampled_from([None, True, False])),
        "missed_deadline": draw(st.booleans()),
        "escalations": escalations,
        "escalation_steps": "," + "".join(f"{step}:{draw(st.integers(1, 3))},"
                                          for step in steps),
        "reopens": draw(st.integers(0, 2)), "ever_closed": draw(st.booleans()),
        "satisfaction": draw(st.one_of(st.none(), st.integers(1, 5))),
        "milestones": "," + "".join(f"{trigger}," for trigger in fired),
        "events": 1, "updated_at": opened, "head": "0" * 64,
    }


filters = st.builds(
    Filters, kind=st.sampled_from([None, *KINDS]),
    unit=st.sampled_from([None, "guanlan"]),
    since=st.one_of(st.none(), moments().map(lambda t: t.replace(tzinfo=UTC))),
    until=st.one_of(st.none(), moments().map(lambda t: t.replace(tzinfo=UTC))))


def by_python(app: Casework, read_model: ReadModel, chosen: Filters, moment: datetime,
              by: str | None, zone: ZoneInfo) -> tuple[dict[str, Any], dict[str, Any]]:
    """The figures folded row by row: the totals, and each group of ``by``'s."""
    sections = report_sections(app.workflows)
    with read_model.engine.connect() as conn:
        selected = conn.execute(select(case_summary, *verdicts(moment))
                                .where(chosen.clause())).all()
    groups: dict[str, list[Any]] = {}
    for row in selected:
        if by is not None:
            key = getattr(row, by)
            groups.setdefault(NO_GROUP if key is None else str(key), []).append(row)
    return (figures_of(selected, sections, zone).as_dict(),
            {key: figures_of(group, sections, zone).as_dict()
             for key, group in sorted(groups.items())})


def test_the_sql_counts_are_the_rows_counted_one_by_one(app: Casework) -> None:
    read_model = ReadModel(app)

    @at_most(60, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(rows(), max_size=25), filters, moments(),
           st.sampled_from([None, *GROUPINGS]), st.sampled_from(ZONES))
    def check(cases: list[dict[str, Any]], chosen: Filters, moment: datetime,
              by: str | None, zone_name: str) -> None:
        zone = ZoneInfo(zone_name)
        with read_model.engine.begin() as conn:
            conn.execute(delete(case_summary))
            if cases:
                conn.execute(insert(case_summary), cases)
        with read_model.engine.connect() as conn:
            totals, groups = counted(conn, chosen, moment, by, report_sections(app.workflows),
                                     zone)
        expected_totals, expected_groups = by_python(app, read_model, chosen, moment, by, zone)

        assert totals.figures().as_dict() == expected_totals
        assert {key: tally.figures().as_dict() for key, tally in groups.items()} \
            == expected_groups
        assert list(groups) == sorted(groups)

    check()
    read_model.close()


def test_the_report_of_an_empty_read_model(app: Casework) -> None:
    with ReadModel(app) as read_model:
        shown = report(read_model, by="grade", now=datetime(2024, 6, 1, tzinfo=UTC))

    assert shown.figures.total == 0
    assert shown.figures.intake_by_day == {}
    assert shown.figures.time_to_close_hours.median is None
    assert shown.groups == []


def test_a_case_closed_a_microsecond_before_two_hours_closed_within_two(app: Casework) -> None:
    """SQLite's times are whole milliseconds: its seconds of 09:59:59.999999 would be 10:00."""
    opened = datetime(2024, 5, 1, 8, 0)
    row = {"id": str(uuid4()), "kind": "petition", "workflow_version": 1, "state": "closed",
           "stage": "close", "status": CLOSED, "left_community": False, "opened_at": opened,
           "closed_at": opened + timedelta(hours=2, microseconds=-1),
           "missed_deadline": False, "escalations": 0, "escalation_steps": ",", "reopens": 0,
           "ever_closed": True, "milestones": ",", "events": 1, "updated_at": opened,
           "head": "0" * 64}
    with ReadModel(app) as read_model:
        with read_model.engine.begin() as conn:
            conn.execute(insert(case_summary), [row])
        shown = report(read_model, now=datetime(2024, 6, 1, tzinfo=UTC))

    hours = shown.figures.time_to_close_hours
    assert [(b.lower, b.count) for b in hours.histogram][:2] == [(0, 1), (2, 0)]
    assert hours.median == 2.0  # 1.99999... rounded to the hundredth
