"""The benchmarks run, at their smallest scale, and report every figure against its baseline.

Never a timing assertion: the numbers of a smoke run on a shared machine mean nothing; what
matters here is that ``python -m benchmarks`` works from a checkout and says what it should.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.fixtures import sample_path
from benchmarks.harness import number
from benchmarks.pg_clients import postgres_url

pytestmark = pytest.mark.slow  # subprocesses, several processes, or many examples

CHECKOUT = Path(__file__).resolve().parent.parent

FIGURES = ["petition lifecycle, CPU time", "petition lifecycle, wall time", "NYC 311 import",
           "JSONL import", "read-model rebuild", "load a case", "get_case(as_of=)",
           "a page of its history", "sweep of", "peak memory of rebuild",
           "peak memory of JSONL import", "peak memory of sweep", "sweep's CPU per case",
           "HTTP service", "first page of", "report over", "whatif replay of"]
if postgres_url():  # left out, with a line saying so, without a PostgreSQL server
    FIGURES.append("8 clients on PostgreSQL")


@pytest.mark.skipif(not sample_path().exists(),
                    reason=f"the NYC 311 sample is not at {sample_path()}")
def test_smoke_run_reports_every_figure_with_its_baseline_and_ratio(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--scale", "smoke", "--json", str(out)],
        cwd=CHECKOUT, capture_output=True, text=True, timeout=900, check=False)

    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["scale"] == "smoke"
    assert {"cores", "memory_gb", "python"} <= set(report["machine"])
    results = report["results"]
    assert [next(f for f in FIGURES if r["figure"].startswith(f)) for r in results] == FIGURES
    for result in results:
        assert result["baseline"] and result["target"]
        assert math.isfinite(result["ratio"]) and result["ratio"] > 0
        # A median of at least three paired repetitions, and their spread.
        assert len(result["samples"]["figure"]) == len(result["samples"]["baseline"]) >= 3
        low, high = result["spread"]
        assert low <= result["value"] <= high
        assert isinstance(result["met"], bool) or result["target"] == "—"
    # The table on stdout has a row per figure, each with its spread, CPU seconds, ratio and
    # whether it is met.
    table = done.stdout.splitlines()
    for result in results:
        row = next(line for line in table if line.startswith(result["figure"]))
        assert f"{result['ratio']:.2f} (" in row
        if result["cpu"] is not None:
            assert f"{number(result['cpu'])} / {number(result['baseline_cpu'])}" in row
        met = {True: "yes", False: "NO", None: "—"}[result["met"]]
        assert row.rstrip().endswith(met)
    assert "CPU time" in results[0]["figure"] and results[1]["met"] is None
