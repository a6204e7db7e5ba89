"""benchmarks/bench_neighbours.py: the table of scores per neighbour weight."""

from __future__ import annotations

import sys

from tests.benchmarks.conftest import alignments, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from bench_neighbours import table  # noqa: E402


def test_the_table_has_a_right_aligned_row_per_weight_in_the_given_order() -> None:
    rows = [
        {"weight": 0, "accuracy": 0.782, "recall_economy": 0.855, "recall_domestic_politics": 0.712},
        {"weight": 0.5, "accuracy": 0.831, "recall_economy": 0.9, "recall_domestic_politics": 0.757},
    ]
    header, separator, *cells = table_lines(table(rows))
    assert header == ["neighbour weight", "segment accuracy", "economy recall", "domestic_politics recall"]
    assert alignments(separator) == ["right"] * 4
    assert cells == [["0", "0.782", "0.855", "0.712"], ["0.5", "0.831", "0.9", "0.757"]]
