"""Schemathesis against the OpenAPI document the service serves (the one in the repository:
test_service checks that they are equal), sent to a real server: whatever it sends, no 500,
and no answer that breaks the document (status, content type, headers, schema)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import positive_data_acceptance

from casework import Actor
from service.openapi import DOCUMENT

from .conftest import at_most
from .support import api_token, running_service

CLERK = Actor("li", roles=["intake", "assessor", "dispatcher", "handler"])
schema = schemathesis.openapi.from_path(DOCUMENT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'cases.db'}"
    token = api_token(url, CLERK)
    with running_service(url) as base:
        yield base, token


@pytest.mark.slow
@schema.parametrize()
@at_most(30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_500_and_no_answer_outside_the_document(case: schemathesis.Case,
                                                   server: tuple[str, str]) -> None:
    base, token = server
    # Not checked: that every request the schema allows is accepted. A field's value is
    # checked by the library against the workflow and the organisation (a unit that does
    # not exist is a 422), which no schema of the API can say.
    case.call_and_validate(base_url=base, headers={"Authorization": f"Bearer {token}"},
                           excluded_checks=[positive_data_acceptance])
