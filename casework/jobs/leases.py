"""Partitions of a batch job, claimed through the database with leases.

A job's cases are split into partitions by id. Any worker process — on this machine or
another, against the same database — claims a partition that is neither done nor held by a
live lease (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock does the
same on one machine), works through it renewing its lease, and marks it done. A worker that
dies stops renewing; when its lease runs out another worker takes the partition over. Jobs
decide case by case on the case as it is, so finishing a dead worker's partition again is
safe.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine

from ..storage import Storage

LEASE = timedelta(seconds=60)
RENEW_EVERY_SECONDS = 10.0
"""How often a worker renews its lease while it works: well within the lease."""

metadata = MetaData()
job_partitions = Table(
    "job_partitions",
    metadata,
    Column("job", String(200), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("parts", Integer, nullable=False),
    Column("owner", String(200)),
    Column("lease_until", DateTime),
    Column("done", Boolean, nullable=False, default=False),
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class PartitionLeases:
    """The partitions of one job, shared by every worker that names the same job."""

    def __init__(self, storage: Storage, job: str, parts: int, lease: timedelta = LEASE) -> None:
        self.job = job
        self.lease = lease
        self.engine: Engine = storage.sqlalchemy_engine(writer=True)
        joined: list[int] = []

        def create_or_join(conn: Connection) -> None:
            # Under the setup lock: two workers starting the same job create it once.
            metadata.create_all(conn)
            known = conn.execute(select(job_partitions.c.parts).where(
                job_partitions.c.job == job).limit(1)).scalar()
            if known is None:
                conn.execute(insert(job_partitions), [
                    {"job": job, "part": part, "parts": parts, "done": False}
                    for part in range(parts)])
                known = parts
            joined.append(int(known))

        storage.change_tables(self.engine, create_or_join)
        self.parts = joined[0]  # a worker joining a job takes the job's partitioning

    def claim(self, owner: str) -> int | None:
        """A partition for ``owner`` to work on, or None when none is left to claim."""
        c = job_partitions.c
        with self.engine.begin() as conn:
            part = conn.execute(
                select(c.part)
                .where(c.job == self.job, c.done.is_(False),
                       or_(c.owner.is_(None), c.lease_until < _now()))
                .order_by(c.part).limit(1)
                .with_for_update(skip_locked=True)
            ).scalar()
            if part is None:
                return None
            conn.execute(update(job_partitions)
                         .where(c.job == self.job, c.part == part)
                         .values(owner=owner, lease_until=_now() + self.lease))
            return int(part)

    def renew(self, part: int, owner: str) -> bool:
        """Extend the lease; False when it was lost (expired and taken by another worker)."""
        c = job_partitions.c
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(job_partitions)
                .where(c.job == self.job, c.part == part, c.owner == owner)
                .values(lease_until=_now() + self.lease))
            return renewed.rowcount == 1

    def finish(self, part: int, owner: str) -> None:
        c = job_partitions.c
        with self.engine.begin() as conn:
            conn.execute(update(job_partitions)
                         .where(c.job == self.job, c.part == part, c.owner == owner)
                         .values(done=True, lease_until=None))

    def remaining(self) -> int:
        c = job_partitions.c
        with self.engine.begin() as conn:
            return int(conn.execute(select(func.count()).where(
                and_(c.job == self.job, c.done.is_(False)))).scalar() or 0)

    def close(self) -> None:
        self.engine.dispose()


class Heartbeat:
    """A worker's sign of life for one partition: call it as often as convenient; it renews
    the lease at most every ``RENEW_EVERY_SECONDS``, and returns False once the lease was lost
    (expired and taken over by another worker), when the worker must give the partition up."""

    def __init__(self, leases: PartitionLeases, part: int, owner: str) -> None:
        self.leases = leases
        self.part = part
        self.owner = owner
        self.renewed = time.monotonic()

    def __call__(self) -> bool:
        if time.monotonic() - self.renewed < RENEW_EVERY_SECONDS:
            return True
        self.renewed = time.monotonic()
        return self.leases.renew(self.part, self.owner)
