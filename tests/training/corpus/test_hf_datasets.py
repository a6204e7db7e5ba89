from sklearn.model_selection import GroupKFold

from training import locations
from training.corpus.hf_datasets import load_stance_dataset, load_topic_dataset
from training.corpus.labels import STANCES, TOPICS


def test_topic_dataset_has_one_row_per_segment() -> None:
    topic = load_topic_dataset(locations.SEGMENTS_PATH, locations.LABELS_PATH)
    assert set(topic.column_names) == {"segment_id", "article_id", "text", "label"}
    assert topic.num_rows == len(set(topic["segment_id"]))
    assert set(topic["label"]) <= set(TOPICS)
    assert len(set(topic["article_id"])) == 8


def test_stance_dataset_has_one_row_per_stance_label() -> None:
    topic = load_topic_dataset(locations.SEGMENTS_PATH, locations.LABELS_PATH)
    stance = load_stance_dataset(locations.SEGMENTS_PATH, locations.LABELS_PATH)
    assert set(stance.column_names) == {"segment_id", "article_id", "text", "target", "label"}
    assert set(stance["label"]) == set(STANCES)
    assert len(set(zip(stance["segment_id"], stance["target"], strict=True))) == stance.num_rows
    texts = dict(zip(topic["segment_id"], topic["text"], strict=True))
    assert all(texts[s] == t for s, t in zip(stance["segment_id"], stance["text"], strict=True))


def test_article_id_keeps_every_split_grouped() -> None:
    stance = load_stance_dataset(locations.SEGMENTS_PATH, locations.LABELS_PATH).to_pandas()
    for train, test in GroupKFold(n_splits=4).split(stance, groups=stance["article_id"]):
        assert not set(stance["article_id"].iloc[train]) & set(stance["article_id"].iloc[test])
