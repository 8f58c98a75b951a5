"""Figures against baselines: paired repetitions, medians, spreads, ratios, and the table.

Absolute times drift on a shared machine; a figure and its baseline run one after the other,
repetition after repetition (in the order A B, then B A, ...), so drift touches both alike and
the ratio of their medians is what counts. Each repetition also records the CPU seconds it
took, which other processes on the same cores change much less than wall time; the table
prints them beside the wall-clock figures, with the spread (lowest to highest) of every
median and of the pairs' ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

MIN_REPS = 3
"""Every figure is the median of at least this many paired repetitions, at every scale."""


@dataclass(frozen=True)
class Scale:
    """How big each figure is. ``full`` is the size the targets are stated for."""

    name: str
    lifecycle_cases: int
    """Petitions taken through their whole life per repetition (8 commands each)."""
    reps: int
    """Repetitions of the quick figures (lifecycle, loading)."""
    big_reps: int
    """Repetitions of the big ones (import, rebuild, sweep, memory)."""
    import_cases: int
    rebuild_events: int
    load_events: int
    loads: int
    """Loads of the long case per repetition."""
    sweep_cases: int
    memory_events: int
    """The rebuild's and the JSONL import's size in the memory figure; a tenth is the
    baseline."""
    memory_cases: int
    """The sweep's size in the memory figure (open cases); its tenth is the baseline."""
    list_cases: int
    """Cases in the read model the first page of a list is read from."""
    report_cases: int
    """Cases in the read model the report is computed over."""
    pg_commands: int
    """Commands each of the PostgreSQL clients fires per repetition."""


SCALES = {
    "smoke": Scale("smoke", lifecycle_cases=3, reps=3, big_reps=3, import_cases=300,
                   rebuild_events=10_000, load_events=200, loads=5, sweep_cases=1_000,
                   memory_events=10_000, memory_cases=1_000, list_cases=5_000,
                   report_cases=10_000, pg_commands=5),
    "small": Scale("small", lifecycle_cases=50, reps=5, big_reps=3, import_cases=20_000,
                   rebuild_events=100_000, load_events=10_000, loads=20, sweep_cases=10_000,
                   memory_events=100_000, memory_cases=10_000, list_cases=100_000,
                   report_cases=100_000, pg_commands=25),
    "full": Scale("full", lifecycle_cases=100, reps=7, big_reps=3, import_cases=200_000,
                  rebuild_events=1_000_000, load_events=10_000, loads=20, sweep_cases=100_000,
                  memory_events=1_000_000, memory_cases=100_000, list_cases=1_000_000,
                  report_cases=1_000_000, pg_commands=100),
}
assert all(min(s.reps, s.big_reps) >= MIN_REPS for s in SCALES.values())


@dataclass(frozen=True)
class Sample:
    """One repetition's measurement (seconds, a rate, megabytes) and the CPU seconds it
    took (None where it means nothing, as for a peak of memory)."""

    value: float
    cpu: float | None = None


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
    met: bool | None
    """None: a figure printed for what it shows, without a target."""
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: str = ""
    spread: tuple[float, float] = (0.0, 0.0)
    baseline_spread: tuple[float, float] = (0.0, 0.0)
    ratio_spread: tuple[float, float] = (0.0, 0.0)
    """The lowest and highest ratio of a pair of repetitions."""
    cpu: float | None = None
    """Median CPU seconds of a repetition of the figure."""
    baseline_cpu: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


RATIOS: dict[str, Callable[[float, float], float]] = {
    "time": lambda ours, theirs: ours / theirs,
    "CPU time": lambda ours, theirs: ours / theirs,
    "rate": lambda ours, theirs: ours / theirs,
    "growth": lambda ours, theirs: ours / theirs,
    "speed-up": lambda ours, theirs: theirs / ours,
}
"""How each kind of figure compares with its baseline (above 1: more of it)."""


def compare(figure: str, baseline: str, ours: list[Sample], theirs: list[Sample], unit: str,
            ratio_means: str, target: str = "—", check: Callable[[float], bool] | None = None,
            notes: str = "", on: Callable[[float], float] | None = None) -> Result:
    """The row of a figure measured ``ours`` against ``theirs`` in pairs: medians, spreads,
    the ratio of the medians (and of each pair), whether ``check`` finds the target met.
    ``on`` says what ``check`` judges: the ratio (default), or the figure's own value."""
    values, baselines = [s.value for s in ours], [s.value for s in theirs]
    ratio_of = RATIOS[ratio_means]
    ratio = ratio_of(median(values), median(baselines))
    pairs = [ratio_of(a, b) for a, b in zip(values, baselines, strict=True)]
    judged = ratio if on is None else on(median(values))
    return Result(
        figure, baseline, median(values), median(baselines), unit, ratio, ratio_means, target,
        None if check is None else check(judged),
        {"figure": values, "baseline": baselines,
         "figure cpu": [s.cpu for s in ours if s.cpu is not None],
         "baseline cpu": [s.cpu for s in theirs if s.cpu is not None]},
        notes, (min(values), max(values)), (min(baselines), max(baselines)),
        (min(pairs), max(pairs)), _median_cpu(ours), _median_cpu(theirs))


def _median_cpu(samples: list[Sample]) -> float | None:
    cpu = [s.cpu for s in samples if s.cpu is not None]
    return median(cpu) if cpu else None


def alternate(reps: int, figure: Callable[[], Sample], baseline: Callable[[], Sample]
              ) -> tuple[list[Sample], list[Sample]]:
    """Run both ``reps`` times (at least MIN_REPS), alternating which goes first."""
    figures: list[Sample] = []
    baselines: list[Sample] = []
    for rep in range(max(reps, MIN_REPS)):
        if rep % 2 == 0:
            figures.append(figure())
            baselines.append(baseline())
        else:
            baselines.append(baseline())
            figures.append(figure())
    return figures, baselines


def timed(action: Callable[[], Any]) -> Sample:
    """Wall seconds, with the CPU seconds of this process meanwhile."""
    cpu, start = time.process_time(), time.perf_counter()
    action()
    return Sample(time.perf_counter() - start, time.process_time() - cpu)


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(results: list[Result]) -> str:
    header = ["figure", "baseline", "figure", "baseline", "CPU s", "ratio", "target", "met?"]
    rows = [header] + [
        [r.figure, r.baseline, shown(r.value, r.spread, r.unit),
         shown(r.baseline_value, r.baseline_spread, r.unit), cpu(r),
         f"{r.ratio:.2f} ({r.ratio_spread[0]:.2f}–{r.ratio_spread[1]:.2f}) {r.ratio_means}",
         r.target, "—" if r.met is None else "yes" if r.met else "NO"]
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             .rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def cpu(result: Result) -> str:
    """CPU seconds of a repetition: the figure's / the baseline's."""
    if result.cpu is None or result.baseline_cpu is None:
        return "—"
    return f"{number(result.cpu)} / {number(result.baseline_cpu)}"


def shown(value: float, spread: tuple[float, float], unit: str) -> str:
    low, high = spread
    return f"{show(value, unit)} ({show(low, unit, bare=True)}–{show(high, unit, bare=True)})"


def number(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def show(value: float, unit: str, *, bare: bool = False) -> str:
    if unit == "s":
        text = number(value)
    elif unit == "ms":
        text = f"{value:.2f}"
    elif unit == "MB":
        text = f"{value:.0f}"
    else:
        text = f"{value:,.0f}"
    return text if bare else f"{text} {unit}"
