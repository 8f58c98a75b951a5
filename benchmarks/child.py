"""One job in a process of its own, so that its peak memory is its own:
``python -m benchmarks.child rebuild URL`` or ``... sweep URL NOW WORKERS``.

Prints one JSON line: the job's seconds, the process's peak resident memory (MB), and what
the job did.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any


def rebuild(url: str) -> dict[str, Any]:
    from casework import Casework
    from projections.read_model import ReadModel

    read_model = ReadModel(Casework(url))
    start = time.perf_counter()
    events = read_model.rebuild()
    return {"seconds": time.perf_counter() - start, "events": events}


def sweep(url: str, now: str, workers: str) -> dict[str, Any]:
    from casework import Casework
    from casework.jobs import run_job
    from casework.sweep import Sweep, sweep_rules
    from casework.timestamps import parse_time
    from projections.selection import Candidates

    app = Casework(url)
    moment = parse_time(now)
    start = time.perf_counter()
    summary = run_job(app, Sweep(moment),
                      Candidates(due=tuple(sweep_rules(app.workflows, moment))),
                      workers=int(workers))
    return {"seconds": time.perf_counter() - start, "examined": summary.examined,
            "changed": summary.changed, "refused": summary.refused}


def main(argv: list[str]) -> None:
    job, *args = argv
    report = {"rebuild": rebuild, "sweep": sweep}[job](*args)
    # ru_maxrss is in kilobytes on Linux.
    report["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report))


if __name__ == "__main__":  # workers of a sweep import this module again: do nothing then
    main(sys.argv[1:])
