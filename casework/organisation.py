"""The organisation cases are dispatched to: units addressed by path.

A subdistrict (街道) contains communities (社区), blocks (街区), grids (网格), building grids
(楼栋格) and buildings (楼栋); functional departments (职能部门) stand beside the communities,
directly under the subdistrict. A unit's path is its parent's path plus one segment, so
escalation is "drop the last segment" and "below" is a path prefix.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import OrganisationError

LEVELS = ("subdistrict", "community", "block", "grid", "building_grid", "building")
DEPARTMENT = "department"

# How high a unit stands: 0 is the top. A department counts as community level, so a case
# that must go "at least to the community" may go to a department.
RANK = {level: rank for rank, level in enumerate(LEVELS)} | {DEPARTMENT: 1}
SUGGESTIONS = 3
"""How many units an error about an unknown one suggests."""


@dataclass(frozen=True)
class Unit:
    path: str
    level: str
    name: str

    @property
    def parent_path(self) -> str | None:
        head, sep, _ = self.path.rpartition("/")
        return head if sep else None


class Organisation:
    def __init__(self, units: list[Unit]) -> None:
        self._units = {unit.path: unit for unit in units}
        self._check()

    @classmethod
    def load(cls, *paths: str | Path) -> Organisation:
        """Read CSV files with the columns path, level, name; a directory means its ``*.csv``.

        Each file is a whole tree (every unit's parent is in the same file), so several files
        make one organisation with several roots, e.g. a subdistrict and a city.
        """
        files = [file for path in paths for file in _csv_files(Path(path))]
        if not files:
            raise OrganisationError(f"no organisation files in {', '.join(map(str, paths))}")
        units: list[Unit] = []
        listed_in: dict[str, Path] = {}
        for file in files:
            for unit in cls._read(file):
                if unit.path in listed_in:
                    raise OrganisationError(
                        f"{file}: unit {unit.path} is also listed in {listed_in[unit.path]}"
                    )
                listed_in[unit.path] = file
                units.append(unit)
        return cls(units)

    @classmethod
    def _read(cls, path: Path) -> list[Unit]:
        try:
            with path.open(encoding="utf-8", newline="") as file:
                reader = csv.DictReader(file)
                if reader.fieldnames is None or not {"path", "level", "name"} <= set(
                    reader.fieldnames
                ):
                    raise OrganisationError(f"{path}: needs the columns path, level, name")
                units = [
                    Unit(row["path"].strip().strip("/"), row["level"].strip(), row["name"].strip())
                    for row in reader
                ]
        except OSError as error:
            raise OrganisationError(f"{path}: {error.strerror}") from None
        try:
            cls(units)  # checked alone, so that a mistake is reported with its file
        except OrganisationError as error:
            raise OrganisationError(f"{path}: {error}") from None
        return units

    def _check(self) -> None:
        for unit in self._units.values():
            if unit.level not in RANK:
                raise OrganisationError(
                    f"unit {unit.path}: unknown level {unit.level!r} "
                    f"(levels: {', '.join((*LEVELS, DEPARTMENT))})"
                )
            parent = unit.parent_path
            if parent is None:
                continue
            if parent not in self._units:
                raise OrganisationError(f"unit {unit.path}: its parent {parent} is not listed")
            if RANK[self._units[parent].level] >= RANK[unit.level]:
                raise OrganisationError(
                    f"unit {unit.path}: a {unit.level} cannot stand under the "
                    f"{self._units[parent].level} {parent}"
                )

    def __contains__(self, path: object) -> bool:
        return path in self._units

    def __iter__(self) -> Iterator[Unit]:
        return iter(self._units.values())

    def __len__(self) -> int:
        return len(self._units)

    def __getitem__(self, path: str) -> Unit:
        return self._units[path]

    def parent(self, path: str) -> str | None:
        return self._units[path].parent_path

    def rank(self, path: str) -> int:
        return RANK[self._units[path].level]

    @staticmethod
    def rank_of_level(level: str) -> int:
        return RANK[level]

    def ancestor_at(self, path: str, level: str) -> str | None:
        """The unit at ``level`` that contains ``path`` (itself included), if any."""
        current: str | None = path
        while current is not None:
            unit = self._units.get(current)
            if unit is None:
                return None
            if unit.level == level:
                return current
            current = unit.parent_path
        return None

    def units_at(self, level: str) -> list[str]:
        return [unit.path for unit in self._units.values() if unit.level == level]

    def below(self, prefix: str | None) -> list[Unit]:
        """The unit ``prefix`` and every unit under it (all units for None), in file order."""
        if prefix is None:
            return list(self._units.values())
        top = prefix.strip("/")
        return [unit for unit in self._units.values()
                if unit.path == top or unit.path.startswith(top + "/")]

    def nearest(self, given: str, count: int = SUGGESTIONS) -> list[Unit]:
        """The units a mistyped path most likely meant: those whose name is the text given
        (people type 观城社区), then the paths closest in spelling, at the depth given first
        (a sibling of the last segment, under the same parent, is the usual slip)."""
        text = given.strip().strip("/")
        named = sorted((unit for unit in self._units.values() if text and text in unit.name),
                       key=lambda unit: len(unit.name))
        parent, _, _ = text.rpartition("/")
        siblings = [path for path in self._units if path.rpartition("/")[0] == parent]
        close = difflib.get_close_matches(text, siblings, n=count, cutoff=0.5)
        close += difflib.get_close_matches(text, list(self._units), n=count, cutoff=0.6)
        found = named[:count] + [self._units[path] for path in close]
        return list(dict.fromkeys(found))[:count]

    def unknown(self, given: str) -> str:
        """What to say about a unit path that is not in the organisation."""
        nearest = self.nearest(given)
        hint = ("; did you mean " + " or ".join(f"{unit.path} ({unit.name})" for unit in nearest)
                + "?") if nearest else ""
        parent = given.strip().strip("/").rpartition("/")[0]
        listing = (f"casework units {parent} --depth 1" if parent in self._units
                   else "casework units --depth 1")
        return f"no unit {given!r} in the organisation{hint} ({listing} lists them)"


def _csv_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.csv")) if path.is_dir() else [path]
