"""The runner of batch jobs over many cases: sweeps, migrations, reprocessing, and any work
split into partitions of case ids (an import, a rebuild).

A job is a selection of candidate cases and a step that decides, case by case, whether to
fire a command. The runner streams candidates, commits one transaction per chunk of changed
cases, and can split the work across processes and machines (partitions of the case ids,
claimed with leases: casework.jobs.leases). Every step checks the case as it is now, so running a
job again, or after it was killed, changes only what is still to change: jobs are idempotent
and resumable by construction.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from ..application import Casework
from ..batch import Batch
from ..errors import CaseworkError
from ..fields import FieldSpec
from .leases import Heartbeat, PartitionLeases

CHUNK = 500
"""Changed cases per transaction."""
PROGRESS_EVERY = 0.25
"""Seconds between a worker's progress messages to its parent."""
REFUSALS_KEPT = 1000
"""How many refusals a summary lists in full (the count is always exact)."""


class Selection(Protocol):
    """Where a job's candidates come from (see projections.selection); picklable, so that
    worker processes can open it on their own connection."""

    def prepare(self, app: Casework) -> None:
        """Called once per worker before its first partition (e.g. to catch up an index)."""

    def case_ids(self, app: Casework, partition: tuple[int, int]) -> Iterator[UUID]:
        """The candidates of ``partition`` = (share, parts): an equal slice of the ids."""


class Step(Protocol):
    """What a job does to one case: fire through ``batch``, or return None to leave it.

    Returns a short description of the change (listed in dry runs), or None."""

    name: str

    def __call__(self, batch: Batch, case_id: UUID) -> str | None: ...


@dataclass
class JobSummary:
    job: str
    dry_run: bool = False
    examined: int = 0
    changed: int = 0
    refused: int = 0
    changes: list[dict[str, str]] = field(default_factory=list)
    """With --dry-run: every change it would make."""
    refusals: list[dict[str, str]] = field(default_factory=list)
    listed: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    """A partition given up half-way because its lease was lost."""

    def merge(self, other: JobSummary) -> None:
        self.examined += other.examined
        self.changed += other.changed
        self.refused += other.refused
        self.changes += other.changes
        self.refusals += other.refusals[: max(0, REFUSALS_KEPT - len(self.refusals))]
        self.listed += other.listed

    def as_dict(self) -> dict[str, Any]:
        return {"job": self.job, "dry_run": self.dry_run, "examined": self.examined,
                "changed": self.changed, "refused": self.refused, "changes": self.changes,
                "refusals": self.refusals, "listed": self.listed}


def run_job(app: Casework, step: Step, selection: Selection, *, workers: int = 1,
            dry_run: bool = False, progress: Callable[[int], None] | None = None,
            job: str | None = None, parts: int | None = None) -> JobSummary:
    """Run ``step`` over the cases ``selection`` gives.

    One worker and no ``job`` name: here, in one pass. Otherwise the cases are split into
    ``parts`` partitions claimed with leases (casework.leases): ``workers`` processes here,
    and any other process — on any machine — that runs the same ``job`` against the same
    database, share them; a dead worker's partitions are taken over when its leases run out.
    A dry run always runs here, in one pass.
    """
    if job is not None:  # recorded on the cases and in the partitions table
        job = FieldSpec("job", "string", required=True).coerce(job)
    if dry_run or (workers <= 1 and job is None):
        selection.prepare(app)
        return _run_partition(app, step, selection, (0, 1), dry_run, progress)
    return run_in_partitions(app, _StepWork(step, selection),
                             job=job or f"{step.name}-{uuid4().hex[:12]}",
                             parts=parts or max(16, 4 * workers), workers=workers,
                             progress=progress)


