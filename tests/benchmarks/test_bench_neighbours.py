"""benchmarks/bench_neighbours.py: the table of scores per neighbour weight."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from tests.benchmarks.conftest import alignments, table_lines
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from bench_neighbours import scores, table  # noqa: E402


def test_the_table_has_a_right_aligned_row_per_weight_in_the_given_order() -> None:
    rows = [
        {"weight": 0, "accuracy": 0.782, "recall_economy": 0.855, "recall_domestic_politics": 0.712},
        {"weight": 0.5, "accuracy": 0.831, "recall_economy": 0.9, "recall_domestic_politics": 0.757},
    ]
    header, separator, *cells = table_lines(table(rows))
    assert header == ["neighbour weight", "segment accuracy", "economy recall", "domestic_politics recall"]
    assert alignments(separator) == ["right"] * 4
    assert cells == [["0", "0.782", "0.855", "0.712"], ["0.5", "0.831", "0.9", "0.757"]]


def test_scores_are_accuracy_and_each_topics_recall_with_the_neighbours_mixed_in() -> None:
    labels = ["conflict", "domestic_politics", "economy"]
    # Article a: two economy segments, one read as conflict alone, as economy beside its neighbour at weight 0.5.
    # Article b: a politics segment read as economy. No gold row is conflict.
    segments = pd.DataFrame({"article": ["a", "a", "b"], "label": ["economy", "economy", "domestic_politics"]})
    probabilities = np.array([[0.0, 0.1, 0.9], [0.6, 0.0, 0.4], [0.2, 0.3, 0.5]])
    alone = scores(segments, probabilities, labels, 0.0)
    assert alone == {"weight": 0.0, "accuracy": 0.333, "recall_economy": 0.5, "recall_domestic_politics": 0.0}
    assert scores(segments, probabilities, labels, 0.5) == {
        "weight": 0.5, "accuracy": 0.667, "recall_economy": 1.0, "recall_domestic_politics": 0.0
    }
