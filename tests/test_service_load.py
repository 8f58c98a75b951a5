"""Load: 8 clients at once for a bounded time against `casework serve` (a real process; two
on PostgreSQL), opening cases and firing triggers on the same cases. Afterwards every
accepted request is in the history exactly once, nothing else is, and the audit is clean.
(Requests per second against the library in-process: python -m benchmarks --only service.)"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from casework import Actor
from casework.stored_cases import case_ids

from .conftest import POSTGRES_URL, new_app, postgres_schema
from .support import api_token, casework_command

CLIENTS = 8
SECONDS = 6.0
WORKER = Actor("desk", roles=["intake", "assessor", "dispatcher", "handler"])
NEXT = {"collected": ("assess", {"grade": "C"}), "assessed": ("dispatch",
        {"unit": "guanlan/guancheng"}), "dispatched": ("accept", {}),
        "in_progress": ("note", {})}
MARKED = {"assess": "category", "dispatch": "note", "note": "note"}
"""The field each trigger's request marks with a unique text, to find it in the history."""


@dataclass
class Tally:
    opened: set[str] = field(default_factory=set)
    fired: list[tuple[str, int, str, str]] = field(default_factory=list)
    """(case, the version the answer gave, trigger, marker)"""
    refused: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(params=["sqlite", "postgresql"])
def load_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.db'}", 1
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests skipped: set CASEWORK_TEST_POSTGRES_URL")
    with postgres_schema() as url:
        yield url, 2


def serve(url: str, processes: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*casework_command(), "serve", "--db", url, "--port", str(port), "--processes",
         str(processes), "--no-webhooks", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def client(base: str, token: str, shared: list[str], tally: Tally, seed: int) -> None:
    chance = random.Random(seed)
    api = httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"})
    stop = time.monotonic() + SECONDS
    while time.monotonic() < stop:
        if chance.random() < 0.3 or not shared:
            body = {"kind": "petition", "fields": {"channel": "hotline", "title": "load"}}
            key = {"Idempotency-Key": uuid.uuid4().hex}
            answers = [api.post("/cases", json=body, headers=key)
                       for _ in range(2 if chance.random() < 0.2 else 1)]  # some retried
            assert len({a.json()["id"] for a in answers}) == 1
            assert answers[0].status_code == 201, answers[0].text
            with tally.lock:
                tally.opened.add(answers[0].json()["id"])
                shared.append(answers[0].json()["id"])
            continue
        case_id = chance.choice(shared[-20:])
        seen = api.get(f"/cases/{case_id}")
        trigger, fields = NEXT.get(seen.json()["state"], ("note", {}))
        marker = uuid.uuid4().hex
        if trigger in MARKED:
            fields = fields | {MARKED[trigger]: marker}
        headers = {"If-Match": seen.headers["etag"]} if chance.random() < 0.5 else {}
        answer = api.post(f"/cases/{case_id}/triggers/{trigger}", json={"fields": fields},
                          headers=headers)
        with tally.lock:
            if answer.status_code == 200:
                tally.fired.append((case_id, answer.json()["events"], trigger, marker))
            else:
                assert answer.status_code in (409, 412), answer.text  # lost a race
                tally.refused[answer.status_code] = tally.refused.get(answer.status_code,
                                                                      0) + 1


@pytest.mark.slow
def test_eight_clients_at_once_leave_exactly_what_was_accepted(
        load_db: tuple[str, int]) -> None:
    url, processes = load_db
    token = api_token(url, WORKER)
    server, base = serve(url, processes)
    tally = Tally()
    shared: list[str] = []
    try:
        threads = [threading.Thread(target=client, args=(base, token, shared, tally, n))
                   for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SECONDS + 120)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert len(tally.opened) > CLIENTS and len(tally.fired) > CLIENTS
    app = new_app(url)
    histories = {case_id: app.history(case_id) for case_id in tally.opened}
    for case_id, version, trigger, marker in tally.fired:
        entry = histories[case_id][version - 1]
        assert (entry.trigger, entry.actor) == (trigger, "desk")
        if trigger in MARKED:
            assert entry.fields[MARKED[trigger]] == marker
    markers = [e.fields.get(MARKED.get(e.trigger, ""), None)
               for entries in histories.values() for e in entries]
    assert len([m for m in markers if m]) == len([f for f in tally.fired if f[2] in MARKED])
    accepted = {case_id: 1 for case_id in tally.opened}
    for case_id, *_ in tally.fired:
        accepted[case_id] += 1
    extra = {case_id: [(e.sequence, e.trigger, e.fields) for e in entries]
             for case_id, entries in histories.items() if len(entries) != accepted[case_id]}
    assert extra == {}, [f for f in tally.fired if f[0] in extra]
    # Nothing else: no other case, no other event (PostgreSQL's positions have gaps where
    # a losing writer's insert was rolled back, so count the events themselves).
    assert {str(case_id) for case_id in case_ids(app)} == tally.opened
    assert sum(map(len, histories.values())) == len(tally.opened) + len(tally.fired)
    app.close()
    audit = subprocess.run([*casework_command(), "audit", "--db", url],
                           capture_output=True, text=True, env=os.environ | {})
    assert audit.returncode == 0, audit.stdout + audit.stderr
