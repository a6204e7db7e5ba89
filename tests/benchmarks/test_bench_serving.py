"""benchmarks/bench_serving.py: the servers' table, with how it was measured and the notes below it."""

from __future__ import annotations

import sys

from tests.benchmarks.conftest import alignments, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import bench_serving


def _measurement(server: str, requests: int) -> bench_serving.Measurement:
    load = bench_serving.LoadResult(requests, 0, 20.0, [float(ms) for ms in range(1, 101)], 2.0, 30.0, 812.4)
    return bench_serving.Measurement(server, load, [10.0, 12.5, 30.1])


def test_the_table_has_a_row_per_server_and_the_throughput_ratio_leads_the_notes() -> None:
    text = bench_serving.markdown([_measurement("ours", 6000), _measurement("mlflow", 2000)], ["a note"], 16, 20, 1)
    before, _, rest = text.partition("\n\n")
    assert before.startswith("Measured ") and "16 concurrent clients" in before
    table, _, notes = rest.partition("\n\n")
    header, separator, *rows = table_lines(table)
    assert header[:5] == ["server", "requests/s", "p50 ms", "p99 ms", "errors"] and len(header) == 9
    assert alignments(separator) == ["left"] + ["right"] * 8
    assert rows == [
        ["ours", "300", "50.5", "99.0", "0", "5.00", "10% of a core", "12.5 / 30.1", "812"],
        ["mlflow", "100", "50.5", "99.0", "0", "15.00", "10% of a core", "12.5 / 30.1", "812"],
    ]
    assert notes == "- Throughput ratio (ours / mlflow): **3.00x**\n- a note\n"
