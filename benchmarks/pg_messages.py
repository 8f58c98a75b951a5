"""What a command costs in messages to PostgreSQL: ``python -m benchmarks.pg_messages URL``.

A proxy on loopback stands between the engine and the server and reads the client's side of
the wire protocol (v3): every message the client sends (its type: Query, Parse, Bind,
Execute, Sync, ...), and every time the client writes and then waits for the server's answer
(a round trip: what costs a network's latency). It runs a petition's lifecycle through the
engine, and the same through a bare eventsourcing application, in a schema of their own
(dropped afterwards), and prints the counts per command.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import struct
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

UNTYPED = (80877103, 80877104)
"""SSLRequest and GSSENCRequest: like the startup message, sent without a type byte."""
STATEMENTS = frozenset("QE")
"""A simple Query, or the Execute of a prepared statement: one statement run."""


@dataclass
class Traffic:
    """What the client sent: messages by type, statements, and round trips."""

    messages: Counter[str] = field(default_factory=Counter)
    round_trips: int = 0
    _waiting: bool = False

    def reset(self) -> None:
        self.messages.clear()
        self.round_trips = 0

    @property
    def statements(self) -> int:
        return sum(self.messages[kind] for kind in STATEMENTS)

    @property
    def total(self) -> int:
        return sum(self.messages.values())


class Proxy:
    """A TCP proxy on 127.0.0.1 (a port of its own) to ``host:port``, counting the client's
    messages; runs in a thread of its own."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.traffic = Traffic()
        self.loop = asyncio.new_event_loop()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        listener.close()
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait()

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port))
        ready.set()
        self.loop.run_until_complete(server.serve_forever())

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(self._from_client(reader, upstream_writer),
                             self._from_server(upstream_reader, writer))

    async def _from_client(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        buffer, started = b"", False
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
            if not self.traffic._waiting:
                self.traffic._waiting = True
                if started:
                    self.traffic.round_trips += 1
            buffer += chunk
            buffer, started = self._count(buffer, started)
        writer.close()

    def _count(self, buffer: bytes, started: bool) -> tuple[bytes, bool]:
        while True:
            if not started:  # the startup message (and SSL/GSS requests) have no type byte
                if len(buffer) < 8:
                    return buffer, started
                length, code = struct.unpack("!II", buffer[:8])
                if len(buffer) < length:
                    return buffer, started
                buffer, started = buffer[length:], code not in UNTYPED
                continue
            if len(buffer) < 5:
                return buffer, started
            kind = chr(buffer[0])
            (length,) = struct.unpack("!I", buffer[1:5])
            if len(buffer) < 1 + length:
                return buffer, started
            self.traffic.messages[kind] += 1
            buffer = buffer[1 + length:]

    async def _from_server(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            self.traffic._waiting = False
            writer.write(chunk)
            await writer.drain()
        writer.close()


def per_command(proxy: Proxy, commands: int, action: Callable[[], Any]) -> dict[str, float]:
    proxy.traffic.reset()
    action()
    traffic = proxy.traffic
    return {"statements": traffic.statements / commands, "messages": traffic.total / commands,
            "round_trips": traffic.round_trips / commands,
            "by_type": {k: v / commands for k, v in sorted(traffic.messages.items())}}


def measure(url: str, cases: int = 20) -> dict[str, dict[str, float]]:
    """Messages per command of the lifecycle (open and seven fires), engine and bare app."""
    from sqlalchemy.engine import make_url

    from casework import Casework
    from casework.storage import Storage

    from .figures import CLERK, LIFECYCLE, OPENING, BareApplication, Ticket

    parsed = make_url(url)
    proxy = Proxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    schema = f"bench_messages_{uuid4().hex[:12]}"
    proxied = parsed.set(host="127.0.0.1", port=proxy.port).update_query_dict(
        {"schema": schema}).render_as_string(hide_password=False)
    engine = Casework(proxied)
    env = dict(Storage.from_url(proxied).event_store_env, IS_SNAPSHOTTING_ENABLED="y")
    bare = BareApplication(env)
    commands = cases * (1 + len(LIFECYCLE))

    def run_engine() -> None:
        for _ in range(cases):
            case_id = engine.open_case("petition", CLERK, **OPENING)
            for trigger, actor, fields in LIFECYCLE:
                engine.fire(case_id, trigger, actor, **fields)

    def run_bare() -> None:
        for _ in range(cases):
            ticket = Ticket._create(Ticket.Opened, id=uuid4(), actor_id=CLERK.id,
                                    at=engine.clock(), fields=OPENING)
            bare.save(ticket)
            for trigger, actor, fields in LIFECYCLE:
                ticket = bare.repository.get(ticket.id)
                ticket.trigger_event(Ticket.Moved, trigger=trigger, actor_id=actor.id,
                                     at=engine.clock(), fields=fields)
                bare.save(ticket)

    try:
        run_engine(), run_bare()  # warm up: connections, prepared statements
        fire_only = _fires(engine, proxy)
        return {"engine": per_command(proxy, commands, run_engine),
                "bare eventsourcing": per_command(proxy, commands, run_bare),
                "engine fire": fire_only}
    finally:
        engine.close()
        bare.close()
        _drop(parsed, schema)


def _fires(engine: Any, proxy: Proxy, count: int = 50) -> dict[str, float]:
    """A note fired again and again on one case in progress: what ``casework fire`` sends."""
    from .figures import CLERK, HANDLER, LIFECYCLE, OPENING

    case_id = engine.open_case("petition", CLERK, **OPENING)
    for trigger, actor, fields in LIFECYCLE[:3]:
        engine.fire(case_id, trigger, actor, **fields)
    return per_command(proxy, count, lambda: [
        engine.fire(case_id, "note", HANDLER, note=f"call {n}") for n in range(count)])


def _drop(parsed: Any, schema: str) -> None:
    import psycopg

    plain = parsed.set(drivername="postgresql").difference_update_query(["schema"])
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_messages",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("url", help="postgresql://USER@HOST:PORT/DB (a schema is made in it)")
    parser.add_argument("--cases", type=int, default=20)
    args = parser.parse_args(argv)
    for name, counts in measure(args.url, args.cases).items():
        kinds = ", ".join(f"{k} {v:.1f}" for k, v in counts["by_type"].items())
        print(f"{name:20} {counts['statements']:5.1f} statements  {counts['messages']:5.1f} "
              f"messages  {counts['round_trips']:4.1f} round trips per command  ({kinds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
