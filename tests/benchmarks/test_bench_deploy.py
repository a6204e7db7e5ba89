"""benchmarks/bench_deploy.py: the tracking and replicas tables."""

from __future__ import annotations

import sys

from tests.benchmarks.conftest import alignments, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import bench_deploy
from bench_serving import LoadResult


def test_the_tracking_table_has_a_row_per_store() -> None:
    rows = [
        ["SQLite file", "100", "1", "52.3", "12", "15"],
        ["`mlflow server` (2 workers) on PostgreSQL 15", "100", "1", "40.0", "8", "9"],
    ]
    header, separator, *cells = table_lines(bench_deploy.tracking_table(rows))
    assert header == ["store", "runs", "writers", "runs logged per second", "search_runs median ms", "search_runs p95 ms"]
    assert alignments(separator) == ["left"] + ["right"] * 5
    assert cells == rows


def test_a_replicas_row_pools_the_load_on_every_replica() -> None:
    # Two replicas, 10 s each: 300 requests in all, latencies 1..100 ms and 1..100 ms again.
    results = [
        LoadResult(requests, errors, 10.0, [float(ms) for ms in range(1, 101)], 1.0, 2.0, 500.0)
        for requests, errors in ((200, 1), (100, 2))
    ]
    row = bench_deploy.throughput_row("2 replica(s) x 1 worker", results, 1024.4)
    header, separator, cells = table_lines(bench_deploy.replicas_table([row]))
    assert header == ["setup", "requests/s", "p50 ms", "p99 ms", "errors", "RSS MB (all replicas)"]
    assert alignments(separator) == ["left"] + ["right"] * 5
    assert cells == ["2 replica(s) x 1 worker", "30", "50.5", "99.0", "3", "1024"]
