"""The outside paragraphs of benchmarks/bench_transfer.py read as `training evaluate --data` reads them, with the
guideline's labels and targets, and as many rows of every class as the docs say."""

from collections import Counter

import pytest

from training import locations
from training.corpus.labels import STANCES, TARGETS, TOPICS
from training.jsonl_table import read_jsonl_table

FOLDER = locations.PROJECT_ROOT / "benchmarks" / "outside_news"


@pytest.mark.parametrize(("subset", "per_topic"), [("a", 8), ("b", 10)])
def test_topic_paragraphs_are_balanced(subset: str, per_topic: int) -> None:
    frame = read_jsonl_table(FOLDER / subset / "topic.jsonl", ["text", "label"], labels=TOPICS)
    assert Counter(frame["label"]) == dict.fromkeys(TOPICS, per_topic)
    assert frame["text"].is_unique


@pytest.mark.parametrize(("subset", "per_stance"), [("a", 12), ("b", 20)])
def test_stance_pairs_are_balanced_and_toward_seed_targets(subset: str, per_stance: int) -> None:
    frame = read_jsonl_table(FOLDER / subset / "stance.jsonl", ["text", "target", "label"], labels=STANCES)
    assert Counter(frame["label"]) == dict.fromkeys(STANCES, per_stance)
    assert set(frame["target"]) <= set(TARGETS)
    assert not frame.duplicated(["text", "target"]).any()


def test_set_c_is_as_unbalanced_as_its_readme_says() -> None:
    topic = read_jsonl_table(FOLDER / "c" / "topic.jsonl", ["text", "label"], labels=TOPICS)
    stance = read_jsonl_table(FOLDER / "c" / "stance.jsonl", ["text", "target", "label"], labels=STANCES)
    assert Counter(topic["label"]) == {"conflict": 21, "diplomacy": 15, "domestic_politics": 9, "humanitarian": 9, "economy": 6}
    assert Counter(stance["label"]) == {"none": 67, "against": 31, "favor": 17}
    assert set(stance["target"]) <= set(TARGETS) and set(stance["text"]) <= set(topic["text"])
    assert topic["text"].is_unique and not stance.duplicated(["text", "target"]).any()


def test_set_d_holds_every_topic_and_stances_as_its_readme_says() -> None:
    topic = read_jsonl_table(FOLDER / "d" / "topic.jsonl", ["text", "label"], labels=TOPICS)
    stance = read_jsonl_table(FOLDER / "d" / "stance.jsonl", ["text", "target", "label"], labels=STANCES)
    expected = {"conflict": 16, "diplomacy": 13, "domestic_politics": 11, "economy": 10, "humanitarian": 10}
    assert Counter(topic["label"]) == expected
    assert Counter(stance["label"]) == {"none": 68, "against": 36, "favor": 21}
    assert set(stance["target"]) == set(TARGETS) and set(stance["text"]) <= set(topic["text"])
    assert topic["text"].is_unique and not stance.duplicated(["text", "target"]).any()
