"""``python -m benchmarks [--scale smoke|small|full] [--json FILE] [--only NAME ...]``"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import figures, jobs, listing, long_case, pg_clients, reporting, whatif
from .fixtures import Fixtures, sample_path
from .harness import SCALES, Result, table

FIGURES = ("lifecycle", "import", "jsonl", "rebuild", "load", "sweep", "memory", "service",
           "list", "report", "whatif", "postgres")


def machine() -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cores": os.cpu_count(), "memory_gb": round(memory, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def run(scale_name: str, only: tuple[str, ...] = FIGURES, log: Any = None
        ) -> dict[str, Any]:
    """Every figure at ``scale_name``; returns what ``--json`` writes."""
    scale = SCALES[scale_name]
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="casework-bench-") as folder:
        fixtures = Fixtures(Path(folder))
        rebuilds = sweeps = None
        if "lifecycle" in only:
            results += figures.lifecycle(scale, fixtures, log)
        if "import" in only:
            results.append(figures.bulk_import(scale, fixtures, log))
        if "jsonl" in only:
            results.append(figures.jsonl_import(scale, fixtures, log))
        if "rebuild" in only:
            result, rebuilds = figures.rebuild(scale, fixtures, log)
            results.append(result)
        if "load" in only:
            results += long_case.long_case(scale, fixtures, log)
        if "sweep" in only:
            result, sweeps = jobs.sweep(scale, fixtures, log)
            results.append(result)
        if "memory" in only:
            # The rebuild figure's runs are the memory figure's at full size when the sizes
            # are the same (the sweep's are checked there).
            same = scale.rebuild_events == scale.memory_events
            results += jobs.memory(scale, fixtures, log, rebuilds if same else None, sweeps)
        if "service" in only:
            from .service import requests_per_second  # needs the service extra

            results.append(requests_per_second(scale, fixtures, log))
        if "list" in only:
            results.append(listing.first_page(scale, fixtures, log))
        if "report" in only:
            results.append(reporting.report_over_cases(scale, fixtures, log))
        if "whatif" in only:
            results.append(whatif.whatif_against_rebuild(scale, fixtures, log))
        if "postgres" in only:
            url = pg_clients.postgres_url()
            if url is None:
                log("postgres: no PostgreSQL server ($CASEWORK_BENCH_POSTGRES_URL or "
                    "$CASEWORK_TEST_POSTGRES_URL): its figure is left out")
            else:
                results.append(pg_clients.clients(scale, url, log))
    return {"scale": scale_name, "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - started, 1), "machine": machine(),
            # Other processes on the same cores: what the ratios were measured against.
            "load_average": {"start": load_before, "end": os.getloadavg()[0]},
            "results": [r.as_dict() for r in results], "table": table(results)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Each figure against its baseline, alternately in one run: medians, "
                    "ratios and targets.")
    parser.add_argument("--scale", choices=list(SCALES), default="small",
                        help="smoke: seconds; small (default): a few minutes; full: the "
                             "sizes of the targets, about an hour and a half on 2 idle cores")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--only", nargs="+", choices=FIGURES, default=FIGURES,
                        help="run only these figures")
    args = parser.parse_args(argv)
    if not sample_path().exists():
        print(f"python -m benchmarks: no NYC 311 sample at {sample_path()} "
              "(set $CASEWORK_NYC311_SAMPLE to a 311 CSV)", file=sys.stderr)
        return 2
    report = run(args.scale, tuple(args.only))
    m = report["machine"]
    print(f"casework benchmarks, scale {report['scale']}, {report['date']}, "
          f"{m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}, "
          f"{report['seconds']} s, load average {report['load_average']['start']:.1f} "
          f"at the start and {report['load_average']['end']:.1f} at the end")
    print(report["table"])
    met = [r["met"] for r in report["results"] if r["met"] is not None]
    print(f"{sum(met)} of {len(met)} targets met. Each figure: the median of paired "
          "repetitions (lowest–highest); CPU s: CPU seconds of a repetition, the figure's / "
          "the baseline's; ratio: of the medians (lowest–highest ratio of a pair).")
    for result in report["results"]:
        if result["notes"]:
            print(f"  {result['figure']}: {result['notes']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
