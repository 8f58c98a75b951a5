"""A candidate policy, applied to recorded histories: what a policy decides, decided again.

What people did (their commands and the times they gave) is replayed as recorded. What the
policy decided from them is recomputed under the candidate: the deadlines that the ``grade``,
``escalate`` and ``reopen`` effects set from a grade's limit to resolve, and the contact
deadline that accepting a case set from its contact limit, counted from the recorded command
time on the candidate's calendar (a calendar file, or the office's); the end of a pause moves
the candidate's deadline by the paused time counted on that calendar. The three rates'
settings (f, the weights, the first day of the month) are the candidate's too.
An explicit deadline a person typed (the ``deadline`` effect's field) stays as recorded.
Where the candidate would have refused a recorded command (a trigger not legal from the
recorded state, a role it no longer admits, a grade it does not know) the command is named,
never changed: the history is what happened.

Nothing here writes anything: a candidate makes new events *in memory* for a scratch read
model (``projections.whatif``), and the store never sees them.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .assessment import AssessmentRules, assessment_rules
from .calendar_files import office_calendar
from .calendars import Calendar
from .case import Case
from .compiler import load_workflow
from .errors import InvalidField, SettingsError
from .jobs.sweep import ESCALATE
from .limits import ELAPSED_HOURS, UNITS, Limit
from .limits import parse_limit as parse_workflow_limit
from .registry import WorkflowRegistry
from .timestamps import as_utc, naive_utc
from .workflow import Trigger, Workflow

RESOLVE, CONTACT = "resolve", "contact"
"""The clocks a grade's limits are for: the time to resolve a case, and to reach the
petitioner once the unit accepted it (``casework.clocks``)."""
CLOCKS = (RESOLVE, CONTACT)
ASSESSMENT = "assessment"
"""The table of a settings file that holds the three rates' settings (``casework.toml``)."""
POLICY_EFFECTS = frozenset({"grade", "escalate", "reopen"})
"""Effects whose deadline is the policy's decision (a grade's limit), not a person's. The end
of a pause moves the candidate's deadline by the paused time, as it moved the recorded one."""

_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|d|m|wd|wh)?\s*$")
_ELAPSED = {"h": Decimal(1), "d": Decimal(24), "m": Decimal(1) / Decimal(60), None: Decimal(1)}


def parse_limit(text: str) -> Limit:
    """A limit: ``72h``, ``3d``, ``90m`` or a bare number of hours (elapsed), or as the
    workflows write them on the office calendar, ``16wh`` working hours, ``7wd`` working
    days (``casework.limits``)."""
    match = _LIMIT.match(text)
    if match is None:
        raise InvalidField("--grade", f"{text!r} is not a limit (say 72h, 3d, 90m, 16wh or "
                                      "7wd)")
    number, unit = Decimal(match.group(1)), match.group(2)
    if number <= 0:
        raise InvalidField("--grade", f"{text!r} is not a positive limit")
    try:
        if unit in UNITS and unit != ELAPSED_HOURS:
            return parse_workflow_limit(text.strip())
        return Limit(number * _ELAPSED[unit], ELAPSED_HOURS)
    except ValueError as error:
        raise InvalidField("--grade", str(error)) from None


@dataclass(frozen=True)
class GradeOverride:
    """``[KIND.]GRADE.CLOCK=LIMIT``: grade GRADE of kind KIND (every kind with that grade,
    when none is named) gets LIMIT on clock CLOCK."""

    grade: str
    limit: Limit
    kind: str | None = None
    clock: str = RESOLVE

    @classmethod
    def parse(cls, text: str) -> GradeOverride:
        target, equals, limit = text.partition("=")
        parts = target.strip().split(".")
        if not equals or len(parts) not in (2, 3) or not all(parts):
            raise InvalidField("--grade", f"{text!r} is not [KIND.]GRADE.CLOCK=LIMIT "
                                          "(e.g. B.resolve=48h, B.contact=12h)")
        kind = parts[0] if len(parts) == 3 else None
        grade, clock = parts[-2], parts[-1]
        if clock not in CLOCKS:
            raise InvalidField("--grade", f"{text!r}: unknown clock {clock!r} (known: "
                                          f"{', '.join(CLOCKS)})")
        return cls(grade, parse_limit(limit), kind, clock)

    def applies_to(self, workflow: Workflow) -> bool:
        return self.kind in (None, workflow.name) and self.grade in workflow.grades


