"""A new person's key and the first event that uses it are stored in one transaction: never
an event without its key (its personal fields could never be read), and never a key without
its event (a resident's key for a case that does not exist). And however many residents a
process meets, it keeps only the ciphers it used lately."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import func, select

from casework import Actor, Casework, DuplicateCase
from casework.personal import ERASED, person_keys

from .conftest import database, new_app

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
CLERK = Actor("li.na", roles=["intake", "assessor", "dispatcher"])
SUPERVISOR = Actor("boss", roles=["supervisor"])
GRID = "guanlan/guancheng/b1/g1"


def open_petition(app: Casework, name: str, **options: object) -> str:
    return str(app.open_case("petition", CLERK, T0, channel="hotline", title="A leak",
                             location=GRID, petitioner=name, phone="13912345678", **options))


def stored_keys(app: Casework) -> int:
    with app.personal.reader.connect() as conn:
        return conn.execute(select(func.count()).select_from(person_keys)).scalar_one()


@pytest.fixture(params=["sqlite", "postgresql"])
def durable_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that outlives the application: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.db'}"
        return
    with database(request.param) as url:
        yield url


def test_a_new_persons_key_is_stored_with_their_first_case(durable_url: str) -> None:
    app = new_app(durable_url)
    case_id = open_petition(app, "刘秀英")
    app.close()

    again = new_app(durable_url)  # another process: the key comes from the database
    assert stored_keys(again) == 1
    assert again.get_case(case_id).fields["petitioner"] == "刘秀英"
    again.close()


def test_a_case_that_is_not_stored_leaves_no_key_behind(app: Casework) -> None:
    case_id = open_petition(app, "刘秀英")

    # The same case id again, for a new resident: their key is written, then the event's
    # insert fails on the duplicate id, in the same transaction: neither is kept.
    with pytest.raises(DuplicateCase):
        open_petition(app, "Zhao Wei", case_id=app.parse_case_id(case_id))

    assert stored_keys(app) == 1
    assert app.get_case(case_id).fields["petitioner"] == "刘秀英"
    assert app.recorded_events() == 1


def test_a_batch_stores_the_keys_of_its_new_persons_with_its_events(app: Casework) -> None:
    batch = app.batch()
    ids = [batch.open_case("petition", CLERK, T0, channel="hotline", title=f"case {n}",
                           location=GRID, petitioner=f"resident {n}") for n in range(5)]
    assert stored_keys(app) == 0  # nothing stored before the batch commits
    batch.commit()

    assert stored_keys(app) == 5
    assert [app.get_case(i).fields["petitioner"] for i in ids] == [f"resident {n}"
                                                                  for n in range(5)]


def test_a_discarded_batch_leaves_no_key(app: Casework) -> None:
    batch = app.batch()
    batch.open_case("petition", CLERK, T0, channel="hotline", title="dry run", location=GRID,
                    petitioner="刘秀英")
    batch.discard()
    open_petition(app, "Zhao Wei")  # a later save stores only its own person's key

    assert stored_keys(app) == 1


def test_a_process_keeps_only_the_ciphers_it_used_lately_and_reads_every_case_right(
        app: Casework) -> None:
    app.personal.cache_size = 2
    names = [f"resident {n}" for n in range(6)]
    ids = [open_petition(app, name) for name in names]
    person = app.person_of(ids[0])

    for _ in range(2):  # each read evicts another person's cipher: read again from the table
        assert [app.get_case(i).fields["petitioner"] for i in ids] == names
    assert len(app.personal._ciphers) <= 2

    app.forget(person, SUPERVISOR)
    assert app.get_case(ids[0]).fields["petitioner"] == ERASED
    assert app.get_case(ids[1]).fields["petitioner"] == names[1]


# A process killed inside the transaction, after the key rows and before the events' insert.
KILLED = """
import os, signal, sys
from datetime import datetime, UTC
from casework import Actor, Casework

backend, url = sys.argv[1], sys.argv[2]
if backend == "sqlite":
    from eventsourcing.sqlite import SQLiteApplicationRecorder as Base
else:
    from eventsourcing.postgres import PostgresApplicationRecorder as Base

def killed(self, cursor, stored_events, **kwargs):
    # Inside the transaction, the key row is there; the events are not inserted yet.
    table = "person_keys" if backend == "sqlite" else f'"{self.datastore.schema}".person_keys'
    cursor.execute(f"SELECT count(*) AS n FROM {table}")
    row = cursor.fetchone()
    print("keys in the transaction:", row[0] if backend == "sqlite" else row["n"], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

Base._insert_events = killed
app = Casework(url)
app.open_case("petition", Actor("li", roles=["intake"]), datetime(2024, 5, 6, tzinfo=UTC),
              channel="hotline", title="A leak", petitioner="Liu Xiuying")
"""


@pytest.mark.slow  # a subprocess
def test_a_crash_between_the_key_and_the_event_leaves_neither(durable_url: str) -> None:
    setup = new_app(durable_url)
    open_petition(setup, "Zhao Wei")  # one stored person and event before the crash
    backend = setup.storage.backend
    setup.close()

    done = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLED), backend, durable_url],
                          capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == -9, done.stderr
    assert "keys in the transaction: 2" in done.stdout, (done.stdout, done.stderr)
    after = new_app(durable_url)
    assert stored_keys(after) == 1
    assert after.recorded_events() == 1
    # The database works on: a new person's key and case are stored as ever.
    case_id = open_petition(after, "刘秀英", case_id=uuid4())
    assert after.get_case(case_id).fields["petitioner"] == "刘秀英"
    assert stored_keys(after) == 2
    after.close()
