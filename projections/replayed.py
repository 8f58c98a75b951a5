"""The report as it stood at a time: ``casework report --as-of T`` and ``--known-at R``.

Two clocks (DOMAIN.md): an event's business time (``at``, when it happened) and its
recording time (when the store took it). ``--as-of T`` replays only the events that happened
by T; ``--known-at R`` only those recorded by R, which is the report anyone could have
computed at R. Events that happened by T (or at any time, without ``--as-of``) but were
recorded after R are late entries: counted and named, not folded.

A case's history runs forward in business time (a command may not be dated before the
case's last event) and is recorded in order, so either cut keeps a prefix of each history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from casework import Casework
from casework.timestamps import naive_utc, utc_iso

from .read_model import ReadModel, fold
from .scratch import ScratchReadModel, event_pages

LISTED_LATE_CASES = 100
"""How many late-entered cases a report names (it counts them all)."""


@dataclass(frozen=True)
class Cutoff:
    """Which events a replay folds: those that happened by ``as_of`` and were recorded by
    ``known_at`` (None: no limit on that clock). Times are naive UTC."""

    as_of: datetime | None = None
    known_at: datetime | None = None

    @classmethod
    def of(cls, as_of: datetime | None, known_at: datetime | None) -> Cutoff:
        return cls(naive_utc(as_of), naive_utc(known_at))

    @property
    def everything(self) -> bool:
        return self.as_of is None and self.known_at is None

    def happened(self, event: Any) -> bool:
        return self.as_of is None or naive_utc(event.at) <= self.as_of  # type: ignore[operator]

    def known(self, event: Any) -> bool:
        return self.known_at is None or naive_utc(event.timestamp) <= self.known_at  # type: ignore[operator]

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": utc_iso(self.as_of), "known_at": utc_iso(self.known_at)}


EVERYTHING = Cutoff()
"""No cut: every event recorded."""


@dataclass
class LateEntries:
    """Events that had happened by the cut but were recorded after ``known_at``."""

    events: int = 0
    case_ids: set[str] = field(default_factory=set)

    def add(self, event: Any) -> None:
        self.events += 1
        self.case_ids.add(str(event.originator_id))

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "cases": len(self.case_ids),
                "listed": sorted(self.case_ids)[:LISTED_LATE_CASES]}


def replay_until(app: Casework, cutoff: Cutoff, scratch: ScratchReadModel,
                 progress: Callable[[int], None] | None = None,
                 recorded_after: tuple[int, LateEntries] | None = None) -> LateEntries:
    """Fold into ``scratch`` the events ``cutoff`` keeps; returns the late entries.
    ``recorded_after`` (a position in the notification log, and entries to fill) also
    collects the folded events recorded after that position: what moved since a report was
    made."""
    late = LateEntries()
    for page in event_pages(app):
        events = []
        for position, event in page:
            if not cutoff.happened(event):
                continue
            if not cutoff.known(event):
                late.add(event)
                continue
            events.append(event)
            if recorded_after is not None and position > recorded_after[0]:
                recorded_after[1].add(event)
        fold_into(app, scratch, events)
        if progress is not None:
            progress(len(page))
    scratch.flush()
    return late


@contextmanager
def report_model(app: Casework, cutoff: Cutoff) -> Iterator[ReadModel | ScratchReadModel]:
    """What a report over ``cutoff`` reads: the live read model when nothing is cut, else
    a scratch one with the events the cut keeps."""
    if cutoff.everything:
        with ReadModel(app) as read_model:
            yield read_model
        return
    with ScratchReadModel(app) as scratch:
        replay_until(app, cutoff, scratch)
        yield scratch


def fold_into(app: Casework, scratch: ScratchReadModel, events: list[Any]) -> None:
    """Fold ``events`` into the scratch rows of their cases."""
    if not events:
        return
    rows = scratch.rows(list({str(e.originator_id) for e in events}))
    entries = fold(app, rows, events)
    scratch.replace(rows)
    scratch.add_entries(entries)
