"""One job in a process of its own, so that its peak memory is its own:
``python -m benchmarks.child rebuild URL``, ``... sweep URL NOW WORKERS`` or
``... import URL FILE`` (a JSONL export), ``... whatif URL GRADE_OVERRIDE``.

Prints one JSON line: the job's seconds, the process's peak resident memory (MB, VmHWM), the
CPU seconds of the job (this process's during the job, and its workers'), and what the job
did.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from casework import Casework
from casework.timestamps import parse_time
from casework.transfer.jsonl import import_jsonl
from casework.whatif import Policy
from projections.batch_jobs import sweep_job
from projections.filters import Filters
from projections.rebuild import rebuild as rebuild_read_model
from projections.whatif import what_if


def rebuild(url: str) -> dict[str, Any]:
    app = Casework(url)
    cpu, start = time.process_time(), time.perf_counter()
    events = rebuild_read_model(app)
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "events": events}


def sweep(url: str, now: str, workers: str) -> dict[str, Any]:
    app = Casework(url)
    moment = parse_time(now)
    cpu, start = time.process_time(), time.perf_counter()
    summary = sweep_job(app, moment).run(app, workers=int(workers))
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "examined": summary.examined, "changed": summary.changed,
            "refused": summary.refused, "listed": len(summary.listed)}


def import_file(url: str, file: str) -> dict[str, Any]:
    app = Casework(url)
    cpu, start = time.process_time(), time.perf_counter()
    with open(file, encoding="utf-8") as lines:
        result = import_jsonl(app, lines)
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "imported": result.imported, "keys": result.keys,
            "rejected": len(result.rejected), "events": app.recorded_events()}


def whatif(url: str, grade: str) -> dict[str, Any]:
    app = Casework(url)
    cpu, start = time.process_time(), time.perf_counter()
    result = what_if(app, Policy.candidate(app.workflows, overrides=(grade,)), Filters())
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "events": result.events, "changed": len(result.changed_cases)}


def peak_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM starts afresh at exec, whereas
    ru_maxrss carries the parent's peak over fork and exec (every child then reported the
    benchmark runner's own peak)."""
    try:
        status = Path("/proc/self/status").read_text().splitlines()
    except OSError:  # not Linux: ru_maxrss, in kilobytes on Linux and bytes on macOS
        divisor = 2**20 if sys.platform == "darwin" else 2**10
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / divisor
    line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def main(argv: list[str]) -> None:
    job, *args = argv
    jobs = {"rebuild": rebuild, "sweep": sweep, "import": import_file, "whatif": whatif}
    report = jobs[job](*args)
    report["peak_mb"] = peak_mb()
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # a sweep's worker processes
    report["cpu_seconds"] = report.pop("cpu") + workers.ru_utime + workers.ru_stime
    print(json.dumps(report))


if __name__ == "__main__":  # workers of a sweep import this module again: do nothing then
    main(sys.argv[1:])
