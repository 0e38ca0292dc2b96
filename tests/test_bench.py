"""The benchmark command (bench/run.py, README "Performance") keeps working: it
starts the service and the floor under gunicorn and reports every figure the
README quotes. Speed itself is not asserted here (timed tests flake); the
numbers are in the README and the closing notes, measured by this command."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run as bench
from cds_service.services import SERVICES

ROOT = Path(__file__).resolve().parents[1]


def test_sample_requests_cover_every_service():
    reqs = bench.sample_requests()
    assert set(reqs) == {s.id for s in SERVICES}
    assert all(reqs[s.id] for s in SERVICES)
    for sid, items in reqs.items():
        for body, _label in items:
            assert set(body["prefetch"]) == set(next(s for s in SERVICES if s.id == sid).prefetch_keys)


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_scaled_request_holds_n_resources(n):
    body = bench.scaled_request(n)
    count = 0
    for value in body["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            count += len(value.get("entry", []))
    assert count == n


def test_pct_is_a_nearest_rank_percentile():
    values = [float(v) for v in range(1, 101)]
    assert bench.pct(values, 50) == pytest.approx(50, abs=1)
    assert bench.pct(values, 99) == pytest.approx(99, abs=1)
    assert bench.pct([3.0], 95) == 3.0


@pytest.mark.parametrize("extra, method", [([], "rounds of 20"), (["--rounds", "1"], "rounds of 1"),
                                           (["--blocks"], "blocks")])
def test_benchmark_command_reports_every_figure(tmp_path, extra, method):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--requests", "6", "--throughput-seconds", "0.5", "--no-scaling",
         "--workers", "1", "--json", str(out), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["latency_method"] == method
    assert set(result["latency"]) == {s.id for s in SERVICES}
    for row in result["latency"].values():
        assert row["errors"] == 0
        for p in (50, 95, 99):
            assert row[f"p{p}_ms"] > 0 and row[f"floor_p{p}_ms"] > 0
            assert row[f"p{p}_ratio"] == pytest.approx(row[f"p{p}_ms"] / row[f"floor_p{p}_ms"], rel=0.05)
    split = result["time_split_median_ms"]
    assert set(split) == {s.id for s in SERVICES}
    assert all({"parse", "fetch", "mapping", "rules", "render"} <= set(parts) for parts in split.values())
    assert result["throughput"]["requests"] > 0 and result["throughput"]["errors"] == 0
    assert result["peak_rss_mb_per_worker"] and all(v > 0 for v in result["peak_rss_mb_per_worker"].values())
