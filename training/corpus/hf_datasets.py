"""The seed corpus as Hugging Face datasets: one for topic, one for stance (a row per stance label)."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset, Features, Value

from training.corpus.labels import read_segments, validate_labels
from training.locations import LABELS_PATH, SEGMENTS_PATH

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


def _rows(segments_path: str | Path, labels_path: str | Path, task: str) -> list[dict[str, str]]:
    segments_path, labels_path = Path(segments_path), Path(labels_path)
    segments = {segment.segment_id: segment for segment in read_segments(segments_path)}
    rows = []
    for labels in validate_labels(labels_path, segments_path):
        segment = segments[labels.segment_id]
        common = {"segment_id": segment.segment_id, "article_id": segment.article_id, "text": segment.text}
        if task == "topic":
            rows.append({**common, "label": labels.topic})
        else:
            rows.extend({**common, "target": row.target, "label": row.stance} for row in labels.stances)
    return rows


def load_topic_dataset(segments_path: str | Path = SEGMENTS_PATH, labels_path: str | Path = LABELS_PATH) -> Dataset:
    """Columns segment_id, article_id, text, label (the topic); one row per segment (default: the seed corpus)."""
    return Dataset.from_list(_rows(segments_path, labels_path, "topic"), features=TOPIC_FEATURES)


def load_stance_dataset(segments_path: str | Path = SEGMENTS_PATH, labels_path: str | Path = LABELS_PATH) -> Dataset:
    """Columns segment_id, article_id, text, target, label (the stance); one row per (segment, target) (default: the
    seed corpus)."""
    return Dataset.from_list(_rows(segments_path, labels_path, "stance"), features=STANCE_FEATURES)
