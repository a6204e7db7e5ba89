from training import locations
from training.corpus.label_counts import label_counts


def test_committed_counts_are_up_to_date() -> None:
    committed = (locations.SEEDS_DIR / "LABEL_COUNTS.md").read_text(encoding="utf-8")
    assert committed == label_counts(locations.LABELS_PATH, locations.SEGMENTS_PATH)


def test_totals_match_the_labels() -> None:
    text = label_counts(locations.LABELS_PATH, locations.SEGMENTS_PATH)
    lines = text.splitlines()
    n_segments = sum(1 for _ in locations.SEGMENTS_PATH.open(encoding="utf-8"))
    topic_total = next(line for line in lines if line.startswith("| total |"))
    assert topic_total.rstrip(" |").endswith(f"| {n_segments}")
