"""One case at a time: open, fire, show, history, forget."""

from __future__ import annotations

import sys
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

import click

from casework import Actor, Casework
from casework.clocks import clocks_of
from casework.timestamps import parse_time
from casework.views import CaseView
from projections import ReadModel
from projections.case_ids import expand_case_id
from projections.case_rendering import CLOCK_NAMES, local
from projections.duplicates import likely_duplicates
from projections.i18n import N_, Names, _
from projections.rendering import labelled

from .completion import complete_case, complete_kind, complete_trigger
from .options import (
    actor_options,
    at_option,
    db_option,
    json_option,
    make_actor,
    open_app,
    parse_fields,
    parse_when,
)
from .output import entry_count, fail, history_table, shown, to_json, when
from .queues import duplicates_text
from .settings import current_settings, quiet

SHOW_COLUMN = 10
"""Where the values of ``show`` and ``fire`` start, after their labels."""
HISTORY_PAGE = 50
"""Entries a page of ``casework history --page N`` shows when --limit is not given."""


@click.command("open")
@click.argument("kind", shell_complete=complete_kind)
@click.option("--field", "-f", "pairs", multiple=True, metavar="NAME=VALUE",
              help="A field of the opening trigger (repeat).")
@at_option
@click.option("--person", metavar="ID",
              help="The resident's person id (shown by casework show) when they have cases "
                   "already: their personal fields then share one key.")
@actor_options
@db_option
@json_option
def open_command(kind: str, pairs: tuple[str, ...], at: str | None, person: str | None,
                 actor: str | None, roles: tuple[str, ...], db: str | None,
                 as_json: bool) -> None:
    """Open a case of KIND (petition, enterprise_request, volunteer_task); prints its id.

    Personal fields (petitioner, phone, address, contact) are stored encrypted under the key
    of the case's person: a new one, or the one --person names. Open cases that look like
    the new one (casework duplicates) are listed on stderr, to merge it into one of them.

    \b
    Example:
      casework open petition --actor li --role intake \\
        -f channel=hotline -f title="Broken manhole cover" -f location=guanlan/guancheng
    """
    app = open_app(db, create=True)
    who = make_actor(actor, roles)
    case_id = app.open_case(kind, who, parse_when(at, "--at"), person=person,
                            **parse_fields(pairs))
    if quiet() and not as_json:
        click.echo(str(case_id))
        return
    with ReadModel(app) as read_model:
        found = likely_duplicates(read_model, case_id, actor=who)
    if as_json:
        click.echo(to_json({**case_view_dict(app, case_id),
                            "likely_duplicates": [d.as_dict() for d in found]}))
        return
    click.echo(str(case_id))
    if found:  # on stderr: standard output stays the id, for scripts
        click.echo(duplicates_text(case_id, found, current_settings().zone, Names.of(app)),
                   err=True)


@click.command("fire")
@click.argument("case", shell_complete=complete_case)
@click.argument("trigger", shell_complete=complete_trigger)
@click.argument("pairs", nargs=-1, metavar="[NAME=VALUE]...")
@at_option
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
    moment, fields = parse_when(at, "--at"), parse_fields(pairs)  # told before the store
    app = open_app(db)
    view = app.fire(expand_case_id(app, case), trigger, make_actor(actor, roles), moment,
                    **fields)
    if as_json:
        click.echo(to_json(case_view_dict(app, view.id)))
    elif not quiet():
        click.echo(fired_text(app, view, trigger, current_settings().zone))


def fired_text(app: Casework, view: CaseView, trigger: str, zone: tzinfo) -> str:
    """What a trigger did: the state it reached, where the case is, its deadline, and the
    case it spawned."""
    names = Names.of(app)
    lines = [_("{case}  {trigger}: now {state} ({stage})").format(
                case=view.id, trigger=names.trigger(trigger, view.kind),
                state=names.state(view.state, view.kind), stage=names.value("stage", view.stage)),
             "  " + _labelled(_("unit"), unit_text(names, view.unit))]
    if view.deadline is not None:
        lines.append("  " + _labelled(_("deadline"), f"{local(view.deadline, zone)} {zone}"
                     + (_(" (grade {grade})").format(grade=view.grade) if view.grade else "")))
    fired = app.workflow_of(view).triggers.get(trigger)
    if fired is not None and fired.spawns and view.tasks:
        lines.append("  " + _labelled(_("spawned"), f"{names.value('kind', fired.spawns)} "
                                                   f"{view.tasks[-1]}"))
    return "\n".join(lines)


def _labelled(label: str, text: str) -> str:
    return labelled(label, text, SHOW_COLUMN)


