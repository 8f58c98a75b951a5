"""Helpers several test modules share: how to run the installed command, cases to work on,
and what a user checks of a result."""

from __future__ import annotations

import json
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from hypothesis import strategies as st
from sqlalchemy import select

from casework import Actor, Casework, WorkflowRegistry
from casework.case import GENESIS, chain_hash
from projections import ReadModel
from projections.tables import case_summary
from service.tokens import TokenStore
from workflows import DEFINITIONS

from .conftest import REGISTRY_V1, new_app

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nyc311"
"""The NYC 311 extracts beside the checkout."""
real_data = pytest.mark.skipif(not DATA.is_dir(),
                               reason=f"the NYC 311 extracts are not at {DATA}")

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
CLERK = Actor("clerk", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("handler", roles=["handler"])
COMMUNITIES = ["guanlan/guancheng", "guanlan/xinlan", "guanlan/kukeng"]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """casework in-process, as a user types it, with no CASEWORK_DB or CASEWORK_ACTOR from
    outside (unless ``env`` gives them)."""
    from click.testing import CliRunner

    from cli import cli

    # $COLUMNS changes how wide fields print; a test that wants it gives it.
    clean: dict[str, str | None] = {"CASEWORK_DB": None, "CASEWORK_ACTOR": None, "COLUMNS": None}
    return CliRunner().invoke(cli, list(args), env={**clean, **(env or {})},
                              prog_name="casework")


def simulated(url: str, seed: int = 5, petitions: int = 160) -> Casework:
    """A store with a small simulated month of the demo (May 2024): cases in every state."""
    from casework.demo import Simulation

    app = new_app(url)
    Simulation(app, seed=seed, petitions=petitions, enterprise_requests=petitions // 5,
               volunteer_tasks=petitions // 8).run()
    return app


def casework_command() -> list[str]:
    """The installed ``casework`` of this interpreter's environment, else the checkout's."""
    installed = shutil.which("casework")
    if installed and Path(installed).parent == Path(sys.executable).parent:
        return [installed]
    return [sys.executable, str(REPO / "cli.py")]


def overdue_petitions(app: Casework, count: int) -> list[str]:
    """``count`` grade-A petitions dispatched to a community at T0: overdue two hours later."""
    batch = app.batch()
    ids = []
    for n in range(count):
        case_id = batch.open_case("petition", CLERK, T0, channel="hotline", title=f"case {n}")
        batch.fire(case_id, "assess", CLERK, T0, grade="A", category="road")
        batch.fire(case_id, "dispatch", CLERK, T0, unit=COMMUNITIES[n % 3])
        if n % 2:
            batch.fire(case_id, "accept", HANDLER, T0)
        ids.append(str(case_id))
    batch.commit()
    return ids


def business_history(app: Casework, case_id: str) -> list[tuple]:
    """A case's history without recording times and hashes (which differ between runs)."""
    return [(e.sequence, e.at, e.actor, e.role, e.trigger, e.from_state, e.to_state,
             e.fields, e.changes) for e in app.history(case_id)]


def summary_rows(read_model: ReadModel) -> list[dict[str, Any]]:
    """Every read-model row, by id: what a comparison of two read models compares."""
    with read_model.engine.connect() as conn:
        return [dict(r._mapping) for r in
                conn.execute(select(case_summary).order_by(case_summary.c.id))]


def assert_one_line_error(result: Result, code: int, *fragments: str) -> str:
    """The documented code, exactly one line on stderr starting with "casework:", nothing on
    stdout, and no traceback."""
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert result.exit_code == code, (result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("casework: "), lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def rehashed(record: dict[str, Any]) -> dict[str, Any]:
    """The line with its hash chain recomputed: how a careful producer writes its own lines.

    Times are hashed as ISO 8601 text, which is how they stand in the line already."""
    head = GENESIS
    for event in record["events"]:
        content = {k: v for k, v in event.items()
                   if k not in {"type", "version", "timestamp", "hash", "datetimes"}}
        content.update(id=record["id"], version=event["version"], recorded_at=event["timestamp"])
        head = event["hash"] = chain_hash(head, content)
    return record


PETITION_V2_TRIGGERS = """
[[triggers]]
name = "hold"
from = ["handling"]
to = "on_hold"
roles = ["handler"]
fields.reason = { type = "text", required = true }

[[triggers]]
name = "resume"
from = ["on_hold"]
to = "handling"
roles = ["handler"]
"""
PETITION_V2_MIGRATION = """
[migrations.from_1]
in_progress = "handling"
"""


def petition_v2(folder: Path) -> WorkflowRegistry:
    """Petition v2: 'in_progress' is renamed 'handling', and a new state 'on_hold' is added."""
    text = (DEFINITIONS / "petition.toml").read_text(encoding="utf-8")
    text = text.replace("version = 1", "version = 2", 1)
    text = text.replace('"in_progress"', '"handling"').replace("in_progress ", "handling ")
    text += PETITION_V2_TRIGGERS
    text = text.replace("[states]\n", '[states]\non_hold     = { stage = "follow_up" }\n', 1)
    text += PETITION_V2_MIGRATION
    (folder / "petition.v2.toml").write_text(text, encoding="utf-8")
    for name in ("petition.toml", "enterprise_request.toml", "volunteer_task.toml"):
        shutil.copy(DEFINITIONS / name, folder / name)
    return WorkflowRegistry.from_directory(folder)


def running_v1_then_v2(folder: Path, registry_v2: WorkflowRegistry) -> tuple[Casework, Casework]:
    """The same database, before and after version 2 of the petition was installed."""
    url = f"sqlite:///{folder / 'cases.db'}"
    return new_app(url, workflows=REGISTRY_V1), new_app(url, workflows=registry_v2)


@contextmanager
def running_service(url: str, **options: Any) -> Iterator[str]:
    """``casework serve``'s application on ``url``, served for real by uvicorn on a free
    loopback port in a thread of this process; yields its base URL."""
    import uvicorn  # the service extra: only the tests of the service need it

    from service.app import create_app

    app = create_app(url, **options)
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]},
                              daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listening.close()


def api_token(url: str, actor: Actor) -> str:
    """A token acting as ``actor``, made as ``casework tokens create`` makes one."""
    app = new_app(url)
    store = TokenStore(app.storage)
    try:
        return store.create(actor, app.organisation, "test")
    finally:
        store.close()
        app.close()


# Mutations of an export's lines, as a careless operator or an attacker makes them ----------

def json_mutation(line: str, draw: Any) -> str:
    """The line as JSON, with one value somewhere in it replaced, removed or added."""
    record = json.loads(line)
    path: list[Any] = []
    node: Any = record
    while isinstance(node, dict | list) and node and draw(st.integers(0, 3)):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict)
                                   else range(len(node))))
        path.append(key)
        node = node[key]
    parent: Any = record
    for key in path[:-1]:
        parent = parent[key]
    new_value = draw(st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4),
                                                                     inner, max_size=2),
        max_leaves=4))
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if not path:
        parent = {"extra": new_value, **record} if action == "add" else new_value
        return json.dumps(parent) + "\n"
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[draw(st.text(max_size=8))] = new_value
    else:
        parent[last] = new_value
    return json.dumps(record, ensure_ascii=draw(st.booleans())) + "\n"


@st.composite
def mutated_lines(draw: Any, line: str) -> str:
    how = draw(st.sampled_from(["json", "rehashed", "bytes", "truncate", "insert"]))
    if how == "json":
        return json_mutation(line, draw)
    if how == "rehashed":  # as a producer who computes the hash chain would write it
        record = json.loads(json_mutation(line, draw))
        try:
            return json.dumps(rehashed(record)) + "\n"
        except (KeyError, TypeError, AttributeError, ValueError):
            return json.dumps(record) + "\n"
    data = bytearray(line.rstrip("\n").encode())
    position = draw(st.integers(0, len(data) - 1))
    if how == "bytes":
        data[position] = draw(st.integers(0, 255).filter(lambda b: b not in b"\r\n"))
    elif how == "truncate":
        del data[position:]
    else:
        data[position:position] = draw(st.binary(min_size=1, max_size=8)).replace(
            b"\n", b"").replace(b"\r", b"")
    return bytes(data).decode("utf-8", errors="surrogateescape") + "\n"
