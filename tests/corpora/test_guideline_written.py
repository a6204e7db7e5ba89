"""corpora/guideline_written reads as the trainer's `source: jsonl` reads it, with the guideline's labels and targets,
every paragraph's topic and stance rows sharing its group, and every stance of every target present."""

from pathlib import Path

import pytest

from training import locations
from training.config.resolve import load_config
from training.corpus.labels import STANCES, TARGETS, TOPICS
from training.defaults import DEFAULT_CONFIGS
from training.jsonl_table import read_jsonl_table
from training.labelled_data import load_labelled_data

FOLDER = locations.PROJECT_ROOT / "corpora" / "guideline_written"


def test_topic_paragraphs_use_the_guideline_topics_once_each() -> None:
    frame = read_jsonl_table(FOLDER / "topic.jsonl", ["text", "label", "group"], labels=TOPICS)
    assert set(frame["label"]) == set(TOPICS)
    assert frame["text"].is_unique and frame["group"].is_unique


def test_stance_pairs_cover_every_stance_of_every_target_and_belong_to_a_paragraph() -> None:
    stance = read_jsonl_table(FOLDER / "stance.jsonl", ["text", "target", "label", "group"], labels=STANCES)
    topic = read_jsonl_table(FOLDER / "topic.jsonl", ["text", "label", "group"], labels=TOPICS)
    assert set(zip(stance["target"], stance["label"], strict=True)) == {(t, s) for t in TARGETS for s in STANCES}
    assert not stance.duplicated(["group", "target"]).any()
    paragraphs = dict(zip(topic["group"], topic["text"], strict=True))
    assert all(paragraphs[group] == text for group, text in zip(stance["group"], stance["text"], strict=True))


def test_the_default_topic_config_trains_on_the_paragraphs_beside_the_seed_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the config names the file relative to itself
    config = load_config(DEFAULT_CONFIGS["topic"])
    data = load_labelled_data(config.data, "topic", config.extra_training)
    (written,) = data.extra
    assert len(written.frame) == 300 and written.weight == 1.0 and set(written.frame["label"]) == set(TOPICS)
    assert data.name == "seeds" and len(data.frame) == 106  # evaluation stays on the seed segments
