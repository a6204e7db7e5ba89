"""corpora/guideline_written reads as the trainer's `source: jsonl` reads it, with the guideline's labels and targets,
every paragraph's topic and stance rows sharing its group, and every stance of every target present."""

from training import locations
from training.corpus.labels import STANCES, TARGETS, TOPICS
from training.jsonl_table import read_jsonl_table

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