@dataclass(frozen=True)
class IllegalCommand:
    """A recorded command the candidate would have refused."""

    case_id: str
    version: int
    trigger: str
    at: datetime
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "event": self.version, "trigger": self.trigger,
                "at": self.at.isoformat(), "reason": self.reason}


@dataclass
class Policy:
    """The policy in force (each case's recorded workflow version) or a candidate: workflow
    files that replace a kind's definition, grade limits overridden on top, a calendar file
    the limits in working time count on, and the three rates' settings."""

    workflows: WorkflowRegistry
    replacements: dict[str, Workflow] = field(default_factory=dict)
    """Kind → the candidate definition its cases are judged by, whatever their version."""
    overrides: tuple[GradeOverride, ...] = ()
    calendar: Calendar | None = None
    """The office calendar limits in working time count on (the shipped office's when
    none is given; ``what_if`` gives the application's)."""
    own_calendar: bool = False
    """Whether ``calendar`` is the candidate's own (a calendar file), not the office's: then
    every deadline and pause counted in working time is counted again on it."""
    assessment: AssessmentRules | None = None
    """The three rates' settings of the candidate; None: those in force."""
    _limits: dict[tuple[str, str, int], dict[str, Limit]] = field(
        default_factory=dict, repr=False, compare=False)

    @classmethod
    def candidate(cls, workflows: WorkflowRegistry, files: tuple[str, ...] = (),
                  overrides: tuple[str, ...] = (), calendar: Calendar | None = None,
                  assessment: AssessmentRules | None = None) -> Policy:
        """The candidate of ``casework whatif``: workflow files (not installed), ``--grade``
        overrides (an override no workflow has a grade for is a mistake), a calendar
        (``calendar_files.load_calendar`` of a calendar file, in the office's time zone:
        the zone is not the policy's to change) and the three rates' settings
        (``read_assessment`` of a settings file)."""
        replacements = {}
        for path in files:
            workflow = load_workflow(path)
            workflows.get(workflow.name)  # a kind the store knows, else UnknownWorkflow
            replacements[workflow.name] = workflow
        policy = cls(workflows, replacements, tuple(GradeOverride.parse(o) for o in overrides),
                     calendar, calendar is not None, assessment)
        for override in policy.overrides:
            if not any(override.applies_to(policy.workflow(w.name, w.version))
                       for w in workflows):
                raise InvalidField("--grade", f"no workflow has grade {override.grade!r}"
                                   + (f" (kind {override.kind})" if override.kind else ""))
        return policy

    def counting_calendar(self) -> Calendar:
        """The calendar limits count on: the one given, else the shipped office's (read
        once, not at each event)."""
        if self.calendar is None:
            self.calendar = office_calendar()
        return self.calendar

    @property
    def in_force(self) -> bool:
        """Whether it decides every deadline as the policy in force did (its three rates'
        settings aside: they decide no deadline)."""
        return not self.replacements and not self.overrides and not self.own_calendar

    @property
    def contact_changes(self) -> bool:
        """Whether it may give a contact deadline other than the recorded one."""
        return bool(self.replacements or self.own_calendar
                    or any(o.clock == CONTACT for o in self.overrides))

    def workflow(self, kind: str, version: int) -> Workflow:
        """The definition a case of ``kind`` v``version`` is judged by under this policy."""
        return self.replacements.get(kind) or self.workflows.get(kind, version)

    def grade_limits(self, kind: str, version: int, clock: str = RESOLVE) -> dict[str, Limit]:
        """Grade → limit on ``clock`` (to resolve, or to contact: a grade without a contact
        limit has none), under this policy (worked out once per version)."""
        limits = self._limits.get((clock, kind, version))
        if limits is None:
            workflow = self.workflow(kind, version)
            limits = {name: limit for name, grade in workflow.grades.items()
                      if (limit := grade.resolve if clock == RESOLVE else grade.contact)}
            for override in self.overrides:
                if override.clock == clock and override.applies_to(workflow):
                    limits[override.grade] = override.limit
            self._limits[(clock, kind, version)] = limits
        return limits

    def escalating_states(self, kind: str, version: int) -> frozenset[str]:
        """The states from which the nightly sweep escalates an overdue case."""
        workflow = self.workflow(kind, version)
        if not workflow.grades:  # the sweep's rule (casework.jobs.sweep): graded kinds only
            return frozenset()
        return frozenset(s for (s, t) in workflow.transitions if t == ESCALATE)


