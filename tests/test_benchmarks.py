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

pytestmark = pytest.mark.slow  # subprocesses, several processes, or many examples

CHECKOUT = Path(__file__).resolve().parent.parent

FIGURES = ["petition lifecycle", "NYC 311 import", "read-model rebuild", "load a case",
           "sweep of", "peak memory of rebuild", "peak memory of sweep", "HTTP service"]


@pytest.mark.skipif(not sample_path().exists(),
                    reason=f"the NYC 311 sample is not at {sample_path()}")
def test_smoke_run_reports_every_figure_with_its_baseline_and_ratio(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--scale", "smoke", "--json", str(out)],
        cwd=CHECKOUT, capture_output=True, text=True, timeout=300, check=False)

    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["scale"] == "smoke"
    assert {"cores", "memory_gb", "python"} <= set(report["machine"])
    results = report["results"]
    assert [next(f for f in FIGURES if r["figure"].startswith(f)) for r in results] == FIGURES
    for result in results:
        assert result["baseline"] and result["target"]
        assert math.isfinite(result["ratio"]) and result["ratio"] > 0
        assert isinstance(result["met"], bool)
    # The table on stdout has a row per figure, each with its ratio and whether it is met.
    table = done.stdout.splitlines()
    for result in results:
        row = next(line for line in table if line.startswith(result["figure"]))
        assert f"{result['ratio']:.2f}" in row
        assert row.rstrip().endswith("yes" if result["met"] else "NO")
