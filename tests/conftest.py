"""Shared fixtures: an engine on a fresh in-memory database, and hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings

from casework import Casework, Organisation, WorkflowRegistry
from workflows import SAMPLE_ORGANISATION

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REGISTRY = WorkflowRegistry.from_directory()
ORGANISATION = Organisation.load(SAMPLE_ORGANISATION)
T0 = datetime(2024, 5, 26, 9, 0, tzinfo=UTC)


class Clock:
    """Business time that tests move by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def new_app(url: str = "sqlite:///:memory:", **options) -> Casework:
    options.setdefault("workflows", REGISTRY)
    options.setdefault("organisation", ORGANISATION)
    return Casework(url, **options)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> Iterator[Casework]:
    engine = new_app(clock=clock)
    yield engine
    engine.close()
