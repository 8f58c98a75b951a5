"""Replay the recorded cases and say what does not add up: tamper evidence for the store.

Each event's ``hash`` chains it to the one before (see ``casework.case.chain_hash``), so an
event edited, inserted or removed in the database shows as a broken link or a gap. Replaying
the events against the workflow version each case ran under shows transitions the engine
would have refused, and folding them again shows read-model rows that drifted. One thing a
chain cannot show is a case whose whole chain was recomputed after an edit: ``audit_digest``
commits to every case's head, to be kept somewhere else and compared later.

``check_history`` and ``check_summary`` are pure functions of a case's events; ``audit``
feeds them from the store, one case at a time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.utils import get_topic

from .application import Casework
from .case import GENESIS, Case, chain_hash, event_content
from .chunking import chunked
from .digest import Digest
from .errors import UnknownCase, UnknownWorkflow
from .fields import forbidden_character
from .personal import is_encrypted
from .registry import WorkflowRegistry
from .stored_cases import case_ids as all_case_ids
from .stored_cases import case_ids_in_order
from .timestamps import EARLIEST, LATEST
from .workflow import OPEN, STAY, Trigger, Workflow

CASE_TOPIC = get_topic(Case)
CASE_EVENTS = (Case.Opened, Case.Transitioned, Case.Migrated)
CHUNK = 500
"""Cases audited per read-model query."""


@dataclass(frozen=True)
class Finding:
    case_id: str | None
    """None when the finding is about the store as a whole."""
    version: int | None
    """The event the finding is about; None when it is about the case's read-model row."""
    description: str

    def __str__(self) -> str:
        where = "" if self.version is None else f"  event {self.version}"
        return f"{self.case_id or '(store)'}{where}: {self.description}"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class AuditReport:
    cases: int = 0
    events: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {"cases": self.cases, "events": self.events, "clean": self.clean,
                "findings": [finding.as_dict() for finding in self.findings]}


@dataclass(frozen=True)
class Undecodable:
    """A stored event that could not be turned back into an event at all."""

    originator_version: int
    reason: str


# Checking a case's history (pure) ------------------------------------------------------

def check_history(case_id: str, events: Iterable[Any], workflows: WorkflowRegistry
                  ) -> list[Finding]:
    """What is wrong with a case's events, in version order (decoded, or ``Undecodable``)."""
    replay = _Replay(workflows)
    findings = []
    for event in events:
        for problem in replay.step(event):
            findings.append(Finding(case_id, event.originator_version, problem))
    return findings


