"""``casework report --verify FILE`` and ``--explain FIGURE``: parse, call, render."""

from __future__ import annotations

import json
from datetime import datetime

import click

from casework import Casework, InvalidField
from casework.assessment import AssessmentRules
from projections.explain import ExplainedCase, check_figure, explain
from projections.explain_rates import ExplainedRevisit, explain_rates, rates_path
from projections.filters import Filters
from projections.i18n import Names, _
from projections.replayed import Cutoff, report_model
from projections.report import report
from projections.three_rates import Period
from projections.verification import Verification, saved_assessment, saved_parameters, verify

from .output import case_count, event_count, more_listed, revisit_count, to_json

SHOWN_CHANGES = 40
"""Changed figures a text verification lists (``--json`` has them all)."""


def read_saved_report(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as file:
            saved = json.load(file)
    except OSError as error:
        raise InvalidField("--verify", f"cannot read {path}: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidField("--verify", f"{path} is not JSON ({error})") from None
    if not isinstance(saved, dict):
        raise InvalidField("--verify", f"{path} is not a JSON report")
    return saved


def verify_report(app: Casework, path: str, figure: str | None, as_json: bool) -> int:
    """Print whether the saved report still holds; 0 if it does, 1 if it does not."""
    saved = read_saved_report(path)
    outcome = verify(app, saved)
    explained: Explained = []
    if figure is not None:
        filters, by, now, cutoff, _through = saved_parameters(saved)
        rules, period = saved_assessment(saved)
        explained = explain_figure(app, filters, now, cutoff, figure,
                                   frozenset(outcome.recorded_since.case_ids), by, rules,
                                   period)
    if as_json:
        result = outcome.as_dict()
        if figure is not None:
            result["explain"] = explained_json(figure, explained)
        click.echo(to_json(result))
    else:
        _print_verification(outcome)
        if figure is not None:
            _print_explained(figure, explained, Names.of(app))
    return 0 if outcome.holds else 1


def _print_verification(outcome: Verification) -> None:
    if outcome.holds:
        click.echo(_("the report holds: its inputs' digest is {digest}").format(
            digest=outcome.digest))
        return
    click.echo(_("the report no longer holds:"))
    if outcome.saved_digest != outcome.digest:
        click.echo("  " + _("inputs digest {saved} is now {digest}").format(
            saved=outcome.saved_digest, digest=outcome.digest))
    for change in outcome.changes[:SHOWN_CHANGES]:
        click.echo(f"  {change.path}: {change.saved} -> {change.now}")
    if len(outcome.changes) > SHOWN_CHANGES:
        click.echo("  " + more_listed(len(outcome.changes) - SHOWN_CHANGES))
    since = outcome.recorded_since
    if since.events:
        click.echo("  " + _("recorded since the report was made: {events} of {cases}: ").format(
                   events=event_count(since.events), cases=case_count(len(since.case_ids)))
                   + ", ".join(sorted(since.case_ids)[:10])
                   + (" ..." if len(since.case_ids) > 10 else ""))


Explained = list[ExplainedCase] | list[ExplainedRevisit]
"""The cases that make a figure, or the revisits a count of the three rates counts."""


def explain_figure(app: Casework, filters: Filters, now: datetime, cutoff: Cutoff,
                   figure: str, moved: frozenset[str] = frozenset(), by: str | None = None,
                   rules: AssessmentRules | None = None,
                   period: Period | None = None) -> Explained:
    """What makes ``figure``, over the live read model or a replay of the cut: the revisits
    of a count of the three rates (of the report by ``by``, ``rules`` and ``period``)."""
    with report_model(app, cutoff) as model:
        if rates_path(figure) is not None:
            model.catch_up()
            return list(explain_rates(model, filters, figure, by, rules or AssessmentRules(),
                                      period, cutoff, moved))
        check_figure(report(model, filters, now=now), figure)
        return list(explain(model, filters, now, figure, cutoff, moved))


def explained_json(figure: str, explained: Explained) -> dict:
    if rates_path(figure) is not None:
        return {"figure": figure, "revisits": [r.as_dict() for r in explained]}
    return {"figure": figure, "cases": [c.as_dict() for c in explained]}


def print_explained(figure: str, explained: Explained, as_json: bool,
                    names: Names) -> None:
    if as_json:
        click.echo(to_json(explained_json(figure, explained)))
    else:
        _print_explained(figure, explained, names)


def _print_explained(figure: str, explained: Explained, names: Names) -> None:
    if rates_path(figure) is not None:
        _print_revisits(figure, explained)  # type: ignore[arg-type]
        return
    cases: list[ExplainedCase] = explained  # type: ignore[assignment]
    click.echo(f"{figure}: {case_count(len(cases))}")
    for case in cases:
        deadline = (_(", deadline {deadline}").format(deadline=case.deadline.isoformat())
                    if case.deadline else "")
        mark = _("  (moved: events recorded since the report)") if case.moved else ""
        click.echo(_("{case} {kind} grade {grade}, {state}").format(
            case=case.case_id, kind=names.value("kind", case.kind), grade=case.grade or "-",
            state=names.state(case.state, case.kind)) + deadline + mark)
        for event in case.events:
            set_deadline = (_(", deadline -> {deadline}").format(
                deadline=event.deadline.isoformat()) if event.deadline else "")
            click.echo(f"  {event.version:>3} {event.at.isoformat()} "
                       f"{names.trigger(event.trigger, case.kind)} -> "
                       f"{names.state(event.to_state, case.kind)} "
                       + _("(recorded {at})").format(at=event.recorded_at.isoformat())
                       + set_deadline)


def _print_revisits(figure: str, revisits: list[ExplainedRevisit]) -> None:
    click.echo(f"{figure}: {revisit_count(len(revisits))}")
    for visit in revisits:
        event = visit.event
        mark = _("  (moved: events recorded since the report)") if visit.moved else ""
        answers = ", ".join(answer for answer, said in (
            ("contacted", visit.contacted), ("solved", visit.solved)) if said)
        click.echo(f"{visit.case_id} {visit.kind} {visit.category or '-'}, for "
                   f"{visit.unit}{mark}")
        click.echo(f"  {event.version:>3} {event.at.isoformat()} {event.trigger} -> "
                   f"{event.to_state} (recorded {event.recorded_at.isoformat()}): "
                   f"{answers or 'not contacted, not solved'}"
                   f"{', ' + visit.level if visit.level else ''}")
