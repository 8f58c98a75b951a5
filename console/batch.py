"""Batch jobs: sweep, migrate, reprocess."""

from __future__ import annotations

import os
from typing import Any

import click

from casework import SYSTEM
from casework.jobs.runner import JobSummary
from casework.jobs.sweep import OVERDUE_AT_TOP, REVISIT
from casework.timestamps import utc_now
from projections import ReadModel
from projections.batch_jobs import BatchJob, migration_job, reprocess_job, sweep_job
from projections.case_rendering import CLOCK_NAMES, local
from projections.due_soon import DueSoon, due_soon
from projections.filters import CaseFilter
from projections.i18n import Names, _

from .options import (
    actor_options,
    at_option,
    db_option,
    job_option,
    json_option,
    make_actor,
    open_app,
    parse_fields,
    parse_when,
    workers_option,
)
from .output import to_json
from .progress import progress_bar
from .settings import current_settings

SHOWN_CHANGES = 50
SHOWN_REFUSALS = 20
SHOWN_DUE_SOON = 10
"""Due-soon clocks shown per unit (--json lists all)."""


def run(app: Any, job: BatchJob, workers: int, dry_run: bool, label: str) -> JobSummary:
    with progress_bar(job.count(app), label) as bar:
        return job.run(app, workers=workers, dry_run=dry_run, progress=bar.update)


def print_job(summary: JobSummary, as_json: bool, extra: dict[str, Any] | None = None) -> int:
    """Print a batch job's summary; the exit status is 1 when it refused any case."""
    status = 1 if summary.refused else 0
    if as_json:
        click.echo(to_json({**summary.as_dict(), **(extra or {})}))
        return status
    line = (_("{job}: examined {examined}, would change {changed}, refused {refused}")
            if summary.dry_run else
            _("{job}: examined {examined}, changed {changed}, refused {refused}"))
    click.echo(line.format(job=summary.job, examined=summary.examined, changed=summary.changed,
                           refused=summary.refused))
    for change in summary.changes[:SHOWN_CHANGES]:
        click.echo(f"  {change['case']}  {change['change']}")
    if len(summary.changes) > SHOWN_CHANGES:
        click.echo("  " + _("... and {count} more (--json lists all)").format(
            count=len(summary.changes) - SHOWN_CHANGES))
    for refusal in summary.refusals[:SHOWN_REFUSALS]:
        click.echo("  " + _("refused {case}: {reason}").format(case=refusal["case"],
                                                             reason=refusal["reason"]))
    if summary.refused > SHOWN_REFUSALS:
        click.echo("  " + _("... and {count} more refusals (--json lists them)").format(
            count=summary.refused - SHOWN_REFUSALS))
    return status


@click.command("sweep")
@click.option("--now", metavar="TIME", help="Business time of the sweep (default: the clock). "
              "The same --now gives the same result.")
@workers_option
@job_option
@db_option
@json_option
def sweep_command(now: str | None, workers: int, dry_run: bool, job: str | None,
                  db: str | None, as_json: bool) -> int:
    """Apply the workflows' deadlines to every open case.

    Escalates dispatched or in-progress cases past their deadline to the parent unit
    (reason "overdue"), closes resolved cases nobody objected to in time, expires volunteer
    tasks nobody claimed, and lists closed cases due a revisit and, by unit, the clocks
    (contact, resolve) due soon, as each workflow's due_soon settings say. Safe to run
    again, or after it was killed: only what is still due changes.

    \b
    Examples:
      casework sweep --now 2024-06-01T08:00+08:00 --dry-run
      casework sweep --workers 2 --json > sweep.json
      casework sweep --now 2024-06-01T08:00+08:00 --job nightly-0601 --workers 2   (on each
                                                                  machine, same database)
    """
    moment = parse_when(now, "--now") or utc_now()  # a malformed time is told before the store
    app = open_app(db)
    summary = run(app, sweep_job(app, moment, job), workers, dry_run, _("sweeping"))
    with ReadModel(app) as read_model:
        soon = due_soon(read_model, moment)
    status = print_job(summary, as_json, {"now": moment.isoformat(),
                                          "due_soon": [due.as_dict() for due in soon]})
    if not as_json:
        revisits = sum(item.get("due") == REVISIT for item in summary.listed)
        at_top = [item for item in summary.listed if item.get("due") == OVERDUE_AT_TOP]
        names = Names.of(app)
        for item in at_top[:SHOWN_CHANGES]:
            click.echo("  " + _("overdue at the top of the organisation: {case} at {unit} "
                                "(since {since})").format(case=item["case"],
                                                          unit=names.unit(item["unit"]),
                                                          since=item["overdue_since"]))
        if len(at_top) > SHOWN_CHANGES:
            click.echo("  " + _("... and {count} more overdue at the top (--json lists all)")
                       .format(count=len(at_top) - SHOWN_CHANGES))
        if revisits:
            click.echo(_("{count} closed cases are due a revisit (--json lists them)").format(
                count=revisits))
        print_due_soon(soon)
    return status