class _Replay:
    """What the events so far say about the case: what the next event must agree with."""

    def __init__(self, workflows: WorkflowRegistry) -> None:
        self.workflows = workflows
        self.version = 0
        self.head: str | None = GENESIS
        """The hash the next event must link to; None when unknown (after a gap)."""
        self.opened = False
        self.kind: str | None = None
        self.workflow: Workflow | None = None
        """None when the case's workflow is unknown: its transitions cannot be judged."""
        self.state: str | None = None
        """None before the first event, and after a gap or an unreadable event: the next
        event's ``from_state`` is then taken at its word."""

    def step(self, event: Any) -> list[str]:
        problems = self._sequence(event.originator_version)
        if isinstance(event, Undecodable):
            return [*problems, *self._unknowable(f"cannot be decoded: {event.reason}")]
        problem = malformed(event)
        if problem is not None:
            return [*problems, *self._unknowable(problem)]
        problems += self._link(event)
        if isinstance(event, Case.Opened):
            problems += self._opened(event)
        elif not self.opened:
            problems += self._unopened(event)
        elif isinstance(event, Case.Transitioned):
            problems += self._transitioned(event)
        else:
            problems += self._migrated(event)
        return problems

    def _sequence(self, version: int) -> list[str]:
        expected = self.version + 1
        problems = []
        if version == self.version:
            problems.append(f"repeats event {version}")
        elif version < self.version:
            problems.append(f"comes after event {self.version}: out of order")
        elif version > expected:
            missing = f"event {expected} is" if version == expected + 1 \
                else f"events {expected}-{version - 1} are"
            problems.append(f"{missing} missing before it")
            self.head = self.state = None  # what the missing events did is unknown
        self.version = max(self.version, version)
        return problems

    def _unknowable(self, problem: str) -> list[str]:
        """After this event, what the case was is unknown: the next one is taken at its word."""
        self.head = None
        self.state = None
        return [problem]

    def _link(self, event: Any) -> list[str]:
        previous, self.head = self.head, event.hash
        if previous is None:
            return []
        try:
            expected = chain_hash(previous, event_content(event))
        except TypeError as error:
            return [f"content cannot be hashed: {error}"]
        if event.hash == expected:
            return []
        return ["hash does not match the event's content and the previous event's hash: "
                "edited or inserted after it was recorded"]

    def _opened(self, event: Case.Opened) -> list[str]:
        problems = []
        if self.opened:
            problems.append("opens the case a second time")
        if event.originator_topic != CASE_TOPIC:
            problems.append(f"opens a {event.originator_topic}, not a {CASE_TOPIC}")
        self.opened, self.kind = True, event.kind
        self.workflow = self._workflow(event.kind, event.workflow_version, problems)
        if self.workflow is not None:
            if event.trigger != OPEN:
                problems.append(f"opened by {event.trigger!r}, not by {OPEN!r}")
            if event.to_state != self.workflow.initial:
                problems.append(f"opened in state {event.to_state!r}, not in the initial state "
                                f"{self.workflow.initial!r} of {self.workflow.key}")
            problems += _stage(self.workflow, event)
            problems += _plain_personal(self.workflow.opening, event)
        self.state = event.to_state
        return problems

    def _unopened(self, event: Any) -> list[str]:
        # A missing first event is already a gap; say nothing more about each later event.
        problem = ["the case's first event does not open it"] if event.originator_version == 1 \
            else []
        self.state = event.to_state
        return problem

    def _transitioned(self, event: Case.Transitioned) -> list[str]:
        problems = self._left(event)
        workflow, state = self.workflow, self.state or event.from_state
        if workflow is not None:
            trigger = workflow.transitions.get((state, event.trigger))
            if trigger is None:
                legal = ", ".join(workflow.legal_triggers(state)) or "none"
                problems.append(f"illegal transition: {event.trigger!r} from {state!r} in "
                                f"{workflow.key} (legal from {state!r}: {legal})")
            else:
                allowed = _destinations(workflow, trigger, state)
                if event.to_state not in allowed:
                    problems.append(
                        f"illegal transition: {event.trigger!r} from {state!r} leads to "
                        f"{event.to_state!r}; in {workflow.key} it leads only to "
                        f"{', '.join(sorted(allowed))}")
                problems += _plain_personal(trigger, event)
                problems += _undeclared_updates(trigger, event)
            problems += _stage(workflow, event)
        self.state = event.to_state
        return problems

    def _migrated(self, event: Case.Migrated) -> list[str]:
        problems = self._left(event)
        if self.workflow is not None and event.from_version != self.workflow.version:
            problems.append(f"migrates from v{event.from_version}, but the case ran under "
                            f"v{self.workflow.version}")
        if event.workflow_version <= event.from_version:
            problems.append(f"migrates from v{event.from_version} to v{event.workflow_version}: "
                            "migrations only go forward")
        assert self.kind is not None
        target = self._workflow(self.kind, event.workflow_version, problems)
        if target is not None:
            mapped = target.migrations.get(event.from_version, {}).get(event.from_state,
                                                                       event.from_state)
            if event.to_state not in target.states:
                problems.append(f"migrates to state {event.to_state!r}, which {target.key} "
                                "does not have")
            elif event.to_state != mapped:
                problems.append(f"migrates {event.from_state!r} to {event.to_state!r}, but "
                                f"{target.key} maps it to {mapped!r}")
            problems += _stage(target, event)
        self.workflow, self.state = target, event.to_state
        return problems

    def _left(self, event: Any) -> list[str]:
        if self.state is None or event.from_state == self.state:
            return []
        return [f"says the case left {event.from_state!r}, but it was {self.state!r}"]

    def _workflow(self, kind: str, version: int, problems: list[str]) -> Workflow | None:
        try:
            return self.workflows.get(kind, version)
        except UnknownWorkflow:
            problems.append(f"runs under {kind} v{version}, a workflow not installed here")
            return None


