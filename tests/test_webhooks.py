"""Webhooks end to end: a receiver on loopback that fails the first deliveries and is killed
once still gets every event; signatures verify; repeats carry the same delivery id."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from casework import Actor
from cli import cli
from projections.webhooks import Backoff, Webhooks, delivery_id, matches, signature
from service.delivery import DeliveryThread

from .conftest import new_app
from .support import api_token, running_service

CLERK = Actor("li", roles=["intake", "assessor"])
SECRET = "s3cret-for-tests"


class Receiver:
    """An HTTP receiver on a fixed loopback port that can fail, die and come back."""

    def __init__(self, fail_first: int = 0) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.fail_first = fail_first
        self.calls: list[tuple[int, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    status = 500 if len(receiver.calls) < receiver.fail_first else 204
                    receiver.calls.append((status, dict(self.headers), body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return None

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kill(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(headers, body) for status, headers, body in self.calls if status == 204]


def wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(fail_first=3)
    found.start()
    yield found
    if found.server is not None:
        found.server.server_close()


@pytest.mark.slow
def test_every_event_arrives_signed_through_failures_and_a_dead_receiver(
        tmp_path: Path, receiver: Receiver) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    app = new_app(url)
    hooks = Webhooks(app)
    subscription = hooks.add(receiver.url, "petition.*", secret=SECRET)
    fast = Backoff(first=0.1, longest=0.4, attempts=100)
    with running_service(url, background=[DeliveryThread(url, 0.05, fast)]) as base:
        api = httpx.Client(base_url=base, timeout=30,
                           headers={"Authorization": f"Bearer {api_token(url, CLERK)}"})

        def petition(n: int) -> None:
            case_id = api.post("/cases", json={"kind": "petition", "fields": {
                "channel": "hotline", "title": f"case {n}"}}).json()["id"]
            api.post(f"/cases/{case_id}/triggers/assess",
                     json={"fields": {"grade": "C", "category": "road"}})

        for n in range(4):
            petition(n)
        wait_for(lambda: len(receiver.accepted()) >= 3)
        receiver.kill()  # it dies with deliveries pending, and more events come meanwhile
        for n in range(4, 8):
            petition(n)
        time.sleep(1.0)
        receiver.start()
        wait_for(lambda: hooks.pending() == 0)
    expected = app.recorded_events()
    assert expected == 16
    delivered: dict[str, bytes] = {}
    for headers, body in receiver.accepted():
        assert headers["Casework-Signature"] == signature(SECRET, body)
        payload = json.loads(body)
        assert headers["Casework-Delivery"] == payload["delivery_id"]
        assert payload["delivery_id"] == delivery_id(subscription["id"],
                                                     payload["notification_id"])
        delivered.setdefault(payload["delivery_id"], body)
    assert sorted(json.loads(b)["notification_id"] for b in delivered.values()) == \
        list(range(1, expected + 1))
    repeats = [(h["Casework-Delivery"], b) for s, h, b in receiver.calls]
    assert len(repeats) > len(delivered)  # the failed ones were sent again...
    assert all(delivered[identifier] == body for identifier, body in repeats)  # ...the same
    events = [json.loads(b)["event"] for b in delivered.values()]
    assert events.count("petition.open") == events.count("petition.assess") == 8
    assert hooks.failures() == []
    hooks.close()
    app.close()


def test_personal_fields_only_for_a_personal_subscription(tmp_path: Path) -> None:
    app = new_app(f"sqlite:///{tmp_path / 'cases.db'}")
    hooks = Webhooks(app)
    plain = Receiver()
    plain.start()
    notifier = Receiver()
    notifier.start()
    hooks.add(plain.url, "*.open")
    hooks.add(notifier.url, "petition.open", personal=True)
    case_id = app.open_case("petition", CLERK, channel="hotline", title="Leak",
                            phone="13912345678")
    app.fire(case_id, "assess", CLERK, grade="B", category="water")
    assert hooks.catch_up() == 2  # the opening, to each; the assessment matches neither
    assert hooks.deliver_due() == 2
    [(_, seen)] = plain.accepted()
    [(_, told)] = notifier.accepted()
    assert "13912345678" not in seen.decode() and json.loads(seen)["fields"]["title"] == "Leak"
    assert json.loads(told)["fields"]["phone"] == "13912345678"
    for receiver in (plain, notifier):
        receiver.kill()
    hooks.close()
    app.close()


def test_patterns() -> None:
    assert matches("*", "petition.open") and matches("petition.*", "petition.resolve")
    assert matches("*.close, *.resolve", "petition.resolve")
    assert not matches("volunteer_task.*", "petition.open")


def test_webhooks_on_the_command_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    runner = CliRunner()
    dead = Receiver()  # never started: every delivery fails
    added = runner.invoke(cli, ["webhooks", "add", dead.url, "--events", "petition.*",
                                "--json", "--db", db])
    assert added.exit_code == 0, added.output
    subscription = json.loads(added.stdout)
    assert len(subscription["secret"]) > 30
    listed = json.loads(runner.invoke(cli, ["webhooks", "list", "--json", "--db", db]).stdout)
    assert [s["url"] for s in listed] == [dead.url] and "secret" not in listed[0]
    app = new_app(db)
    app.open_case("petition", CLERK, channel="hotline", title="x")
    app.close()
    once = runner.invoke(cli, ["webhooks", "deliver", "--db", db])
    assert once.exit_code == 0 and "1 new deliveries; 1 tried" in once.stdout
    failures = json.loads(runner.invoke(cli, ["webhooks", "failures", "--json",
                                              "--db", db]).stdout)
    assert [(f["event"], f["attempts"], f["gave_up"]) for f in failures] == [
        ("petition.open", 1, False)]
    assert failures[0]["last_error"].startswith("URLError")
    assert runner.invoke(cli, ["webhooks", "remove", subscription["id"],
                               "--db", db]).exit_code == 0
    assert json.loads(runner.invoke(cli, ["webhooks", "failures", "--json",
                                          "--db", db]).stdout) == []
    assert runner.invoke(cli, ["webhooks", "remove", "nope", "--db", db]).exit_code == 3
    # a URL that is not http(s) is bad input: exit 2 (README exit table)
    assert runner.invoke(cli, ["webhooks", "add", "ftp://x", "--db", db]).exit_code == 2
