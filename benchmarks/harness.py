"""Figures against baselines: alternate runs, medians, ratios, and the table that shows them.

Absolute times drift on a shared machine; a figure and its baseline run one after the other,
repetition after repetition (in the order A B, then B A, ...), so drift touches both alike and
the ratio of their medians is what counts.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scale:
    """How big each figure is. ``full`` is the size the targets are stated for."""

    name: str
    lifecycle_cases: int
    """Petitions taken through their whole life per repetition (8 commands each)."""
    reps: int
    """Repetitions of the quick figures (lifecycle, loading)."""
    big_reps: int
    """Repetitions of the big ones (import, rebuild, sweep)."""
    import_cases: int
    rebuild_events: int
    load_events: int
    loads: int
    """Loads of the long case per repetition."""
    sweep_cases: int
    memory_events: int
    """The rebuild's size in the memory figure; its tenth is the baseline."""
    memory_cases: int
    """The sweep's size in the memory figure (open cases); its tenth is the baseline."""
    list_cases: int
    """Cases in the read model the first page of a list is read from."""


SCALES = {
    "smoke": Scale("smoke", lifecycle_cases=3, reps=3, big_reps=1, import_cases=300,
                   rebuild_events=3_000, load_events=200, loads=5, sweep_cases=200,
                   memory_events=10_000, memory_cases=1_000, list_cases=5_000),
    "small": Scale("small", lifecycle_cases=50, reps=5, big_reps=3, import_cases=20_000,
                   rebuild_events=100_000, load_events=10_000, loads=20, sweep_cases=10_000,
                   memory_events=100_000, memory_cases=10_000, list_cases=100_000),
    "full": Scale("full", lifecycle_cases=100, reps=7, big_reps=1, import_cases=200_000,
                  rebuild_events=1_000_000, load_events=10_000, loads=20, sweep_cases=100_000,
                  memory_events=1_000_000, memory_cases=100_000, list_cases=1_000_000),
}


@dataclass
class Result:
    """One row of the table."""

    figure: str
    baseline: str
    value: float
    baseline_value: float
    unit: str
    ratio: float
    ratio_means: str
    target: str
    met: bool
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def alternate(reps: int, figure: Callable[[], float], baseline: Callable[[], float]
              ) -> tuple[list[float], list[float]]:
    """Run both ``reps`` times, alternating which goes first; each returns its measurement."""
    figures: list[float] = []
    baselines: list[float] = []
    for rep in range(reps):
        if rep % 2 == 0:
            figures.append(figure())
            baselines.append(baseline())
        else:
            baselines.append(baseline())
            figures.append(figure())
    return figures, baselines


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(results: list[Result]) -> str:
    header = ["figure", "baseline", "figure", "baseline", "ratio", "target", "met?"]
    rows = [header] + [
        [r.figure, r.baseline, show(r.value, r.unit), show(r.baseline_value, r.unit),
         f"{r.ratio:.2f} ({r.ratio_means})", r.target, "yes" if r.met else "NO"]
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             .rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def show(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:,.0f} {unit}"