def _destinations(workflow: Workflow, trigger: Trigger, state: str) -> set[str]:
    stays = STAY in {trigger.to, *(branch.to for branch in trigger.branches)}
    return workflow.destinations(trigger) | ({state} if stays else set())


def _undeclared_updates(trigger: Trigger, event: Any) -> list[str]:
    """Case fields an event changes that its trigger does not declare (``updates``)."""
    extra = sorted(set(event.updates or ()) - set(trigger.updates))
    return [f"changes the case's {', '.join(extra)}, which {trigger.name!r} does not update"
            ] if extra else []


def _plain_personal(trigger: Trigger, event: Any) -> list[str]:
    """Personal fields the engine would have encrypted, stored readable: recorded before
    casework encrypted them (0.1), or written by another producer."""
    return [f"personal field {name!r} is stored in plain text, not encrypted under a "
            "person's key" for name, value in event.fields.items()
            if (spec := trigger.fields.get(name)) is not None and spec.personal
            and not is_encrypted(value)]


def _stage(workflow: Workflow, event: Any) -> list[str]:
    state = workflow.states.get(event.to_state)
    if state is None or state.stage == event.to_stage:
        return []  # an unknown state is reported as an illegal transition
    return [f"records stage {event.to_stage!r}, but {event.to_state!r} is in stage "
            f"{state.stage!r} of {workflow.key}"]


def malformed(event: Any) -> str | None:
    """Why the event cannot be judged at all: not an event of a case, or attributes that are
    missing or of the wrong type (the hash covers values, not whether a time is a time)."""
    if not isinstance(event, CASE_EVENTS):
        return f"is a {type(event).__qualname__}, not an event of a case"
    attributes = vars(event)
    missing = [name for name in _attribute_types(type(event)) if name not in attributes]
    if missing:
        return f"has no {', '.join(missing)}"
    wrong = [name for name, kind in _attribute_types(type(event)).items()
             if not isinstance(attributes[name], kind)]
    if wrong:
        return f"has {', '.join(wrong)} of the wrong type"
    for name, value in attributes.items():
        if _plainly_fine(value):
            continue
        problem = _never_recorded(value)
        if problem is not None:
            path, what = problem
            return f"has {what} in {'/'.join([name, *reversed(path)])}"
    return _wrong_changes(attributes["changes"])


_SCALARS = frozenset({int, float, bool, type(None)})


def _plainly_fine(value: Any) -> bool:
    """A value ``_never_recorded`` finds nothing in, told without a call per value: a number,
    a boolean, None, text without a control character. (Exact types: anything else, a str
    subclass included, is looked at by ``_never_recorded`` itself.)"""
    kind = type(value)
    return kind in _SCALARS or (kind is str and forbidden_character(value, free_text=True) is None)


def _never_recorded(value: Any) -> tuple[list[str], str] | None:
    """What the engine never records, anywhere in a value: a time outside parse_time's range
    (the deadline arithmetic and the read models could not handle it), or text with control
    characters. Returns the path to it (innermost first) and what it is."""
    if isinstance(value, str):
        if forbidden_character(value, free_text=True) is None:
            return None
        return [], "a control or invalid character"
    if isinstance(value, datetime):
        try:
            within = EARLIEST <= value < LATEST
        except (OverflowError, TypeError):  # far out, or without an offset
            within = False
        return None if within else ([], f"{value.isoformat()}, out of range,")
    if isinstance(value, dict | list | tuple):
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
            if _plainly_fine(item):
                continue
            problem = _never_recorded(item)
            if problem is not None:
                problem[0].append(str(key))
                return problem
    return None


_CHANGE_TYPES = {"unit": str, "grade": str, "deadline": datetime, "escalations": int,
                 "reopens": int, "volunteers": list, "tasks": list, "jobs": list}


