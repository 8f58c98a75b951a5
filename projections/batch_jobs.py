"""Batch jobs as the command line and the benchmarks run them: the engine's step for each
case (``casework.jobs``) over the cases the read model selects (``projections.selection``).

A ``BatchJob`` says how many cases it will look at (for a progress bar) and runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from casework import SYSTEM, Actor, Casework
from casework.jobs.migration import Migration
from casework.jobs.reprocess import Reprocess, job_name
from casework.jobs.runner import JobSummary, Step, run_job
from casework.jobs.sweep import Sweep, sweep_rules

from .filters import CaseFilter
from .selection import Candidates


@dataclass(frozen=True)
class BatchJob:
    step: Step
    candidates: Candidates
    job: str | None = None
    """The job's name, shared by workers on any machine; None: a new job of its own."""

    def count(self, app: Casework) -> int:
        """How many cases the job will look at."""
        return self.candidates.count(app)

    def run(self, app: Casework, *, workers: int = 1, dry_run: bool = False,
            progress: Callable[[int], None] | None = None) -> JobSummary:
        return run_job(app, self.step, self.candidates, workers=workers, dry_run=dry_run,
                       progress=progress, job=self.job)


def sweep_job(app: Casework, now: datetime, job: str | None = None) -> BatchJob:
    """The workflows' deadlines at business time ``now``: escalations, closures, expiries,
    and the list of revisits due."""
    rules = tuple(sweep_rules(app.workflows, now))
    return BatchJob(Sweep(now, rules=list(rules)), Candidates(due=rules), job)


def migration_job(app: Casework, kind: str, to_version: int, actor: Actor = SYSTEM,
                  job: str | None = None) -> BatchJob:
    """Every case of ``kind`` on an older version moved to ``to_version``."""
    app.workflows.get(kind, to_version)  # an unknown kind or version fails here, clearly
    return BatchJob(Migration(kind, to_version, actor),
                    Candidates(CaseFilter(kind=kind, version_below=to_version)), job)


def reprocess_job(app: Casework, where: CaseFilter, trigger: str, actor: Actor,
                  at: datetime | None, fields: dict[str, Any], job: str | None = None
                  ) -> BatchJob:
    """``trigger`` fired on every case ``where`` selects. Its name (recorded on the cases
    it changes, so a rerun skips them) is ``job``, or derived from what it does."""
    where.check(app)
    step = Reprocess(trigger, actor, at, fields,
                     name=job or job_name(trigger, fields, where.as_dict()))
    step.check(app.workflows, app.organisation, where.kind)
    return BatchJob(step, Candidates(where), step.name if job else None)
