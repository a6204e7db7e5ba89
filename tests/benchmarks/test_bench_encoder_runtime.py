"""benchmarks/bench_encoder_runtime.py: server batches are embedded as the encoder embeds them."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from tests.benchmarks.conftest import alignments, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import bench_encoder_runtime

TEXTS = [f"paragraph {'word ' * length}" for length in range(40)]


SECONDS_PER_CALL = 0.25


class FakeClock:
    """A perf_counter that moves only when an embedding call is made, SECONDS_PER_CALL each time."""

    def __init__(self) -> None:
        self.now = 100.0  # not 0, so a rate computed from the absolute time rather than the elapsed one shows

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The benchmark module's `time` replaced by the fake clock (the real time module is left alone)."""
    fake = FakeClock()
    monkeypatch.setattr(bench_encoder_runtime, "time", SimpleNamespace(perf_counter=fake.perf_counter))
    return fake


def test_server_batches_are_sorted_by_length_and_cut_into_calls_of_the_given_rows(clock: FakeClock) -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        clock.now += SECONDS_PER_CALL
        return np.zeros((len(texts), 3))

    batches = bench_encoder_runtime.server_batches(TEXTS, size=10, count=3)
    rate = bench_encoder_runtime.server_batch_rows_per_second(embed, batches, rows=4)

    assert [len(call) for call in calls] == [4, 4, 2] * 3
    # 30 rows over 9 calls of a quarter second each.
    assert rate == pytest.approx(30 / (9 * SECONDS_PER_CALL))
    for batch, first in zip(batches, range(0, 9, 3), strict=True):
        assert len(set(batch)) == 10
        assert sum(calls[first : first + 3], []) == sorted(batch, key=len)
    # Seeded: the same batches every run, so runs on different machines embed the same texts.
    assert bench_encoder_runtime.server_batches(TEXTS, size=10, count=3) == batches


def test_rows_per_second_counts_every_text_over_the_time_of_its_calls(clock: FakeClock) -> None:
    def embed(texts: list[str]) -> np.ndarray:
        clock.now += SECONDS_PER_CALL
        return np.zeros((len(texts), 3))

    # 40 texts in calls of 16: 3 calls.
    assert bench_encoder_runtime.rows_per_second(embed, TEXTS, batch=16) == pytest.approx(40 / (3 * SECONDS_PER_CALL))


def test_the_batch_size_table_has_a_row_per_runtime_and_a_right_aligned_column_per_batch_size() -> None:
    best = {"torch": {1: 10.0, 4: 30.5, 16: 80.25, 32: 100.0}, "onnxruntime-int8": {1: 20.0, 4: 40.0, 16: 90.0, 32: 120.04}}
    header, separator, *rows = table_lines(bench_encoder_runtime.batch_size_grid(best))
    assert header == ["runtime", "1 row per call", "4 rows per call", "16 rows per call", "32 rows per call"]
    assert alignments(separator) == ["left", "right", "right", "right", "right"]
    assert rows == [["torch", "10.0", "30.5", "80.2", "100.0"], ["onnxruntime-int8", "20.0", "40.0", "90.0", "120.0"]]


def test_the_rows_per_call_table_leaves_calls_larger_than_the_batch_blank() -> None:
    sizes, per_call = bench_encoder_runtime.SERVER_BATCHES, bench_encoder_runtime.ROWS_PER_CALL
    best = {("torch", size, rows): size + rows / 10 for size in sizes for rows in per_call if rows <= size}
    header, separator, *rows = table_lines(bench_encoder_runtime.rows_per_call_grid(best, ["torch"]))
    assert header == ["runtime", "server batch", *(f"{rows} row{'s' if rows > 1 else ''} per call" for rows in per_call)]
    assert alignments(separator) == ["left"] + ["right"] * (len(per_call) + 1)
    assert rows == [
        ["torch", str(size), *(f"{size + rows / 10:.1f}" if rows <= size else "" for rows in per_call)] for size in sizes
    ]
