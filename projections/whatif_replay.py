"""How ``casework whatif`` finds what a candidate changes without folding what it leaves alone.

One walk over the notification log decodes each event of the period's cases (a case opened
outside the period is skipped undecoded) and keeps, per case, only what the candidate's
questions need: its kind, workflow version, grade, state, and the resolution clock a pause
moves (``casework.whatif.refused_by`` and ``under_policy``). A case diverges at the first
event the candidate would have recorded otherwise, and stays diverged: only those cases are
read again (by id) and folded, whole, as recorded and under the candidate, as the read model
folds them, entries in the units' accounts included. Every other case's row and entries under
the candidate are its recorded ones, which the live read model already holds
(``projections.whatif`` copies them); where there is no live read model to copy, the walk
also folds the period's events as recorded (``fold_into``), as a replay as of a time does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from sys import intern
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from casework import Casework
from casework.case import Case
from casework.recorders import NotificationRow
from casework.timestamps import naive_utc
from casework.whatif import IllegalCommand, Policy, refused_by, under_policy
from casework.workflow import OPEN_STAGES

from .filters import Filters
from .read_model import decoded, decoded_row, fold
from .replayed import fold_into
from .scratch import ScratchReadModel, diverged_summary

ESCALATE, SYSTEM_ROLE = "escalate", "system"
KEPT_EVENTS = 10_000
"""Stored events the walk keeps (as read, about 0.5 KB each), so that a case that diverges
need not be read again: each case's from its first event, until there are this many; then
only the diverged cases' (and, past twice as many, none: those are read again by id)."""
TRANSITIONED = get_topic(Case.Transitioned)
MENTIONED = (b"deadline", b"paused_", b"resolve_limit", b'"grade"')
"""What the stored JSON of a transition names when the event may set or move a deadline
(``deadline``, ``contact_deadline``, ``paused_seconds``) or change what the walk keeps of a
case (``TRACKED``): a transition that names none of them cannot make a case diverge, and
the walk leaves it undecoded (its upcasters add no such change)."""
TRACKED = ("grade", "deadline", "paused_since", "resolve_limit")
"""The columns of a case's row the candidate's questions read before an event (besides kind,
workflow version and state), set from the event's changes as the read model sets them."""


@dataclass(frozen=True)
class EscalationChange:
    """An overdue escalation by the nightly sweep that the candidate would have caused
    (``would``) or spared (the recorded one was overdue only under the policy in force)."""

    case_id: str
    at: datetime
    """When it fell due (the candidate's deadline), or when the spared one was made."""
    state: str
    would: bool

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "at": iso_or_none(self.at), "state": self.state,
                "would_escalate": self.would}