class PartitionWork(Protocol):
    """Any work split into partitions of case ids (a job's steps, an import, a rebuild):
    picklable, so that worker processes can run it on their own connection."""

    name: str

    def summary(self) -> Any:
        """An empty summary, to merge the partitions' summaries into."""

    def prepare(self, app: Casework) -> None:
        """Once per worker, before its first partition (e.g. bring the read model up to
        date, which the selection of a job reads)."""

    def __call__(self, app: Casework, partition: tuple[int, int],
                 progress: Callable[[int], None] | None,
                 heartbeat: Callable[[], bool]) -> Any:
        """Work on the cases of partition ``part`` of ``parts`` (the work says which ids
        those are); call ``heartbeat`` often (it renews the lease now and then) and give up
        (``interrupted``) when it returns False."""


@dataclass(frozen=True)
class _StepWork:
    step: Step
    selection: Selection

    @property
    def name(self) -> str:
        return self.step.name

    def summary(self) -> JobSummary:
        return JobSummary(self.step.name)

    def prepare(self, app: Casework) -> None:
        self.selection.prepare(app)

    def __call__(self, app: Casework, partition: tuple[int, int],
                 progress: Callable[[int], None] | None,
                 heartbeat: Callable[[], bool]) -> JobSummary:
        return _run_partition(app, self.step, self.selection, partition, False, progress,
                              heartbeat=heartbeat)


def run_in_partitions(app: Casework, work: PartitionWork, *, job: str, parts: int,
                      workers: int = 1, progress: Callable[[int], None] | None = None) -> Any:
    """Split ``work`` into ``parts`` partitions claimed with leases (casework.leases) and
    work on them here (one worker) or in ``workers`` processes; any other process running the
    same ``job`` against the same database shares them. Returns the merged summary."""
    PartitionLeases(app.storage, job, parts).close()
    if "mode=memory" in app.storage.event_store_env.get("SQLITE_DBNAME", ""):
        workers = 1  # other processes cannot open a database in this one's memory
    if workers <= 1:
        return work_on_partitions(app, work, job, progress)
    context = multiprocessing.get_context("spawn")  # fresh processes: no inherited connections
    messages = context.Queue()
    processes = [
        context.Process(target=_worker, daemon=True,
                        args=(app.storage.url, _engine_options(app), work, job, messages))
        for _ in range(workers)
    ]
    _start_ignoring_ctrl_c(processes)
    summary = work.summary()
    finished, failures = 0, []
    refusal: tuple[int, str] | None = None
    try:
        while finished < workers:
            try:
                kind, payload = messages.get(timeout=1)
            except queue.Empty:
                if not any(p.is_alive() for p in processes) and messages.empty():
                    failures.append("a worker died")
                    break
                continue
            if kind == "progress" and progress is not None:
                progress(payload)
            elif kind == "done":
                summary.merge(payload)
                finished += 1
            elif kind == "refused":  # the user's mistake, as one process would have said it
                refusal = refusal or payload
                finished += 1
            elif kind == "failed":
                failures.append(payload)
                finished += 1
    except KeyboardInterrupt:
        for process in processes:  # their leases run out; a rerun of the job goes on
            process.terminate()
        raise
    finally:
        for process in processes:
            process.join()
    if refusal is not None:
        exit_code, message = refusal
        raise _Refused(message, exit_code)
    if failures:
        raise CaseworkError(f"{work.name}: {failures[0]} (run it again: finished work is kept)")
    return summary


def _start_ignoring_ctrl_c(processes: list[Any]) -> None:
    """Start the workers with Ctrl-C ignored from their first instruction: a spawned process
    keeps an ignored SIGINT through exec, so a Ctrl-C while it is still importing or reading
    its arguments neither prints a KeyboardInterrupt traceback nor, by interrupting the parent
    half-way through sending them, an UnpicklingError. The parent handles Ctrl-C (it stops
    them); a Ctrl-C in the moment of starting them is not seen."""
    if threading.current_thread() is not threading.main_thread():  # no signals there
        for process in processes:
            process.start()
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for process in processes:
            process.start()
    finally:
        signal.signal(signal.SIGINT, handler)


