"""The seed corpus as Hugging Face datasets: one for topic, one for stance (a row per stance label)."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset, Features, Value

from training.corpus.labels import read_segments, validate_labels

TOPIC_FEATURES = Features(
    {"segment_id": Value("string"), "article_id": Value("string"), "text": Value("string"), "label": Value("string")}
)
STANCE_FEATURES = Features(
    {
        "segment_id": Value("string"),
        "article_id": Value("string"),
        "text": Value("string"),
        "target": Value("string"),
        "label": Value("string"),
    }
)


def load_topic_dataset(segments_path: Path, labels_path: Path) -> Dataset:
    """Columns segment_id, article_id, text, label (the topic); one row per segment."""
    texts = {segment.segment_id: segment for segment in read_segments(segments_path)}
    rows = [
        {
            "segment_id": row.segment_id,
            "article_id": texts[row.segment_id].article_id,
            "text": texts[row.segment_id].text,
            "label": row.topic,
        }
        for row in validate_labels(labels_path, segments_path)
    ]
    return Dataset.from_list(rows, features=TOPIC_FEATURES)


def load_stance_dataset(segments_path: Path, labels_path: Path) -> Dataset:
    """Columns segment_id, article_id, text, target, label (the stance); one row per (segment, target)."""
    texts = {segment.segment_id: segment for segment in read_segments(segments_path)}
    rows = [
        {
            "segment_id": row.segment_id,
            "article_id": texts[row.segment_id].article_id,
            "text": texts[row.segment_id].text,
            "target": stance.target,
            "label": stance.stance,
        }
        for row in validate_labels(labels_path, segments_path)
        for stance in row.stances
    ]
    return Dataset.from_list(rows, features=STANCE_FEATURES)
