"""benchmarks/vast_dev_splits.py: the strict dev split keeps comments and topics apart."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from tests.benchmarks.conftest import script_help
from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import vast_dev_splits


def test_the_strict_vast_split_keeps_comments_and_topics_apart() -> None:
    comments = pd.Series([f"comment {i % 20}" for i in range(200)])
    topics = np.array([f"topic {i % 13}" for i in range(200)])
    topic_test = np.flatnonzero(np.isin(topics, ["topic 1", "topic 2", "topic 3"]))
    train, test = vast_dev_splits.strict_split(comments, topic_test, seed=13)
    assert len(train) and len(test)
    assert not set(comments[train]) & set(comments[test])
    assert not set(topics[train]) & set(topics[test])
    assert set(test) <= set(topic_test)
    # 30% of the comments are drawn (6 of 20); the test side holds some of them, the training side none.
    assert 0 < comments[test].nunique() <= 6 and comments[train].nunique() == 20 - 6


def test_the_script_says_what_it_does_in_its_help() -> None:
    text, params = script_help(vast_dev_splits.main)
    assert "Score each VAST config on two dev splits of the training file" in text
    assert "also holds out 30% of the comments" in text
    assert params == {"configs": "VAST configs to score (default: every config in configs/benchmarks/vast/)."}
