"""Shared fixtures: an engine on a fresh in-memory database, and hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, settings

from casework import Casework, Organisation, WorkflowRegistry
from projections.i18n import ENGLISH, use_language
from workflows import SAMPLE_ORGANISATION

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def at_most(examples: int, **options) -> settings:
    """Settings for a test whose every example is costly (a database schema, a server, many
    commands): at most ``examples``, fewer where the profile asks for fewer."""
    return settings(max_examples=min(examples, settings.default.max_examples), **options)

REGISTRY = WorkflowRegistry.from_directory()
REGISTRY_V1 = WorkflowRegistry(
    workflow for workflow in REGISTRY if workflow.version == 1)
"""The shipped workflows as they were before version 2 of petitions and enterprise requests:
what an older installation ran."""
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


POSTGRES_URL = os.environ.get("CASEWORK_TEST_POSTGRES_URL", "")
NO_POSTGRES = "PostgreSQL tests skipped: set CASEWORK_TEST_POSTGRES_URL (CI sets it)"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL to a schema of its own in the test server, dropped afterwards, so that tests
    never see each other's events."""
    import psycopg

    schema = f"casework_test_{uuid4().hex[:16]}"
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}schema={schema}"
    finally:
        plain = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, empty database URL on ``backend`` ("sqlite" or "postgresql")."""
    if backend == "sqlite":
        yield "sqlite:///:memory:"
        return
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test that uses it runs on both back ends."""
    with database(request.param) as url:
        yield url


@pytest.fixture(autouse=True)
def _work_in_a_temporary_folder(tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Files a command writes by default (reject files, casework.db) never land in the
    checkout, and no settings file or setting of the machine's reaches a test: not its
    locale's language either (tests read English unless they choose Chinese)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    for variable in ("CASEWORK_CONFIG", "CASEWORK_TIMEZONE", "CASEWORK_LANG", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("LC_ALL", "LANG"):
        if os.environ.get(variable):
            monkeypatch.setenv(variable, "C.UTF-8")
    use_language(ENGLISH)  # what a command run in-process chose does not outlive its test


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(database_url: str, clock: Clock) -> Iterator[Casework]:
    engine = new_app(database_url, clock=clock)
    yield engine
    engine.close()
