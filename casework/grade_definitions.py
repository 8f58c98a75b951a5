"""A workflow's grades and deadline settings as a definition file gives them: each grade's
resolution and contact limits (``"7wd"``, ``"16wh"``, ``"2h"``, or version 1's
``deadline_hours``), the lowest level it may be dispatched to, and when a clock is due soon."""

from __future__ import annotations

from typing import Any

from .definition_problems import DefinitionProblems, unknown_keys
from .limits import Limit, parse_limit
from .organisation import LEVELS, RANK
from .workflow import Grade

_GRADE_KEYS = {"deadline_hours", "resolve", "contact", "min_level"}


def compile_grades(problems: DefinitionProblems, table: Any) -> dict[str, Grade]:
    grades: dict[str, Grade] = {}
    if not isinstance(table, dict):
        problems.add("grades", "must be a table")
        return grades
    for name, spec in table.items():
        where = f"grade {name!r}"
        if not unknown_keys(problems, where, spec, _GRADE_KEYS):
            continue
        limits = _grade_limits(problems, where, spec)
        level = spec.get("min_level", LEVELS[-1])
        if level not in RANK:
            problems.add(where, f"min_level {level!r} is not a level ({', '.join(LEVELS)})")
            continue
        if limits is not None:
            grades[name] = Grade(name, limits[0], level, limits[1])
    return grades


def _grade_limits(problems: DefinitionProblems, where: str, spec: dict[str, Any]
                  ) -> tuple[Limit, Limit | None] | None:
    """The grade's resolution limit (``resolve``, or version 1's ``deadline_hours``) and its
    contact limit, if any."""
    if ("resolve" in spec) == ("deadline_hours" in spec):
        problems.add(where, "needs one of 'resolve' (e.g. \"7wd\") or 'deadline_hours'")
        return None
    found: list[Limit | None] = []
    for key in ("resolve", "deadline_hours", "contact"):
        if key not in spec:
            continue
        value = spec[key]
        if key == "deadline_hours" and (not isinstance(value, int | float)
                                        or isinstance(value, bool) or value <= 0):
            problems.add(where, f"deadline_hours {value!r} is not a positive number")
            return None
        try:
            found.append(parse_limit(value))
        except ValueError as error:
            problems.add(where, f"{key}: {error}")
            return None
    resolve = found[0]
    assert resolve is not None
    return resolve, found[1] if len(found) > 1 else None


def check_due_soon(problems: DefinitionProblems, settings: Any) -> None:
    """``due_soon_fraction`` (a share of a clock's time) and ``due_soon_within`` (a limit)."""
    if not isinstance(settings, dict):
        problems.add("settings", "must be a table")
        return
    fraction = settings.get("due_soon_fraction", 0.5)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) \
            or not 0 < fraction < 1:
        problems.add("settings", f"due_soon_fraction {fraction!r} is not between 0 and 1")
    if "due_soon_within" in settings:
        try:
            parse_limit(settings["due_soon_within"])
        except ValueError as error:
            problems.add("settings", f"due_soon_within: {error}")
