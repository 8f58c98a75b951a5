"""The HTTP service's requests per second, against the same requests made through the
library in-process, in the same run.

The work: petitions opened and taken through assess, dispatch, accept and a note (five
requests each), by 8 concurrent clients against ``casework serve`` (a real process on a
loopback port, SQLite file) — and, as the baseline, the same commands called on one
``Casework`` in this process, one after the other. No target: the figure says what HTTP,
JSON, tokens and the server cost on top of the engine.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import httpx

from casework import Actor, Casework
from service.tokens import TokenStore

from .fixtures import Fixtures, url_of
from .harness import Result, Sample, Scale, alternate, compare

CLIENTS = 8
WORKER = Actor("desk", roles=["intake", "assessor", "dispatcher", "handler"])
STEPS: list[tuple[str, dict[str, object]]] = [
    ("assess", {"grade": "C", "category": "road"}),
    ("dispatch", {"unit": "guanlan/guancheng"}),
    ("accept", {}),
    ("note", {"note": "called the road team"}),
]
OPENING = {"channel": "hotline", "title": "Broken manhole cover",
           "location": "guanlan/guancheng"}
REQUESTS_PER_CASE = 1 + len(STEPS)


def _server(url: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-c", "from cli import main; main()", "serve", "--db", url,
               "--port", str(port), "--no-webhooks", "--log-level", "warning"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("casework serve did not start")


def _over_http(base: str, token: str, cases: int) -> Callable[[], Sample]:
    def client(count: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as api:
            for _ in range(count):
                case = api.post("/cases", json={"kind": "petition", "fields": OPENING})
                case.raise_for_status()
                case_id = case.json()["id"]
                for trigger, fields in STEPS:
                    api.post(f"/cases/{case_id}/triggers/{trigger}",
                             json={"fields": fields}).raise_for_status()

    def run() -> Sample:
        shares = [cases // CLIENTS + (n < cases % CLIENTS) for n in range(CLIENTS)]
        threads = [threading.Thread(target=client, args=(share,)) for share in shares]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # No CPU seconds: the server's are another process's.
        return Sample(cases * REQUESTS_PER_CASE / (time.perf_counter() - start))

    return run


def _in_process(app: Casework, cases: int) -> Callable[[], Sample]:
    def run() -> Sample:
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(cases):
            case_id = app.open_case("petition", WORKER, **OPENING)
            app.get_case(case_id, actor=WORKER)
            for trigger, fields in STEPS:
                app.fire(case_id, trigger, WORKER, **fields)
                app.allowed_triggers(case_id, WORKER)  # what each HTTP answer carries
        return Sample(cases * REQUESTS_PER_CASE / (time.perf_counter() - start),
                      time.process_time() - cpu)

    return run


def requests_per_second(scale: Scale, fixtures: Fixtures, log: Callable[[str], None]
                        ) -> Result:
    cases = max(CLIENTS, scale.lifecycle_cases * 2)
    served_url = url_of(fixtures.fresh("service-http"))
    library = Casework(url_of(fixtures.fresh("service-library")))
    setup = Casework(served_url)
    store = TokenStore(setup.storage)
    token = store.create(WORKER, setup.organisation, "benchmark")
    store.close()
    setup.close()
    server, base = _server(served_url)
    try:
        http, direct = _over_http(base, token, cases), _in_process(library, cases)
        http(), direct()  # warm up
        http_rates, direct_rates = alternate(scale.reps, http, direct)
    finally:
        server.terminate()
        server.wait(timeout=30)
        library.close()
    result = compare(
        f"HTTP service, {CLIENTS} clients ({cases} petitions × {REQUESTS_PER_CASE} requests)",
        "the library in-process", http_rates, direct_rates, "requests/s", "rate",
        notes="SQLite file; one serve process with 4 engines")
    log(f"service: {result.value:,.0f} requests/s over HTTP vs {result.baseline_value:,.0f} "
        "in-process")
    return result
