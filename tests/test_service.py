"""The HTTP service served for real (uvicorn on a loopback port) and used with httpx, as a
channel's system would: every route, every error status, tokens, idempotency, If-Match."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from casework import Actor
from casework.jsonable import json_default
from casework.timestamps import parse_time
from cli import cli
from projections import ReadModel
from projections.case_list import CaseQuery, list_cases
from projections.filters import Filters
from projections.report import report
from service.openapi import DOCUMENT
from service.tokens import TokenStore

from .conftest import POSTGRES_URL, new_app, postgres_schema
from .support import api_token, overdue_petitions, running_service

CLERK = Actor("li", roles=["intake", "assessor", "dispatcher"])
GRID = Actor("chen", roles=["handler"], unit="guanlan/guancheng/b1/g1")
XINLAN = Actor("wu", roles=["handler", "intake"], unit="guanlan/xinlan")
OPENING = {"channel": "hotline", "title": "Broken manhole cover",
           "location": "guanlan/guancheng/b1/g1", "petitioner": "Liu Xiuying",
           "phone": "13912345678"}


@pytest.fixture(params=["sqlite", "postgresql"])
def service_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database the server and the test share: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests skipped: set CASEWORK_TEST_POSTGRES_URL")
    with postgres_schema() as url:
        yield url


@pytest.fixture
def base(service_db: str) -> Iterator[str]:
    with running_service(service_db, max_body=64 * 1024) as url:
        yield url


def client(base: str, actor: Actor | None, url: str) -> httpx.Client:
    headers = {} if actor is None else {"Authorization": f"Bearer {api_token(url, actor)}"}
    return httpx.Client(base_url=base, headers=headers, timeout=30)


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict:
    """An RFC 9457 problem of that status and kind, and nothing of the server's insides."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["kind"] == kind
    assert body["type"] == f"/problems/{kind}"
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.text and "File \"" not in response.text
    return body


def opened(api: httpx.Client, **fields: object) -> httpx.Response:
    response = api.post("/cases", json={"kind": "petition", "fields": OPENING | fields})
    assert response.status_code == 201, response.text
    return response


def test_open_read_fire_history_and_triggers(base: str, service_db: str) -> None:
    api = client(base, CLERK, service_db)
    created = opened(api)
    case = created.json()
    assert created.headers["location"] == f"/cases/{case['id']}"
    assert created.headers["etag"] == '"1"'
    assert case["state"] == "collected" and case["fields"]["phone"] == "13912345678"
    assert case["allowed_triggers"] == ["assess", "reject", "merge"]

    read = api.get(f"/cases/{case['id']}")
    assert read.status_code == 200 and read.headers["etag"] == '"1"'
    assert read.json() == case

    fired = api.post(f"/cases/{case['id']}/triggers/assess",
                     json={"fields": {"grade": "A", "category": "road"},
                           "at": "2030-01-01T09:00+08:00"}, headers={"If-Match": '"1"'})
    assert fired.status_code == 200, fired.text
    assert fired.headers["etag"] == '"2"' and fired.json()["grade"] == "A"

    history = api.get(f"/cases/{case['id']}/history").json()
    assert [(e["trigger"], e["from_state"], e["to_state"], e["actor"]) for e in history] == [
        ("open", None, "collected", "li"), ("assess", "collected", "assessed", "li")]
    assert history[1]["at"] == "2030-01-01T09:00:00+08:00"

    allowed = api.get(f"/cases/{case['id']}/triggers").json()
    assert [t["name"] for t in allowed["triggers"]] == ["reject", "merge", "dispatch"]
    dispatch = allowed["triggers"][2]
    assert {f["name"]: f["required"] for f in dispatch["fields"]} == {
        "unit": True, "note": False, "due": False}


def test_as_of_shows_the_case_as_it_was(base: str, service_db: str) -> None:
    api = client(base, CLERK, service_db)
    case_id = api.post("/cases", json={"kind": "petition", "fields": OPENING,
                                       "at": "2030-01-01T09:00+00:00"}).json()["id"]
    api.post(f"/cases/{case_id}/triggers/assess", json={
        "fields": {"grade": "B", "category": "road"}, "at": "2030-01-01T10:00+00:00"})
    then = api.get(f"/cases/{case_id}", params={"as_of": "2030-01-01T09:30+00:00"})
    assert then.json()["state"] == "collected" and "etag" not in then.headers
    assert then.json()["allowed_triggers"] is None
    earlier = api.get(f"/cases/{case_id}/history", params={"as_of": "2030-01-01T09:30+00:00"})
    assert [e["trigger"] for e in earlier.json()] == ["open"]
    before = api.get(f"/cases/{case_id}", params={"as_of": "2029-12-31T00:00+00:00"})
    assert_problem(before, 404, "not-found")