def unit_text(names: Names, path: str | None) -> str:
    """A unit as a clerk reads it: its path, and in Chinese its name before it."""
    named = names.unit(path)
    return named if named == (path or "-") else f"{named} ({path})"


def case_view_dict(app: Casework, case_id: UUID, as_of: datetime | None = None,
                   actor: Actor | None = None) -> dict[str, Any]:
    """The case as data, with what the actor may do next (when one is given, and now)."""
    view = app.get_case(case_id, as_of=as_of, actor=actor)
    data = view.as_dict()
    data["clocks"] = clocks_of(app.calendar, view, as_of or parse_time(app.clock()))
    if actor is not None and as_of is None:
        data["allowed_triggers"] = app.allowed_triggers(case_id, actor)
    return data


@click.command("show")
@click.argument("case", shell_complete=complete_case)
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
    who = make_actor(actor, roles, acting=False)
    data = case_view_dict(app, expand_case_id(app, case), parse_when(as_of, "--as-of"), who)
    if as_json:
        click.echo(to_json(data))
        return
    click.echo(case_text(data, who, Names.of(app)))


def case_text(data: dict[str, Any], who: Actor, names: Names | None = None) -> str:
    """The case as ``show`` prints it; every stored value escaped (``shown``)."""
    names, kind = names or Names(), data["kind"]
    lines = [_labelled(_("case"), f"{data['id']}  ({shown(names.value('kind', kind))} "
                                 f"v{data['version']})"),
             _labelled(_("state"), _("{state}  (stage {stage})").format(
                 state=shown(names.state(data["state"], kind)),
                 stage=shown(names.value("stage", data["stage"])))),
             _labelled(_("unit"), shown(unit_text(names, data["unit"])))]
    if data["person"]:
        lines.append(_labelled(_("person"), shown(data["person"])))
    lines.append(_labelled(_("grade"), _("{grade}   deadline {deadline}").format(
        grade=shown(data["grade"] or "-"), deadline=when(data["deadline"]))))
    lines += clock_lines(data.get("clocks", {}))
    lines.append(_labelled(_("opened"), _("{opened}   last change {changed}   events {events}")
                          .format(opened=when(data["opened_at"]),
                                  changed=when(data["updated_at"]), events=data["events"])))
    if data["escalations"] or data["reopens"]:
        lines.append(_labelled(_("escalated"), _("{escalations}x   reopened {reopens}x").format(
            escalations=data["escalations"], reopens=data["reopens"])))
    if data["volunteers"]:
        lines.append(_labelled(_("volunteers"), shown(", ".join(data["volunteers"]))))
    if data["tasks"]:
        lines.append(_labelled(_("tasks"), shown(", ".join(data["tasks"]))))
    lines.append(_("fields"))
    width = max((len(k) for k in data["fields"]), default=0)
    lines += [f"  {shown(name).ljust(width)}  {shown(value)}"
              for name, value in data["fields"].items()]
    if "allowed_triggers" in data:
        allowed = ", ".join(names.trigger(t, kind) for t in data["allowed_triggers"]) \
            or _("nothing")
        lines.append(_labelled(_("next"), _("{actor} ({roles}) may: {triggers}").format(
            actor=shown(who.id), roles=shown(", ".join(who.roles) or _("no roles")),
            triggers=allowed)))
    return "\n".join(lines)


CLOCK_STATUSES = {
    "running": N_("due {deadline} ({limit})  running"),
    "paused": N_("due {deadline} ({limit})  paused"),
    "overdue": N_("due {deadline} ({limit})  overdue"),
    "met": N_("due {deadline} ({limit})  met"),
    "late": N_("due {deadline} ({limit})  late"),
    "stopped": N_("due {deadline} ({limit})  stopped"),
    "not reached": N_("due {deadline} ({limit})  not reached"),
}
"""A clock's line by its status, one message each: "late" and "overdue" alone already name
the resolution clock's verdicts in the report, and a clock's status is said otherwise."""


def clock_lines(clocks: dict[str, dict[str, Any]]) -> list[str]:
    """A line per clock: due when (its limit), its status, time left, time paused."""
    lines = []
    for name, clock in clocks.items():
        working = clock["working"]
        left = clock["left_hours"]
        status = CLOCK_STATUSES.get(clock["status"], "due {deadline} ({limit})  " +
                                    clock["status"])
        text = _labelled(_(CLOCK_NAMES.get(name, name)), _(status).format(
            deadline=when(clock["deadline"]), limit=shown(clock["limit"] or "-")))
        if left is not None and left >= 0:
            text += (_(", {hours:g} working h left") if working
                     else _(", {hours:g} h left")).format(hours=left)
        elif left is not None:
            text += (_(", {hours:g} working h late") if working
                     else _(", {hours:g} h late")).format(hours=-left)
        if clock.get("paused_hours"):
            text += (_(", paused {hours:g} working h") if working
                     else _(", paused {hours:g} h")).format(hours=clock["paused_hours"])
        lines.append(text)
    return lines


