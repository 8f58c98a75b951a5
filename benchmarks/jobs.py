"""Jobs in processes of their own (``benchmarks.child``): the sweep's workers, and how peak
memory grows with the size of a job when every petition carries personal fields.

| figure | baseline | target |
|---|---|---|
| sweep of open cases, 2 workers | 1 worker | ≥ 1.6 × faster |
| sweep's CPU per case, every case a person of its own | the same at a tenth of the size | ≤ 1.1 |
| peak memory of rebuild, sweep and JSONL import | the same job at a tenth of the size | < 1.2 |
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .figures import Log, child
from .fixtures import Fixtures, remove, revisits_due, url_of
from .harness import Result, Sample, Scale, alternate, compare

SWEEP_NOW = "2025-03-01T00:00+00:00"
"""Long after every petition in progress was due (grade B: 15 working days; the last opened
on 31 December 2024, due after the Spring Festival), and every closed one due its revisit."""


def sweep(scale: Scale, fixtures: Fixtures, log: Log) -> tuple[Result, list[Sample]]:
    """Workers 2 against workers 1; each run on a fresh copy of the store, in a child process
    (a sweep's own process, as from the command line). Returns the row, and the one-worker
    runs (peak memory and CPU per case: the memory figures' sweep at full size)."""
    cases = scale.sweep_cases
    source = fixtures.open_cases(cases)
    ones: list[Sample] = []

    def run(workers: int) -> Sample:
        report = _sweep(fixtures, source, workers)
        if workers == 1:
            ones.append(Sample(report["peak_mb"], report["cpu_seconds"]))
        return Sample(report["seconds"], report["cpu_seconds"])

    two, one = alternate(scale.big_reps, lambda: run(2), lambda: run(1))
    result = compare(
        f"sweep of {cases:,} cases, {revisits_due(cases):,} of them due a revisit, "
        "--workers 2", "--workers 1", two, one, "s", "speed-up", "≥ 1.6",
        lambda speedup: speedup >= 1.6,
        # Two workers can only halve the time when two cores are free: the CPU seconds
        # (process and workers) tell the work apart from the waiting.
        f"load average at the end {os.getloadavg()[0]:.1f}")
    log(f"sweep: workers 2 {result.value:.1f} s vs workers 1 {result.baseline_value:.1f} s")
    return result, ones


def _sweep(fixtures: Fixtures, source: Path, workers: int) -> dict[str, Any]:
    path = fixtures.copy(source, "sweep-run")
    report = child("sweep", url_of(path), SWEEP_NOW, str(workers))
    remove(path)
    cases = report["examined"]
    assert report["listed"] == revisits_due(cases), report
    assert report["changed"] == cases - revisits_due(cases), report
    return report


def memory(scale: Scale, fixtures: Fixtures, log: Log, rebuilds: list[Sample] | None,
           sweeps: list[Sample] | None) -> list[Result]:
    """Peak memory at full size over the peak at a tenth, each job in a process of its own,
    every petition with a person of its own. ``rebuilds`` and ``sweeps`` are the runs at
    full size made for the rebuild and sweep figures, when they were of that size."""
    results = []
    small, large = scale.memory_events // 10, scale.memory_events

    def rebuild(events: int) -> Sample:
        report = child("rebuild", url_of(fixtures.petitions(events)))
        return Sample(report["peak_mb"], report["cpu_seconds"])

    smalls, larges = _paired(scale, lambda: rebuild(small), lambda: rebuild(large), rebuilds)
    results.append(_growth(f"peak memory of rebuild, {large:,} events", f"{small:,} events",
                           larges, smalls))

    def imported(events: int) -> Sample:
        path = fixtures.fresh("import-memory")
        report = child("import", url_of(path), str(fixtures.exported(events)))
        remove(path)
        assert report["rejected"] == 0 and report["events"] >= events, report
        return Sample(report["peak_mb"], report["cpu_seconds"])

    smalls, larges = _paired(scale, lambda: imported(small), lambda: imported(large), None)
    results.append(_growth(f"peak memory of JSONL import, {large:,} events (keys first)",
                           f"{small:,} events", larges, smalls))

    small, large = scale.memory_cases // 10, scale.memory_cases

    def swept(cases: int) -> Sample:
        report = _sweep(fixtures, fixtures.open_cases(cases), 1)
        return Sample(report["peak_mb"], report["cpu_seconds"])

    smalls, larges = _paired(scale, lambda: swept(small), lambda: swept(large),
                             sweeps if scale.sweep_cases == large else None)
    results.append(_growth(f"peak memory of sweep, {large:,} cases and persons",
                           f"{small:,} cases", larges, smalls))
    per_case = compare(
        f"sweep's CPU per case, {large:,} persons", f"{small:,} persons",
        [Sample((s.cpu or 0.0) / large * 1e3) for s in larges],
        [Sample((s.cpu or 0.0) / small * 1e3) for s in smalls], "ms", "time", "≤ 1.1",
        lambda ratio: ratio <= 1.1,
        "CPU ms per case of one worker (the job's, without starting the process): every "
        "case a person, each key read and used once")
    results.append(per_case)
    for result in results:
        log(f"{result.figure}: {result.value:.2f} {result.unit} vs "
            f"{result.baseline_value:.2f} {result.unit}")
    return results


def _paired(scale: Scale, run_small: Callable[[], Sample], run_large: Callable[[], Sample],
            made: list[Sample] | None) -> tuple[list[Sample], list[Sample]]:
    """Runs at a tenth and at full size, alternately; the full-size runs already ``made``
    are used instead of running them again."""
    if made:
        return [run_small() for _ in made], list(made)
    return alternate(scale.big_reps, run_small, run_large)


def _growth(figure: str, baseline: str, larges: list[Sample], smalls: list[Sample]
            ) -> Result:
    return compare(figure, baseline, larges, smalls, "MB", "growth", "< 1.2",
                   lambda growth: growth < 1.2)
