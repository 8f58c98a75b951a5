"""``casework whatif``: a period under a candidate policy, next to the policy in force."""

from __future__ import annotations

import os

import click

from casework.application import ORGANISATION_VAR
from casework.calendar_files import load_calendar, office_zone
from casework.whatif import RESOLVE, Policy, read_assessment
from projections.filters import Filters
from projections.i18n import N_, Names, _, language
from projections.rendering import width
from projections.report import GROUPINGS
from projections.verification import flatten
from projections.whatif import WhatIf, what_if
from projections.whatif_page import render_whatif_page
from projections.whatif_sweep import DUE_SOON, SweepChange

from .completion import complete_unit
from .options import check_writable, db_option, json_option, open_app, parse_when
from .output import event_count, more_listed, to_json
from .progress import progress_bar
from .settings import current_settings

SHOWN_CASES = 50
"""Changed cases, escalations and refused commands a text run lists (``--json``: all)."""
ALWAYS_SHOWN = ("sla.",)
"""Figures shown side by side even when the candidate leaves them as they are."""
VERDICTS = (N_("on time"), N_("late"), N_("in time"), N_("overdue"), N_("contacted in time"),
            N_("contacted late"), N_("not reached"), N_("not contacted, overdue"),
            N_("not contacted yet"))
"""How a case is judged against its deadlines (projections.whatif), for the catalogue."""


@click.command("whatif")
@click.option("--since", metavar="TIME", help="Cases opened at or after this time.")
@click.option("--until", metavar="TIME", help="Cases opened before this time.")
@click.option("--kind", help="Only cases of this kind.")
@click.option("--unit", metavar="PREFIX", shell_complete=complete_unit,
              help="Count only cases at this unit or below it.")
@click.option("--workflow", "workflow_files", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False),
              help="A candidate workflow definition (not installed): its cases are judged "
                   "by it. Repeat for several kinds.")
@click.option("--calendar", "calendar_file", metavar="FILE",
              type=click.Path(exists=True, dir_okay=False),
              help="A candidate office calendar (the calendar file format): limits in "
                   "working time (wd, wh) and pauses count on it.")
@click.option("--grade", "grades", multiple=True, metavar="[KIND.]GRADE.CLOCK=LIMIT",
              help="A grade's limit under the candidate on clock resolve or contact: 48h, "
                   "3d, 90m, 16wh, 7wd. Repeat for several.")
@click.option("--assessment", "assessment_file", metavar="FILE",
              type=click.Path(exists=True, dir_okay=False),
              help="The three rates' settings of the candidate: a settings file's "
                   "[assessment] table (f, weights, month_starts_on, excluded_categories).")
@click.option("--month", metavar="YYYY-MM",
              help="Count the three rates of this assessment month's revisits only (its "
                   "first day each policy's month_starts_on).")
@click.option("--by", type=click.Choice(GROUPINGS), help="Compare the figures per value too.")
@click.option("--now", metavar="TIME", help="Judge open deadlines at this time (default now).")
@click.option("--html", "html", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write both report pages side by side, under what differs, as one HTML "
                   "file that opens in a browser without a network.")
@db_option
@json_option
def whatif_command(since: str | None, until: str | None, kind: str | None, unit: str | None,
                   workflow_files: tuple[str, ...], calendar_file: str | None,
                   grades: tuple[str, ...], assessment_file: str | None, month: str | None,
                   by: str | None, now: str | None, html: str | None, db: str | None,
                   as_json: bool) -> None:
    """Replay a period's histories under a candidate policy; compare with the one in force.

    What people did is replayed as recorded; what the policy decides (the deadlines to
    resolve and to contact that the grades give, counted on the office calendar, and the
    three rates' settings) is decided again by the candidate. Prints the figures that
    differ side by side, the cases judged differently on each clock (late / on time), the
    escalations the nightly sweep would have made or spared, and the recorded commands the
    candidate would have refused. Nothing is written to the database.

    \b
    Examples:
      casework whatif --grade B.resolve=48h --since 2024-05-01 --until 2024-06-01
      casework whatif --grade B.contact=12h --grade C.contact=12h --since 2024-05-01
      casework whatif --calendar my-calendar.toml --since 2024-05-01 --until 2024-06-01
      casework whatif --workflow petition-v2.toml --since 2024-05-01 --json
      casework whatif --assessment rates.toml --by community --month 2024-05
      casework whatif --grade B.resolve=2wd --since 2024-05-01 --html whatif.html
    """
    if not (workflow_files or grades or calendar_file or assessment_file):
        # the policy in force against itself: no question
        raise click.UsageError(_("give a candidate: --workflow FILE, --calendar FILE, --grade "
                                 "G.CLOCK=LIMIT or --assessment FILE"))
    if html is not None:
        check_writable(html, "--html")
    settings = current_settings()
    if month is not None:
        try:
            settings.assessment.month(month, settings.zone)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--month") from None
    filters = Filters(kind, unit, parse_when(since, "--since"), parse_when(until, "--until"))
    moment = parse_when(now, "--now")
    # Read in the office's time zone, the application's calendar's (``Casework._calendar``).
    calendar = None if calendar_file is None else load_calendar(
        calendar_file, office_zone(os.environ.get(ORGANISATION_VAR)))
    rules = None if assessment_file is None else read_assessment(assessment_file)
    app = open_app(db)  # after the values and files are checked: a bad one is told first
    filters.check(app)
    candidate = Policy.candidate(app.workflows, workflow_files, grades, calendar, rules)
    with progress_bar(app.recorded_events(), "replaying") as bar:
        result = what_if(app, candidate, filters, by, moment, bar.update,
                         settings.assessment, month, settings.zone)
    if html is not None:
        with click.open_file(html, "w", encoding="utf-8", atomic=True) as out:
            out.write(render_whatif_page(result, language(), app.organisation))
        click.echo(_("wrote the side-by-side pages to {file}").format(file=html))
    elif as_json:
        click.echo(to_json(result.as_dict()))
    else:
        _print(result, Names.of(app))


