"""The audit's read-model check: does each ``case_summary`` row equal what its events fold
into, and is there a row for every case (and no row without one)?

Plugs into ``casework.audit.audit(..., also=[ReadModelCheck(read_model)])``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select

from casework.audit import (
    AuditReport,
    Finding,
    Undecodable,
    malformed,
    reason,
    stored_history,
)
from casework.case import Case
from casework.chunking import chunked
from casework.organisation import Organisation
from casework.registry import WorkflowRegistry
from casework.stored_cases import case_ids

from .case_summary import summarise
from .read_model import ReadModel
from .tables import case_summary

COLUMNS = tuple(column.name for column in case_summary.columns)
SHOWN_DIFFERENCES = 3
CHUNK = 500


def check_summary(case_id: str, events: list[Any], row: dict[str, Any] | None,
                  workflows: WorkflowRegistry, organisation: Organisation) -> list[Finding]:
    """Whether the case's ``case_summary`` row is what its events fold into."""
    if not events or not isinstance(events[0], Case.Opened) or any(
            isinstance(event, Undecodable) or malformed(event) for event in events):
        return []  # the history's findings say why it cannot be folded
    last = events[-1].originator_version
    try:
        expected: dict[str, Any] | None = None
        for event in events:
            expected = summarise(expected, event, workflows, organisation)
    except Exception as error:  # whatever the fold trips over, the audit goes on
        return [Finding(case_id, None, f"the events cannot be folded into a read-model row "
                                       f"({type(error).__name__}: {error})")]
    assert expected is not None
    if row is None:
        return [Finding(case_id, None, f"the read model has no row for this case "
                                       f"(events up to {last})")]
    differences = [name for name in COLUMNS if row.get(name) != expected.get(name)]
    if not differences:
        return []
    shown = ", ".join(f"{name} {_shown(row.get(name))} (events say {_shown(expected.get(name))})"
                      for name in differences[:SHOWN_DIFFERENCES])
    more = len(differences) - SHOWN_DIFFERENCES
    return [Finding(case_id, None, f"the read-model row disagrees with the events: {shown}"
                                   + (f" and {more} more" if more > 0 else ""))]


def _shown(value: Any) -> str:
    return value.isoformat(sep=" ") if isinstance(value, datetime) else repr(value)


class ReadModelCheck:
    """Compares each audited case's row with its events."""

    def __init__(self, read_model: ReadModel) -> None:
        self.read_model = read_model
        self.rows_seen = 0

    def ready(self, report: AuditReport) -> bool:
        try:
            self.read_model.catch_up()
        except Exception as error:  # the events it trips over are findings of their own
            report.findings.append(Finding(
                None, None,
                f"read model not compared: it cannot catch up with the events ({reason(error)})"))
            return False
        return True

    def check_cases(self, histories: dict[UUID, list[Any]]) -> list[Finding]:
        app = self.read_model.app
        query = select(case_summary).where(case_summary.c.id.in_([str(i) for i in histories]))
        with self.read_model.engine.connect() as conn:
            rows = {row.id: dict(row._mapping) for row in conn.execute(query)}
        self.rows_seen += len(rows)
        findings = []
        for case_id, events in histories.items():
            findings += check_summary(str(case_id), events, rows.get(str(case_id)),
                                      app.workflows, app.organisation)
        return findings

    def finish(self, cases_seen: int, complete: bool) -> list[Finding]:
        """With every case audited: rows for cases that have no events at all."""
        if not complete:
            return []
        app = self.read_model.app
        with self.read_model.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(case_summary)).scalar_one()
            if total == self.rows_seen:
                return []  # the usual answer, without looking at every row again
            findings = []
            ids = conn.execution_options(yield_per=CHUNK).execute(select(case_summary.c.id))
            for (row_id,) in ids:
                try:
                    known = bool(app.recorder.select_events(UUID(row_id), limit=1))
                except ValueError:
                    known = False
                if not known:
                    findings.append(Finding(row_id, None, "the read model has a row for a "
                                                          "case that has no events"))
            return findings


def rows_a_rebuild_would_change(read_model: ReadModel) -> list[Finding]:
    """``casework rebuild --dry-run``: each row that differs from what its case's events fold
    into, is missing, or has no case — what a rebuild would change."""
    app = read_model.app
    check = ReadModelCheck(read_model)
    report = AuditReport()
    if not check.ready(report):
        return report.findings
    findings: list[Finding] = []
    seen = 0
    for chunk in chunked(case_ids(app), CHUNK):
        seen += len(chunk)
        findings += check.check_cases({case_id: stored_history(app, case_id)
                                       for case_id in chunk})
    return findings + check.finish(seen, complete=True)
