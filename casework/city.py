"""A city's year: a district of tens of subdistricts, each shaped like Guanlan, simulated for a
year through the engine (``casework demo --scale city``).

The organisation is generated: Guanlan's tree (10 communities, 60 blocks, 304 grids, 840
building grids and 11 departments) copied under each subdistrict's own path, ``d01`` to
``dNN``. Every subdistrict receives, each month, as many petitions, enterprise requests
and volunteer tasks as the month's demo gives Guanlan, spread over the year's days; the
simulation draws them a day at a time (``casework.demo``), so its memory stays flat.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from workflows import SAMPLE_ORGANISATION

from .demo import SHENZHEN
from .organisation import Organisation, Unit

YEAR_START = datetime(2024, 1, 1, 8, 0, tzinfo=SHENZHEN)
YEAR_DAYS = 366  # 2024
SUBDISTRICTS = 24
"""Tens of subdistricts: what a large district of Shenzhen or Beijing has (and the size
``--scale city`` simulates unless told otherwise)."""
SAMPLE_ROOT = "guanlan"


@dataclass(frozen=True)
class CityPlan:
    """How big a city's simulation is: the cases of each kind over the whole period."""

    subdistricts: int
    days: int
    petitions: int
    enterprise_requests: int
    volunteer_tasks: int

    @classmethod
    def of(cls, subdistricts: int, per_month: tuple[int, int, int], days: int = YEAR_DAYS
           ) -> CityPlan:
        """``per_month``: each subdistrict's petitions, enterprise requests and volunteer
        tasks in a month of 31 days, as in the month's demo."""
        petitions, requests, tasks = (count * subdistricts * days // 31 for count in per_month)
        return cls(subdistricts, days, petitions, requests, tasks)

    @property
    def cases(self) -> int:
        return self.petitions + self.enterprise_requests + self.volunteer_tasks


def city_organisation(subdistricts: int, sample: Path = SAMPLE_ORGANISATION) -> Organisation:
    """``subdistricts`` copies of the sample subdistrict's tree, at ``d01``, ``d02``, ..."""
    template = Organisation.load(sample)
    units = []
    for number in range(1, subdistricts + 1):
        root = f"d{number:02d}"
        for unit in template:
            if unit.path != SAMPLE_ROOT and not unit.path.startswith(SAMPLE_ROOT + "/"):
                continue  # another tree of the sample file, if it had one
            path = root + unit.path[len(SAMPLE_ROOT):]
            name = f"第{number}街道" if unit.path == SAMPLE_ROOT else unit.name
            units.append(Unit(path, unit.level, name))
    return Organisation(units)


def write_organisation(organisation: Organisation, path: Path) -> Path:
    """The organisation as a CSV file that ``Organisation.load`` (and
    ``$CASEWORK_ORGANISATION``) reads back."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["path", "level", "name"])
        writer.writerows([unit.path, unit.level, unit.name] for unit in organisation)
    return path
