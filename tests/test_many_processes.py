"""Many processes, one database: optimistic concurrency with retries, projections caught up
from several processes at once, and batch jobs shared through partition leases — on a
SQLite file and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from casework import Actor, Casework, ConcurrencyConflict
from casework.audit import audit
from casework.batch import Batch
from casework.jobs.leases import PartitionLeases, job_partitions
from casework.jobs.runner import run_job
from casework.jobs.sweep import Sweep, sweep_rules
from projections import ReadModel
from projections.audit import ReadModelCheck
from projections.selection import Candidates

from .conftest import database, new_app
from .support import summary_rows

pytestmark = pytest.mark.slow  # subprocesses, several processes, or many examples

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
CLERK = Actor("clerk", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("handler", roles=["handler", "supervisor"])


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database several processes can open: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        with database("postgresql") as url:
            yield url


def petitions_in_progress(app: Casework, count: int, at: datetime = T0) -> list[str]:
    batch = app.batch()
    ids = []
    for n in range(count):
        case_id = batch.open_case("petition", CLERK, at, channel="hotline", title=f"case {n}")
        batch.fire(case_id, "assess", CLERK, at, grade="A", category="road")
        batch.fire(case_id, "dispatch", CLERK, at, unit="guanlan/guancheng")
        batch.fire(case_id, "accept", HANDLER, at)
        ids.append(str(case_id))
    batch.commit()
    return ids


# Optimistic concurrency ----------------------------------------------------------------

def test_a_command_on_a_case_another_process_just_changed_is_checked_again_and_kept(
        shared_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    here, elsewhere = new_app(shared_url), new_app(shared_url)
    (case_id,) = petitions_in_progress(here, 1)
    original_commit = Batch.commit
    interfered = []

    def commit_after_someone_else(batch: Batch) -> int:
        if batch.app is here and not interfered:
            interfered.append(True)  # another process fires first, on the same case
            elsewhere.fire(case_id, "note", HANDLER, T0 + timedelta(minutes=1), note="theirs")
        return original_commit(batch)

    monkeypatch.setattr(Batch, "commit", commit_after_someone_else)
    view = here.fire(case_id, "note", HANDLER, T0 + timedelta(minutes=2), note="mine")

    notes = [e.fields["note"] for e in here.history(case_id) if e.trigger == "note"]
    assert notes == ["theirs", "mine"]  # no update lost, none doubled
    assert view.events == 6


def test_a_case_that_keeps_changing_gives_a_clear_concurrency_error(
        shared_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    here, elsewhere = new_app(shared_url), new_app(shared_url)
    (case_id,) = petitions_in_progress(here, 1)
    original_commit = Batch.commit
    minute = iter(range(1, 100))

    def always_beaten(batch: Batch) -> int:
        if batch.app is here:
            elsewhere.fire(case_id, "note", HANDLER, T0 + timedelta(minutes=next(minute)),
                           note="again")
        return original_commit(batch)

    monkeypatch.setattr(Batch, "commit", always_beaten)
    with pytest.raises(ConcurrencyConflict, match="gave up after 5 attempts"):
        here.fire(case_id, "resolve", HANDLER, T0 + timedelta(hours=1), resolution="done")
    assert all(e.trigger != "resolve" for e in here.history(case_id))


# Partition leases ----------------------------------------------------------------------

def test_a_dead_workers_partition_is_taken_over_when_its_lease_runs_out(
        shared_url: str) -> None:
    app = new_app(shared_url)
    leases = PartitionLeases(app.storage, "nightly", parts=3)
    assert [leases.claim("a"), leases.claim("b"), leases.claim("c")] == [0, 1, 2]
    assert leases.claim("d") is None  # all held by live leases
    leases.finish(0, "a")
    with leases.engine.begin() as conn:  # worker b died: its lease ran out
        conn.execute(update(job_partitions).where(job_partitions.c.part == 1)
                     .values(lease_until=datetime(2000, 1, 1)))
    assert leases.claim("d") == 1
    assert leases.renew(1, "b") is False  # b, were it alive, learns it lost the partition
    assert leases.renew(1, "d") is True
    assert leases.remaining() == 2
    leases.close()


def test_a_job_resumed_by_name_does_only_the_partitions_left(shared_url: str) -> None:
    app = new_app(shared_url)
    ids = petitions_in_progress(app, 40)
    now = T0 + timedelta(hours=3)
    candidates = Candidates(due=tuple(sweep_rules(app.workflows, now)))
    leases = PartitionLeases(app.storage, "sweep-0506", parts=4)
    first = leases.claim("crashed-worker")  # claimed, then the worker died before finishing
    assert first == 0
    with leases.engine.begin() as conn:
        conn.execute(update(job_partitions).values(lease_until=datetime(2000, 1, 1)))
    leases.close()

    summary = run_job(app, Sweep(now), candidates, job="sweep-0506")

    assert summary.changed == 40
    assert all(sum(e.trigger == "escalate" for e in app.history(c)) == 1 for c in ids)
    assert run_job(app, Sweep(now), candidates, job="sweep-0506").examined == 0


def _sweeper(url: str, job: str, now: datetime, results: Any) -> None:
    try:
        app = Casework(url)
        candidates = Candidates(due=tuple(sweep_rules(app.workflows, now)))
        results.put(run_job(app, Sweep(now), candidates, workers=2, job=job).changed)
    except BaseException as error:  # the test fails with it, rather than waiting
        results.put(f"{type(error).__name__}: {error}")


def test_workers_started_separately_with_one_job_name_share_it(shared_url: str) -> None:
    """As if started on two machines: two processes, each with two workers, one job."""
    app = new_app(shared_url)
    ids = petitions_in_progress(app, 300)
    now = T0 + timedelta(hours=3)
    PartitionLeases(app.storage, "shared-sweep", parts=16).close()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    machines = [context.Process(target=_sweeper, args=(shared_url, "shared-sweep", now, results))
                for _ in range(2)]
    for machine in machines:
        machine.start()
    changed = [results.get(timeout=240) for _ in machines]
    for machine in machines:
        machine.join(timeout=60)
    assert all(isinstance(count, int) for count in changed), changed
    assert sum(changed) == 300
    assert all(sum(e.trigger == "escalate" for e in app.history(c)) == 1 for c in ids)


# Many processes firing at once ---------------------------------------------------------

COMMANDS = 150


def _fire_at_random(url: str, ids: list[str], seed: int, results: Any) -> None:
    """One process: random commands on the shared cases, catching up the read model now and
    then; reports how many commands were accepted."""
    try:
        _fire_commands(url, ids, seed, results)
    except BaseException as error:  # the test fails with it, rather than waiting
        results.put(("error", f"{type(error).__name__}: {error}"))


def _fire_commands(url: str, ids: list[str], seed: int, results: Any) -> None:
    app = Casework(url)
    read_model = ReadModel(app, page_size=50)
    rng = random.Random(seed)
    accepted = 0
    for n in range(COMMANDS):
        case_id = rng.choice(ids)
        at = T0 + timedelta(hours=1, seconds=seed * 10_000 + n)
        trigger, fields = rng.choice([
            ("note", {"note": f"p{seed} n{n}"}), ("note", {"note": f"p{seed} n{n}"}),
            ("escalate", {"reason": "help"}), ("accept", {}),
            ("resolve", {"resolution": "done"}), ("object", {"reason": "not done"}),
            ("mediate", {"track": "people"}), ("mediation_failed", {"note": "no"}),
        ])
        try:
            app.fire(case_id, trigger, HANDLER, at, **fields)
            accepted += 1
        except Exception as error:  # only the engine's own refusals are expected
            from casework import CaseworkError

            if not isinstance(error, CaseworkError):
                results.put(("error", f"{type(error).__name__}: {error}"))
                return
        if n % 25 == 0:
            read_model.catch_up()
    read_model.close()
    results.put(("accepted", accepted))


def test_four_processes_firing_on_shared_cases_lose_and_double_nothing(shared_url: str) -> None:
    app = new_app(shared_url)
    ids = petitions_in_progress(app, 12)
    before = sum(len(app.history(c)) for c in ids)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_fire_at_random, args=(shared_url, ids, seed, results))
                 for seed in range(1, 5)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)

    assert all(kind == "accepted" for kind, _ in outcomes), outcomes
    accepted = sum(count for _, count in outcomes)
    assert accepted > 0
    assert sum(len(app.history(c)) for c in ids) == before + accepted  # nothing lost or doubled
    read_model = ReadModel(app)
    assert audit(app, also=[ReadModelCheck(read_model)]).findings == []  # legal, chained
    caught_up = summary_rows(read_model)
    read_model.rebuild()
    assert summary_rows(read_model) == caught_up
    read_model.close()


def _start_up(url: str, results: Any) -> None:
    try:
        app = Casework(url)
        ReadModel(app).close()
        PartitionLeases(app.storage, "first-night", parts=4).close()
        results.put("ok")
    except BaseException as error:
        results.put(f"{type(error).__name__}: {error}")


def test_processes_starting_at_once_on_a_new_database_all_start(shared_url: str) -> None:
    """Creating tables, the tracking row and a job's partitions must not race."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_start_up, args=(shared_url, results))
                 for _ in range(6)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert outcomes == ["ok"] * 6
    assert PartitionLeases(new_app(shared_url).storage, "first-night", parts=9).parts == 4
