"""Small statistics the report's figures are made of: shares, nearest-rank percentiles and
counts of pairs as nested tables."""

from __future__ import annotations

import math
from collections import Counter


def nested(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """(a, b) → n as a → b → n, both levels sorted."""
    result: dict[str, dict[str, int]] = {}
    for (outer, inner), count in sorted(counts.items()):
        result.setdefault(outer, {})[inner] = count
    return result


def ratio(part: float, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percentile(values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile, rounded to 0.01 hours."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return round(ordered[rank - 1], 2)
