"""benchmarks/vast_dev_splits.py: the strict dev split keeps comments and topics apart."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classifiers.errors import UserInputError
from tests.benchmarks.conftest import script_help, table_lines
from tests.training.public_datasets.test_adapters import VAST_HEADER, vast_row
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
    assert params["configs"] == "VAST configs to score (default: every config in configs/benchmarks/vast/)."
    assert set(params) == {"configs", "write"} and params["write"].startswith("Keep the figures in")


def write_comments(data_dir: Path) -> None:
    """VAST's training file in its layout: six comments, each under ten topics, the labels mixed."""
    rows = [
        vast_row(f"Comment {comment} says w{comment} x{comment}.", f"topic {topic}", str((comment + topic) % 3), "1", f"{comment}{topic}")
        for comment in range(6)
        for topic in range(10)
    ]
    (data_dir / "vast").mkdir(parents=True)
    (data_dir / "vast" / "vast_train.csv").write_text(VAST_HEADER + "".join(rows), encoding="utf-8")


def config(path: Path, data_dir: Path) -> Path:
    path.write_text(
        "task: stance\nregistered_model: vast-stance\n"
        f"data: {{source: benchmark, name: vast, data_dir: '{data_dir}'}}\n"
        "model: {family: tfidf, classifier: logreg}\nevaluation: {cv: holdout, holdout_fraction: 0.3}\n",
        encoding="utf-8",
    )
    return path


def test_a_configs_figures_are_kept_when_a_later_config_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The file was written once, after the last config: a later config that failed took the earlier figures with it.
    results = tmp_path / "results.json"
    monkeypatch.setattr(vast_dev_splits, "RESULTS", results)
    write_comments(tmp_path / "datasets")
    first = config(tmp_path / "first.yaml", tmp_path / "datasets")
    second = config(tmp_path / "second.yaml", tmp_path / "nowhere")
    with pytest.raises(UserInputError, match="not found"):
        vast_dev_splits.main([first, second])
    assert set(json.loads(results.read_text(encoding="utf-8"))) == {str(first.resolve())}


def test_no_write_prints_the_figures_and_keeps_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The figures were always written into benchmarks/results/, with no way to only look at them.
    results = tmp_path / "results.json"
    monkeypatch.setattr(vast_dev_splits, "RESULTS", results)
    write_comments(tmp_path / "datasets")
    path = config(tmp_path / "only.yaml", tmp_path / "datasets")
    vast_dev_splits.main([path], write=False)
    assert not results.exists()
    header, _, row = table_lines(capsys.readouterr().out)
    assert "only.yaml" in row[0]
    # Each figure beside the rows it scored: kept figures of an earlier split scored other rows.
    assert header[1:] == [
        "vast_macro_f1, topics held out (dev)", "its dev rows", "vast_macro_f1, topics and comments held out (dev)",
        "their dev rows",
    ]  # fmt: skip
    assert int(row[2]) > int(row[4]) > 0