class Replay:
    """The policies, what the walk keeps of each case of the period, and what it found."""

    def __init__(self, app: Casework, in_force: Policy, candidate: Policy,
                 filters: Filters) -> None:
        self.app, self.in_force, self.candidate = app, in_force, candidate
        self.since, self.until = naive_utc(filters.since), naive_utc(filters.until)
        self.kind = filters.kind
        self.events = self.replayed = 0
        self.illegal: list[IllegalCommand] = []
        self.escalations: list[EscalationChange] = []
        self.cases: dict[str, dict[str, Any]] = {}
        """Per case of the period: what ``TRACKED`` names, its kind, version, state and the
        version of its last event walked. The state is that of the last event decoded: only
        a candidate that can refuse a command reads it, and then every event is decoded."""
        self.diverged: dict[str, None] = {}
        """The cases the candidate would have recorded otherwise, in the order met."""
        self._kept: dict[str, list[Any]] = {}
        """Per case, its events walked (all of them: a case loses its list, never a part)."""
        self._keeping = True
        self._kept_count = 0
        mapper = app.mapper
        self._skims = not (candidate.replacements or mapper.compressor or mapper.cipher)
        """Whether the walk may leave an event undecoded when its stored text names none of
        ``MENTIONED``: when it is plain JSON, and the candidate refuses nothing (a
        refusal depends on every state a case goes through)."""
        self._escalating: dict[tuple[bool, str, int], frozenset[str]] = {}

    @property
    def period(self) -> Filters:
        """The cases the walk keeps, as the read model's rows are selected."""
        return Filters(self.kind, None, self.since, self.until)

    def admits(self, event: Any) -> bool:
        """Whether a case's first event opens it within the period (and of the kind)."""
        at = naive_utc(event.at)
        assert at is not None
        return ((self.kind is None or event.kind == self.kind)
                and (self.since is None or at >= self.since)
                and (self.until is None or at < self.until))

    def walk(self, page: list[Any], recorded: ScratchReadModel | None = None) -> None:
        """Walk a page of stored events: the commands the candidate would refuse, the cases
        it makes diverge. ``recorded``: a scratch model to fold the period's events into as
        recorded (when the live read model's rows are not there to copy)."""
        self.events += len(page)
        folded = []
        skims = recorded is None and self._skims
        for stored in page:
            case_id = case_key(stored[1])
            before = self.cases.get(case_id)
            if before is None and stored[2] != 1:
                continue  # a case opened outside the period (its first event said so)
            if skims and before is not None and _unconcerned(stored):
                self.replayed += 1
                before["events"] = stored[2]
                self._keep(case_id, stored, False)
                continue
            event = decoded_row(self.app, stored)
            if isinstance(event, Case.Opened) and not self.admits(event):
                continue
            self.replayed += 1
            folded.append(event)
            kind = before["kind"] if before else event.kind
            version = before["workflow_version"] if before else event.workflow_version
            refused = refused_by(event, self.candidate, kind, version,
                                 before["state"] if before else None)
            if refused is not None:
                self.illegal.append(refused)
            if case_id not in self.diverged and under_policy(
                    event, self.candidate, kind, version, before["grade"] if before else None,
                    None, before) is not event:
                self.diverged[case_id] = None
            self.cases[case_id] = _tracked(before, event, kind, version)
            self._keep(case_id, stored, before is None)
        if recorded is not None:
            fold_into(self.app, recorded, folded)

    def _keep(self, case_id: str, event: NotificationRow, first: bool) -> None:
        kept = self._kept.get(case_id)
        if kept is None:
            if not (first and self._keeping):
                return
            kept = self._kept[case_id] = []
        kept.append(event)
        self._kept_count += 1
        if self._kept_count >= KEPT_EVENTS * (1 if self._keeping else 2):
            # Memory stays bounded: the cases that did not diverge (yet) first, then all.
            self._keeping = False
            self._kept = {} if self._kept_count >= KEPT_EVENTS * 2 else {
                key: events for key, events in self._kept.items() if key in self.diverged}
            self._kept_count = sum(map(len, self._kept.values()))

    def replay_diverged(self, model: ScratchReadModel) -> None:
        """Fold each diverged case's history (read again, up to the last event walked) as
        recorded and under the candidate; note the escalations the candidate would cause or
        spare, and keep the candidate's row where it ends different (``diverged_summary``)
        and its entries in the units' accounts where they differ from the recorded ones
        (``ScratchReadModel.replace_entries``)."""
        self._kept = {key: events for key, events in self._kept.items()
                      if key in self.diverged}
        rows: dict[str, dict[str, Any]] = {}
        accounts: dict[str, list[dict[str, Any]]] = {}
        for case_id in self.diverged:
            kept = self._kept.pop(case_id, None)
            if kept is None:
                stored = self.app.recorder.select_events(
                    UUID(case_id), lte=self.cases[case_id]["events"])
                events = [decoded(self.app, e) for e in stored]
            else:
                events = [decoded_row(self.app, row) for row in kept]
            judged, entries = self._replayed(case_id, events)
            if judged is not None:
                rows[case_id] = judged
            if entries is not None:
                accounts[case_id] = entries
            if len(rows) >= 1000 or len(accounts) >= 1000:
                model.replace(rows, diverged_summary)
                model.replace_entries(accounts)
                rows, accounts = {}, {}
        model.replace(rows, diverged_summary)
        model.replace_entries(accounts)

    def _replayed(self, case_id: str, events: list[Any]
                  ) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None]:
        """One case folded as recorded and, from where the candidate would have recorded an
        event otherwise, under the candidate: its candidate row, None when it ends as the
        recorded one; and its candidate entries in the units' accounts, None when they are
        the recorded ones (before it diverges, the candidate's entries are the recorded)."""
        recorded: dict[str, dict[str, Any]] = {}
        diverged: dict[str, Any] | None = None
        entries: list[dict[str, Any]] = []
        judged_entries: list[dict[str, Any]] = []
        for event in events:
            as_recorded = recorded.get(case_id)
            before = as_recorded if diverged is None else diverged
            kind = before["kind"] if before else event.kind
            version = before["workflow_version"] if before else event.workflow_version
            if diverged is not None:  # alike, the candidate sees what was recorded
                self._escalation(as_recorded, diverged, event)  # type: ignore[arg-type]
            recorded_entries = fold(self.app, recorded, [event])
            entries += recorded_entries
            rewritten = under_policy(event, self.candidate, kind, version,
                                     before["grade"] if before else None, diverged, before)
            if rewritten is event and diverged is None:
                judged_entries += recorded_entries
                continue  # the same row and the same event: the same fold
            judged = {} if before is None else {case_id: before}
            judged_entries += fold(self.app, judged, [rewritten])
            diverged = None if judged[case_id] == recorded[case_id] else judged[case_id]
        return diverged, None if judged_entries == entries else judged_entries

    def _escalation(self, recorded: dict[str, Any], judged: dict[str, Any], event: Any) -> None:
        """Note an escalation the candidate would have caused before ``event`` (its deadline
        passed unnoticed in a state the sweep escalates from, while the recorded one had
        not), or spared (``event`` is the sweep's escalation, not overdue under it)."""
        at = naive_utc(event.at)
        if self.unnoticed(judged, at, candidate=True) and not self.overdue(recorded, at):
            self.escalations.append(EscalationChange(judged["id"], judged["deadline"],
                                                     judged["state"], would=True))
        elif (event.trigger == ESCALATE and event.role == SYSTEM_ROLE
              and not self.overdue(judged, at)):
            self.escalations.append(EscalationChange(judged["id"], at, judged["state"],  # type: ignore[arg-type]
                                                     would=False))

    def overdue(self, row: Any, at: datetime | None) -> bool:
        return bool(row["missed_deadline"]) or (
            row["deadline"] is not None and at is not None and at > row["deadline"])

    def unnoticed(self, row: Any, at: datetime | None, candidate: bool) -> bool:
        """Open past its deadline at ``at``, not yet missed, in a state the sweep escalates."""
        if row["stage"] not in OPEN_STAGES or row["missed_deadline"] or row["deadline"] is None:
            return False
        if at is None or at <= row["deadline"]:
            return False
        return row["state"] in self.escalating(row, candidate)

    def escalating(self, row: Any, candidate: bool) -> frozenset[str]:
        key = (candidate, row["kind"], row["workflow_version"])
        if key not in self._escalating:
            policy = self.candidate if candidate else self.in_force
            self._escalating[key] = policy.escalating_states(key[1], key[2])
        return self._escalating[key]


