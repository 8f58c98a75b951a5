"""The audit's check of the units' accounts (``unit_ledger``): are a case's entries exactly
the ones its events fold into, and is there no entry for a case that has no events?

Compared case by case, for the chunk of cases the audit has just replayed: only those cases'
entries are read (by the table's key, which starts with the case id), so that the ledger is
never held whole in memory, however long it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, func, select

from casework.audit import Finding

from .tables import unit_ledger
from .unit_ledger import NO_UNIT

LEDGER_COLUMNS = tuple(column.name for column in unit_ledger.columns)
KEY = ("case_id", "version", "unit")
SHOWN_DIFFERENCES = 3
CHUNK = 500

Key = tuple[str, int, str]


def ledger_rows(conn: Connection, case_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The stored entries of these cases, by case id."""
    rows: dict[str, list[dict[str, Any]]] = {}
    query = select(unit_ledger).where(unit_ledger.c.case_id.in_(list(case_ids)))
    for row in conn.execute(query):
        rows.setdefault(row.case_id, []).append(dict(row._mapping))
    return rows


def check_ledger(case_id: str, expected: list[dict[str, Any]],
                 stored: list[dict[str, Any]]) -> list[Finding]:
    """Whether the case's stored entries are the ones its events fold into: one finding per
    entry missing, added or different, naming the event and the unit."""
    wanted = {_key(entry): entry for entry in expected}
    found = {_key(row): row for row in stored}
    findings = []
    for key in sorted(wanted.keys() | found.keys(), key=lambda key: (key[1], key[2])):
        _, version, unit = key
        entry, row = wanted.get(key), found.get(key)
        if row is None:
            assert entry is not None
            findings.append(Finding(case_id, version, f"the unit ledger has no entry for "
                                                      f"{_unit(unit)} ({_counted(entry)})"))
        elif entry is None:
            findings.append(Finding(case_id, version, f"the unit ledger has an entry for "
                                                      f"{_unit(unit)} that the events do not "
                                                      f"make ({_counted(row)})"))
        else:
            findings += _differences(case_id, version, unit, entry, row)
    return findings


def _differences(case_id: str, version: int, unit: str, entry: dict[str, Any],
                 row: dict[str, Any]) -> list[Finding]:
    differences = [name for name in LEDGER_COLUMNS
                   if not _same(row.get(name), entry.get(name))]
    if not differences:
        return []
    shown = ", ".join(f"{name} {row.get(name)!r} (events say {entry.get(name)!r})"
                      for name in differences[:SHOWN_DIFFERENCES])
    more = len(differences) - SHOWN_DIFFERENCES
    return [Finding(case_id, version, f"the unit ledger's entry for {_unit(unit)} disagrees "
                                      f"with the events: {shown}"
                                      + (f" and {more} more" if more > 0 else ""))]


def _same(stored: Any, expected: Any) -> bool:
    # held_hours is a float: a database may give back its last bit differently.
    if isinstance(stored, float) and isinstance(expected, float):
        return math.isclose(stored, expected, rel_tol=1e-9, abs_tol=1e-9)
    return bool(stored == expected)


def _key(entry: dict[str, Any]) -> Key:
    return (str(entry["case_id"]), int(entry["version"]), str(entry["unit"]))


def _unit(unit: str) -> str:
    return "no unit" if unit == NO_UNIT else f"unit {unit}"


def _counted(entry: dict[str, Any]) -> str:
    """What the entry counts, in short: its counters that are not zero."""
    counts = [f"{name} {entry[name]}" for name in LEDGER_COLUMNS[LEDGER_COLUMNS.index(
        "held_hours"):] if entry.get(name)]
    return ", ".join(counts) or "nothing counted"


def entries_without_events(conn: Connection, has_events: Callable[[UUID], bool],
                           entries_seen: int) -> list[Finding]:
    """With every case audited: entries of cases that have no events at all. Only when the
    ledger holds more entries than the audit compared (the usual answer is one count); then
    its case ids are read in order, a page at a time."""
    total = conn.execute(select(func.count()).select_from(unit_ledger)).scalar_one()
    if total == entries_seen:
        return []
    findings = []
    ids = conn.execution_options(yield_per=CHUNK).execute(
        select(unit_ledger.c.case_id, func.count()).group_by(unit_ledger.c.case_id)
        .order_by(unit_ledger.c.case_id))
    for case_id, entries in ids:
        try:
            known = has_events(UUID(case_id))
        except ValueError:
            known = False
        if not known:
            findings.append(Finding(case_id, None, f"the unit ledger has {entries} "
                                                   f"{'entry' if entries == 1 else 'entries'} "
                                                   "for a case that has no events"))
    return findings
