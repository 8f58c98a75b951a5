"""Read models and reports: report, rebuild, project."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from casework import Casework, InvalidField
from casework.assessment import AssessmentRules
from casework.timestamps import utc_now
from projections import ReadModel
from projections.audit import rows_a_rebuild_would_change
from projections.filters import Filters
from projections.i18n import Names, _, language
from projections.rebuild import rebuild
from projections.rendering import report_csv, report_text
from projections.replayed import Cutoff, report_model
from projections.report import GROUPINGS, report
from projections.report_page import InPageCases, render_report_page
from projections.verification import VerifiableReport, verifiable_report

from .completion import complete_unit
from .options import check_writable, db_option, json_option, open_app, parse_when
from .output import case_count, event_count, finding_line, row_count, to_json
from .progress import progress_bar
from .report_checks import explain_figure, print_explained, verify_report
from .settings import current_settings


@click.command("report")
@click.option("--kind", help="Only cases of this kind.")
@click.option("--unit", metavar="PREFIX", shell_complete=complete_unit,
              help="Only cases at this unit or below it.")
@click.option("--since", metavar="TIME", help="Only cases opened at or after this time.")
@click.option("--until", metavar="TIME", help="Only cases opened before this time.")
@click.option("--by", type=click.Choice(GROUPINGS),
              help="One row per value of this; unit, community and grid also rank the units' "
                   "accounts by the composite score of the three rates.")
@click.option("--month", metavar="YYYY-MM",
              help="The three rates and the units' accounts of this assessment month only "
                   "(its first day is the setting assessment.month_starts_on).")
@click.option("--now", metavar="TIME",
              help="Judge open deadlines at this time (default --as-of, else now).")
@click.option("--as-of", "as_of", metavar="TIME",
              help="The report as it stood at this business time: only events that "
                   "happened by then.")
@click.option("--known-at", "known_at", metavar="TIME",
              help="The report as it could have been computed at this time: only events "
                   "recorded by then (later entries are counted as late_entries).")
@click.option("--verify", "verify_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Compute a saved --json report again from the store: exit 0 if it "
                   "holds, 1 if not, naming the figures and cases that moved.")
@click.option("--explain", "figure", metavar="FIGURE",
              help="List the cases and events that make one figure (e.g. sla.B.late), or "
                   "the revisits behind a count of the three rates (three_rates.overall."
                   "solved; with --by, three_rates.GROUP.valid).")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV.")
@click.option("--html", "html", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the report as one HTML page (charts, tables, the cases behind each "
                   "number) that opens in a browser without a network.")
@db_option
@json_option
def report_command(kind: str | None, unit: str | None, since: str | None, until: str | None,
                   by: str | None, month: str | None, now: str | None, as_of: str | None,
                   known_at: str | None,
                   verify_file: str | None, figure: str | None, as_csv: bool,
                   html: str | None, db: str | None, as_json: bool) -> int:
    """Resolution, local resolution, deadlines, satisfaction and hot spots.

    \b
    Examples:
      casework report
      casework report --kind petition --by community
      casework report --unit guanlan/guancheng --since 2024-05-01 --json
      casework report --by community --html report.html --lang zh
      casework report --as-of 2024-05-15 --json > may15.json
      casework report --verify may15.json --explain sla.B.late
      casework report --by unit --month 2024-05
    """
    if html is not None:
        check_writable(html, "--html")
    settings = current_settings()
    rules = settings.assessment
    period = _assessment_month(rules, month, settings.zone)
    filters = Filters(kind, unit, parse_when(since, "--since"), parse_when(until, "--until"))
    cutoff = Cutoff.of(parse_when(as_of, "--as-of"), parse_when(known_at, "--known-at"))
    moment = parse_when(now, "--now") or cutoff.as_of or utc_now()
    app = open_app(db)  # after the values are checked: a malformed one is told first
    if verify_file is not None:
        _alone_with_verify((("--kind", kind), ("--unit", unit), ("--since", since),
                            ("--until", until), ("--by", by), ("--month", month),
                            ("--now", now), ("--as-of", as_of), ("--known-at", known_at),
                            ("--csv", as_csv), ("--html", html)))
        return verify_report(app, verify_file, figure, as_json)
    filters.check(app)
    if figure is not None:
        print_explained(figure, explain_figure(app, filters, moment, cutoff, figure,
                                               by=by, rules=rules, period=period), as_json,
                        Names.of(app))
    elif html is None:
        checked = verifiable_report(app, filters, by, moment, cutoff, rules, period)
        _print_report(app, checked, as_json, as_csv)
    else:
        with report_model(app, cutoff) as model:
            figures = report(model, filters, by=by, now=moment, rules=rules, month=period)
            page = render_report_page(figures, language(), organisation=app.organisation,
                                      links=InPageCases(model, figures))
            with click.open_file(html, "w", encoding="utf-8", atomic=True) as out:
                out.write(page)
        click.echo(_("wrote the report page to {file}").format(file=html))
    return 0


def _assessment_month(rules: AssessmentRules, month: str | None, zone: ZoneInfo
                      ) -> tuple[datetime, datetime] | None:
    """The assessment period ``--month`` names (None without it)."""
    if month is None:
        return None
    try:
        return rules.month(month, zone)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--month") from None


def _alone_with_verify(options: tuple[tuple[str, object], ...]) -> None:
    """--verify takes the saved report's options: any other given is refused."""
    others = [name for name, given in options if given]
    if others:
        raise InvalidField("--verify", f"it takes the saved report's options, not "
                                       f"{', '.join(others)}")


def _print_report(app: Casework, checked: VerifiableReport, as_json: bool, as_csv: bool
                  ) -> None:
    if as_json:
        click.echo(to_json(checked.as_dict()))
    elif as_csv:
        click.echo(report_csv(checked.report), nl=False)
    else:
        click.echo(report_text(checked.report, current_settings().zone, Names.of(app)))
        if checked.late is not None:
            click.echo(_("entered after --known-at (not counted): {events} of {cases}")
                       .format(events=event_count(checked.late.events),
                               cases=case_count(len(checked.late.case_ids))))


@click.command("rebuild")
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
    if dry_run:
        with ReadModel(app) as read_model:
            findings = rows_a_rebuild_would_change(read_model)
        if as_json:
            click.echo(to_json({"dry_run": True,
                                "rows_to_change": [f.as_dict() for f in findings]}))
        else:
            for finding in findings:
                click.echo(finding_line(finding))
            click.echo(_("a rebuild would change {rows}").format(rows=row_count(len(findings))))
        return 0
    with progress_bar(app.recorded_events(), _("rebuilding")) as bar:
        applied = rebuild(app, workers, bar.update)
    if as_json:
        click.echo(to_json({"events": applied}))
    else:
        click.echo(_("rebuilt the read models from {events}").format(
            events=event_count(applied)))
    return 0


@click.command("project")
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
    if not interval > 0:  # NaN passes FloatRange
        raise click.BadParameter(_("{interval} is not a number of seconds").format(
            interval=interval), param_hint="--interval")
    app = open_app(db)
    with ReadModel(app) as read_model:
        try:
            applied = read_model.catch_up()
            click.echo(_applied(applied, read_model.position()))
            while follow:
                time.sleep(interval)
                applied = read_model.catch_up()
                if applied:
                    click.echo(_applied(applied, read_model.position()))
        except KeyboardInterrupt:
            pass


def _applied(events: int, position: int) -> str:
    return _("applied {events}; at notification {position}").format(
        events=event_count(events), position=position)
