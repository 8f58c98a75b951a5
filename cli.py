"""The casework command line: parse, call the engine, print.

Every command takes --db URL (or $CASEWORK_DB); commands that act take --actor and --role
(or $CASEWORK_ACTOR as "id:role,role" or "id@unit:role,role"); commands whose output is data
take --json.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn
from uuid import UUID

import click
from eventsourcing.persistence import PersistenceError
from sqlalchemy.exc import SQLAlchemyError

from casework import (
    Actor,
    Casework,
    CaseworkError,
    InvalidField,
    StorageError,
    UnknownCase,
)
from casework.audit import audit, audit_digest
from casework.nyc311 import import_nyc311
from casework.simulation import Simulation
from casework.storage import Storage, lock_timed_out
from casework.timestamps import parse_time
from casework.transfer import (
    Importer,
    ImportResult,
    RejectFile,
    export_jsonl,
    import_jsonl,
    rejects_path_for,
)
from projections import ReadModel
from projections.audit import ReadModelCheck, rows_a_rebuild_would_change
from projections.report import GROUPINGS, Filters, report

EXIT_CODES = """\b
Exit codes:
  0  success
  1  audit findings or a digest that no longer matches; a batch job refused some cases;
     or an error not listed here
  2  bad input: an unknown option or field, a malformed value, a bad definition file
  3  unknown case, workflow or person
  4  illegal transition, or a guard refused the trigger
  5  permission denied
  6  concurrency conflict: the case kept changing; try again
  7  database cannot be opened or reached, or another process held it locked longer
     than $CASEWORK_LOCK_TIMEOUT seconds (default 10)
  8  import: some rows were rejected (listed on stderr, kept in the reject file)
"""


def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("casework")
    except PackageNotFoundError:  # run from a checkout without installing
        return "unknown (not installed)"


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"casework: {one_line(message)}", err=True)
    sys.exit(code)


UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def one_line(text: str) -> str:
    """``text`` on one line and safe for a terminal: messages quote what the user gave, and a
    line break, escape sequence or byte that was not UTF-8 in it is shown escaped."""
    return "".join(repr(char)[1:-1] if unicodedata.category(char) in UNPRINTABLE else char
                   for char in text)


class CaseworkGroup(click.Group):
    """Turns every user mistake into one line on stderr and a documented exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.Abort:
            fail("aborted", 130)
        except click.ClickException as error:
            hint = "" if isinstance(error, click.BadParameter) else " (see casework --help)"
            fail(error.format_message().replace("\n", " ") + hint, error.exit_code)
        except CaseworkError as error:
            fail(str(error).replace("\n", "; "), error.exit_code)
        except PersistenceError as error:
            fail(lock_timed_out(error) or f"database error: {error}".replace("\n", " "), 7)
        except (sqlite3.Error, SQLAlchemyError) as error:
            cause = getattr(error, "orig", None) or error
            fail(lock_timed_out(error)
                 or f"database error: {cause} (is another process holding it?)", 7)
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (e.g. `| head`): not an error
            sys.exit(0)
        except OSError as error:  # a file to read or write: missing, a folder, not allowed
            fail(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "), 1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=CaseworkGroup, epilog=EXIT_CODES,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=installed_version(), prog_name="casework")
def cli() -> None:
    """casework: event-sourced cases (petitions, enterprise requests, volunteer tasks)
    moving through declarative workflows.

    \b
    Start with:
      casework demo                    simulate a month in a subdistrict and report on it
      casework workflows list          the workflows and their versions
      casework report --by community   how the offices are doing
    """


# Shared options -----------------------------------------------------------------------

def db_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db", metavar="URL", envvar="CASEWORK_DB", default=None,
        help="Database URL: sqlite:///FILE (default sqlite:///casework.db) or "
             "postgresql://USER@HOST/DB. Env: CASEWORK_DB.",
    )(command)


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(command)


def actor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--role", "roles", multiple=True, metavar="ROLE",
        help="A role the actor acts in (repeat, or separate with commas).",
    )(command)
    return click.option(
        "--actor", metavar="ID[@UNIT]", default=None,
        help="Who acts; with @UNIT, bound to that unit: they see and act only on cases at it "
             'or below it. Env: CASEWORK_ACTOR, as "id", "id:role,role" or "id@unit:role,role".',
    )(command)


def make_actor(actor: str | None, roles: Iterable[str]) -> Actor:
    from_env = os.environ.get("CASEWORK_ACTOR", "")
    env_actor, _, env_roles = from_env.partition(":")
    given = (actor or env_actor or os.environ.get("USER") or "cli").strip()
    actor_id, _, unit = given.partition("@")
    chosen = [r.strip() for group in roles for r in group.split(",") if r.strip()]
    if not chosen and (not actor or actor == env_actor):
        chosen = [r.strip() for r in env_roles.split(",") if r.strip()]
    return Actor(actor_id.strip(), roles=chosen, unit=unit.strip().strip("/") or None)


def open_app(db: str | None, create: bool = False) -> Casework:
    """The engine on ``db``. Only commands that add cases (open, import, demo) may create a
    database: anywhere else a mistyped path must not quietly give an empty one."""
    storage = Storage.from_url(db)
    if not create and not storage.exists():
        raise StorageError(f"no database at {storage.display_url} (casework open, import and "
                           "demo create one)")
    return Casework(db)