def print_due_soon(soon: list[DueSoon]) -> None:
    """The clocks due soon, by unit, a few per unit."""
    if not soon:
        return
    zone = current_settings().zone
    click.echo(_("{count} clocks due soon:").format(count=len(soon)))
    by_unit: dict[str, list[DueSoon]] = {}
    for due in soon:
        by_unit.setdefault(due.unit or _("(no unit)"), []).append(due)
    for unit, clocks in by_unit.items():
        click.echo(f"  {unit}: {len(clocks)}")
        for due in clocks[:SHOWN_DUE_SOON]:
            click.echo("    " + _("{case}  {clock} due {deadline} {zone}, {hours:.1f} h left")
                       .format(case=due.case, clock=_(CLOCK_NAMES.get(due.clock, due.clock)),
                               deadline=local(due.deadline, zone), zone=zone,
                               hours=due.left_hours))
        if len(clocks) > SHOWN_DUE_SOON:
            click.echo("    " + _("... and {count} more (--json lists all)").format(
                count=len(clocks) - SHOWN_DUE_SOON))


@click.command("migrate")
@click.argument("kind")
@click.option("--to-version", "to_version", type=int, required=True, metavar="N")
@workers_option
@job_option
@actor_options
@db_option
@json_option
def migrate_command(kind: str, to_version: int, workers: int, dry_run: bool, job: str | None,
                    actor: str | None, roles: tuple[str, ...], db: str | None,
                    as_json: bool) -> int:
    """Move the cases of KIND running an older workflow version to version N.

    Uses the state mapping version N declares for older versions (a state of the same name
    maps to itself). Each migration is a recorded event; cases in a state with no mapping
    are listed as refused and left alone. Extra definition folders: $CASEWORK_WORKFLOWS.

    \b
    Example:
      CASEWORK_WORKFLOWS=./site-workflows casework migrate petition --to-version 2 --dry-run
    """
    app = open_app(db)
    who = make_actor(actor, roles) if actor or roles or os.environ.get("CASEWORK_ACTOR") \
        else SYSTEM
    return print_job(run(app, migration_job(app, kind, to_version, who, job), workers,
                         dry_run, _("migrating")), as_json)


@click.command("reprocess")
@click.option("--where", "conditions", multiple=True, metavar="NAME=VALUE",
              help="Select cases: kind, state, stage, unit (a prefix), grade, opened_before, "
                   "opened_after (repeat; all must hold).")
@click.option("--trigger", required=True, help="The trigger to fire on each case.")
@click.argument("pairs", nargs=-1, metavar="[NAME=VALUE]...")
@at_option
@click.option("--job", "job", metavar="NAME",
              help="Name the job (default: derived from trigger, fields and filter); a rerun "
                   "of the same job skips the cases it already changed, and workers started "
                   "with the same name, on any machine, share its cases.")
@workers_option
@actor_options
@db_option
@json_option
def reprocess_command(conditions: tuple[str, ...], trigger: str, pairs: tuple[str, ...],
                      at: str | None, job: str | None, workers: int, dry_run: bool,
                      actor: str | None, roles: tuple[str, ...], db: str | None,
                      as_json: bool) -> int:
    """Fire one trigger on every case a filter selects, each checked as a normal command.

    Cases the engine refuses are reported, not half-done.

    \b
    Example:
      casework reprocess --where kind=petition --where state=in_progress \\
        --where unit=guanlan/guancheng --trigger note note="weekly review" \\
        --actor boss --role supervisor --dry-run
    """
    try:
        where = CaseFilter.parse(parse_fields(conditions))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--where") from None
    moment, fields = parse_when(at, "--at"), parse_fields(pairs)
    app = open_app(db)
    batch_job = reprocess_job(app, where, trigger, make_actor(actor, roles), moment, fields, job)
    return print_job(run(app, batch_job, workers, dry_run, _("reprocessing")), as_json)
