"""A command meant for a version of the case it no longer has is refused (what HTTP's
If-Match asks for), and coordinates are numbers the engine checks."""

from __future__ import annotations

import pytest

from casework import Actor, Casework, ConcurrencyConflict, InvalidField, StaleCase

CLERK = Actor("li", roles=["intake", "assessor", "dispatcher"])


def opened(app: Casework) -> str:
    return str(app.open_case("petition", CLERK, channel="hotline", title="Broken cover"))


def test_a_command_on_the_version_it_expects_is_recorded(app: Casework) -> None:
    case_id = opened(app)
    view = app.fire(case_id, "assess", CLERK, grade="B", category="road", expected_version=1)
    assert view.events == 2 and view.state == "assessed"


def test_a_command_on_a_stale_version_is_refused_and_records_nothing(app: Casework) -> None:
    case_id = opened(app)
    seen = app.get_case(case_id).events
    app.fire(case_id, "assess", CLERK, grade="B", category="road")  # someone else, meanwhile
    with pytest.raises(StaleCase) as refused:
        app.fire(case_id, "reject", CLERK, reason="duplicate", expected_version=seen)
    assert (refused.value.expected, refused.value.actual) == (1, 2)
    assert "version 2, not 1" in str(refused.value)
    assert isinstance(refused.value, ConcurrencyConflict) and refused.value.exit_code == 6
    assert [entry.trigger for entry in app.history(case_id)] == ["open", "assess"]


def test_a_batch_checks_the_expected_version_against_what_it_holds(app: Casework) -> None:
    case_id = opened(app)
    batch = app.batch()
    batch.fire(case_id, "assess", CLERK, grade="B", category="road", expected_version=1)
    with pytest.raises(StaleCase):
        batch.fire(case_id, "dispatch", CLERK, unit="guanlan/guancheng", expected_version=1)
    batch.fire(case_id, "dispatch", CLERK, unit="guanlan/guancheng", expected_version=2)
    batch.commit()
    assert app.get_case(case_id).state == "dispatched"


@pytest.mark.parametrize("given, stored", [("22.5431", 22.5431), (22, 22.0), (-0.5, -0.5)])
def test_coordinates_are_numbers(app: Casework, given: object, stored: float) -> None:
    case_id = app.open_case("petition", CLERK, channel="online", title="Pothole", lat=given,
                            long=given, media_url="https://example.org/p.jpg")
    fields = app.get_case(case_id).fields
    assert fields["lat"] == stored and isinstance(fields["lat"], float)
    assert fields["media_url"] == "https://example.org/p.jpg"


@pytest.mark.parametrize("lat", ["north", "nan", "inf", 90.5, -91, True, 10**400, "1e400"])
def test_a_latitude_that_is_not_one_is_refused(app: Casework, lat: object) -> None:
    with pytest.raises(InvalidField, match=r"'lat'.*a number -90\.\.90"):
        app.open_case("petition", CLERK, channel="online", title="Pothole", lat=lat)
    assert app.recorded_events() == 0