def read_assessment(path: str | Path) -> AssessmentRules:
    """The three rates' settings of a settings file (``casework.toml``'s format: its
    ``[assessment]`` table; what it leaves out keeps the default)."""
    try:
        with Path(path).open("rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise SettingsError(f"{path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not TOML ({error})") from None
    table = data.get(ASSESSMENT)
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: no [{ASSESSMENT}] table (basic_weight, weights, "
                            "month_starts_on, excluded_categories)")
    return assessment_rules(table, str(path))


def candidate_deadline(limits: Mapping[str, Limit], grade: str | None,
                       at: datetime, calendar: Calendar) -> datetime | None:
    """The deadline a grade's limit gives a command made at ``at``, counted on ``calendar``
    as a command counts it (``Calendar.deadline``); None without a limit."""
    limit = limits.get(grade or "")
    if limit is None:
        return None
    try:
        return calendar.deadline(as_utc(at), limit)
    except ValueError:  # past the last time a deadline may be: none, as a command refuses
        return None


def under_policy(event: Any, policy: Policy, kind: str, version: int,
                 grade: str | None, diverged: Mapping[str, Any] | None = None,
                 before: Mapping[str, Any] | None = None) -> Any:
    """``event`` as the candidate would have recorded it: the same command, with the
    deadlines its policy decides (``grade`` is the case's grade before the event;
    ``diverged``, the candidate's read-model row of the case when it differs from the
    recorded one; ``before``, the candidate's row whether or not it differs, which a
    candidate with a calendar of its own needs to count a pause again)."""
    if policy.in_force:
        return event
    changes: dict[str, Any] = {}
    if "deadline" in event.changes or "paused_seconds" in event.changes:
        changes.update(_resolve_clock(event, policy, kind, version, grade,
                                      before if policy.own_calendar else diverged))
    if event.changes.get("contact_deadline") is not None and policy.contact_changes:
        changes.update(_contact_clock(event, policy, kind, version, grade))
    if not changes:
        return event  # the same event: the caller folds it once (the case does not diverge)
    return dataclasses.replace(event, changes={**event.changes, **changes})


def _resolve_clock(event: Any, policy: Policy, kind: str, version: int, grade: str | None,
                   row: Mapping[str, Any] | None) -> dict[str, Any]:
    """The candidate's resolution deadline, where the event set or moved one (nothing when
    it is the recorded one)."""
    recorded = policy.workflows.get(kind, version)
    trigger = _trigger(recorded, event.trigger)
    if trigger is None or not POLICY_EFFECTS & _effects(trigger) \
            or "deadline" not in event.changes:
        return _resumed(event, policy, row) if "paused_seconds" in event.changes else {}
    explicit = trigger.field_of_type("datetime")
    if "deadline" in _effects(trigger) and explicit and event.fields.get(explicit) is not None:
        return {}  # a person chose this deadline
    limits = policy.grade_limits(kind, version)
    graded = event.changes.get("grade", grade)
    deadline = candidate_deadline(limits, graded, event.at, policy.counting_calendar())
    if deadline is None or _same_moment(deadline, event.changes["deadline"]):
        return {}
    return {"deadline": deadline, "resolve_limit": str(limits[graded or ""])}


def _contact_clock(event: Any, policy: Policy, kind: str, version: int, grade: str | None
                   ) -> dict[str, Any]:
    """The candidate's contact deadline, from the recorded start of the contact clock and
    the grade's contact limit under the candidate; no clock where it has no contact limit
    for the grade (nothing when it is the recorded deadline)."""
    limits = policy.grade_limits(kind, version, CONTACT)
    start = event.changes.get("contact_from") or event.at
    if (grade or "") not in limits:
        return {"contact_deadline": None, "contact_limit": None, "contact_from": None}
    deadline = candidate_deadline(limits, grade, start, policy.counting_calendar())
    if deadline is None or _same_moment(deadline, event.changes["contact_deadline"]):
        return {}
    return {"contact_deadline": deadline, "contact_limit": str(limits[grade or ""])}


def _resumed(event: Any, policy: Policy, row: Mapping[str, Any] | None) -> dict[str, Any]:
    """A pause that ends moves the candidate's own deadline by the paused time, as it moved
    the recorded one (``casework.clocks.pause_changes``), counted on the candidate's
    calendar."""
    if not row or row.get("deadline") is None or row.get("paused_since") is None:
        return {}
    calendar = policy.counting_calendar()
    text = row.get("resolve_limit")
    limit = None if text is None else parse_workflow_limit(text)
    paused = calendar.paused_for(row["paused_since"].replace(tzinfo=UTC),
                                 as_utc(event.at), limit)
    deadline = row["deadline"].replace(tzinfo=UTC)
    try:  # a pause of no time moves nothing, as a command does (not to the next working time)
        moved = calendar.moved(deadline, paused, limit) if paused else deadline
    except ValueError:
        return {}
    if _same_moment(moved, event.changes.get("deadline", deadline)):
        return {}
    return {"deadline": moved}


def refused_by(event: Any, policy: Policy, kind: str, version: int, state: str | None
               ) -> IllegalCommand | None:
    """Why the candidate would have refused the recorded command ``event`` (made from
    ``state``), or None when it would have allowed it."""
    if not policy.replacements or isinstance(event, Case.Migrated):
        return None  # limits alone refuse nothing: an override never removes a grade
    workflow = policy.workflow(kind, version)
    reason = None
    if isinstance(event, Case.Opened):
        trigger: Trigger | None = workflow.opening
    else:
        trigger = workflow.transitions.get((state or "", event.trigger))
        if trigger is None:
            reason = f"{event.trigger} is not legal from {state} under the candidate"
    if trigger is not None and trigger.roles and event.role not in trigger.roles:
        reason = f"role {event.role} may not {event.trigger} under the candidate"
    grade = event.changes.get("grade")
    if reason is None and grade and grade not in workflow.grades:
        reason = f"the candidate has no grade {grade}"
    if reason is None:
        return None
    return IllegalCommand(str(event.originator_id), event.originator_version, event.trigger,
                          naive_utc(event.at), reason)  # type: ignore[arg-type]


def _same_moment(candidate: datetime, recorded: Any) -> bool:
    """Whether the candidate's deadline is the recorded one, written alike (same offset)."""
    return (isinstance(recorded, datetime) and candidate == recorded
            and candidate.utcoffset() == recorded.utcoffset())


def _trigger(workflow: Workflow, name: str) -> Trigger | None:
    return workflow.opening if name == workflow.opening.name else workflow.triggers.get(name)


def _effects(trigger: Trigger) -> set[str]:
    """The trigger's effects and those of its branches (whichever the command took)."""
    return {*trigger.effects, *(e for branch in trigger.branches for e in branch.effects)}