def _wrong_changes(changes: dict[str, Any]) -> str | None:
    """A change the engine could not have recorded: the case would not replay."""
    for name, kind in _CHANGE_TYPES.items():
        value = changes.get(name)
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool) or (
                kind is list and not all(isinstance(item, str) for item in value)):
            return f"changes {name} to a value of the wrong type"
    return None


@cache
def _attribute_types(event_class: type) -> dict[str, Any]:
    hints = typing.get_type_hints(event_class)
    kinds: dict[str, Any] = {}
    for attribute in dataclasses.fields(event_class):
        hint = hints[attribute.name]
        kind = typing.get_origin(hint) or hint
        if kind is types.UnionType:  # X | None: one of X's, or None
            kind = tuple(typing.get_origin(a) or a for a in typing.get_args(hint))
        kinds[attribute.name] = kind if isinstance(kind, type | tuple) else object
    return kinds


# Reading the store ---------------------------------------------------------------------

class CaseCheck(Protocol):
    """A further check over the audited histories (the read models plug in here)."""

    def ready(self, report: AuditReport) -> bool:
        """Prepare; False (with a finding in ``report``) when it cannot check this time."""

    def check_cases(self, histories: dict[UUID, list[Any]]) -> list[Finding]:
        """Findings for a chunk of cases, given their decoded histories."""

    def finish(self, cases_seen: int, complete: bool) -> list[Finding]:
        """Findings left at the end (``complete``: every case was audited)."""


def audit(app: Casework, case_ids: Iterable[UUID | str] | None = None, kind: str | None = None,
          also: Sequence[CaseCheck] = ()) -> AuditReport:
    """Replay the selected cases (all when ``case_ids`` is None) and report what is wrong.

    Each case is checked against the workflow version it ran under and its hash chain; the
    checks in ``also`` (such as projections.audit.ReadModelCheck) see the same histories.
    """
    report = AuditReport()
    everything = case_ids is None and kind is None
    if case_ids is None:
        selected: Iterable[UUID] = all_case_ids(app)
    else:
        selected = list(dict.fromkeys(app.parse_case_id(case_id) for case_id in case_ids))
        for case_id in selected:
            if not app.recorder.select_events(case_id, limit=1):
                raise UnknownCase(case_id)
    checks = [check for check in also if check.ready(report)]
    for chunk in chunked(selected, CHUNK):
        histories: dict[UUID, list[Any]] = {}
        for case_id in chunk:
            events = stored_history(app, case_id)
            if not events:
                continue  # deleted since the scan went by
            if kind is not None and getattr(events[0], "kind", kind) != kind:
                continue  # a case whose kind cannot be read is audited whatever the filter
            report.cases += 1
            report.events += len(events)
            report.findings += check_history(str(case_id), events, app.workflows)
            histories[case_id] = events
        for check in checks:
            report.findings += check.check_cases(histories)
    for check in checks:
        report.findings += check.finish(report.cases, everything)
    return report


def stored_history(app: Casework, case_id: UUID) -> list[Any]:
    """A case's stored events in version order, each decoded or ``Undecodable``."""
    history: list[Any] = []
    for stored in app.recorder.select_events(case_id):
        try:
            history.append(app.mapper.to_domain_event(stored))
        except Exception as error:  # a corrupt row is a finding, never a crash
            history.append(Undecodable(stored.originator_version, reason(error)))
    return history


def audit_digest(app: Casework) -> str:
    """The digest (casework.digest) of every case in the store.

    Keep it somewhere else; a later digest that differs means the store changed, even where
    every chain was recomputed to hide it. Reads the cases in the order of their ids, so that
    memory stays flat.
    """
    digest = Digest()
    for case_id in case_ids_in_order(app):
        digest.add(case_id, _head(app, case_id))
    return digest.hexdigest()


def _head(app: Casework, case_id: UUID) -> str:
    (last,) = app.recorder.select_events(case_id, desc=True, limit=1)
    try:
        return str(app.mapper.to_domain_event(last).hash)
    except Exception:  # an unreadable head still commits to exactly what is stored
        return "undecodable:" + hashlib.sha256(last.state).hexdigest()


def reason(error: Exception) -> str:
    cause = error.__cause__ or error
    return f"{type(cause).__name__}: {cause}".replace("\n", " ")
