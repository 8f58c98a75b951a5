"""A realistic month in a Guanlan-shaped subdistrict, for the demo and for benchmarks.

Petitions, enterprise requests and volunteer tasks arrive through the channels of the
seeds and go through their workflows as the articles describe: graded, dispatched, some
escalated, disputes mediated on successive tracks, volunteer tasks spawned, revisits that
reopen unsatisfied cases. Everything is drawn from one seeded random generator, so the same
seed gives the same cases, and commands go through the engine like any other caller's.

The same simulation runs for longer and over several subdistricts (``casework.city``): the
arrivals are drawn a day at a time and only a bounded number of case ids are kept, so its
memory stays flat however many cases it makes.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from .actor import SYSTEM, Actor
from .application import Casework
from .batch import Batch
from .errors import CaseworkError
from .questionnaire import satisfaction_level, sends_back

SHENZHEN = timezone(timedelta(hours=8), "CST")
MONTH_START = datetime(2024, 5, 1, 8, 0, tzinfo=SHENZHEN)
MONTH = timedelta(days=31)

PETITION_CHANNELS = {"hotline": 30, "mini_program": 25, "door_to_door": 15,
                     "service_station": 10, "sensor": 10, "walk_in": 6, "community_council": 4}
PETITION_CATEGORIES = {"road_facilities": 14, "sanitation": 14, "noise": 10, "housing": 9,
                       "neighbour_dispute": 12, "parking": 9, "falling_objects": 5,
                       "elderly_care": 8, "traffic_safety": 7, "drainage": 7, "rental": 5}
SENSOR_CATEGORIES = ["falling_objects", "parking", "elderly_care", "drainage"]
GRADES = {"A": 5, "B": 20, "C": 45, "D": 30}
SERVICE_CATEGORIES = {"policy": 20, "space": 12, "investment_financing": 12, "finance_tax": 12,
                      "legal": 10, "talent": 10, "intellectual_property": 6, "brand": 5,
                      "party_building": 5, "professional_title": 4, "psychological": 2,
                      "medical_emergency": 2}
SATISFACTION = {5: 52, 4: 28, 3: 10, 2: 6, 1: 4}

CLERK = Actor("intake-desk", roles=["intake", "assessor", "dispatcher"])
MEDIATOR = Actor("mediation-centre", roles=["mediator"])
VISITOR = Actor("revisit-team", roles=["visitor"])
ORGANISER = Actor("volunteer-office", roles=["organiser"])
SENSORS = Actor("sensing-platform", roles=["sensor"])
KEPT_IDS = 10_000
"""Petition ids kept: the first ones (for the demo to show one), and the latest (which a
duplicate is merged into)."""


@dataclass
class SimulationResult:
    opened: dict[str, int] = field(default_factory=dict)
    commands: int = 0
    refused: int = 0
    """Commands the engine refused: the simulation never means to send one."""
    ends_at: datetime = MONTH_START + MONTH


class Simulation:
    def __init__(self, app: Casework, seed: int = 2024, petitions: int = 3000,
                 enterprise_requests: int = 650, volunteer_tasks: int = 300,
                 progress: Callable[[int], None] | None = None, *,
                 start: datetime = MONTH_START, days: int = MONTH.days) -> None:
        self.app = app
        self.random = random.Random(seed)
        self.planned = {"petition": petitions, "enterprise_request": enterprise_requests,
                        "volunteer_task": volunteer_tasks}
        self.progress = progress
        self.start, self.days = start, days
        self.result = SimulationResult(ends_at=start + timedelta(days=days))
        org = app.organisation
        self.building_grids = org.units_at("building_grid")
        # The organisation may hold other trees (New York's 311 agencies): a petition from a
        # Guanlan building never goes to one of their departments, nor to another
        # subdistrict's.
        subdistricts = {org.ancestor_at(grid, "subdistrict") for grid in self.building_grids}
        self.departments_of: dict[str, list[str]] = {unit: [] for unit in subdistricts}
        for unit in org.units_at("department"):
            if org.parent(unit) in subdistricts:
                self.departments_of[org.parent(unit)].append(unit)  # type: ignore[index]
        self.volunteers = [Actor(f"volunteer-{n:03d}", roles=["volunteer"]) for n in range(1, 241)]
        self.petition_ids: list[UUID] = []
        """The first KEPT_IDS petitions."""
        self.recent_petitions: deque[UUID] = deque(maxlen=KEPT_IDS)

    @property
    def end(self) -> datetime:
        return self.result.ends_at

    def run(self) -> SimulationResult:
        batch = self.app.batch(size=500)
        for at, kind in self._arrivals():
            {"petition": self._petition, "enterprise_request": self._enterprise_request,
             "volunteer_task": self._volunteer_task}[kind](batch, at)
            self.result.opened[kind] = self.result.opened.get(kind, 0) + 1
            if self.progress:
                self.progress(1)
        batch.commit()
        return self.result

    # Drawing --------------------------------------------------------------------------

    def _arrivals(self) -> Iterator[tuple[datetime, str]]:
        """Every planned case's arrival, in time order, drawn a day at a time: the planned
        cases spread evenly over the days, each at a time of day of its own."""
        for day in range(self.days):
            today = [(self._arrival(day), kind) for kind, count in self.planned.items()
                     for _ in range(count * (day + 1) // self.days - count * day // self.days)]
            today.sort()
            yield from today

    def _arrival(self, day: int) -> datetime:
        minute = int(self.random.triangular(0, 14 * 60, 3 * 60))  # busy mornings
        return self.start + timedelta(days=day, minutes=minute)

    def _departments(self, location: str) -> list[str]:
        """The functional departments of the subdistrict of ``location``."""
        subdistrict = self.app.organisation.ancestor_at(location, "subdistrict")
        return self.departments_of.get(subdistrict or "", [])

    def _pick(self, weights: dict) -> object:
        return self.random.choices(list(weights), weights=list(weights.values()))[0]

    def _hours(self, low: float, high: float) -> timedelta:
        return timedelta(hours=self.random.uniform(low, high))

    def _chance(self, percent: float) -> bool:
        return self.random.random() * 100 < percent

    def _fire(self, batch: Batch, case_id: UUID, trigger: str, actor: Actor, at: datetime,
              **fields: object) -> bool:
        """Fire if ``at`` is still within the month; False once the story runs past it."""
        if at > self.end:
            return False
        try:
            batch.fire(case_id, trigger, actor, at, **fields)
        except CaseworkError:
            self.result.refused += 1
            return False
        self.result.commands += 1
        return True

    # Petitions -------------------------------------------------------------------------

    def _petition(self, batch: Batch, at: datetime) -> None:
        channel = self._pick(PETITION_CHANNELS)
        category = (self.random.choice(SENSOR_CATEGORIES) if channel == "sensor"
                    else self._pick(PETITION_CATEGORIES))
        location = self.random.choice(self.building_grids)
        opener = SENSORS if channel == "sensor" else CLERK
        case_id = batch.open_case(
            "petition", opener, at, channel=channel, title=f"{category} at {location}",
            petitioner=None if channel == "sensor" else f"resident-{self.random.randrange(10**5)}",
            location=location,
        )
        self.result.commands += 1
        if len(self.petition_ids) < KEPT_IDS:
            self.petition_ids.append(case_id)
        at += self._hours(0.1, 3)
        if self._chance(3):
            self._fire(batch, case_id, "reject", CLERK, at, reason="not a petition")
            self.recent_petitions.append(case_id)
            return
        if self._chance(2) and self.recent_petitions:
            self._fire(batch, case_id, "merge", CLERK, at,
                       duplicate_of=str(self.random.choice(self.recent_petitions)))
            return
        self.recent_petitions.append(case_id)
        grade = str(self._pick(GRADES))
        if not self._fire(batch, case_id, "assess", CLERK, at, grade=grade, category=category,
                          dispute=category == "neighbour_dispute"):
            return
        hours_allowed = self.app.workflows.get("petition").grades[grade].deadline_hours
        at += self._hours(0.05, 0.5)
        unit = self._dispatch_unit(location, grade)
        if not self._fire(batch, case_id, "dispatch", CLERK, at, unit=unit):
            return
        handler = Actor(f"handler@{unit}", roles=["handler"], unit=unit)
        at += self._hours(0.05, min(2, hours_allowed / 4))
        if not self._fire(batch, case_id, "accept", handler, at):
            return
        at = self._contact(batch, case_id, handler, at)
        if self._chance(4):
            at += self._hours(0.1, hours_allowed / 2)
            if not self._fire(batch, case_id, "escalate", handler, at,
                              reason="needs a higher level"):
                return
            parent = self.app.organisation.parent(unit) or unit
            handler = Actor(f"handler@{parent}", roles=["handler"], unit=parent)
            at += self._hours(0.05, 1)
            if not self._fire(batch, case_id, "accept", handler, at):
                return
        at = self._follow_up(batch, case_id, handler, at, hours_allowed, category)
        if at is None:
            return
        self._close_and_revisit(batch, case_id, handler, at, hours_allowed)

    def _contact(self, batch: Batch, case_id: UUID, handler: Actor, at: datetime) -> datetime:
        """The unit calls the petitioner (a workflow with a contact clock): mostly within
        hours, sometimes after a failed call, now and then late. Returns when it was done."""
        case = batch.load(case_id)
        workflow = self.app.workflow_of(case)
        grade = workflow.grades.get(case.grade or "")
        if "contact" not in workflow.triggers or grade is None or grade.contact is None:
            return at
        allowed = grade.contact.nominal_hours
        if self._chance(20):
            at += self._hours(0.05, allowed / 4)
            self._fire(batch, case_id, "contact", handler, at, method="phone",
                       outcome="not_reached")
        at += (self._hours(allowed, allowed * 1.6) if self._chance(8)
               else self._hours(0.05, allowed * 0.6))
        method = str(self._pick({"phone": 70, "visit": 20, "message": 10}))
        self._fire(batch, case_id, "contact", handler, at, method=method, outcome="reached")
        return at

    def _dispatch_unit(self, location: str, grade: str) -> str:
        org = self.app.organisation
        if grade in ("A", "B"):
            if self._chance(10) and self._departments(location):
                return self.random.choice(self._departments(location))
            return org.ancestor_at(location, "community") or location
        if grade == "C":
            return org.ancestor_at(location, "block") or location
        return org.ancestor_at(location, "grid") or location

    def _follow_up(self, batch: Batch, case_id: UUID, handler: Actor, at: datetime,
                   hours_allowed: float, category: str) -> datetime | None:
        """Notes, mediation and volunteer tasks, then the resolution; None if the month ends
        first."""
        late = self._chance(14)
        work = self._hours(hours_allowed * 0.1, hours_allowed * (1.6 if late else 0.9))
        waits = "request_material" in self.app.workflow_of(batch.load(case_id)).triggers
        if waits and self._chance(10):  # the resolution clock stands still meanwhile
            at += self._hours(0.5, 4)
            self._fire(batch, case_id, "request_material", handler, at,
                       material="a copy of the lease")
            at += self._hours(4, 72)
            if not self._fire(batch, case_id, "material_received", handler, at):
                return None
        if self._chance(30):
            self._fire(batch, case_id, "note", handler, at + work / 3, note="visited the site")
        if category == "neighbour_dispute":
            return self._mediate(batch, case_id, handler, at + work / 2, work)
        if self._chance(5):
            spawned_at = at + work / 2
            if not self._fire(batch, case_id, "spawn_task", handler, spawned_at,
                              title="help the petitioner", volunteers_needed=1 + self._chance(40),
                              claim_by=(spawned_at + timedelta(days=2)).isoformat()):
                return None
            task_id = UUID(batch.load(case_id).tasks[-1])
            self._run_task(batch, task_id, spawned_at, finish=True)
            task = batch.load(task_id)
            if task.state != "verified":  # the month ended first; the petition waits for it
                return None
            work = max(work, task.updated_at - at + self._hours(0.1, 2))
        at += work
        if self._fire(batch, case_id, "resolve", handler, at, resolution="done"):
            return at
        return None

    def _mediate(self, batch: Batch, case_id: UUID, handler: Actor, at: datetime,
                 work: timedelta) -> datetime | None:
        for track, fails in (("people", 30), ("administrative", 35), ("judicial", 0)):
            if not self._fire(batch, case_id, "mediate", handler, at, track=track):
                return None
            at += work / 2
            if not self._chance(fails):
                ok = self._fire(batch, case_id, "mediation_succeeded", MEDIATOR, at,
                                agreement=f"agreed on the {track} track")
                return at if ok else None
            if not self._fire(batch, case_id, "mediation_failed", MEDIATOR, at,
                              note="no agreement"):
                return None
            at += self._hours(1, 24)
        return None

    def _close_and_revisit(self, batch: Batch, case_id: UUID, handler: Actor, at: datetime,
                           hours_allowed: float) -> None:
        settings = self.app.workflows.get("petition").settings
        for _round in range(2):
            if self._chance(70):
                at += self._hours(1, 24)
                closed = self._fire(batch, case_id, "close", CLERK, at, confirmed_by="petitioner")
            else:
                at += timedelta(days=settings["close_after_days_without_objection"])
                closed = self._fire(batch, case_id, "close", SYSTEM, at, confirmed_by="default")
            if not closed or not self._chance(60):
                return
            at += timedelta(days=settings["revisit_after_days"]) + self._hours(0, 48)
            answers = self._questionnaire(settings)
            if not answers["valid"]:  # nobody answered: the team calls again a day later
                if not self._fire(batch, case_id, "revisit", VISITOR, at, **answers):
                    return
                at += self._hours(20, 28)
                answers = self._questionnaire(settings)
            if not self._fire(batch, case_id, "revisit", VISITOR, at, **answers):
                return
            if not sends_back(answers, settings):
                return
            at += self._hours(2, hours_allowed)  # reopened: resolve again
            if not self._fire(batch, case_id, "resolve", handler, at, resolution="done again"):
                return

    # Enterprise requests ---------------------------------------------------------------

    def _enterprise_request(self, batch: Batch, at: datetime) -> None:
        channel = "enterprise_visit" if self._chance(70) else self.random.choice(
            ["hotline", "online", "service_station"])
        category = str(self._pick(SERVICE_CATEGORIES))
        location = self.random.choice(self.building_grids)
        case_id = batch.open_case(
            "enterprise_request", CLERK, at, channel=channel,
            enterprise=f"enterprise-{self.random.randrange(1, 400):03d}",
            title=f"{category} request", location=location,
        )
        self.result.commands += 1
        grade = str(self._pick({"A": 3, "B": 25, "C": 62, "D": 10}))
        at += self._hours(0.5, 24)
        if not self._fire(batch, case_id, "assess", CLERK, at, category=category, grade=grade):
            return
        departments = self._departments(location)
        service = next((d for d in departments if d.endswith("/enterprise-service")), None)
        department = (service if service and self._chance(40)
                      else self.random.choice(departments))
        commissioner = Actor(f"commissioner-{self.random.randrange(1, 40):02d}",
                             roles=["commissioner"])
        at += self._hours(0.5, 12)
        if not self._fire(batch, case_id, "assign", CLERK, at,
                          leader=f"leader-{self.random.randrange(1, 12):02d}",
                          department=department, commissioner=commissioner.id):
            return
        at += self._hours(0.5, 12)
        if not self._fire(batch, case_id, "accept", commissioner, at):
            return
        at = self._contact(batch, case_id, commissioner, at)
        hours_allowed = self.app.workflows.get("enterprise_request").grades[grade].deadline_hours
        if self._chance(3):  # Pinghu: 9 of 326 still in progress
            self._fire(batch, case_id, "note", commissioner, at + self._hours(1, 48),
                       note="waiting for the district")
            return
        at += self._hours(hours_allowed * 0.1, hours_allowed * (1.3 if self._chance(10) else 0.9))
        if not self._fire(batch, case_id, "resolve", commissioner, at, resolution="served"):
            return
        at += self._hours(2, 72)
        if not self._fire(batch, case_id, "close", commissioner, at, confirmed_by="enterprise"):
            return
        if self._chance(50):
            at += timedelta(days=7) + self._hours(0, 48)
            settings = self.app.workflows.get("enterprise_request").settings
            self._fire(batch, case_id, "revisit", VISITOR, at, **self._questionnaire(settings))

    def _questionnaire(self, settings: dict[str, Any]) -> dict[str, Any]:
        """A revisit's answers (回访): most petitioners answer; those who rate 1 or 2 mostly
        say the problem is not solved; the level follows the score by ``score_levels``."""
        if not self._chance(93):
            return {"valid": False}
        score = int(self._pick(SATISFACTION))  # type: ignore[call-overload]
        return {"valid": True, "contacted": self._chance(97),
                "solved": self._chance(97 if score > 2 else 30), "satisfaction": score,
                "rating": satisfaction_level({"satisfaction": score}, settings)}

    # Volunteer tasks -------------------------------------------------------------------

    def _volunteer_task(self, batch: Batch, at: datetime) -> None:
        community = self.app.organisation.ancestor_at(
            self.random.choice(self.building_grids), "community")
        case_id = batch.open_case(
            "volunteer_task", ORGANISER, at, title="collect rental listings",
            volunteers_needed=self.random.choice([1, 1, 2, 3]),
            claim_by=(at + timedelta(days=3)).isoformat(), location=community,
            channel="mini_program",
        )
        self.result.commands += 1
        self._run_task(batch, case_id, at, finish=False)

    def _run_task(self, batch: Batch, task_id: UUID, at: datetime, finish: bool) -> None:
        """Volunteers claim the task until it is staffed, then do it; unless it expires."""
        task = batch.load(task_id)
        needed = int(task.fields.get("volunteers_needed", 1))
        if not finish and self._chance(8):
            self._fire(batch, task_id, "expire", SYSTEM, at + timedelta(days=3, hours=1))
            return
        if not finish and self._chance(4):
            self._fire(batch, task_id, "cancel", ORGANISER, at + self._hours(1, 24),
                       reason="no longer needed")
            return
        crew = self.random.sample(self.volunteers, needed)
        for volunteer in crew:
            at += self._hours(0.2, 12)
            if not self._fire(batch, task_id, "claim", volunteer, at):
                return
        at += self._hours(1, 24)
        if not self._fire(batch, task_id, "start", crew[0], at):
            return
        at += self._hours(2, 48)
        if not self._fire(batch, task_id, "complete", crew[0], at, report="done"):
            return
        at += self._hours(1, 24)
        if not self._fire(batch, task_id, "verify", ORGANISER, at):
            return
        if self._chance(60):
            self._fire(batch, task_id, "feedback", ORGANISER, at + self._hours(1, 72),
                       satisfaction=int(self._pick(SATISFACTION)))  # type: ignore[call-overload]
