"""``casework report --verify FILE`` and ``--explain FIGURE``: parse, call, render."""

from __future__ import annotations

import json
from datetime import datetime

import click

from casework import Casework, InvalidField
from projections.explain import ExplainedCase, check_figure, explain
from projections.filters import Filters
from projections.replayed import Cutoff, report_model
from projections.report import report
from projections.verification import Verification, saved_parameters, verify

from .output import amount, to_json

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
    explained: list[ExplainedCase] = []
    if figure is not None:
        filters, _, now, cutoff, _ = saved_parameters(saved)
        explained = explain_figure(app, filters, now, cutoff, figure,
                                   frozenset(outcome.recorded_since.case_ids))
    if as_json:
        result = outcome.as_dict()
        if figure is not None:
            result["explain"] = {"figure": figure, "cases": [c.as_dict() for c in explained]}
        click.echo(to_json(result))
    else:
        _print_verification(outcome)
        if figure is not None:
            _print_explained(figure, explained)
    return 0 if outcome.holds else 1


def _print_verification(outcome: Verification) -> None:
    if outcome.holds:
        click.echo(f"the report holds: its inputs' digest is {outcome.digest}")
        return
    click.echo("the report no longer holds:")
    if outcome.saved_digest != outcome.digest:
        click.echo(f"  inputs digest {outcome.saved_digest} is now {outcome.digest}")
    for change in outcome.changes[:SHOWN_CHANGES]:
        click.echo(f"  {change.path}: {change.saved} -> {change.now}")
    if len(outcome.changes) > SHOWN_CHANGES:
        click.echo(f"  ... and {len(outcome.changes) - SHOWN_CHANGES} more (--json lists all)")
    since = outcome.recorded_since
    if since.events:
        click.echo(f"  recorded since the report was made: "
                   f"{amount(since.events, 'event')} of {amount(len(since.case_ids), 'case')}: "
                   + ", ".join(sorted(since.case_ids)[:10])
                   + (" ..." if len(since.case_ids) > 10 else ""))


def explain_figure(app: Casework, filters: Filters, now: datetime, cutoff: Cutoff,
                   figure: str, moved: frozenset[str] = frozenset()) -> list[ExplainedCase]:
    """The cases that make ``figure``, over the live read model or a replay of the cut."""
    with report_model(app, cutoff) as model:
        check_figure(report(model, filters, now=now), figure)
        return list(explain(model, filters, now, figure, cutoff, moved))


def print_explained(figure: str, cases: list[ExplainedCase], as_json: bool) -> None:
    if as_json:
        click.echo(to_json({"figure": figure, "cases": [c.as_dict() for c in cases]}))
    else:
        _print_explained(figure, cases)


def _print_explained(figure: str, cases: list[ExplainedCase]) -> None:
    click.echo(f"{figure}: {amount(len(cases), 'case')}")
    for case in cases:
        deadline = f", deadline {case.deadline.isoformat()}" if case.deadline else ""
        mark = "  (moved: events recorded since the report)" if case.moved else ""
        click.echo(f"{case.case_id} {case.kind} grade {case.grade or '-'}, "
                   f"{case.state}{deadline}{mark}")
        for event in case.events:
            set_deadline = (f", deadline -> {event.deadline.isoformat()}"
                            if event.deadline else "")
            click.echo(f"  {event.version:>3} {event.at.isoformat()} {event.trigger} -> "
                       f"{event.to_state} (recorded {event.recorded_at.isoformat()})"
                       f"{set_deadline}")
