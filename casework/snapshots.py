"""Snapshots of cases: taken as cases are saved, and the one to start from to see a case as
it was at a business time.

A case is snapshotted every ``interval`` events (50 by default), so loading it replays at
most ``interval - 1`` events after its latest snapshot. Seeing it as it was at a time in the
past (``get_case(as_of=...)``) starts the same way, from the nearest snapshot at or before
the last event of that time. Snapshots are numbered by version, not by business time, so
that event is found first: a binary search over the events' business times (``at``), which
run forward in a case (a command dated before a case's last event is refused), reads about
log2(n) single events of an n-event case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from .case import Case, replay


class Store(Protocol):
    """What this module needs of the application (``casework.Casework`` is one)."""

    recorder: Any
    """``casework.recorders``' (its ``reading()``)."""
    mapper: Any
    snapshots: Any
    snapshotting_intervals: Any


def usable(snapshot: Any) -> bool:
    """Whether a decoded snapshot may be started from: one taken before a case's fields were
    its opening fields and those its triggers declare (``Case.class_version`` 1) may hold a
    later trigger's fields as the case's, so the case is replayed from its first event."""
    return bool(snapshot.state.get("class_version", 1) == Case.class_version)


def take_snapshots(app: Store, cases: Sequence[Case], events: Iterable[Any]) -> None:
    """Snapshot each case whose saved ``events`` reached a multiple of the interval: from the
    case in memory when it stands at that version (no read), else replayed from storage."""
    interval = app.snapshotting_intervals.get(Case) if app.snapshots is not None else None
    if not interval:
        return
    by_id = {case.id: case for case in cases}
    for event in events:
        version = event.originator_version
        if version % interval:
            continue
        case = by_id.get(event.originator_id)
        if case is not None and case.version == version:
            app.snapshots.put([Case.Snapshot.take(case)])
        else:  # replayed from the first event: the latest snapshot may be one not usable
            decoded = map(app.mapper.to_domain_event,
                          app.recorder.select_events(event.originator_id, lte=version))
            replayed = replay(None, decoded)
            if replayed is not None:
                app.snapshots.put([Case.Snapshot.take(replayed)])


def case_at(app: Store, case_id: UUID, moment: datetime) -> Case | None:
    """The case as it was at business time ``moment``: its events up to the first one after
    ``moment``; None when it had none by then (or there is no such case)."""
    decoded = app.mapper.to_domain_event
    with app.recorder.reading(None if app.snapshots is None else app.snapshots.recorder
                              ) as read:
        def event(**where: Any) -> Any:
            found = read.events(case_id, **where)
            return decoded(found[0]) if found else None

        last = event(desc=True, limit=1)
        if last is None:
            return None
        first = event(limit=1)
        if first.at > moment:
            return None
        low = high = last.originator_version  # at(low) ≤ moment < at(high), or low = last
        if last.at > moment:
            low = first.originator_version
        while high - low > 1:
            middle = (low + high) // 2
            probe = event(gt=middle - 1, lte=middle)
            if probe is None:  # a version missing (the audit says so): read them all instead
                return _until(None, map(decoded, read.events(case_id)), moment)
            if probe.at <= moment:
                low = middle
            else:
                high = middle
        stored = read.snapshot(case_id, lte=low)
        snapshot = None if stored is None else decoded(stored)
        if snapshot is not None and not usable(snapshot):
            snapshot = None
        case = None if snapshot is None else snapshot.mutate(None)
        after = 0 if snapshot is None else snapshot.originator_version
        return _until(case, map(decoded, read.events(case_id, gt=after, lte=low)), moment)


def _until(case: Case | None, events: Iterable[Any], moment: datetime) -> Case | None:
    for event in events:
        if event.at > moment:
            break
        case = event.mutate(case)
    return case
