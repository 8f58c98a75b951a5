"""``casework whatif`` against a plain rebuild of the same events.

Both run as the command line would, each in a process of its own (``benchmarks.child``), on
the same store of residents' petitions: the rebuild folds every event once into the live read
model; whatif reads the same events and folds them under the policy in force and under a
candidate (grade B's limit shortened), into scratch tables, and compares the two reports.
The target is the issue's: whatif takes no longer than the rebuild; its peak memory is noted.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable

from .figures import child
from .fixtures import Fixtures, url_of
from .harness import Result, Sample, Scale, alternate, compare, median

Log = Callable[[str], None]
CANDIDATE = "B.resolve=48h"


def whatif_against_rebuild(scale: Scale, fixtures: Fixtures, log: Log) -> Result:
    path = fixtures.petitions(scale.rebuild_events)
    with contextlib.closing(sqlite3.connect(path)) as db:
        (events,) = db.execute("SELECT count(*) FROM stored_events").fetchone()
    peaks: list[float] = []

    def run_whatif() -> Sample:
        report = child("whatif", url_of(path), CANDIDATE)
        assert report["events"] == events, (report, events)
        peaks.append(report["peak_mb"])
        return Sample(report["seconds"], report["cpu_seconds"])

    def run_rebuild() -> Sample:
        report = child("rebuild", url_of(path))
        return Sample(report["seconds"], report["cpu_seconds"])

    ours, theirs = alternate(scale.big_reps, run_whatif, run_rebuild)
    result = compare(f"whatif replay of {events:,} events ({CANDIDATE})",
                     "rebuild of the same events", ours, theirs, "s", "time", "≤ 1.0",
                     lambda ratio: ratio <= 1.0)
    result.notes = f"peak memory of whatif {median(peaks):.0f} MB"
    log(f"whatif: {result.value:.2f} s vs rebuild {result.baseline_value:.2f} s")
    return result