def progress_bar(length: int, label: str) -> Any:
    """A progress bar on a terminal; silent otherwise (logs, pipes, CI)."""
    if sys.stderr.isatty():
        return click.progressbar(length=length, label=label, file=sys.stderr)
    return _Silent()


class _Silent:
    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, _: int) -> None:
        return None


def check_selection(app: Casework, kind: str | None, unit: str | None) -> None:
    """A kind or unit that does not exist is a typo: say so rather than report nothing."""
    if kind is not None:
        app.workflows.get(kind)
    if unit is not None and unit.strip("/") not in app.organisation:
        raise InvalidField("unit", f"no unit {unit!r} in the organisation")


def parse_fields(pairs: Iterable[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="fields")
        fields[name.strip()] = value
    return fields


def parse_when(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=what) from None


def resolve_case(app: Casework, given: str) -> UUID:
    """A full case id, or a unique prefix of one (as git does with commits)."""
    text = given.strip().lower()
    try:
        return UUID(text)
    except ValueError:
        pass
    if len(text) < 4 or any(c not in "0123456789abcdef-" for c in text):
        raise UnknownCase(given, "give a case id or at least 4 characters of one")
    read_model = ReadModel(app)
    try:
        matches = read_model.case_ids_starting_with(text)
    finally:
        read_model.close()
    if not matches:
        raise UnknownCase(given)
    if len(matches) > 1:
        raise UnknownCase(given, "the prefix is ambiguous; give more characters")
    return UUID(matches[0])


def to_json(value: Any) -> str:
    def default(item: Any) -> Any:
        if isinstance(item, datetime):
            return item.isoformat()
        if isinstance(item, UUID):
            return str(item)
        if isinstance(item, tuple | set):
            return list(item)
        raise TypeError(f"cannot print {type(item).__name__}")

    return json.dumps(value, default=default, ensure_ascii=False, indent=2)


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def width(text: str) -> int:
    """Columns the text takes on a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def table(rows: list[list[str]], headers: list[str]) -> str:
    columns = zip(headers, *rows, strict=False)
    widths = [max(width(str(cell)) for cell in column) for column in columns]

    def line(cells: list[str]) -> str:
        return "  ".join(str(cell) + " " * (w - width(str(cell)))
                         for cell, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths),
                      *(line(row) for row in rows)])


# Cases --------------------------------------------------------------------------------

@cli.command("open")
@click.argument("kind")
@click.option("--field", "-f", "pairs", multiple=True, metavar="NAME=VALUE",
              help="A field of the opening trigger (repeat).")
@click.option("--at", metavar="TIME", help="Business time (ISO 8601); default now.")
@click.option("--person", metavar="ID",
              help="The resident's person id (shown by casework show) when they have cases "
                   "already: their personal fields then share one key.")
@actor_options
@db_option
@json_option
def open_command(kind: str, pairs: tuple[str, ...], at: str | None, person: str | None,
                 actor: str | None, roles: tuple[str, ...], db: str | None,
                 as_json: bool) -> None:
    """Open a case of KIND (petition, enterprise_request, volunteer_task).

    Personal fields (petitioner, phone, address, contact) are stored encrypted under the key
    of the case's person: a new one, or the one --person names.

    \b
    Example:
      casework open petition --actor li --role intake \\
        -f channel=hotline -f title="Broken manhole cover" -f location=guanlan/guancheng
    """
    app = open_app(db, create=True)
    case_id = app.open_case(kind, make_actor(actor, roles), parse_when(at, "--at"),
                            person=person, **parse_fields(pairs))
    if as_json:
        click.echo(to_json(case_view_dict(app, case_id)))
    else:
        click.echo(str(case_id))


@cli.command("fire")
@click.argument("case")
@click.argument("trigger")
@click.argument("pairs", nargs=-1, metavar="[NAME=VALUE]...")
@click.option("--at", metavar="TIME", help="Business time (ISO 8601); default now.")
@actor_options
@db_option
@json_option
def fire_command(case: str, trigger: str, pairs: tuple[str, ...], at: str | None,
                 actor: str | None, roles: tuple[str, ...], db: str | None,
                 as_json: bool) -> None:
    """Fire TRIGGER on CASE (an id, or a unique prefix of one).

    \b
    Example:
      casework fire 7931a699 assess grade=B category=road --actor li --role assessor
    """
    app = open_app(db)
    view = app.fire(resolve_case(app, case), trigger, make_actor(actor, roles),
                    parse_when(at, "--at"), **parse_fields(pairs))
    if as_json:
        click.echo(to_json(case_view_dict(app, view.id)))
    else:
        click.echo(f"{view.id}  {trigger}: now {view.state} ({view.stage})")


def case_view_dict(app: Casework, case_id: UUID, as_of: datetime | None = None,
                   actor: Actor | None = None) -> dict[str, Any]:
    view = app.get_case(case_id, as_of=as_of, actor=actor)
    data = {name: getattr(view, name) for name in view.__dataclass_fields__}
    if actor is not None and as_of is None:
        data["allowed_triggers"] = app.allowed_triggers(case_id, actor)
    return data


@cli.command("show")
@click.argument("case")
@click.option("--as-of", metavar="TIME", help="Show the case as it was at this business time.")
@actor_options
@db_option
@json_option
def show_command(case: str, as_of: str | None, actor: str | None, roles: tuple[str, ...],
                 db: str | None, as_json: bool) -> None:
    """Show a case: state, stage, unit, deadline, fields, and what the actor may do next.

    \b
    Example:
      casework show 7931a699 --actor wang --role handler
      casework show 7931a699 --as-of 2024-05-03T12:00+08:00
    """
    app = open_app(db)
    who = make_actor(actor, roles)
    data = case_view_dict(app, resolve_case(app, case), parse_when(as_of, "--as-of"), who)
    if as_json:
        click.echo(to_json(data))
        return
    click.echo(f"case      {data['id']}  ({data['kind']} v{data['version']})")
    click.echo(f"state     {data['state']}  (stage {data['stage']})")
    click.echo(f"unit      {data['unit'] or '-'}")
    if data["person"]:
        click.echo(f"person    {data['person']}")
    grade = data["grade"] or "-"
    click.echo(f"grade     {grade}   deadline {when(data['deadline'])}")
    click.echo(f"opened    {when(data['opened_at'])}   last change {when(data['updated_at'])}"
               f"   events {data['events']}")
    if data["escalations"] or data["reopens"]:
        click.echo(f"escalated {data['escalations']}x   reopened {data['reopens']}x")
    if data["volunteers"]:
        click.echo(f"volunteers {', '.join(data['volunteers'])}")
    if data["tasks"]:
        click.echo(f"tasks     {', '.join(data['tasks'])}")
    click.echo("fields")
    width = max((len(k) for k in data["fields"]), default=0)
    for name, value in data["fields"].items():
        click.echo(f"  {name.ljust(width)}  {value}")
    if "allowed_triggers" in data:
        allowed = ", ".join(data["allowed_triggers"]) or "nothing"
        click.echo(f"next      {who.id} ({', '.join(who.roles) or 'no roles'}) may: {allowed}")


@cli.command("history")
@click.argument("case")
@click.option("--as-of", metavar="TIME", help="Only what had happened by this business time.")
@actor_options
@db_option
@json_option
def history_command(case: str, as_of: str | None, actor: str | None, roles: tuple[str, ...],
                    db: str | None, as_json: bool) -> None:
    """The timeline of a case: when, who (role), trigger, from → to, fields.

    \b
    Example:
      casework history 7931a699
      casework history 7931a699 --json | jq '.[].trigger'
    """
    app = open_app(db)
    entries = app.history(resolve_case(app, case), as_of=parse_when(as_of, "--as-of"),
                          actor=make_actor(actor, roles))
    if as_json:
        click.echo(to_json([entry.__dict__ for entry in entries]))
        return
    click.echo(history_table(entries))


def history_table(entries: list[Any]) -> str:
    rows = []
    for entry in entries:
        fields = ", ".join(f"{k}={v}" for k, v in entry.fields.items())
        if len(fields) > 60:
            fields = fields[:57] + "..."
        rows.append([str(entry.sequence), when(entry.at), f"{entry.actor} ({entry.role})",
                     entry.trigger, f"{entry.from_state or '·'} → {entry.to_state}", fields])
    return table(rows, ["#", "at", "who (role)", "trigger", "from → to", "fields"])


# Read models and reports --------------------------------------------------------------

@cli.command("report")
@click.option("--kind", help="Only cases of this kind.")
@click.option("--unit", metavar="PREFIX", help="Only cases at this unit or below it.")
@click.option("--since", metavar="TIME", help="Only cases opened at or after this time.")
@click.option("--until", metavar="TIME", help="Only cases opened before this time.")
@click.option("--by", type=click.Choice(GROUPINGS), help="One row per value of this.")
@click.option("--now", metavar="TIME", help="Judge open deadlines at this time (default now).")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV.")
@db_option
@json_option
def report_command(kind: str | None, unit: str | None, since: str | None, until: str | None,
                   by: str | None, now: str | None, as_csv: bool, db: str | None,
                   as_json: bool) -> None:
    """Resolution, local resolution, deadlines, satisfaction and hot spots.

    \b
    Examples:
      casework report
      casework report --kind petition --by community
      casework report --unit guanlan/guancheng --since 2024-05-01 --json
    """
    app = open_app(db)
    check_selection(app, kind, unit)
    read_model = ReadModel(app)
    try:
        figures = report(read_model, Filters(kind, unit, parse_when(since, "--since"),
                                             parse_when(until, "--until")),
                         by=by, now=parse_when(now, "--now"))
    finally:
        read_model.close()
    if as_json:
        click.echo(to_json(figures))
    elif as_csv:
        click.echo(report_csv(figures), nl=False)
    else:
        click.echo(report_text(figures))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _figure_row(label: str, f: dict[str, Any]) -> list[str]:
    sla = f["sla"].get("overall", {})
    sat = f["satisfaction"]
    return [label, str(f["total"]), str(f["open"]), str(f["closed"]), str(f["resolved"]),
            _percent(f["resolution_rate"]), _percent(f["local_resolution_rate"]),
            _percent(sla.get("compliance")), str(sla.get("open_overdue", 0)),
            "-" if f["time_to_close_hours"]["median"] is None
            else f"{f['time_to_close_hours']['median']:.0f}",
            "-" if sat["mean"] is None else f"{sat['mean']:.2f}",
            _percent(f["reopen_rate"])]


FIGURE_HEADERS = ["", "cases", "open", "closed", "resolved", "resolution", "local",
                  "deadlines met", "overdue", "median h", "satisfaction", "reopened"]


def report_text(f: dict[str, Any]) -> str:
    rows = [_figure_row("all cases", f)]
    rows += [_figure_row(g["key"], g) for g in f["groups"]]
    parts = [table(rows, FIGURE_HEADERS), ""]
    parts.append("by stage   " + " · ".join(f"{k} {v}" for k, v in f["by_stage"].items()))
    parts.append("channels   " + " · ".join(f"{k} {v}" for k, v in f["by_channel"].items()))
    sla = [f"{grade} {_percent(s['compliance'])} ({s['met']} met, {s['breached']} late, "
           f"{s['open_overdue']} overdue)" for grade, s in f["sla"].items() if grade != "overall"]
    if sla:
        parts.append("deadlines  " + " · ".join(sla))
    escalations = f["escalations"]
    if escalations["cases"]:
        parts.append(f"escalated  {escalations['cases']} cases "
                     f"({_percent(escalations['rate'])}), {escalations['total']} escalations")
    times = f["time_to_close_hours"]
    if times["count"]:
        parts.append(f"to close   median {times['median']} h, 90% within {times['p90']} h")
    sat = f["satisfaction"]
    if sat["count"]:
        dist = " ".join(f"{k}★{v}" for k, v in sat["distribution"].items())
        parts.append(f"revisits   {sat['count']} rated, mean {sat['mean']}: {dist}")
    if f["hot_spots"]:
        parts.append("hot spots  " + " · ".join(
            f"{h['category']} in {h['community'].rsplit('/', 1)[-1]} ({h['count']})"
            for h in f["hot_spots"][:6]))
    services = f["enterprise_requests"]["by_service_category"]
    if services:
        parts.append("enterprise " + " · ".join(
            f"{k} {v}" for k, v in sorted(services.items(), key=lambda kv: -kv[1])))
    tasks = f["volunteer_tasks"]
    if tasks["published"]:
        parts.append("volunteers " + " · ".join(f"{k} {v}" for k, v in tasks.items()))
    return "\n".join(parts)


def report_csv(f: dict[str, Any]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["group", "cases", "open", "closed", "resolved", "resolution_rate",
                     "local_resolution_rate", "sla_compliance", "open_overdue",
                     "median_hours_to_close", "mean_satisfaction", "reopen_rate"])
    for label, figures in [("all", f), *[(g["key"], g) for g in f["groups"]]]:
        sla = figures["sla"].get("overall", {})
        writer.writerow([label, figures["total"], figures["open"], figures["closed"],
                         figures["resolved"], figures["resolution_rate"],
                         figures["local_resolution_rate"], sla.get("compliance"),
                         sla.get("open_overdue"), figures["time_to_close_hours"]["median"],
                         figures["satisfaction"]["mean"], figures["reopen_rate"]])
    return out.getvalue()


@cli.command("rebuild")
@click.option("--dry-run", is_flag=True,
              help="List the rows a rebuild would change (it changes none on a sound store).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes to share the rebuild (cases are split by id). With more than "
                   "one, the rows are built beside the read model, which reports go on "
                   "using until the new rows replace it; a killed rebuild resumes.")
@db_option
@json_option
def rebuild_command(dry_run: bool, workers: int, db: str | None, as_json: bool) -> int:
    """Drop the read models and build them again from the events.

    Reports afterwards are identical to before: the events are the truth. Safe to run again
    after an interruption: it starts over (with --workers, it goes on where it was).

    \b
    Example:
      casework rebuild --db sqlite:///cases.db
      casework rebuild --dry-run
      casework rebuild --workers 2 --db postgresql://...
    """
    app = open_app(db)
    read_model = ReadModel(app)
    try:
        if dry_run:
            findings = rows_a_rebuild_would_change(read_model)
            if as_json:
                click.echo(to_json({"dry_run": True,
                                    "rows_to_change": [f.as_dict() for f in findings]}))
            else:
                for finding in findings:
                    click.echo(str(finding))
                click.echo(f"a rebuild would change {_amount(len(findings), 'row')}")
            return 0
        total = app.recorder.max_notification_id() or 0
        with progress_bar(total, "rebuilding") as bar:
            if workers > 1:
                from projections.parallel_rebuild import rebuild_in_parallel

                applied = rebuild_in_parallel(app, workers, bar.update)
            else:
                read_model.drop()
                read_model.create()
                applied = read_model.catch_up(progress=bar.update)
    finally:
        read_model.close()
    if as_json:
        click.echo(to_json({"events": applied}))
    else:
        click.echo(f"rebuilt the read models from {applied} events")
    return 0


@cli.command("project")
@click.option("--follow", is_flag=True, help="Keep going: apply new events as they arrive.")
@click.option("--interval", default=1.0, show_default=True, metavar="SECONDS",
              type=click.FloatRange(min=0.01, max=86400),
              help="With --follow, how often to look for new events.")
@db_option
def project_command(follow: bool, interval: float, db: str | None) -> None:
    """Bring the read models up to date with the events (reports do this too).

    \b
    Example:
      casework project --follow &     keep read models current for other processes
    """
    import time

    if not interval > 0:  # NaN passes FloatRange
        raise click.BadParameter(f"{interval} is not a number of seconds", param_hint="--interval")
    app = open_app(db)
    read_model = ReadModel(app)
    try:
        applied = read_model.catch_up()
        click.echo(f"applied {applied} events; at notification {read_model.position()}")
        while follow:
            time.sleep(interval)
            applied = read_model.catch_up()
            if applied:
                click.echo(f"applied {applied} events; at notification {read_model.position()}")
    except KeyboardInterrupt:
        pass
    finally:
        read_model.close()


# The demo -----------------------------------------------------------------------------

DEMO_DB = "casework-demo.db"


@cli.command("demo")
@click.option("--db", metavar="URL", default=None,
              help=f"Where to write (default: a fresh ./{DEMO_DB}, replaced on each run). "
                   "A database given here must have no events yet.")
@click.option("--seed", default=2024, show_default=True, help="The same seed, the same month.")
@click.option("--petitions", default=3000, type=click.IntRange(0), show_default=True)
@click.option("--enterprise-requests", default=650, type=click.IntRange(0), show_default=True)
@click.option("--volunteer-tasks", default=300, type=click.IntRange(0), show_default=True)
@json_option
def demo_command(db: str | None, seed: int, petitions: int, enterprise_requests: int,
                 volunteer_tasks: int, as_json: bool) -> None:
    """Simulate a month in a Guanlan-shaped subdistrict, then report on it.

    Thousands of petitions, enterprise requests and volunteer tasks arrive through hotline,
    mini-program, door-to-door visits, service stations and sensors; they are graded,
    dispatched, escalated, mediated, resolved, closed and revisited through the engine.

    \b
    Example:
      casework demo
      casework demo --seed 7 --petitions 500 --db sqlite:///small.db
    """
    if db is None:
        for suffix in ("", "-wal", "-shm"):
            Path(DEMO_DB + suffix).unlink(missing_ok=True)
        db = f"sqlite:///{DEMO_DB}"
    app = open_app(db, create=True)
    if app.recorder.max_notification_id():
        fail(f"{app.storage.display_url} already has events; the demo needs an empty database")
    total = petitions + enterprise_requests + volunteer_tasks
    simulation = Simulation(app, seed=seed, petitions=petitions,
                            enterprise_requests=enterprise_requests,
                            volunteer_tasks=volunteer_tasks)
    with progress_bar(total, "simulating May 2024") as bar:
        simulation.progress = bar.update
        result = simulation.run()
    read_model = ReadModel(app)
    try:
        figures = report(read_model, by="kind", now=result.ends_at)
    finally:
        read_model.close()
    if as_json:
        click.echo(to_json({"database": app.storage.display_url, "seed": seed,
                            "commands": result.commands, "report": figures}))
        return
    click.echo(f"Guanlan subdistrict, May 2024 (seed {seed}): {figures['total']} cases, "
               f"{result.commands} commands, in {app.storage.display_url}\n")
    click.echo(report_text(figures))
    sample = _sample_case(app, simulation)
    if sample is not None:
        click.echo(f"\nOne petition's history (casework history {str(sample)[:8]} --db {db}):")
        click.echo(history_table(app.history(sample)))
    click.echo(f"\nNext: casework report --db {db} --by community    "
               f"casework show {str(sample)[:8] if sample else 'CASE'} --db {db}")


def _sample_case(app: Casework, simulation: Simulation) -> UUID | None:
    """A petition that went through every stage and was reopened, if the month has one."""
    fallback = None
    for case_id in simulation.petition_ids:
        view = app.get_case(case_id)
        if view.state == "revisited" and fallback is None:
            fallback = case_id
        if view.reopens and view.stage == "revisit":
            return case_id
    return fallback


# Batch jobs ---------------------------------------------------------------------------

def workers_option(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--dry-run", is_flag=True,
                           help="List what would change; write nothing.")(command)
    return click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
                        help="Processes to share the work (cases are split by id).")(command)


def job_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--job", metavar="NAME",
        help="Name the run: workers started with the same name against the same database, "
             "on any machine, share its cases; after a crash the same name resumes it.",
    )(command)


def run_batch_job(app: Casework, step: Any, candidates: Any, workers: int, dry_run: bool,
                  label: str, job: str | None = None) -> Any:
    from casework.jobs import run_job

    total = candidates.count(app)
    with progress_bar(total, label) as bar:
        return run_job(app, step, candidates, workers=workers, dry_run=dry_run,
                       progress=bar.update, job=job)


def print_job(summary: Any, as_json: bool, extra: dict[str, Any] | None = None) -> int:
    """Print a batch job's summary; the exit status is 1 when it refused any case."""
    status = 1 if summary.refused else 0
    if as_json:
        click.echo(to_json({**summary.as_dict(), **(extra or {})}))
        return status
    verb = "would change" if summary.dry_run else "changed"
    kinds: dict[str, int] = {}
    for change in summary.changes:
        first = change["change"].split(":")[0].split(" ")[0]
        kinds[first] = kinds.get(first, 0) + 1
    click.echo(f"{summary.job}: examined {summary.examined}, {verb} {summary.changed}, "
               f"refused {summary.refused}")
    for change in summary.changes[:50]:
        click.echo(f"  {change['case']}  {change['change']}")
    if len(summary.changes) > 50:
        click.echo(f"  ... and {len(summary.changes) - 50} more (--json lists all)")
    for refusal in summary.refusals[:20]:
        click.echo(f"  refused {refusal['case']}: {refusal['reason']}")
    if summary.refused > 20:
        click.echo(f"  ... and {summary.refused - 20} more refusals (--json lists them)")
    return status


@cli.command("sweep")
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
    tasks nobody claimed, and lists closed cases due a revisit. Safe to run again, or after
    it was killed: only what is still due changes.

    \b
    Examples:
      casework sweep --now 2024-06-01T08:00+08:00 --dry-run
      casework sweep --workers 2 --json > sweep.json
      casework sweep --now 2024-06-01T08:00+08:00 --job nightly-0601 --workers 2   (on each
                                                                  machine, same database)
    """
    from casework.sweep import Sweep, sweep_rules
    from casework.timestamps import utc_now
    from projections.selection import Candidates

    app = open_app(db)
    moment = parse_when(now, "--now") or utc_now()
    step = Sweep(moment)
    summary = run_batch_job(app, step, Candidates(due=tuple(sweep_rules(app.workflows, moment))),
                            workers, dry_run, "sweeping", job)
    status = print_job(summary, as_json, {"now": moment.isoformat()})
    if not as_json and summary.listed:
        click.echo(f"{len(summary.listed)} closed cases are due a revisit (--json lists them)")
    return status


@cli.command("migrate")
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
    from casework.migration import Migration
    from projections.selection import Candidates, CaseFilter

    app = open_app(db)
    app.workflows.get(kind, to_version)  # an unknown kind or version fails here, clearly
    who = make_actor(actor, roles) if actor or roles or os.environ.get("CASEWORK_ACTOR") \
        else Actor("system", roles=["system"])
    step = Migration(kind, to_version, who)
    candidates = Candidates(CaseFilter(kind=kind, version_below=to_version))
    return print_job(run_batch_job(app, step, candidates, workers, dry_run, "migrating", job),
                     as_json)


@cli.command("reprocess")
@click.option("--where", "conditions", multiple=True, metavar="NAME=VALUE",
              help="Select cases: kind, state, stage, unit (a prefix), grade, opened_before, "
                   "opened_after (repeat; all must hold).")
@click.option("--trigger", required=True, help="The trigger to fire on each case.")
@click.argument("pairs", nargs=-1, metavar="[NAME=VALUE]...")
@click.option("--at", metavar="TIME", help="Business time (ISO 8601); default now.")
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
    from casework.reprocess import Reprocess, job_name
    from projections.selection import Candidates, CaseFilter

    app = open_app(db)
    try:
        where = CaseFilter.parse(parse_fields(conditions))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--where") from None
    fields = parse_fields(pairs)
    check_selection(app, where.kind, where.unit)
    step = Reprocess(trigger, make_actor(actor, roles), parse_when(at, "--at"), fields,
                     name=job or job_name(trigger, fields, where.as_dict()))
    step.check(app.workflows, app.organisation, where.kind)
    return print_job(run_batch_job(app, step, Candidates(where), workers, dry_run,
                                   "reprocessing", step.name if job else None), as_json)


# Workflows ----------------------------------------------------------------------------

@cli.group("workflows")
def workflows_group() -> None:
    """The workflow definitions: list them, show one, draw one.

    \b
    Examples:
      casework workflows list
      casework workflows show petition
      casework workflows diagram petition > petition.mmd
    """


@workflows_group.command("list")
@json_option
def workflows_list(as_json: bool) -> None:
    """Every workflow and its versions.

    \b
    Example:
      casework workflows list
    """
    from casework import WorkflowRegistry

    registry = WorkflowRegistry.default()
    rows = [{"name": w.name, "version": w.version, "title": w.title, "states": len(w.states),
             "triggers": len(w.triggers) + 1, "source": w.source} for w in registry]
    if as_json:
        click.echo(to_json(rows))
        return
    click.echo(table([[r["name"], str(r["version"]), r["title"], str(r["states"]),
                       str(r["triggers"])] for r in rows],
                     ["name", "version", "title", "states", "triggers"]))


@workflows_group.command("show")
@click.argument("name")
@click.option("--version", "version", type=int, help="A version (default: the latest).")
@json_option
def workflows_show(name: str, version: int | None, as_json: bool) -> None:
    """States (with their stages) and triggers (from, to, roles, fields) of a workflow.

    \b
    Example:
      casework workflows show petition
    """
    from casework import WorkflowRegistry

    workflow = WorkflowRegistry.default().get(name, version)
    triggers = [workflow.opening, *workflow.triggers.values()]
    if as_json:
        click.echo(to_json({
            "name": workflow.name, "version": workflow.version, "title": workflow.title,
            "initial": workflow.initial,
            "states": {s.name: {"stage": s.stage, "terminal": s.terminal, "outcome": s.outcome}
                       for s in workflow.states.values()},
            "triggers": [{"name": t.name, "from": list(t.sources), "to": t.to,
                          "roles": list(t.roles), "guards": list(t.guards),
                          "effects": list(t.effects),
                          "fields": {f.name: {"type": f.type, "required": f.required,
                                              "choices": list(f.choices),
                                              "personal": f.personal}
                                     for f in t.fields.values()}} for t in triggers],
        }))
        return
    click.echo(f"{workflow.name} v{workflow.version}: {workflow.title}")
    if workflow.description:
        click.echo(workflow.description)
    click.echo("\nstates")
    click.echo(table([[s.name, s.stage, s.outcome or "", "yes" if s.terminal else ""]
                      for s in workflow.states.values()],
                     ["state", "stage", "outcome", "terminal"]))
    click.echo("\ntriggers")
    rows = []
    for t in triggers:
        fields = ", ".join(f"{f.name}{'*' if f.required else ''}:{f.type}"
                           f"{' (personal)' if f.personal else ''}"
                           for f in t.fields.values())
        rows.append([t.name, ",".join(t.sources) or "·", t.to, ",".join(t.roles), fields])
    click.echo(table(rows, ["trigger", "from", "to", "roles", "fields (* required)"]))


@workflows_group.command("diagram")
@click.argument("name")
@click.option("--version", "version", type=int, help="A version (default: the latest).")
@click.option("--format", "fmt", type=click.Choice(["mermaid"]), default="mermaid",
              show_default=True)
def workflows_diagram(name: str, version: int | None, fmt: str) -> None:
    """A state diagram to paste into a mermaid viewer.

    \b
    Example:
      casework workflows diagram petition > petition.mmd
    """
    from casework import WorkflowRegistry

    click.echo(WorkflowRegistry.default().get(name, version).diagram())


# Audit, export and import -------------------------------------------------------------

@cli.command("audit")
@click.argument("cases", nargs=-1, metavar="[CASE]...")
@click.option("--kind", help="Only cases of this kind.")
@click.option("--digest", "show_digest", is_flag=True,
              help="Also print the store's digest, as the last line: keep it elsewhere.")
@click.option("--expect-digest", metavar="DIGEST",
              help="Fail (exit 1) unless the store's digest is still DIGEST.")
@db_option
@json_option
def audit_command(cases: tuple[str, ...], kind: str | None, show_digest: bool,
                  expect_digest: str | None, db: str | None, as_json: bool) -> int:
    """Replay cases and check them: hash chain, versions, transitions, read model.

    Every case (or each CASE: an id or a unique prefix) is replayed against the workflow
    version it ran under. Each finding is one line, case and event first: an illegal
    transition, a missing or repeated event, a hash that does not link (an event edited in
    the database), an event that cannot be read, a read-model row that disagrees with the
    events. Exit status 0 when clean, 1 with findings.

    The digest covers the latest hash of every case, whatever CASEs are given: a store whose
    chains were recomputed after an edit passes the chain checks, but not --expect-digest.

    \b
    Examples:
      casework audit
      casework audit 7931a699 --json
      casework audit --digest | tail -1 > digest.txt
      casework audit --expect-digest "$(cat digest.txt)"
    """
    app = open_app(db)
    if kind is not None:
        app.workflows.get(kind)  # an unknown kind is a typo, not an empty audit
    selected = [resolve_case(app, case) for case in cases] or None
    read_model = ReadModel(app)
    try:
        result = audit(app, selected, kind=kind, also=[ReadModelCheck(read_model)])
    finally:
        read_model.close()
    digest = audit_digest(app) if show_digest or expect_digest else None
    if as_json:
        click.echo(to_json({**result.as_dict(), **({"digest": digest} if digest else {})}))
    else:
        for finding in result.findings:
            click.echo(str(finding))
        verdict = "no findings" if result.clean else _amount(len(result.findings), "finding")
        click.echo(f"audited {_amount(result.cases, 'case')}, {_amount(result.events, 'event')}"
                   f": {verdict}", err=True)
        if show_digest:
            click.echo(digest)
    if expect_digest is not None and expect_digest.strip().lower() != digest:
        fail(f"the store no longer matches digest {expect_digest.strip()}: it is now {digest}", 1)
    return 0 if result.clean else 1


EXPORTERS: dict[str, Callable[..., int]] = {"jsonl": export_jsonl}
IMPORTERS: dict[str, Importer] = {"jsonl": import_jsonl, "nyc311": import_nyc311}
"""``casework import --format``: each reads the lines, writes the rejected ones to the reject
file and returns an ImportResult, which the command reports the same way for every format."""
SHOWN_REJECTS = 10


@cli.command("forget")
@click.argument("person", required=False)
@click.option("--case", "case", metavar="CASE",
              help="Forget the person of this case (an id, or a unique prefix of one).")
@click.option("--at", metavar="TIME", help="When, as recorded (ISO 8601); default now.")
@actor_options
@db_option
@json_option
def forget_command(person: str | None, case: str | None, at: str | None, actor: str | None,
                   roles: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """Forget a resident: delete the key of PERSON (or of the person of --case).

    Their personal fields, in every one of their cases, then read as [erased] in show,
    history, export and the revisit list; the cases, their histories, reports and the audit
    are unchanged. Who forgot them and when is recorded (nothing personal). It cannot be
    undone, so only a supervisor (or the system) may do it.

    \b
    Examples:
      casework forget 3f2a9c1e-0b7d-4a35-9e61-2c4d8f0a1b23 --actor boss --role supervisor
      casework forget --case 7931a699 --actor boss --role supervisor
    """
    if (person is None) == (case is None):
        raise click.UsageError("give a PERSON or --case CASE (one of them)")
    app = open_app(db)
    if case is not None:
        person = app.person_of(resolve_case(app, case))
    assert person is not None
    done = app.forget(person, make_actor(actor, roles), parse_when(at, "--at"))
    if as_json:
        click.echo(to_json(done.__dict__))
    elif done.already:
        click.echo(f"person {done.person} was already forgotten, on {when(done.at)} by "
                   f"{done.actor} ({done.role})")
    else:
        click.echo(f"forgot person {done.person}: their personal fields now read as [erased]")


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(sorted(EXPORTERS)), default="jsonl",
              show_default=True, help="jsonl: one case per line, with its full history.")
@click.option("--output", "-o", metavar="FILE", default="-",
              help="Write here (default: standard output); the file appears once complete.")
@click.option("--without-keys", is_flag=True,
              help="Leave out the persons' keys: personal fields read as [erased] where the "
                   "file is imported.")
@db_option
def export_command(fmt: str, output: str, without_keys: bool, db: str | None) -> None:
    """Write every case with its full event history, to import elsewhere.

    One JSON object per case and line: id, kind, and its events with every attribute (type,
    version, recorded time, business time, actor, role, trigger, states, fields, changes,
    hash), times in ISO 8601. casework import recreates exactly the same events. Personal
    fields stay encrypted; the persons' keys come first, one line each (unless
    --without-keys), with who was forgotten: keep a file with keys as safe as the database.

    \b
    Examples:
      casework export -o cases.jsonl
      casework export --db sqlite:///old.db | casework import - --db sqlite:///new.db
    """
    app = open_app(db)
    total = app.recorder.max_notification_id() or 0
    with (
        click.open_file(output, "w", encoding="utf-8", atomic=output != "-") as out,
        progress_bar(total, "exporting") as bar,
    ):
        exported = EXPORTERS[fmt](app, out, progress=bar.update, with_keys=not without_keys)
    click.echo(f"exported {exported} cases" + ("" if output == "-" else f" to {output}"),
               err=True)


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(sorted(IMPORTERS)), default="jsonl",
              show_default=True, help="jsonl: as written by casework export. nyc311: NYC "
                                      "311 service requests (CSV), each one a petition.")
@click.option("--rejects", "rejects_path", metavar="FILE",
              help="Where rejected rows go (default: NAME.rejects.EXT in the working "
                   "directory, e.g. cases.rejects.jsonl).")
@click.option("--dry-run", is_flag=True,
              help="Check every row and report; store nothing and write no reject file.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes to share the import (cases are split by id; each reads the "
                   "file). Standard input and dry runs are read by one process.")
@db_option
@json_option
def import_command(file: str, fmt: str, rejects_path: str | None, dry_run: bool,
                   workers: int, db: str | None, as_json: bool) -> int:
    """Import cases from FILE (- for standard input); bad rows are set aside, not fatal.

    Each case is checked as casework audit checks it (hash chain, versions, transitions, a
    known workflow) and stored all or nothing; a case already stored exactly as given is
    skipped, so importing a file twice adds nothing. Rejected rows are listed on stderr with
    their line numbers and written to the reject file, to fix and import again; the rest is
    imported. Exit status 0 when nothing was rejected, 8 otherwise.

    With --format nyc311 each row of an NYC Open Data 311 CSV becomes a petition, opened,
    graded, dispatched to its agency (nyc/nypd, ...), accepted, and resolved and closed when
    the request was; its Unique Key is the idempotency key (see casework/nyc311.py).

    \b
    Examples:
      casework import cases.jsonl --db sqlite:///copy.db
      casework import cases.jsonl --rejects bad.jsonl
      casework import 311.csv --format nyc311 --rejects 311-bad.csv
      casework import 311.csv --format nyc311 --dry-run
      casework import 311.csv --format nyc311 --workers 2 --db postgresql://...
    """
    app = open_app(db, create=True)
    rejects = RejectFile(rejects_path or rejects_path_for(file))
    if file != "-" and rejects.path.exists() and rejects.path.samefile(file):
        raise click.BadParameter("it is the file being imported", param_hint="--rejects")
    size = 0 if file == "-" else os.path.getsize(file)
    if workers > 1 and not dry_run and file != "-":
        from casework.parallel_import import import_in_parallel

        with progress_bar(size * workers, f"importing {file}") as bar:
            try:
                result = import_in_parallel(app, file, fmt, workers, rejects, bar.update)
            finally:
                rejects.close()
        _report_import(result, rejects, as_json)
        return 8 if result.rejected else 0
    with (
        click.open_file(file, encoding="utf-8", errors="surrogateescape") as source,
        progress_bar(size, f"importing {file}") as bar,
    ):
        try:
            result = IMPORTERS[fmt](app, _counted(source, bar.update),
                                    None if dry_run else rejects, dry_run=dry_run)
        finally:
            rejects.close()
    _report_import(result, rejects, as_json, dry_run)
    return 8 if result.rejected else 0


def _counted(lines: Iterable[str], progress: Callable[[int], None]) -> Iterable[str]:
    """The lines, moving the progress bar by the bytes each took in the file."""
    for line in lines:
        progress(len(line.encode(errors="surrogateescape")))
        yield line


def _report_import(result: ImportResult, rejects: RejectFile, as_json: bool,
                   dry_run: bool = False) -> None:
    where = str(rejects.path) if rejects.written else None
    for line, reason in result.rejected[:SHOWN_REJECTS]:
        click.echo(f"line {line}: {one_line(reason)}", err=True)
    if len(result.rejected) > SHOWN_REJECTS:
        click.echo(f"... and {len(result.rejected) - SHOWN_REJECTS} more", err=True)
    if as_json:
        click.echo(to_json({**result.as_dict(), "rejects_file": where, "dry_run": dry_run}))
        return
    verb = "would import" if dry_run else "imported"
    summary = f"{verb} {_amount(result.imported, 'case')}"
    if result.keys:
        summary += f" (and {result.keys} persons' keys)"
    summary += f", skipped {result.skipped} already present"
    if result.rejected:
        summary += f", rejected {len(result.rejected)}"
        summary += f" (written to {where})" if where else ""
    click.echo(summary)


def _amount(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def main() -> None:
    cli(prog_name="casework")


if __name__ == "__main__":
    main()
