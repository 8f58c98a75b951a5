"""Finding the work: cases (lists and queues), duplicates."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import click

from casework.timestamps import utc_now
from projections import ReadModel
from projections.case_ids import expand_case_id
from projections.case_list import QUEUES, SORTS, CaseQuery, list_cases
from projections.case_rendering import cases_csv, cases_text, local
from projections.duplicates import THRESHOLD, WINDOW_DAYS, duplicate_pairs, likely_duplicates
from projections.filters import CaseFilter
from projections.i18n import Names, _

from .completion import complete_kind, complete_state, complete_unit
from .options import actor_options, db_option, json_option, named_actor, open_app, parse_when
from .output import shown, to_json
from .settings import current_settings, quiet

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$")
UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str | None, what: str) -> timedelta | None:
    """``30m``, ``4h``, ``2d``, ``1w``."""
    if value is None:
        return None
    found = DURATION.match(value)
    if found is None:
        raise click.BadParameter(_("{value!r} is not a duration such as 30m, 4h, 2d or 1w")
                                 .format(value=value),
                                 param_hint=what)
    return timedelta(**{UNITS[found.group(2)]: float(found.group(1))})


def filter_options(command: Any) -> Any:
    """The conditions of a list, as options."""
    for option in reversed([
        click.option("--kind", shell_complete=complete_kind, help="Only cases of this kind."),
        click.option("--state", shell_complete=complete_state, help="Only cases in this state."),
        click.option("--stage", help="Only cases in this stage (collect, assess, dispatch, "
                                     "follow_up, close, revisit)."),
        click.option("--unit", metavar="PATH", shell_complete=complete_unit,
                     help="Only cases dispatched to this unit or below it."),
        click.option("--channel", help="Only cases that came in through this channel."),
        click.option("--grade", help="Only cases of this grade."),
        click.option("--category", help="Only cases of this category."),
        click.option("--assignee", metavar="ID",
                     help="Only cases this person took on last (me: the actor)."),
        click.option("--search", metavar="WORDS",
                     help="Only cases whose title or place holds every word."),
        click.option("--opened-since", metavar="TIME"),
        click.option("--opened-until", metavar="TIME"),
        click.option("--closed-since", metavar="TIME", help="Only cases closed since TIME."),
        click.option("--closed-until", metavar="TIME"),
        click.option("--overdue", is_flag=True,
                     help="Only open cases past their deadline (as the report counts them)."),
        click.option("--due-within", metavar="DURATION",
                     help="Only open cases due within this time (30m, 4h, 2d, 1w), not yet "
                          "overdue."),
        click.option("--reopened", is_flag=True, help="Only cases reopened at least once."),
        click.option("--all", "every", is_flag=True,
                     help="Closed cases too (by default a list shows open cases)."),
        click.option("--closed", is_flag=True, help="Only closed cases."),
    ]):
        command = option(command)
    return command


@click.command("cases")
@click.argument("queue", required=False, type=click.Choice(QUEUES))
@filter_options
@click.option("--sort", type=click.Choice(SORTS), default="deadline", show_default=True,
              help="deadline: soonest first; age: oldest first; last-change: latest first.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--page", default=1, show_default=True, type=click.IntRange(1, 2**31 - 1))
@click.option("--after", metavar="CURSOR",
              help="The page after the one that printed CURSOR (faster than --page deep down).")
@click.option("--now", metavar="TIME", help="Judge deadlines at this time (default now).")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV.")
@actor_options
@db_option
@json_option
def cases_command(queue: str | None, sort: str, limit: int, page: int, after: str | None,
                  now: str | None, as_csv: bool, actor: str | None, roles: tuple[str, ...],
                  db: str | None, as_json: bool, **conditions: Any) -> None:
    """List cases: open ones by default, soonest deadline first, a page at a time.

    QUEUE is one of: mine (what the actor may do now, with the triggers they may fire),
    overdue, due-today (in the office's time zone) or to-revisit (closed cases due a
    revisit). An actor bound to a unit (--actor ID@UNIT, or the settings) sees only the cases
    at that unit or below it.

    \b
    Examples:
      casework cases mine --actor wang@guanlan/guancheng --role handler
      casework cases --overdue --unit guanlan/guancheng
      casework cases due-today --kind petition --json
      casework cases --all --search "manhole" --sort last-change
      casework cases --closed-since 2024-05-01 --csv > closed.csv
      casework cases mine -q | head -1          the id of the first case to do
    """
    settings = current_settings()
    moment = parse_when(now, "--now") or utc_now()
    who = named_actor(actor, roles)
    where = _where(conditions, moment, who)  # malformed values are told before the store
    app = open_app(db)
    query = CaseQuery(where, queue, sort, limit, page, after, moment, settings.zone,
                      count=not quiet())
    with ReadModel(app) as read_model:
        found = list_cases(read_model, query, who)
    if as_json:
        click.echo(to_json(found.as_dict()))
    elif as_csv:
        click.echo(cases_csv(found), nl=False)
    elif quiet():
        for row in found.rows:
            click.echo(str(row.id))
    else:
        click.echo(cases_text(found, settings.zone, Names.of(app)))


def _where(given: dict[str, Any], moment: datetime, who: Any) -> CaseFilter:
    status = "closed" if given.pop("closed") else None
    if not given.pop("every") and status is None and not any(
            given[name] for name in ("state", "stage", "closed_since", "closed_until")):
        status = "open"
    assignee = given.pop("assignee")
    if assignee == "me" and who is not None:
        assignee = who.id
    due = parse_duration(given.pop("due_within"), "--due-within")
    times = {name: parse_when(given.pop(option), f"--{option.replace('_', '-')}")
             for name, option in (("opened_after", "opened_since"),
                                  ("opened_before", "opened_until"),
                                  ("closed_after", "closed_since"),
                                  ("closed_before", "closed_until"))}
    where = CaseFilter(
        kind=given["kind"], state=given["state"], stage=given["stage"], unit=given["unit"],
        grade=given["grade"], channel=given["channel"], category=given["category"],
        assignee=assignee, text=given["search"], status=status,
        overdue_at=moment if given["overdue"] else None,
        due_after=moment if due else None, due_before=moment + due if due else None,
        reopened=True if given["reopened"] else None, **times)
    return where


@click.command("duplicates")
@click.argument("case", required=False)
@click.option("--window", default=WINDOW_DAYS, show_default=True, type=click.FloatRange(0, 366),
              metavar="DAYS", help="Cases opened this many days before or after it.")
@click.option("--threshold", default=THRESHOLD, show_default=True,
              type=click.FloatRange(0, 100), help="How alike the titles must be (0 to 100).")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--all", "every", is_flag=True,
              help="Every case with the likely duplicates it had when it was opened.")
@actor_options
@db_option
@json_option
def duplicates_command(case: str | None, window: float, threshold: float, limit: int,
                       every: bool, actor: str | None, roles: tuple[str, ...], db: str | None,
                       as_json: bool) -> None:
    """Open cases that look like CASE: of its kind and category, at the same place or in
    the same grid, opened within the window, ranked by how alike the titles are. Merge one
    into the other with the workflow's merge trigger.

    \b
    Examples:
      casework duplicates 7931a699
      casework fire 7931a699 merge duplicate_of=2df6be98 --actor li --role intake
      casework duplicates --all --json | jq length
    """
    if (case is None) == (not every):
        raise click.UsageError(_("give a CASE or --all (one of them)"))
    app = open_app(db)
    settings = current_settings()
    with ReadModel(app) as read_model:
        if every:
            pairs = [{"case": case_id, **found.as_dict()} for case_id, found
                     in duplicate_pairs(read_model, window_days=window, threshold=threshold)]
            _print_pairs(pairs, as_json)
            return
        who = named_actor(actor, roles)
        case_id = expand_case_id(app, case)  # type: ignore[arg-type]
        found = likely_duplicates(read_model, case_id, window_days=window, threshold=threshold,
                                  limit=limit, actor=who)
    if as_json:
        click.echo(to_json([duplicate.as_dict() for duplicate in found]))
    elif quiet():
        for duplicate in found:
            click.echo(str(duplicate.id))
    else:
        click.echo(duplicates_text(case_id, found, settings.zone, Names.of(app)))


def duplicates_text(case_id: Any, found: list[Any], zone: Any, names: Names | None = None
                    ) -> str:
    if not found:
        return _("no likely duplicates of {case}").format(case=str(case_id)[:8])
    lines = [_("likely duplicates of {case} (merge with: casework fire {case} merge "
               "duplicate_of=CASE):").format(case=str(case_id)[:8])]
    names = names or Names()
    for d in found:
        lines.append(f"  {str(d.id)[:8]}  {d.score:5.1f}%  {names.state(d.state):<12} "
                     + _("opened {moment}").format(moment=local(d.opened_at, zone))
                     + f"  {shown(d.near)}  {shown(d.title or '')}")
    return "\n".join(lines)


def _print_pairs(pairs: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(to_json(pairs))
        return
    for pair in pairs:
        click.echo(f"{str(pair['case'])[:8]} {str(pair['id'])[:8]} {pair['score']:5.1f} "
                   f"{shown(pair['near'])}: {shown(pair['title'] or '')}")
    if not quiet():
        click.echo(f"{len(pairs)} likely duplicate pairs", err=True)