def test_if_match_refuses_a_stale_decision_and_records_nothing(base: str,
                                                                service_db: str) -> None:
    api = client(base, CLERK, service_db)
    case_id = opened(api).json()["id"]
    seen = api.get(f"/cases/{case_id}").headers["etag"]
    api.post(f"/cases/{case_id}/triggers/assess",
             json={"fields": {"grade": "B", "category": "road"}})  # someone else, meanwhile
    stale = api.post(f"/cases/{case_id}/triggers/reject", json={"fields": {"reason": "dup"}},
                     headers={"If-Match": seen})
    body = assert_problem(stale, 412, "stale-case")
    assert (body["expected_version"], body["current_version"], body["exit_code"]) == (1, 2, 6)
    for tag in ('W/"2"', "2", '"two"'):  # not a tag this service gave: matches nothing
        assert api.post(f"/cases/{case_id}/triggers/reject", json={"fields": {"reason": "x"}},
                        headers={"If-Match": tag}).status_code == 412
    assert len(api.get(f"/cases/{case_id}/history").json()) == 2
    anyway = api.post(f"/cases/{case_id}/triggers/reject", json={"fields": {"reason": "dup"}},
                      headers={"If-Match": "*"})
    assert anyway.status_code == 200 and anyway.json()["state"] == "rejected"