@click.command("history")
@click.argument("case", shell_complete=complete_case)
@click.option("--as-of", metavar="TIME", help="Only what had happened by this business time.")
@click.option("--full", is_flag=True,
              help="Every field's whole value, wrapped to the terminal's width.")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="At most this many entries (a page); default all of them.")
@click.option("--page", type=click.IntRange(1), default=None,
              help=f"Which page of --limit entries (default {HISTORY_PAGE} a page), from 1.")
@actor_options
@db_option
@json_option
def history_command(case: str, as_of: str | None, full: bool, limit: int | None,
                    page: int | None, actor: str | None, roles: tuple[str, ...],
                    db: str | None, as_json: bool) -> None:
    """The timeline of a case: when, who (role), trigger, from → to, fields (shortened to
    the terminal's width; --full shows them whole).

    A long case can be read a page at a time: --page N of --limit entries each.

    \b
    Example:
      casework history 7931a699
      casework history 7931a699 --full
      casework history 7931a699 --json | jq '.[].trigger'
      casework history 7931a699 --page 3 --limit 50
    """
    moment = parse_when(as_of, "--as-of")  # a malformed time is told before the store
    app = open_app(db)
    case_id = expand_case_id(app, case)
    if page is not None and limit is None:
        limit = HISTORY_PAGE
    after = (page - 1) * limit if page is not None and limit is not None else 0
    entries = app.history(case_id, as_of=moment,
                          actor=make_actor(actor, roles, acting=False), after=after,
                          limit=limit)
    length = app.history_length(case_id) if limit is not None else len(entries)
    pages = max(1, -(-length // (limit or 1)))
    if page is not None and page > pages:
        fail(f"--page {page}: the history has {pages} page{'s' if pages > 1 else ''} of "
             f"{limit} entries")
    if as_json:
        click.echo(to_json([entry.__dict__ for entry in entries]))
        return
    click.echo(history_table(entries, full=full, names=Names.of(app)))
    if limit is not None:
        more = _("; --page {page} for more").format(page=after // limit + 2) \
            if after + limit < length else ""
        click.echo(_("page {page} of {pages} ({entries}){more}").format(
            page=after // limit + 1, pages=pages, entries=entry_count(length), more=more))


@click.command("forget")
@click.argument("person", required=False)
@click.option("--case", "case", metavar="CASE",
              help="Forget the person of this case (an id, or a unique prefix of one).")
@click.option("--at", metavar="TIME", help="When, as recorded (ISO 8601); default now.")
@click.option("--yes", "-y", "confirmed", is_flag=True,
              help="Do not ask for confirmation (asked only on a terminal).")
@actor_options
@db_option
@json_option
def forget_command(person: str | None, case: str | None, at: str | None, confirmed: bool,
                   actor: str | None, roles: tuple[str, ...], db: str | None,
                   as_json: bool) -> None:
    """Forget a resident: delete the key of PERSON (or of the person of --case).

    Their personal fields, in every one of their cases, then read as [erased] in show,
    history, export and the revisit list; the cases, their histories, reports and the audit
    are unchanged. Who forgot them and when is recorded (nothing personal). It cannot be
    undone, so only a supervisor (or the system) may do it. On a terminal it asks first;
    --yes skips the question (scripts and pipes are not asked).

    \b
    Examples:
      casework forget 3f2a9c1e-0b7d-4a35-9e61-2c4d8f0a1b23 --actor boss --role supervisor
      casework forget --case 7931a699 --actor boss --role supervisor --yes
    """
    if (person is None) == (case is None):
        raise click.UsageError(_("give a PERSON or --case CASE (one of them)"))
    app = open_app(db)
    if case is not None:
        person = app.person_of(expand_case_id(app, case))
    assert person is not None
    who = make_actor(actor, roles)
    moment = parse_when(at, "--at")
    if not confirmed and sys.stdin.isatty():
        app.authorisation.role_to_forget(who, person)  # refused before asking, not after
        if not click.confirm(_("Forget person {person}? Their personal fields will read as "
                               "[erased] in every case, for good").format(person=person),
                             default=False):
            fail(_("nothing forgotten"), 1)
    done = app.forget(person, who, moment)
    if as_json:
        click.echo(to_json(done.__dict__))
    elif done.already:
        click.echo(_("person {person} was already forgotten, on {at} by {actor} ({role})").format(
            person=done.person, at=when(done.at), actor=done.actor, role=done.role))
    else:
        click.echo(_("forgot person {person}: their personal fields now read as [erased]")
                   .format(person=done.person))
