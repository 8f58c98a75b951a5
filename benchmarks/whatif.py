"""``casework whatif`` against ``casework rebuild`` of the same store (issue 19's figure).

On the demo store (``casework demo``: a month of a subdistrict, every event in May 2024), both
run as a user runs them, each ``casework`` command a process of its own, alternately:
``casework whatif --grade B.resolve=2wd --since 2024-05-01 --until 2024-06-01 --now
2024-06-01 --json`` on the store, and ``casework rebuild`` on a fresh copy of it (the copy is
made before the clock starts). Each is timed whole, its start (the imports) included: wall
time, and CPU time (user + system of the process, from ``wait4``), which other jobs on the
machine stretch less. The target: whatif takes at most 0.9 times the rebuild's time, in both
(the medians of the pairs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .figures import CHECKOUT
from .fixtures import Fixtures, checkpointed, remove, url_of
from .harness import MIN_REPS, Result, Sample, Scale, alternate, compare, median

Log = Callable[[str], None]
CANDIDATE = "B.resolve=2wd"
PERIOD = ("--since", "2024-05-01", "--until", "2024-06-01", "--now", "2024-06-01")
REPS = 5
"""Pairs at the least: the two are close enough that three pairs say little."""
TARGET = 0.9
SMOKE_DEMO = ("--petitions", "300", "--enterprise-requests", "65", "--volunteer-tasks", "30")


def whatif_against_rebuild(scale: Scale, fixtures: Fixtures, log: Log) -> Result:
    demo = _demo(scale, fixtures)
    copy = fixtures.folder / "whatif-rebuild.db"
    peaks: list[float] = []
    events: list[int] = []

    def run_whatif() -> Sample:
        with tempfile.TemporaryFile() as out:
            sample, peak = _timed(["whatif", "--db", url_of(demo), "--grade", CANDIDATE,
                                   *PERIOD, "--json"], out)
            out.seek(0)
            events.append(json.load(out)["events"])
        peaks.append(peak)
        return sample

    def run_rebuild() -> Sample:
        remove(copy)
        shutil.copyfile(demo, copy)
        with tempfile.TemporaryFile() as out:
            sample, _ = _timed(["rebuild", "--db", url_of(copy)], out)
        return sample

    ours, theirs = alternate(max(scale.big_reps, REPS, MIN_REPS), run_whatif, run_rebuild)
    result = compare(f"whatif replay of a month of the demo, {events[0]:,} events "
                     f"(casework whatif --grade {CANDIDATE})",
                     "casework rebuild of the same store", ours, theirs, "s", "time",
                     f"≤ {TARGET} (wall and CPU)")
    cpu_ratio = (result.cpu or 0.0) / (result.baseline_cpu or 1.0)
    cpu_pairs = [a.cpu / b.cpu for a, b in zip(ours, theirs, strict=True)  # type: ignore[operator]
                 if a.cpu and b.cpu]
    result.met = result.ratio <= TARGET and cpu_ratio <= TARGET
    result.notes = (f"CPU ratio {cpu_ratio:.2f} ({min(cpu_pairs):.2f}–{max(cpu_pairs):.2f} "
                    f"for a pair); peak memory of whatif {median(peaks):.0f} MB")
    log(f"whatif: {result.value:.2f} s ({result.cpu:.2f} s CPU) vs rebuild "
        f"{result.baseline_value:.2f} s ({result.baseline_cpu:.2f} s CPU)")
    return result


def _demo(scale: Scale, fixtures: Fixtures) -> Path:
    """The demo store (smaller at the smoke scale), made once."""
    path = fixtures.folder / f"demo-{scale.name}.db"
    if not path.exists():
        sizes = SMOKE_DEMO if scale.name == "smoke" else ()
        subprocess.run([*_casework(), "demo", "--db", url_of(path), *sizes], cwd=CHECKOUT,
                       stdout=subprocess.DEVNULL, check=True)
        checkpointed(path)
    return path


def _timed(args: list[str], out: object) -> tuple[Sample, float]:
    """Run ``casework ARGS``: its wall seconds and CPU seconds, and its peak memory (MB)."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen([*_casework(), *args], cwd=CHECKOUT, stdout=out,
                                   stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)  # the child's own rusage
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"casework {' '.join(args)} failed:\n"
                               f"{errors.read().decode(errors='replace')}")
    return Sample(seconds, usage.ru_utime + usage.ru_stime), usage.ru_maxrss / 1024


def _casework() -> list[str]:
    """The ``casework`` command of this interpreter's environment."""
    script = Path(sys.executable).parent / "casework"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]