def test_a_retried_open_opens_one_case(base: str, service_db: str) -> None:
    api = client(base, CLERK, service_db)
    key = {"Idempotency-Key": "hotline-2024-000123"}
    body = {"kind": "petition", "fields": OPENING}
    first = api.post("/cases", json=body, headers=key)
    again = api.post("/cases", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert [item["id"] for item in api.get("/cases").json()["items"]] == [first.json()["id"]]

    other = api.post("/cases", json={"kind": "petition", "fields": OPENING | {"title": "x"}},
                     headers=key)
    assert_problem(other, 422, "idempotency-key-reused")
    # Another token's same key is another request.
    mine = client(base, CLERK, service_db).post("/cases", json=body, headers=key)
    assert mine.status_code == 201 and mine.json()["id"] != first.json()["id"]


def test_a_retried_command_is_applied_once_and_a_refusal_is_kept(base: str,
                                                                  service_db: str) -> None:
    api = client(base, CLERK, service_db)
    case_id = opened(api).json()["id"]
    assess = {"fields": {"grade": "C", "category": "noise"}}
    once = api.post(f"/cases/{case_id}/triggers/assess", json=assess,
                    headers={"Idempotency-Key": "a"})
    twice = api.post(f"/cases/{case_id}/triggers/assess", json=assess,
                     headers={"Idempotency-Key": "a"})
    assert once.status_code == twice.status_code == 200 and twice.json() == once.json()
    refused = [api.post(f"/cases/{case_id}/triggers/accept", json={},
                        headers={"Idempotency-Key": "b"}) for _ in range(2)]
    assert [r.status_code for r in refused] == [409, 409]
    assert refused[1].headers["idempotent-replayed"] == "true"
    assert [e["trigger"] for e in api.get(f"/cases/{case_id}/history").json()] == [
        "open", "assess"]
    assert_problem(api.post("/cases", json={"kind": "petition", "fields": OPENING},
                            headers={"Idempotency-Key": "x" * 201}), 422, "bad-input")


def test_every_error_is_a_problem(base: str, service_db: str) -> None:
    api = client(base, CLERK, service_db)
    case_id = opened(api).json()["id"]
    illegal = assert_problem(api.post(f"/cases/{case_id}/triggers/resolve",
                                      json={"fields": {"resolution": "x"}}),
                             409, "illegal-transition")
    assert illegal["legal_triggers"] == ["assess", "merge", "reject"]
    assert illegal["state"] == "collected" and illegal["exit_code"] == 4
    bad = assert_problem(api.post(f"/cases/{case_id}/triggers/assess",
                                  json={"fields": {"grade": "E", "category": "road"}}),
                         422, "bad-input")
    assert bad["field"] == "grade" and bad["exit_code"] == 2
    assert assert_problem(api.post("/cases", json={"kind": "petition",
                                                   "fields": {"title": "x" * 201}}),
                          422, "bad-input")["field"] in ("channel", "title")
    assert_problem(api.post("/cases", json={"kind": "parking", "fields": {}}), 404,
                   "not-found")
    assert_problem(api.post("/cases", json={"kind": "petition", "extra": 1}), 422,
                   "bad-input")
    assert_problem(api.post("/cases", content=b"{not json",
                            headers={"content-type": "application/json"}), 422, "bad-input")
    assert_problem(api.get("/cases/2b1c3f7e-0000-4000-8000-000000000000"), 404, "not-found")
    assert_problem(api.get("/cases/not-a-case"), 404, "not-found")
    assert_problem(api.get("/nowhere"), 404, "no-such-route")
    assert_problem(api.delete(f"/cases/{case_id}"), 405, "method-not-allowed")
    big = {"kind": "petition", "fields": OPENING | {"description": "x" * 70_000}}
    assert_problem(api.post("/cases", json=big), 413, "request-too-large")
    assert_problem(api.get("/cases", params={"cursor": "garbage"}), 422, "bad-input")
    assert_problem(api.get("/cases", params={"stat": "open"}), 422, "bad-input")  # a typo
    assert_problem(api.get("/report", params={"by": "colour"}), 422, "bad-input")
    assert_problem(api.get("/cases", params={"unit": "guanlan/nowhere"}), 422, "bad-input")
    kind = httpx.get(f"{base}/problems/stale-case").json()
    assert kind["status"] == 412 and kind["exit_code"] == 6


def test_tokens_who_may_call_and_what_they_reach(base: str, service_db: str) -> None:
    clerk = client(base, CLERK, service_db)
    case_id = opened(clerk).json()["id"]
    for headers in ({}, {"Authorization": "Bearer cw_0000.nope"},
                    {"Authorization": "Basic bGk6bGk="}, {"Authorization": "Bearer cw_"}):
        refused = httpx.get(f"{base}/cases/{case_id}", headers=headers)
        assert_problem(refused, 401, "unauthorized")
        assert refused.headers["www-authenticate"].startswith("Bearer")
    # A grid worker reaches the case at their grid; a handler of another community does not.
    assert client(base, GRID, service_db).get(f"/cases/{case_id}").status_code == 200
    other = client(base, XINLAN, service_db)
    assert_problem(other.get(f"/cases/{case_id}"), 403, "permission-denied")
    assert_problem(other.get(f"/cases/{case_id}/history"), 403, "permission-denied")
    assert_problem(other.post(f"/cases/{case_id}/triggers/assess", json={
        "fields": {"grade": "B", "category": "x"}}), 403, "permission-denied")
    assert_problem(other.post("/cases", json={"kind": "petition", "fields": OPENING}), 403,
                   "permission-denied")
    assert_problem(client(base, GRID, service_db).post(
        f"/cases/{case_id}/triggers/assess", json={"fields": {"grade": "B", "category": "x"}}),
        403, "permission-denied")  # in reach, but not a role that assesses
    assert_problem(other.get("/report", params={"unit": "guanlan/guancheng"}), 403,
                   "permission-denied")
    # Revoked: refused from the next request on.
    token = api_token(service_db, CLERK)
    revoker = TokenStore(new_app(service_db).storage)
    revoker.revoke(token[3:].partition(".")[0])
    revoker.close()
    assert_problem(httpx.get(f"{base}/cases", headers={"Authorization": f"Bearer {token}"}),
                   401, "unauthorized")


def test_lists_page_by_cursor_within_the_callers_reach(base: str, service_db: str) -> None:
    clerk = client(base, CLERK, service_db)
    here = [opened(clerk, title=f"case {n}").json()["id"] for n in range(5)]
    there = [opened(clerk, location="guanlan/xinlan").json()["id"] for _ in range(2)]
    pages, cursor = [], None
    while True:
        page = clerk.get("/cases", params={"limit": 3} | ({"cursor": cursor} if cursor
                                                           else {})).json()
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    seen = [case_id for page in pages for case_id in page]
    assert sorted(seen) == sorted(here + there) and len(seen) == 7
    assert seen[0] == there[-1]  # newest first
    grid = client(base, GRID, service_db).get("/cases", params={"limit": 50}).json()
    assert sorted(item["id"] for item in grid["items"]) == sorted(here)
    mine = client(base, GRID, service_db).get("/queues/mine").json()
    assert mine["items"] == []  # a handler has nothing to do on collected cases
    assessing = clerk.get("/queues/mine", params={"kind": "petition"}).json()
    assert len(assessing["items"]) == 7
    assert clerk.get("/queues/overdue").json()["items"] == []
    assert clerk.get("/cases", params={"state": "assessed"}).json()["items"] == []


def test_the_report_is_the_librarys(base: str, service_db: str) -> None:
    clerk = client(base, CLERK, service_db)
    for _ in range(3):
        opened(clerk)
    opened(clerk, location="guanlan/xinlan")
    now = "2031-01-01T00:00+00:00"
    served = clerk.get("/report", params={"by": "stage", "now": now}).json()
    app = new_app(service_db)
    with ReadModel(app) as read_model:
        library = report(read_model, Filters(), "stage", parse_time(now)).as_dict()
    app.close()
    inputs = served.pop("inputs")  # what casework report --verify checks it by
    assert served == json.loads(json.dumps(library, default=json_default))
    assert served["by_stage"]["collect"] == 4
    assert (inputs["cases"], inputs["by"]) == (4, "stage") and len(inputs["digest"]) == 64
    xinlan = client(base, XINLAN, service_db).get("/report").json()
    assert xinlan["filters"]["unit"] == "guanlan/xinlan"


def test_a_served_report_is_verified_by_the_command_line(base: str, service_db: str,
                                                         tmp_path: Path) -> None:
    """GET /report is "as casework report --json": with its inputs, so --verify checks it."""
    clerk = client(base, CLERK, service_db)
    opened(clerk)
    saved = tmp_path / "served.json"
    saved.write_text(clerk.get("/report", params={
        "by": "community", "since": "2024-05-01T00:00+08:00", "now": "2031-01-01T00:00Z"}).text,
        encoding="utf-8")
    verified = CliRunner().invoke(cli, ["report", "--verify", str(saved), "--db", service_db])
    assert (verified.exit_code, verified.stdout.split(":")[0]) == (0, "the report holds"), \
        verified.output
    opened(clerk)
    moved = CliRunner().invoke(cli, ["report", "--verify", str(saved), "--db", service_db])
    assert moved.exit_code == 1 and "total: 1 -> 2" in moved.stdout, moved.output


def test_the_served_openapi_document_is_the_one_in_the_repository(base: str) -> None:
    served = httpx.get(f"{base}/openapi.json").json()
    assert served == json.loads(DOCUMENT.read_text(encoding="utf-8")), \
        "the API changed: run python -m service.write_openapi and commit service/openapi.json"
    assert httpx.get(f"{base}/health").json()["status"] == "ok"


def test_tokens_on_the_command_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    runner = CliRunner()
    made = runner.invoke(cli, ["tokens", "create", "--actor", "hotline@guanlan/guancheng",
                               "--role", "intake", "--name", "12345 hotline", "--db", db])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("cw_")
    listed = json.loads(runner.invoke(cli, ["tokens", "list", "--json", "--db", db]).stdout)
    assert [(t["actor"], t["roles"], t["unit"], t["name"], t["revoked_at"]) for t in listed] \
        == [("hotline", ["intake"], "guanlan/guancheng", "12345 hotline", None)]
    assert token.partition(".")[2] not in (tmp_path / "cases.db").read_bytes().decode(
        "latin-1")  # only its hash is stored
    revoked = runner.invoke(cli, ["tokens", "revoke", listed[0]["id"], "--db", db])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert runner.invoke(cli, ["tokens", "revoke", "ffff", "--db", db]).exit_code == 3
    assert runner.invoke(cli, ["tokens", "create", "--actor", "x@guanlan/nowhere",
                               "--db", db]).exit_code == 2


def test_the_overdue_queue_is_the_reports_open_overdue(base: str, service_db: str) -> None:
    """A case that missed its deadline and was escalated (a new deadline, still ahead) stays
    overdue, over HTTP as in ``casework cases --overdue`` and the report."""
    app = new_app(service_db)
    late, escalated, _also_late = overdue_petitions(app, 3)
    now = datetime.now(UTC)
    app.fire(escalated, "escalate", Actor("sys", roles=["system"]), now, reason="missed")
    app.open_case("petition", CLERK, now, channel="hotline", title="fresh")
    app.close()
    listed = client(base, CLERK, service_db).get("/queues/overdue", params={"limit": 50})
    assert listed.status_code == 200, listed.text
    ids = {item["id"] for item in listed.json()["items"]}
    assert {late, escalated} <= ids
    read_model = ReadModel(new_app(service_db))
    assert ids == {str(row.id) for row in list_cases(
        read_model, CaseQuery(queue="overdue", limit=50, now=now)).rows}