def _unconcerned(stored: NotificationRow) -> bool:
    """Whether a stored event is a transition whose JSON names none of ``MENTIONED``."""
    state = stored[4]
    return (stored[3] == TRANSITIONED and isinstance(state, bytes)
            and not any(word in state for word in MENTIONED))


def _tracked(before: dict[str, Any] | None, event: Any, kind: str, version: int
             ) -> dict[str, Any]:
    """What the walk keeps of a case after ``event``: ``TRACKED`` as
    ``projections.case_summary`` sets them from the event's changes, kind, version, state."""
    row = dict.fromkeys(TRACKED) if before is None else before
    # Kept for every case of the period until the walk ends: the few words a case's kind,
    # state, grade and limit take are shared (interned), not one copy per case.
    row.update(kind=intern(kind), state=intern(event.to_state),
               events=event.originator_version,
               workflow_version=event.workflow_version if isinstance(event, Case.Migrated)
               else version)
    changes = event.changes
    if "grade" in changes:
        row["grade"] = changes["grade"] and intern(changes["grade"])
    for name in ("deadline", "paused_since"):
        if name in changes:
            row[name] = naive_utc(changes[name])
    if "resolve_limit" in changes:
        row["resolve_limit"] = changes["resolve_limit"] and intern(changes["resolve_limit"])
    return row


def case_key(stored_id: UUID | str) -> str:
    """A case id of ``select_notification_rows`` as the rows name the case (``str`` of its
    UUID): the SQLite store gives it as 32 hex digits, cut here rather than parsed."""
    if isinstance(stored_id, str) and len(stored_id) == 32:
        return "-".join((stored_id[:8], stored_id[8:12], stored_id[12:16], stored_id[16:20],
                         stored_id[20:]))
    return str(stored_id if isinstance(stored_id, UUID) else UUID(stored_id))


def iso_or_none(moment: datetime | None) -> str | None:
    """A time of a changed case or an escalation as JSON gives it (None stays None)."""
    return None if moment is None else moment.isoformat()
