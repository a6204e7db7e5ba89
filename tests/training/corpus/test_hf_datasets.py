from training import locations
from training.config.schema import EvaluationConfig
from training.corpus.hf_datasets import load_stance_dataset, load_topic_dataset
from training.corpus.labels import STANCES, TOPICS, read_segments
from training.evaluation.cross_validation import group_splits


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
    """The project's cross-validation split, grouped by article_id, keeps every article (and so segment) on one side."""
    stance = load_stance_dataset(locations.SEGMENTS_PATH, locations.LABELS_PATH).to_pandas()
    # article_id must be the segment's article, not a per-segment id: several segments (and their rows) share one.
    article_of = {segment.segment_id: segment.article_id for segment in read_segments(locations.SEGMENTS_PATH)}
    assert (stance["article_id"] == stance["segment_id"].map(article_of)).all()
    assert stance["article_id"].nunique() == 8 < stance["segment_id"].nunique()
    splits = group_splits(EvaluationConfig(cv="group_kfold", n_splits=4), stance["article_id"], seed=0)
    assert len(splits) == 4
    for train, test in splits:
        assert not set(stance["article_id"].iloc[train]) & set(stance["article_id"].iloc[test])
        assert not set(stance["segment_id"].iloc[train]) & set(stance["segment_id"].iloc[test])


def test_the_loaders_read_the_seed_corpus_by_default_and_take_paths_as_text() -> None:
    default = load_topic_dataset()
    as_text = load_topic_dataset(str(locations.SEGMENTS_PATH), str(locations.LABELS_PATH))
    assert default.to_list() == as_text.to_list() == load_topic_dataset(locations.SEGMENTS_PATH, locations.LABELS_PATH).to_list()
    assert load_stance_dataset().num_rows == load_stance_dataset(str(locations.SEGMENTS_PATH), str(locations.LABELS_PATH)).num_rows