def work_on_partitions(app: Casework, work: PartitionWork, job: str,
                       progress: Callable[[int], None] | None = None) -> Any:
    """Claim partitions of ``job`` until none is left, and work on each."""
    leases = PartitionLeases(app.storage, job, parts=1)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
    summary = work.summary()
    try:
        if leases.remaining():
            work.prepare(app)
        while (part := leases.claim(owner)) is not None:
            done = work(app, (part, leases.parts), progress, Heartbeat(leases, part, owner))
            summary.merge(done)
            if not done.interrupted:
                leases.finish(part, owner)
    finally:
        leases.close()
    return summary


def _engine_options(app: Casework) -> dict[str, Any]:
    return {"workflows": app.workflows, "organisation": app.organisation}


class _ProgressToParent:
    """A worker's progress, sent to the parent a few times a second rather than per case:
    a message per case kept the queue's feeder thread contending with the work for the GIL,
    and the parent unpickling thousands of messages on a core the workers need."""

    def __init__(self, messages: Any) -> None:
        self.messages = messages
        self.count = 0
        self.sent_at = time.monotonic()

    def __call__(self, count: int) -> None:
        self.count += count
        if time.monotonic() - self.sent_at >= PROGRESS_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.count:
            self.messages.put(("progress", self.count))
            self.count = 0
        self.sent_at = time.monotonic()


class _Refused(CaseworkError):
    """A worker's CaseworkError, raised again in the parent (the error itself may not
    survive pickling: its class's constructor takes other arguments than its message)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _worker(url: str, options: dict[str, Any], work: PartitionWork, job: str,
            messages: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # already so (see _start_ignoring_ctrl_c)
    try:
        app = Casework(url, **options)
        progress = _ProgressToParent(messages)
        summary = work_on_partitions(app, work, job, progress)
        progress.flush()
        messages.put(("done", summary))
    except CaseworkError as error:  # raised in the parent with its message and exit code
        messages.put(("refused", (error.exit_code, str(error))))
    except Exception as error:  # reported to the parent, which fails the job in one line
        messages.put(("failed", f"{type(error).__name__}: {error}"))


def _run_partition(app: Casework, step: Step, selection: Selection,
                   partition: tuple[int, int], dry_run: bool,
                   progress: Callable[[int], None] | None,
                   heartbeat: Callable[[], bool] | None = None) -> JobSummary:
    summary = JobSummary(step.name, dry_run)
    batch = app.batch(size=10**9)  # committed here, chunk by chunk
    chunk: list[UUID] = []
    for case_id in selection.case_ids(app, partition):
        summary.examined += 1
        try:
            change = step(batch, case_id)
        except CaseworkError as refusal:
            summary.refused += 1
            if len(summary.refusals) < REFUSALS_KEPT:
                summary.refusals.append({"case": str(case_id), "reason": str(refusal)})
            change = None
        if change is not None:
            summary.changed += 1
            chunk.append(case_id)
            if dry_run:
                summary.changes.append({"case": str(case_id), "change": change})
        listed = getattr(step, "listed", None)
        if listed:
            summary.listed.extend(listed)
            listed.clear()
        if progress is not None:
            progress(1)
        if len(chunk) >= CHUNK:
            _commit(app, step, batch, chunk, dry_run)
            chunk = []
            if heartbeat is not None and not heartbeat():
                summary.interrupted = True  # the lease was lost: its new owner goes on
                return summary
    _commit(app, step, batch, chunk, dry_run)
    return summary


def _commit(app: Casework, step: Step, batch: Batch, chunk: list[UUID], dry_run: bool) -> None:
    if dry_run:
        batch.discard()
        return
    try:
        batch.commit()
    except IntegrityError:
        # Another process changed one of these cases meanwhile: decide again, case by case,
        # on the fresh state (deciding twice is safe: each step checks the case as it is).
        batch.discard()
        for case_id in chunk:
            single = app.batch()
            try:
                step(single, case_id)
                single.commit()
            except (CaseworkError, IntegrityError):
                continue
