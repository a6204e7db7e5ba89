"""benchmarks/bench_serving.py: the servers' table, with how it was measured and the notes below it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from classifiers.errors import UserInputError
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


def test_a_server_that_exits_before_it_is_ready_is_said_with_the_end_of_its_log(tmp_path: Path) -> None:
    # The error pointed at a log in a temporary folder already removed, and was buried under a ProcessLookupError from
    # stopping the server that had already gone.
    refused = "import sys; print('starting'); print('error: --workers must be at least 1'); sys.exit(2)"
    log = tmp_path / "serving.log"
    with pytest.raises(UserInputError) as raised:  # noqa: PT012 - the server stops as the block is left
        with bench_serving.running([sys.executable, "-c", refused], dict(os.environ), log) as process:
            server = bench_serving.Server("python -m serving", process, "http://127.0.0.1:9", "/v1/classify", "/ready")
            asyncio.run(bench_serving.wait_until_ready(server, log))
    assert str(raised.value) == (
        "python -m serving exited with 2 before it was ready; its log ends:\n"
        "  starting\n  error: --workers must be at least 1"
    )


def test_a_store_that_is_not_there_has_no_champions_and_is_not_made(tmp_path: Path) -> None:
    # A mistyped --store became an empty store of 1 MB, said to have no champions.
    missing = tmp_path / "mistyped" / "mlflow.db"
    assert not bench_serving.has_champions(f"sqlite:///{missing}")
    assert not missing.parent.exists()


def test_the_measured_line_names_the_models_served_and_says_no_encoder_for_tfidf_ones() -> None:
    # It said "encoder bfloat16 on PyTorch" whatever was served, TF-IDF champions too.
    tfidf = [("news-topic", "3", "tfidf"), ("news-stance", "1", "tfidf")]
    line = bench_serving.markdown([_measurement("ours", 600)], [], 16, 20, 1, tfidf).split("\n")[0]
    assert "models news-topic v3 (tfidf), news-stance v1 (tfidf) (both servers)" in line and "encoder" not in line
    encoders = [("news-topic", "4", "descriptions"), ("news-stance", "2", "frozen_encoder")]
    line = bench_serving.markdown([_measurement("ours", 600)], [], 16, 20, 1, encoders).split("\n")[0]
    assert "models news-topic v4 (descriptions), news-stance v2 (frozen_encoder), encoder " in line


def test_the_champions_served_are_read_with_their_families(tfidf_store_uri: str) -> None:
    assert bench_serving.served_models(tfidf_store_uri) == [("news-topic", "1", "tfidf"), ("news-stance", "1", "tfidf")]
    assert bench_serving.has_champions(tfidf_store_uri)


def test_a_process_trees_memory_and_cpu_count_its_children() -> None:
    # A parent that only waits, and a child that holds 200 MB and spins for a second of CPU before it is read.
    child = (
        "import time; block = bytearray(200 * 2**20); end = time.process_time() + 1.0\n"
        "while time.process_time() < end: pass\n"
        "time.sleep(60)"
    )
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    process = subprocess.Popen([sys.executable, "-c", parent])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and bench_serving.tree_cpu_seconds(process.pid) < 1.0:
            time.sleep(0.1)
        assert len(bench_serving.process_tree(process.pid)) == 2
        assert bench_serving.tree_rss_mb(process.pid) > 200
        assert bench_serving.tree_cpu_seconds(process.pid) >= 1.0
    finally:
        for member in reversed(bench_serving.process_tree(process.pid)):
            member.kill()
        process.wait()
    assert bench_serving.process_tree(process.pid) == [] and bench_serving.tree_rss_mb(process.pid) == 0
