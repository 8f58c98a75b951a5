"""Reports anyone can re-derive: every report carries the digest of its inputs, and a saved
report can be recomputed from the store to see whether it still holds.

The inputs of a report are the cases it counted (each case id with the hash of its latest
counted event, which chains every event before it: ``casework.digest``), the filters and the
grouping, the moment open deadlines were judged at, the cut of the history (``--as-of``,
``--known-at``), and the workflow definitions the figures were read by (name, version and a
hash of each definition). ``Inputs.digest`` is one sha256 over all of them. ``verify`` reads
a saved report's inputs back, computes the report again the same way, and names every figure
that moved, and the cases with events recorded since the report was made.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, select

from casework import Casework, InvalidField
from casework.assessment import AssessmentRules, assessment_rules
from casework.digest import Digest
from casework.errors import SettingsError
from casework.jsonable import canonical_json, json_default
from casework.registry import WorkflowRegistry
from casework.timestamps import naive_utc, parse_time, utc_iso, utc_now

from .filters import Filters
from .read_model import ReadModel
from .replayed import EVERYTHING, Cutoff, LateEntries, replay_until
from .report import Report, report
from .scratch import ScratchReadModel
from .tables import case_summary
from .three_rates import Period

INPUTS = "inputs"
"""The key of a report's inputs in its JSON form."""


@dataclass(frozen=True)
class Inputs:
    """What a report was computed from; ``digest`` fingerprints all of it but ``through``
    (where the notification log stood says when it was made, not what it says)."""

    cases: int
    chain_digest: str
    filters: Filters
    by: str | None
    now: datetime
    cutoff: Cutoff
    workflows: dict[str, str]
    """``name vN`` → sha256 of the definition."""
    through: int
    """The position of the last event recorded when the report was computed."""

    @property
    def digest(self) -> str:
        content = {key: value for key, value in self._content().items()
                   if key != "through"}
        return hashlib.sha256(canonical_json(content).encode()).hexdigest()

    def _content(self) -> dict[str, Any]:
        return {"cases": self.cases, "chain_digest": self.chain_digest,
                "filters": self.filters.as_dict(), "by": self.by,
                "now": utc_iso(self.now), **self.cutoff.as_dict(),
                "workflows": dict(self.workflows), "through": self.through}

    def as_dict(self) -> dict[str, Any]:
        return {**self._content(), "digest": self.digest}


@dataclass(frozen=True)
class VerifiableReport:
    """A report with the inputs it was computed from."""

    report: Report
    inputs: Inputs
    late: LateEntries | None = None
    """With ``--known-at``: the events recorded after it that had happened by the cut."""

    def as_dict(self) -> dict[str, Any]:
        extra = {} if self.late is None else {"late_entries": self.late.as_dict()}
        return {**self.report.as_dict(), **extra, INPUTS: self.inputs.as_dict()}


def workflow_fingerprints(workflows: WorkflowRegistry) -> dict[str, str]:
    """Each known definition's key and the sha256 of its content."""
    return {workflow.key: hashlib.sha256(canonical_json(workflow.as_dict()).encode())
            .hexdigest() for workflow in sorted(workflows, key=lambda w: w.key)}


def counted_cases(engine: Engine, filters: Filters) -> tuple[int, str]:
    """How many cases ``filters`` selects from a read model, and the digest of their heads."""
    digest = Digest()
    query = (select(case_summary.c.id, case_summary.c.head).where(filters.clause())
             .order_by(case_summary.c.id))
    with engine.connect() as conn:
        for case_id, head in conn.execution_options(yield_per=5000).execute(query):
            digest.add(UUID(case_id), head)
    return digest.cases, digest.hexdigest()


def verifiable_report(app: Casework, filters: Filters, by: str | None = None,
                      now: datetime | None = None, cutoff: Cutoff = EVERYTHING,
                      rules: AssessmentRules | None = None, month: Period | None = None
                      ) -> VerifiableReport:
    """The report with its inputs: over the live read model, or, with a cut of the history,
    over a replay of the events the cut keeps. Open deadlines are judged at ``now``, by
    default at ``--as-of`` when there is one, else at the current time; the three rates by
    ``rules`` over ``month`` (the report's ``assessment`` block says which)."""
    if cutoff.everything:
        with ReadModel(app) as read_model:
            return live_report(app, read_model, filters, by, now, rules, month)
    through = app.recorded_events()
    moment = naive_utc(now) or cutoff.as_of or naive_utc(utc_now())
    assert moment is not None
    return _replayed_report(app, filters, by, moment, cutoff, rules, month, through)


def _replayed_report(app: Casework, filters: Filters, by: str | None, now: datetime,
                     cutoff: Cutoff, rules: AssessmentRules | None, month: Period | None,
                     through: int, recorded_after: tuple[int, LateEntries] | None = None
                     ) -> VerifiableReport:
    """The report over a replay of the events ``cutoff`` keeps, with its inputs (events
    recorded up to ``through``); ``recorded_after`` as ``replay_until``'s."""
    with ScratchReadModel(app) as scratch:
        late = replay_until(app, cutoff, scratch, recorded_after=recorded_after)
        figures = report(scratch, filters, by, now, rules, month)
        count, chain = counted_cases(scratch.engine, filters)
    inputs = Inputs(count, chain, filters, by, now, cutoff,
                    workflow_fingerprints(app.workflows), through)
    return VerifiableReport(figures, inputs, late if cutoff.known_at is not None else None)


