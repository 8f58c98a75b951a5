"""The audit's read-model check: does each ``case_summary`` row, and each case's entries in
the units' accounts (``unit_ledger``, projections.ledger_audit), equal what its events fold
into, and is there a row for every case (and no row or entry without one)?

Plugs into ``casework.audit.audit(..., also=[ReadModelCheck(read_model)])``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import Connection, func, select

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
from .ledger_audit import check_ledger, entries_without_events, ledger_rows
from .read_model import ReadModel
from .tables import case_summary
from .unit_ledger import ledger_entries

COLUMNS = tuple(column.name for column in case_summary.columns)
SHOWN_DIFFERENCES = 3
CHUNK = 500


class Folded(NamedTuple):
    """What a case's events fold into: its ``case_summary`` row, its ``unit_ledger``
    entries; or why they cannot be folded (findings of the case as a whole)."""

    row: dict[str, Any] | None
    entries: list[dict[str, Any]]
    findings: list[Finding]


def fold_history(case_id: str, events: list[Any], workflows: WorkflowRegistry,
                 organisation: Organisation) -> Folded | None:
    """The case's events folded as the read model folds them; None when the history's own
    findings say why it cannot be (no opening, an event unreadable or malformed)."""
    if not events or not isinstance(events[0], Case.Opened) or any(
            isinstance(event, Undecodable) or malformed(event) for event in events):
        return None
    row: dict[str, Any] | None = None
    entries: list[dict[str, Any]] = []
    try:
        for event in events:
            before, row = row, summarise(row, event, workflows, organisation)
            entries += ledger_entries(before, row, event,
                                      workflows.get(row["kind"], row["workflow_version"]),
                                      organisation)
    except Exception as error:  # whatever the fold trips over, the audit goes on
        return Folded(None, [], [Finding(case_id, None, f"the events cannot be folded into a "
                                         f"read-model row ({type(error).__name__}: {error})")])
    return Folded(row, entries, [])


def check_summary(case_id: str, events: list[Any], row: dict[str, Any] | None,
                  workflows: WorkflowRegistry, organisation: Organisation) -> list[Finding]:
    """Whether the case's ``case_summary`` row is what its events fold into."""
    folded = fold_history(case_id, events, workflows, organisation)
    if folded is None:
        return []
    return folded.findings or _summary_findings(case_id, events, row, folded.row)


def _summary_findings(case_id: str, events: list[Any], row: dict[str, Any] | None,
                      expected: dict[str, Any] | None) -> list[Finding]:
    assert expected is not None
    if row is None:
        last = events[-1].originator_version
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
        self.entries_seen = 0

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
        ids = [str(case_id) for case_id in histories]
        query = select(case_summary).where(case_summary.c.id.in_(ids))
        with self.read_model.engine.connect() as conn:
            rows = {row.id: dict(row._mapping) for row in conn.execute(query)}
            entries = ledger_rows(conn, ids)
        self.rows_seen += len(rows)
        self.entries_seen += sum(map(len, entries.values()))
        findings = []
        for case_id, events in histories.items():
            key = str(case_id)
            folded = fold_history(key, events, app.workflows, app.organisation)
            if folded is None:
                continue
            if folded.findings:
                findings += folded.findings
                continue
            findings += _summary_findings(key, events, rows.get(key), folded.row)
            findings += check_ledger(key, folded.entries, entries.get(key, []))
        return findings

    def finish(self, cases_seen: int, complete: bool) -> list[Finding]:
        """With every case audited: rows and ledger entries for cases that have no events."""
        if not complete:
            return []
        with self.read_model.engine.connect() as conn:
            return (self._rows_without_events(conn)
                    + entries_without_events(conn, self._has_events, self.entries_seen))

    def _has_events(self, case_id: UUID) -> bool:
        return bool(self.read_model.app.recorder.select_events(case_id, limit=1))

    def _rows_without_events(self, conn: Connection) -> list[Finding]:
        total = conn.execute(select(func.count()).select_from(case_summary)).scalar_one()
        if total == self.rows_seen:
            return []  # the usual answer, without looking at every row again
        findings = []
        ids = conn.execution_options(yield_per=CHUNK).execute(select(case_summary.c.id))
        for (row_id,) in ids:
            try:
                known = self._has_events(UUID(row_id))
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
