"""benchmarks/bench_encoder_runtime.py: server batches are embedded as the encoder embeds them."""

from __future__ import annotations

import sys

import numpy as np

from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import bench_encoder_runtime

TEXTS = [f"paragraph {'word ' * length}" for length in range(40)]


def test_server_batches_are_sorted_by_length_and_cut_into_calls_of_the_given_rows() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.zeros((len(texts), 3))

    batches = bench_encoder_runtime.server_batches(TEXTS, size=10, count=3)
    rate = bench_encoder_runtime.server_batch_rows_per_second(embed, batches, rows=4)

    assert rate > 0
    assert [len(call) for call in calls] == [4, 4, 2] * 3
    for batch, first in zip(batches, range(0, 9, 3), strict=True):
        assert len(set(batch)) == 10
        assert sum(calls[first : first + 3], []) == sorted(batch, key=len)
    # Seeded: the same batches every run, so runs on different machines embed the same texts.
    assert bench_encoder_runtime.server_batches(TEXTS, size=10, count=3) == batches