def live_report(app: Casework, read_model: ReadModel, filters: Filters,
                by: str | None = None, now: datetime | None = None,
                rules: AssessmentRules | None = None, month: Period | None = None
                ) -> VerifiableReport:
    """The report over ``read_model`` as it is, with its inputs (the HTTP service's, which
    keeps its read model open between requests, and ``casework report``'s)."""
    through = app.recorded_events()  # before the figures: what they may count, at most
    moment = naive_utc(now) or naive_utc(utc_now())
    assert moment is not None
    figures = report(read_model, filters, by, moment, rules, month)
    count, chain = counted_cases(read_model.engine, filters)
    inputs = Inputs(count, chain, filters, by, moment, EVERYTHING,
                    workflow_fingerprints(app.workflows), through)
    return VerifiableReport(figures, inputs, None)


@dataclass(frozen=True)
class FigureChange:
    path: str
    saved: Any
    now: Any

    def as_dict(self) -> dict[str, Any]:
        return {"figure": self.path, "saved": self.saved, "now": self.now}


@dataclass(frozen=True)
class Verification:
    """A saved report recomputed from the store."""

    saved_digest: str
    digest: str
    changes: list[FigureChange]
    recorded_since: LateEntries = field(default_factory=LateEntries)
    """The counted events recorded after the report was computed: the cases that moved."""

    @property
    def holds(self) -> bool:
        return not self.changes and self.saved_digest == self.digest

    def as_dict(self) -> dict[str, Any]:
        return {"holds": self.holds, "saved_digest": self.saved_digest, "digest": self.digest,
                "changes": [change.as_dict() for change in self.changes],
                "recorded_since": self.recorded_since.as_dict()}


def saved_parameters(saved: dict[str, Any]) -> tuple[Filters, str | None, datetime, Cutoff, int]:
    """The filters, grouping, judging moment, cut and log position of a saved report;
    ``InvalidField`` when it is not a report with inputs."""
    inputs = saved.get(INPUTS) if isinstance(saved, dict) else None
    if not isinstance(inputs, dict):
        raise InvalidField("--verify", "the file is not a JSON report with its inputs "
                                       "(casework report --json)")
    try:
        given = inputs["filters"]
        filters = Filters(given.get("kind"), given.get("unit"), _as_given(given.get("since")),
                          _as_given(given.get("until")))
        cutoff = Cutoff.of(_time(inputs.get("as_of")), _time(inputs.get("known_at")))
        now, made = _time(inputs["now"]), int(inputs["through"])
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise InvalidField("--verify", f"the report's inputs are incomplete ({error})") from None
    assert now is not None
    return filters, inputs.get("by"), now, cutoff, made


def verify(app: Casework, saved: dict[str, Any]) -> Verification:
    """Compute the saved report again from the store, the way it was computed."""
    filters, by, now, cutoff, made = saved_parameters(saved)
    filters.check(app)
    rules, month = saved_assessment(saved)
    since = LateEntries()
    again = _replayed_report(app, filters, by, now, cutoff, rules, month, made, (made, since))
    fresh = json.loads(json.dumps(again.as_dict(), default=json_default))
    changes = [FigureChange(path, before, after) for path, before, after
               in differences(_figures(saved), _figures(fresh))]
    return Verification(str(saved[INPUTS].get("digest")), again.inputs.digest, changes, since)


def saved_assessment(saved: dict[str, Any]) -> tuple[AssessmentRules, Period | None]:
    """The rules and month a saved report's three rates were computed by (its
    ``assessment`` block; the defaults for a report without one)."""
    block = saved.get("assessment")
    if not isinstance(block, dict):
        return AssessmentRules(), None
    rules = {key: value for key, value in block.items() if key != "month"}
    try:
        month = block.get("month") or {}
        start, end = _time(month.get("from")), _time(month.get("until"))
        period = None if start is None or end is None else (start, end)
        return assessment_rules(rules, "--verify"), period
    except (SettingsError, KeyError, TypeError, AttributeError, ValueError) as error:
        raise InvalidField("--verify", f"the report's assessment is not readable ({error})"
                           ) from None


def _figures(report_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in report_dict.items() if key != INPUTS}


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """The leaves of a report's JSON form, by dotted path: list items by index, but a
    ``--by`` group by its key (``groups.guanlan/guancheng.total``), so that a group that
    appears or goes does not shift the names of the others."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            keyed = isinstance(item, dict) and "key" in item
            yield from flatten({k: v for k, v in item.items() if k != "key"} if keyed else item,
                               f"{path}.{item['key'] if keyed else index}")
    else:
        yield path, value


def differences(before: dict[str, Any], after: dict[str, Any]
                ) -> Iterator[tuple[str, Any, Any]]:
    """(path, before, after) of every leaf that differs, in the order of ``before`` then
    the leaves only ``after`` has."""
    old, new = dict(flatten(before)), dict(flatten(after))
    for path, value in old.items():
        if new.get(path, _MISSING) != value:
            yield path, value, new.get(path)
    for path, value in new.items():
        if path not in old:
            yield path, None, value


_MISSING = object()


def _time(text: str | None) -> datetime | None:
    return None if text is None else naive_utc(parse_time(text.removesuffix("Z")))


def _as_given(text: str | None) -> datetime | None:
    """A filter's time as the report was given it (with its offset, or naive), so that the
    filters read back are the filters digested: ``--since 2024-05-01`` is kept at +00:00."""
    if text is None:
        return None
    parse_time(text)  # a time casework accepts, or ValueError
    return datetime.fromisoformat(text)
