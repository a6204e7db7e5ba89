"""The outside paragraphs of benchmarks/bench_transfer.py read as `training evaluate --data` reads them, with the
guideline's labels and targets, and as many rows of every class as the docs say."""

from collections import Counter

from training import locations
from training.corpus.labels import STANCES, TARGETS, TOPICS
from training.jsonl_table import read_jsonl_table

FOLDER = locations.PROJECT_ROOT / "benchmarks" / "outside_news"


def test_topic_paragraphs_are_eight_per_topic() -> None:
    frame = read_jsonl_table(FOLDER / "topic.jsonl", ["text", "label"], labels=TOPICS)
    assert Counter(frame["label"]) == dict.fromkeys(TOPICS, 8)
    assert frame["text"].is_unique


def test_stance_pairs_are_twelve_per_stance_toward_seed_targets() -> None:
    frame = read_jsonl_table(FOLDER / "stance.jsonl", ["text", "target", "label"], labels=STANCES)
    assert Counter(frame["label"]) == dict.fromkeys(STANCES, 12)
    assert set(frame["target"]) <= set(TARGETS)
    assert not frame.duplicated(["text", "target"]).any()