def _print(result: WhatIf, names: Names) -> None:
    click.echo(_("replayed {events} of the period's cases (read {read})").format(
        events=event_count(result.replayed), read=result.events))
    changed = {path: (before, after) for path, before, after in result.figures}
    candidate = dict(_leaves(result.candidate.as_dict()))
    rows = [(path, value, candidate.get(path)) for path, value
            in _leaves(result.in_force.as_dict())
            if path in changed or path.startswith(ALWAYS_SHOWN)]
    figure, in_force, candidate_ = _("figure"), _("in force"), _("candidate")
    # As wide as the longest name shown (a unit's path makes some long), at least 40.
    names_width = max([40, *(len(path) for path, _before, _after in rows)])
    click.echo(f"{figure:<{_padded(figure, names_width)}} "
               f"{in_force:>{_padded(in_force, 12)}} {candidate_:>{_padded(candidate_, 12)}}")
    for path, before, after in rows:
        mark = "  *" if path in changed else ""
        click.echo(f"{path:<{names_width}} {_shown(before):>12} {_shown(after):>12}{mark}")
    click.echo(_("cases judged differently: {count}").format(count=len(result.changed_cases)))
    for case in result.changed_cases[:SHOWN_CASES]:
        line = (_("{case} {kind} grade {grade}: {before} -> {after} (deadline "
                  "{deadline_before} -> {deadline_after})") if case.clock == RESOLVE
                else _("{case} {kind} grade {grade}, contact: {before} -> {after} (contact "
                       "deadline {deadline_before} -> {deadline_after})"))
        click.echo("  " + line.format(
            case=case.case_id, kind=names.value("kind", case.kind), grade=case.grade,
            before=_verdict(case.in_force), after=_verdict(case.candidate),
            deadline_before=_time(case.deadline_in_force),
            deadline_after=_time(case.deadline_candidate)))
    _more(len(result.changed_cases))
    click.echo(_("escalations by the sweep that would change: {count}").format(
        count=len(result.escalations)))
    for change in result.escalations[:SHOWN_CASES]:
        what = _("would escalate") if change.would else _("would not escalate")
        click.echo(f"  {change.case_id} {what} ({names.state(change.state)}, "
                   f"{_time(change.at)})")
    _more(len(result.escalations))
    click.echo(_("due-soon warnings and default closes by the sweep at --now that would "
                 "change: {count}").format(count=len(result.sweep)))
    for sweep in result.sweep[:SHOWN_CASES]:
        click.echo(f"  {sweep.case_id} " + _sweep_line(sweep, names))
    _more(len(result.sweep))
    click.echo(_("recorded commands the candidate would refuse: {count}").format(
        count=len(result.illegal)))
    for command in result.illegal[:SHOWN_CASES]:
        click.echo("  " + _("{case} event {version} {trigger}: {reason}").format(
            case=command.case_id, version=command.version,
            trigger=names.trigger(command.trigger), reason=command.reason))
    _more(len(result.illegal))


def _sweep_line(change: SweepChange, names: Names) -> str:
    if change.action == DUE_SOON:
        text = (_("would be due soon ({clock}, deadline {at})") if change.would
                else _("would not be due soon ({clock}, deadline {at})"))
        return text.format(clock=_(change.clock or ""), at=_time(change.at))
    text = (_("would be closed by default (no objection since {at})") if change.would
            else _("would not be closed by default yet (no objection since {at})"))
    return text.format(at=_time(change.at))


def _leaves(report: dict) -> list[tuple[str, object]]:
    return list(flatten({k: v for k, v in report.items() if k not in ("as_of", "filters")}))


def _more(count: int) -> None:
    if count > SHOWN_CASES:
        click.echo("  " + more_listed(count - SHOWN_CASES))


def _padded(text: str, columns: int) -> int:
    """The width to pad ``text`` to so that it fills ``columns`` on a terminal (a Chinese
    character takes two)."""
    return columns - (width(text) - len(text))


def _verdict(verdict: str | None) -> str:
    """A verdict in the command's language; a case the clock does not judge (no clock)."""
    return _("not judged") if verdict is None else _(verdict)


def _shown(value: object) -> str:
    return "-" if value is None else str(value)


def _time(moment: object) -> str:
    return "-" if moment is None else moment.isoformat(timespec="minutes")  # type: ignore[attr-defined]
