"""How units are assessed on the three rates (三率): the office's rules, and its months.

Practice differs from city to city, so the rules are settings (the ``[assessment]`` table of
``casework.toml``)::

    [assessment]
    basic_weight = 0.9                 # f: how much a 基本满意 counts in 满意率
    weights = { response = 0.1, resolution = 0.5, satisfaction = 0.4 }
    month_starts_on = 1                # the day the assessment month starts (19: 19th to 18th)
    excluded_categories = ["consultation"]   # cases no revisit counts for

The defaults follow the practice that gives all three parameters (f = 0.9 and weights
0.1 / 0.5 / 0.4): it weighs most what the petitioner says of the outcome (解决率, then 满意率)
over the unit's promptness, which is what the rankings are meant to reward. Weights need
not add up to one (30 / 35 / 35 is the other practice): the composite divides by their sum.
The month starts on the 1st by default, like the calendar months the rest of the report uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .errors import SettingsError

WEIGHT_NAMES = ("response", "resolution", "satisfaction")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
LATEST_START_DAY = 28
"""Every month has the day a month may start on."""


@dataclass(frozen=True)
class AssessmentRules:
    basic_weight: float = 0.9
    """f: a 基本满意 (basically satisfied) answer counts this much of a 满意 in 满意率."""
    weights: dict[str, float] = field(default_factory=lambda: {
        "response": 0.1, "resolution": 0.5, "satisfaction": 0.4})
    """The composite score's weights of 响应率, 解决率 and 满意率."""
    month_starts_on: int = 1
    """The day of the month an assessment month starts; it is named after the month it ends
    in (with 19: "2026-12" runs from 19 November to 18 December)."""
    excluded_categories: tuple[str, ...] = ("consultation",)
    """Categories of cases whose revisits the rates do not count (consultation only)."""

    def composite(self, response: float | None, resolution: float | None,
                  satisfaction: float | None) -> float | None:
        """The weighted score out of 100 (None without valid visits)."""
        rates = {"response": response, "resolution": resolution, "satisfaction": satisfaction}
        if any(rate is None for rate in rates.values()):
            return None
        total = sum(self.weights.values())
        score = sum(self.weights[name] * float(rates[name] or 0) for name in WEIGHT_NAMES)
        return round(100 * score / total, 2)

    def month(self, label: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The assessment month ``YYYY-MM``: its first moment and the next month's, as naive
        UTC (what the read models store), the days counted in ``zone``."""
        found = MONTH.match(label)
        if found is None or not 1 <= int(found[2]) <= 12:
            raise ValueError(f"{label!r} is not a month such as 2026-11")
        year, month = int(found[1]), int(found[2])
        if self.month_starts_on == 1:
            start, end = (year, month), (year + month // 12, month % 12 + 1)
        else:
            start, end = (year - (month == 1), (month - 2) % 12 + 1), (year, month)
        return _utc(start, self.month_starts_on, zone), _utc(end, self.month_starts_on, zone)

    def as_dict(self) -> dict[str, Any]:
        return {"basic_weight": self.basic_weight, "weights": dict(self.weights),
                "month_starts_on": self.month_starts_on,
                "excluded_categories": list(self.excluded_categories)}


def _utc(year_month: tuple[int, int], day: int, zone: ZoneInfo) -> datetime:
    return datetime(year_month[0], year_month[1], day, tzinfo=zone).astimezone(UTC).replace(
        tzinfo=None)


def assessment_rules(table: Mapping[str, Any], where: str) -> AssessmentRules:
    """The rules an ``[assessment]`` table sets (the others keep their defaults);
    ``SettingsError`` saying what is wrong, ``where`` naming the file."""
    default = AssessmentRules()
    unknown = sorted(set(table) - {"basic_weight", "weights", "month_starts_on",
                                   "excluded_categories"})
    if unknown:
        raise SettingsError(f"{where}: unknown assessment setting {unknown[0]!r}")
    f = table.get("basic_weight", default.basic_weight)
    if isinstance(f, bool) or not isinstance(f, int | float) or not 0 <= f <= 1:
        raise SettingsError(f"{where}: assessment basic_weight must be a number 0..1")
    given = table.get("weights", {})
    weights = {**default.weights, **given} if isinstance(given, dict) else {}
    if (set(weights) != set(WEIGHT_NAMES)
            or not all(isinstance(w, int | float) and not isinstance(w, bool) and w >= 0
                       for w in weights.values()) or not sum(weights.values()) > 0):
        raise SettingsError(f"{where}: assessment weights are response, resolution and "
                            "satisfaction, numbers of at least 0, not all 0")
    day = table.get("month_starts_on", default.month_starts_on)
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= LATEST_START_DAY:
        raise SettingsError(f"{where}: assessment month_starts_on must be a day 1..28")
    excluded = table.get("excluded_categories", list(default.excluded_categories))
    if not isinstance(excluded, list) or not all(isinstance(c, str) for c in excluded):
        raise SettingsError(f"{where}: assessment excluded_categories must be a list of "
                            "category names")
    return AssessmentRules(float(f), {k: float(v) for k, v in weights.items()}, day,
                           tuple(excluded))
