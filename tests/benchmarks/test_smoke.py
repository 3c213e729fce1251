"""The benchmark script runs end to end on a tiny class (no timings are asserted: speed lives in benchmarks/)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_benchmark_script_runs_on_a_tiny_class(tmp_path):
    out = tmp_path / "table.md"
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--no-docker", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    table = out.read_text()
    for measure in (
        "1. self-test latency",
        "3. batch throughput, process",
        "3b. cost of timeouts",
        "4. scaling",
        "4b. grader peak memory",
        "5. conv backward",
        "5b. one student's hidden case set",
    ):
        assert measure in table
    assert "2. single grade, docker | skipped" in table
